{{ config(unique_key=['payment_id']) }}

with source_rows as (
    {{
        latest_version_per_key(
            source('raw_postgres', 'payments'),
            ['id'],
            tie_breakers=['updated_at'],
            committed_loads=source('raw_postgres', '_dlt_loads')
        )
    }}
)

select
    cast(id as uuid) as payment_id,
    cast(user_id as uuid) as user_id,
    cast(outing_id as uuid) as outing_id,
    cast(amount as decimal(12, 2)) as amount,
    cast(currency as varchar) as currency,
    status,
    {{ to_utc_timestamp('paid_at') }} as paid_at,
    {{ to_utc_timestamp('created_at') }} as created_at,
    {{ to_utc_timestamp('updated_at') }} as updated_at,
    _dlt_load_id as dlt_load_id
from source_rows
