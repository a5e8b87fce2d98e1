{{ config(unique_key=['user_id', 'event_date', 'event_time', 'event_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_cassandra', 'user_events'),
            ['user_id', 'day', 'event_time', 'event_id'],
            committed_loads=source('raw_cassandra', '_dlt_loads')
        )
    }}
)

select
    cast(user_id as uuid) as user_id,
    cast(day as date) as event_date,
    {{ to_utc_timestamp('event_time') }} as event_time,
    cast(event_id as uuid) as event_id,
    event_type,
    cast(properties as json) as properties,
    _dlt_load_id as dlt_load_id
from source_rows
