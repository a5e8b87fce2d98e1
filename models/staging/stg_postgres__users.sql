with source_rows as (
    select
        *,
        row_number() over (
            partition by id
            order by {{ latest_load_first(['updated_at']) }}
        ) as load_rank
    from {{ source('raw_postgres', 'users') }}
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
where load_rank = 1
