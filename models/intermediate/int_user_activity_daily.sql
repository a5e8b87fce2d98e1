{{ incremental_by_keys("activity_spec('activity_date')") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}
-- depends_on: {{ ref('stg_postgres__payments') }}

-- Incremental by day (macros/incremental_gold.sql): a run recomputes the days with a changed
-- payment, message or event since its last run; the pre-hook deletes those days first, so a
-- day left without activity (a refund, a deleted message) is gone, as in a full refresh.
{%- set spec = activity_spec('activity_date') %}

-- Per user and UTC day: succeeded payments (by the UTC date of paid_at, amounts in EUR at
-- full precision), messages sent and app events. One row per (user_id, activity_date) with
-- at least one of them.
with
{{ affected_keys_cte(spec) }}

payments_daily as (
    select
        user_id,
        paid_date as activity_date,
        sum(amount_eur) as spend_eur,
        count(*) as payments_count
    from {{ ref('int_payments_converted') }}
    where
        is_succeeded and paid_date is not null
        and {{ spec_filter(spec, ['paid_date']) }}
    group by user_id, paid_date
),

messages_daily as (
    select
        user_id,
        cast(sent_at as date) as activity_date,
        count(*) as messages_sent
    from {{ ref('stg_cassandra__messages') }}
    where
        user_id is not null
        and {{ spec_filter(spec, ['cast(sent_at as date)']) }}
    group by user_id, cast(sent_at as date)
),

events_daily as (
    select
        user_id,
        cast(event_time as date) as activity_date,
        count(*) as events_count
    from {{ ref('stg_cassandra__user_events') }}
    where {{ spec_filter(spec, ['cast(event_time as date)']) }}
    group by user_id, cast(event_time as date)
),

user_days as (
    select
        user_id,
        activity_date
    from payments_daily
    union
    select
        user_id,
        activity_date
    from messages_daily
    union
    select
        user_id,
        activity_date
    from events_daily
)

select
    user_days.user_id,
    user_days.activity_date,
    coalesce(payments_daily.spend_eur, 0) as spend_eur,
    coalesce(payments_daily.payments_count, 0) as payments_count,
    coalesce(messages_daily.messages_sent, 0) as messages_sent,
    coalesce(events_daily.events_count, 0) as events_count
from user_days
left join payments_daily
    on
        user_days.user_id = payments_daily.user_id
        and user_days.activity_date = payments_daily.activity_date
left join messages_daily
    on
        user_days.user_id = messages_daily.user_id
        and user_days.activity_date = messages_daily.activity_date
left join events_daily
    on
        user_days.user_id = events_daily.user_id
        and user_days.activity_date = events_daily.activity_date
