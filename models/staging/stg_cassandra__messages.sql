{{ config(unique_key=['group_id', 'sent_date', 'sent_at', 'message_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_cassandra', 'messages'),
            ['group_id', 'day', 'sent_at', 'message_id'],
            committed_loads=source('raw_cassandra', '_dlt_loads')
        )
    }}
)

select
    cast(group_id as uuid) as group_id,
    cast(day as date) as sent_date,
    {{ to_utc_timestamp('sent_at') }} as sent_at,
    cast(message_id as uuid) as message_id,
    cast(user_id as uuid) as user_id,
    body,
    _dlt_load_id as dlt_load_id
from source_rows
