-- Every payment with its amount converted to EUR at the seed's rate, at full precision
-- (rounding happens only in gold). All statuses are kept; marts filter on status.
with payments as (
    select * from {{ ref('stg_postgres__payments') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
)

select
    payments.payment_id,
    payments.user_id,
    payments.outing_id,
    payments.status,
    payments.status = 'succeeded' as is_succeeded,
    payments.amount,
    payments.currency,
    fx_rates.rate_to_eur,
    payments.amount * fx_rates.rate_to_eur as amount_eur,
    payments.paid_at,
    cast(payments.paid_at as date) as paid_date,
    payments.created_at,
    payments.updated_at
from payments
left join fx_rates
    on payments.currency = fx_rates.currency
