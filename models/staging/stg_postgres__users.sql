{{ config(unique_key=['user_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'users'),
            ['id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(id as uuid) as user_id,
    username,
    email,
    city,
    {{ to_utc_timestamp('created_at') }} as created_at,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    {{ to_utc_timestamp('deleted_at') }} as deleted_at,
    _dlt_load_id as dlt_load_id
from source_rows
