{{ config(unique_key=['outing_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'outings'),
            ['id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(id as uuid) as outing_id,
    cast(group_id as uuid) as group_id,
    cast(created_by as uuid) as created_by_user_id,
    title,
    category,
    status,
    {{ to_utc_timestamp('starts_at') }} as starts_at,
    {{ to_utc_timestamp('created_at') }} as created_at,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    _dlt_load_id as dlt_load_id
from source_rows
