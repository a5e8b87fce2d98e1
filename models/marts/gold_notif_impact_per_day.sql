-- One row per notification in PostgreSQL, with its state in Cassandra for the pair
-- (user_id, notification_id). State rows of unknown notifications (orphans) drop out.
{{ incremental_by_keys("notif_impact_spec()") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}

-- Incremental by notification (macros/incremental_gold.sql): a run recomputes the
-- notifications whose row or state changed (or was deleted) since its last run.
{%- set spec = notif_impact_spec() %}

with
{{ affected_keys_cte(spec) }}

notifications as (
    select * from {{ ref('stg_postgres__notifications') }}
    where {{ spec_filter(spec, ['notification_id']) }}
),

states as (
    select * from {{ ref('int_notification_states_latest') }}
)

select
    notifications.notification_id,
    notifications.user_id,
    notifications.kind,
    cast(notifications.created_at as date) as notif_date,
    states.status,
    coalesce(states.status in ('SEEN', 'CLICKED'), false) as is_success,
    states.updated_at as state_updated_at
from notifications
left join states
    on
        notifications.user_id = states.user_id
        and notifications.notification_id = states.notification_id
