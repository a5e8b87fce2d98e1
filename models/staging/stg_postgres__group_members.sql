{{ config(unique_key=['group_id', 'user_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'group_members'),
            ['group_id', 'user_id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(group_id as uuid) as group_id,
    cast(user_id as uuid) as user_id,
    role as member_role,
    {{ to_utc_timestamp('joined_at') }} as joined_at,
    {{ to_utc_timestamp('left_at') }} as left_at,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    _dlt_load_id as dlt_load_id
from source_rows
