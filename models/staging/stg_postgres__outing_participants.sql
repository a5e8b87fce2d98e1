with source_rows as (
    select
        *,
        row_number() over (
            partition by outing_id, user_id
            order by {{ latest_load_first(['updated_at']) }}
        ) as load_rank
    from {{ source('raw_postgres', 'outing_participants') }}
)

select
    cast(outing_id as uuid) as outing_id,
    cast(user_id as uuid) as user_id,
    rsvp,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    _dlt_load_id as dlt_load_id
from source_rows
where load_rank = 1
