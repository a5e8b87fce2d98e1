-- gold_ml_user_features as computed before its compact inputs (int_user_activity_daily,
-- int_user_notifications_daily): from the payments, notifications and activity rows themselves.
-- tests/dbt/test_dbt_incremental_gold.py holds the model to it (the same rows, exactly).
with params as (
    select
        as_of.as_of_date,
        cast(as_of.as_of_date - 30 as date) as feature_date
    from (select (select max(activity.date) from gold.gold_user_activity_per_day as activity) as as_of_date) as as_of
),

activity as (
    select * from gold.gold_user_activity_per_day
),

eligible_users as (
    select
        app_users.user_id,
        params.feature_date,
        cast(app_users.created_at as date) as created_date
    from staging.stg_postgres__users as app_users
    cross join params
    where
        cast(app_users.created_at as date) <= params.feature_date
        and (
            app_users.deleted_at is null
            or cast(app_users.deleted_at as date) > params.feature_date
        )
),

memberships as (
    select
        members.user_id,
        count(*) as groups_count
    from staging.stg_postgres__group_members as members
    cross join params
    where
        cast(members.joined_at as date) <= params.feature_date
        and (members.left_at is null or cast(members.left_at as date) > params.feature_date)
    group by members.user_id
),

going as (
    select
        participants.user_id,
        count(*) as outings_going_90d
    from staging.stg_postgres__outing_participants as participants
    inner join staging.stg_postgres__outings as outings
        on participants.outing_id = outings.outing_id
    cross join params
    where
        participants.rsvp = 'going'
        and cast(outings.starts_at as date) > params.feature_date - 90
        and cast(outings.starts_at as date) <= params.feature_date
    group by participants.user_id
),

spend as (
    select
        payments.user_id,
        sum(payments.amount_eur) as spend_eur_90d
    from intermediate.int_payments_converted as payments
    cross join params
    where
        payments.is_succeeded
        and payments.paid_date > params.feature_date - 90
        and payments.paid_date <= params.feature_date
    group by payments.user_id
),

recent_activity as (
    select
        activity.user_id,
        sum(activity.messages_sent) filter (
            where activity.date > params.feature_date - 30
        ) as messages_30d,
        sum(activity.events_count) filter (
            where activity.date > params.feature_date - 30
        ) as events_30d,
        max(activity.date) as last_active_date
    from activity
    cross join params
    where activity.date <= params.feature_date
    group by activity.user_id
),

-- A state written after feature_date is data the features must not see (it may come from
-- the label window): such a notification counts as not (yet) successful at the cutoff.
notif_rates as (
    select
        notifs.user_id,
        count(*) as notifications_30d,
        count(*) filter (
            where notifs.is_success and notifs.state_updated_at < params.feature_date + 1
        ) as successes_30d
    from gold.gold_notif_impact_per_day as notifs
    cross join params
    where
        notifs.notif_date > params.feature_date - 30
        and notifs.notif_date <= params.feature_date
    group by notifs.user_id
),

label_window as (
    select distinct activity.user_id
    from activity
    cross join params
    where
        activity.date > params.feature_date
        and activity.date <= params.as_of_date
)

select
    eligible_users.user_id,
    eligible_users.feature_date,
    cast(eligible_users.feature_date - eligible_users.created_date as integer) as tenure_days,
    cast(coalesce(memberships.groups_count, 0) as bigint) as groups_count,
    cast(coalesce(going.outings_going_90d, 0) as bigint) as outings_going_90d,
    cast(round(coalesce(spend.spend_eur_90d, 0), 2) as decimal(18, 2)) as spend_eur_90d,
    cast(coalesce(recent_activity.messages_30d, 0) as bigint) as messages_30d,
    cast(coalesce(recent_activity.events_30d, 0) as bigint) as events_30d,
    round(100.0 * notif_rates.successes_30d / notif_rates.notifications_30d, 2)
        as notif_success_rate_30d,
    cast(
        eligible_users.feature_date - recent_activity.last_active_date as integer
    ) as days_since_last_active,
    label_window.user_id is null as is_churned
from eligible_users
left join memberships on eligible_users.user_id = memberships.user_id
left join going on eligible_users.user_id = going.user_id
left join spend on eligible_users.user_id = spend.user_id
left join recent_activity on eligible_users.user_id = recent_activity.user_id
left join notif_rates on eligible_users.user_id = notif_rates.user_id
left join label_window on eligible_users.user_id = label_window.user_id
