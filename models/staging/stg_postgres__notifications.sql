{{ config(unique_key=['notification_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'notifications'),
            ['id'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(id as bigint) as notification_id,
    cast(user_id as uuid) as user_id,
    kind,
    cast(outing_id as uuid) as outing_id,
    cast(group_id as uuid) as group_id,
    {{ to_utc_timestamp('created_at') }} as created_at,
    _dlt_load_id as dlt_load_id
from source_rows
