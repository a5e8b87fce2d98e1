{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ spec_delete_affected(payments_converted_spec()) }}",
        post_hook=["{{ record_watermark() }}"]
    )
}}

-- depends_on: {{ ref('int_incremental_watermarks') }}

-- Every payment with its amount converted to EUR at the seed's rate, at full precision
-- (rounding happens only in gold). All statuses are kept; marts filter on status.
-- Incremental by payment (macros/incremental_gold.sql, payments_converted_spec).
{%- set spec = payments_converted_spec() %}
{%- set in_scope = spec_scope(spec) == 'keys' %}

with
{%- if in_scope %}
affected_keys as (
    {{ spec_affected_keys(spec) }}
),
{%- endif %}

payments as (
    select * from {{ ref('stg_postgres__payments') }}
    where {{ spec_filter(spec, in_scope, ['payment_id']) }}
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
