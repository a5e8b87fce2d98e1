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
