{{ incremental_by_keys("notifications_daily_spec()") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}

-- Per user, UTC day of the notification (notif_date) and UTC day its success was written
-- (success_date: the date of the state's updated_at when it is SEEN or CLICKED, else null):
-- the number of such notifications. gold_ml_user_features reads these few rows instead of one
-- row per notification: the successes seen by a cutoff are those with success_date <= it.
-- The state of a notification is its row for the pair (user_id, notification_id), as in
-- gold_notif_impact_per_day. Incremental by notif_date (notifications_daily_spec).
{%- set spec = notifications_daily_spec() %}

with
{{ affected_keys_cte(spec) }}

notifications as (
    select
        user_id,
        notification_id,
        cast(created_at as date) as notif_date
    from {{ ref('stg_postgres__notifications') }}
    where {{ spec_filter(spec, ['cast(created_at as date)']) }}
),

states as (
    select * from {{ ref('int_notification_states_latest') }}
),

with_success as (
    select
        notifications.user_id,
        notifications.notif_date,
        case
            when states.status in ('SEEN', 'CLICKED') then cast(states.updated_at as date)
        end as success_date
    from notifications
    left join states
        on
            notifications.user_id = states.user_id
            and notifications.notification_id = states.notification_id
)

select
    user_id,
    notif_date,
    success_date,
    count(*) as notifications_count
from with_success
group by user_id, notif_date, success_date
