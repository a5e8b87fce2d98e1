{{ incremental_by_keys("retention_spec()") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}
-- depends_on: {{ ref('stg_postgres__payments') }}
-- depends_on: {{ ref('stg_cassandra__messages') }}
-- depends_on: {{ ref('stg_cassandra__user_events') }}

-- One row per (cohort_month, month_offset): every cohort up to last_month (the month of the
-- latest date in gold_user_activity_per_day) gets every offset 0..months to last_month,
-- with 0 active users where nobody came back.
-- Incremental by cohort-month (macros/incremental_gold.sql, retention_spec): a run recomputes
-- the months its new activity touches in every cohort, and every month of a changed cohort.
{%- set spec = retention_spec() %}

with
{{ affected_keys_cte(spec) }}

users as (
    select
        user_id,
        cast(date_trunc('month', created_at) as date) as cohort_month
    from {{ ref('stg_postgres__users') }}
),

-- In a run by keys: the activity of the months recomputed and of the users of the cohorts
-- recomputed whole; every key the run keeps reads all of its rows.
activity as (
    select * from {{ ref('gold_user_activity_per_day') }}
    {%- if spec_in_scope(spec) %}
        where
            cast(date_trunc('month', date) as date) in (
                select cast(affected_keys.cohort_month + to_months(affected_keys.month_offset) as date)
                from affected_keys
                where affected_keys.month_offset is not null
            )
            or user_id in (
                select users.user_id
                from users
                inner join affected_keys
                    on
                        users.cohort_month = affected_keys.cohort_month
                        and affected_keys.month_offset is null
            )
    {%- endif %}
),

last_month as (
    select cast(date_trunc('month', max(all_activity.date)) as date) as last_month
    from {{ ref('gold_user_activity_per_day') }} as all_activity
),

cohorts as (
    select
        users.cohort_month,
        count(*) as cohort_size
    from users
    cross join last_month
    where users.cohort_month <= last_month.last_month
    group by users.cohort_month
),

cohort_offsets as (
    select
        cohorts.cohort_month,
        cohorts.cohort_size,
        unnest(
            generate_series(0, date_diff('month', cohorts.cohort_month, last_month.last_month))
        ) as month_offset
    from cohorts
    cross join last_month
),

active_months as (
    select distinct
        activity.user_id,
        cast(date_trunc('month', activity.date) as date) as activity_month
    from activity
),

cohort_activity as (
    select
        users.cohort_month,
        date_diff('month', users.cohort_month, active_months.activity_month) as month_offset,
        count(distinct users.user_id) as active_users
    from users
    inner join active_months on users.user_id = active_months.user_id
    where active_months.activity_month >= users.cohort_month
    group by
        users.cohort_month,
        date_diff('month', users.cohort_month, active_months.activity_month)
)

select
    cohort_offsets.cohort_month,
    cast(cohort_offsets.month_offset as integer) as month_offset,
    cast(cohort_offsets.cohort_size as bigint) as cohort_size,
    cast(coalesce(cohort_activity.active_users, 0) as bigint) as active_users,
    round(
        100.0 * coalesce(cohort_activity.active_users, 0) / cohort_offsets.cohort_size, 2
    ) as retention_rate
from cohort_offsets
left join cohort_activity
    on
        cohort_offsets.cohort_month = cohort_activity.cohort_month
        and cohort_offsets.month_offset = cohort_activity.month_offset
where
    {{ spec_filter(
        spec, ['cohort_offsets.cohort_month', 'cast(cohort_offsets.month_offset as integer)']
    ) }}
