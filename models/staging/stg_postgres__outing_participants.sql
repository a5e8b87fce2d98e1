{{ config(unique_key=['outing_id', 'user_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'outing_participants'),
            ['outing_id', 'user_id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(outing_id as uuid) as outing_id,
    cast(user_id as uuid) as user_id,
    rsvp,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    _dlt_load_id as dlt_load_id
from source_rows
