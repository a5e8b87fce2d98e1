-- One row per (cohort_month, month_offset): every cohort up to last_month (the month of the
-- latest date in gold_user_activity_per_day) gets every offset 0..months to last_month,
-- with 0 active users where nobody came back.
with users as (
    select
        user_id,
        cast(date_trunc('month', created_at) as date) as cohort_month
    from {{ ref('stg_postgres__users') }}
),

activity as (
    select * from {{ ref('gold_user_activity_per_day') }}
),

last_month as (
    select cast(date_trunc('month', max(activity.date)) as date) as last_month
    from activity
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
