{{ incremental_by_keys("activity_spec('date')") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}
-- depends_on: {{ ref('stg_postgres__payments') }}
-- depends_on: {{ ref('stg_cassandra__messages') }}
-- depends_on: {{ ref('stg_cassandra__user_events') }}

-- Incremental by day, as int_user_activity_daily (macros/incremental_gold.sql): the days
-- touched since this model's last run are deleted, then copied again from the twin.
{%- set spec = activity_spec('date') %}

-- One row per (user_id, date) on which the user was active: a succeeded payment paid that
-- UTC day, a message sent or an app event. Money in EUR, rounded to cents here, at the end.
select
    user_id,
    activity_date as date,
    cast(round(spend_eur, 2) as decimal(18, 2)) as total_money_spend,
    cast(payments_count as bigint) as payments_count,
    cast(messages_sent as bigint) as messages_sent,
    cast(events_count as bigint) as events_count
from {{ ref('int_user_activity_daily') }}
{%- if spec_in_scope(spec) %}
    where activity_date in (select affected.date from ({{ spec_affected_keys(spec) }}) as affected)
{%- endif %}
