-- Churn features per user at feature_date = as_of_date - 30 days (marts.md). Features see
-- data up to feature_date inclusive; the label (is_churned) looks only at
-- feature_date < d <= as_of_date. Trailing window of N days: feature_date - N < d <= feature_date.
-- Every row moves with the cutoff, so the model is rebuilt each run, from compact inputs kept
-- incrementally: per user and day, activity and EUR spend (int_user_activity_daily, the rows of
-- gold_user_activity_per_day) and notifications by the day their success was written
-- (int_user_notifications_daily), not the payments and notifications themselves.
with params as (
    select
        as_of.as_of_date,
        cast(as_of.as_of_date - 30 as date) as feature_date
    from (select {{ as_of_date() }} as as_of_date) as as_of
),

activity as (
    select
        user_id,
        activity_date as date,
        spend_eur,
        messages_sent,
        events_count
    from {{ ref('int_user_activity_daily') }}
),

eligible_users as (
    select
        app_users.user_id,
        params.feature_date,
        cast(app_users.created_at as date) as created_date
    from {{ ref('stg_postgres__users') }} as app_users
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
    from {{ ref('stg_postgres__group_members') }} as members
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
    from {{ ref('stg_postgres__outing_participants') }} as participants
    inner join {{ ref('stg_postgres__outings') }} as outings
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
        activity.user_id,
        sum(activity.spend_eur) as spend_eur_90d
    from activity
    cross join params
    where
        activity.date > params.feature_date - 90
        and activity.date <= params.feature_date
    group by activity.user_id
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
        cast(sum(notifs.notifications_count) as bigint) as notifications_30d,
        cast(coalesce(sum(notifs.notifications_count) filter (
            where notifs.success_date <= params.feature_date
        ), 0) as bigint) as successes_30d
    from {{ ref('int_user_notifications_daily') }} as notifs
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
