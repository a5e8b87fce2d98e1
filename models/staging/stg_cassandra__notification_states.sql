{{ config(unique_key=['user_id', 'notification_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_cassandra', 'notification_states'),
            ['user_id', 'notification_id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_cassandra', '_dlt_loads')
        )
    }}
)

select
    cast(user_id as uuid) as user_id,
    cast(notification_id as bigint) as notification_id,
    status,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    _dlt_load_id as dlt_load_id
from source_rows
