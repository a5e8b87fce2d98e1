{{ config(unique_key=['group_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'groups'),
            ['id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(id as uuid) as group_id,
    name as group_name,
    cast(owner_id as uuid) as owner_user_id,
    {{ to_utc_timestamp('created_at') }} as created_at,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    {{ to_utc_timestamp('deleted_at') }} as deleted_at,
    _dlt_load_id as dlt_load_id
from source_rows
