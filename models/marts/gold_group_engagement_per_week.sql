{{ incremental_by_keys("group_engagement_spec()") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}
-- depends_on: {{ ref('stg_postgres__payments') }}

-- One row per (group_id, week_start) with a message, an outing starting or a succeeded
-- payment paid for one of the group's outings. week_start: Monday of the ISO week (UTC).
-- Incremental by group-week (macros/incremental_gold.sql, group_engagement_spec): a run
-- recomputes the group-weeks its new loads touch, every week of a group whose outing changed.
{%- set spec = group_engagement_spec() %}
{%- set week_of = "cast(date_trunc('week', {}) as date)" %}

with
{{ affected_keys_cte(spec) }}

messages_weekly as (
    select
        group_id,
        cast(date_trunc('week', sent_at) as date) as week_start,
        count(*) as messages_count,
        count(distinct user_id) as active_members
    from {{ ref('stg_cassandra__messages') }}
    where {{ spec_filter(spec, ['group_id', week_of.format('sent_at')]) }}
    group by group_id, cast(date_trunc('week', sent_at) as date)
),

outings_weekly as (
    select
        group_id,
        cast(date_trunc('week', starts_at) as date) as week_start,
        count(*) as outings_count
    from {{ ref('stg_postgres__outings') }}
    where {{ spec_filter(spec, ['group_id', week_of.format('starts_at')]) }}
    group by group_id, cast(date_trunc('week', starts_at) as date)
),

spend_weekly as (
    select
        outings.group_id,
        cast(date_trunc('week', payments.paid_at) as date) as week_start,
        sum(payments.amount_eur) as spend_eur
    from {{ ref('int_payments_converted') }} as payments
    inner join {{ ref('stg_postgres__outings') }} as outings
        on payments.outing_id = outings.outing_id
    where
        payments.is_succeeded and payments.paid_at is not null
        and {{ spec_filter(
            spec, ['outings.group_id', week_of.format('payments.paid_at')]
        ) }}
    group by outings.group_id, cast(date_trunc('week', payments.paid_at) as date)
),

group_weeks as (
    select
        group_id,
        week_start
    from messages_weekly
    union
    select
        group_id,
        week_start
    from outings_weekly
    union
    select
        group_id,
        week_start
    from spend_weekly
)

select
    group_weeks.group_id,
    group_weeks.week_start,
    cast(coalesce(messages_weekly.messages_count, 0) as bigint) as messages_count,
    cast(coalesce(messages_weekly.active_members, 0) as bigint) as active_members,
    cast(coalesce(outings_weekly.outings_count, 0) as bigint) as outings_count,
    cast(round(coalesce(spend_weekly.spend_eur, 0), 2) as decimal(18, 2)) as spend_eur
from group_weeks
left join messages_weekly
    on
        group_weeks.group_id = messages_weekly.group_id
        and group_weeks.week_start = messages_weekly.week_start
left join outings_weekly
    on
        group_weeks.group_id = outings_weekly.group_id
        and group_weeks.week_start = outings_weekly.week_start
left join spend_weekly
    on
        group_weeks.group_id = spend_weekly.group_id
        and group_weeks.week_start = spend_weekly.week_start
