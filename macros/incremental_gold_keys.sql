{#
    The keys each incremental gold model recomputes in a 'keys' run (macros/incremental_gold.sql):
    a select of the model's key, from the staging rows of the loads committed after its
    watermark and from the tombstones of those loads. Used by the model's pre-hook (to delete
    them) and by its select (to recompute them), so both see the same keys.
#}

{#- The raw tables int_user_activity_daily and gold_user_activity_per_day read. -#}
{% macro activity_raw_tables() -%}
    {{ return([['raw_postgres', 'payments'], ['raw_cassandra', 'messages'], ['raw_cassandra', 'user_events']]) }}
{%- endmacro %}

{% macro activity_scope() -%}
    {{ return(incremental_scope(activity_raw_tables(), money=true, tombstones_force_all=[['raw_postgres', 'payments']])) }}
{%- endmacro %}

{#-
    Days (UTC) with a changed payment, message or event: every user's row of such a day is
    recomputed (a message's or a payment's user may have changed too). A payment's paid_at
    is set once, so its new version names its day.
-#}
{% macro activity_affected_dates() -%}
    select cast(payments.paid_at as date) as activity_date
    from {{ ref('stg_postgres__payments') }} as payments
    where payments.paid_at is not null and payments.{{ changed_since_watermark('raw_postgres') }}
    union
    select cast(messages.sent_at as date) as activity_date
    from {{ ref('stg_cassandra__messages') }} as messages
    where messages.{{ changed_since_watermark('raw_cassandra') }}
    union
    select cast({{ to_utc_timestamp('gone.sent_at') }} as date) as activity_date
    from ({{ tombstones_since_watermark('raw_cassandra', 'messages') }}) as gone
    union
    select cast(events.event_time as date) as activity_date
    from {{ ref('stg_cassandra__user_events') }} as events
    where events.{{ changed_since_watermark('raw_cassandra') }}
    union
    select cast({{ to_utc_timestamp('gone.event_time') }} as date) as activity_date
    from ({{ tombstones_since_watermark('raw_cassandra', 'user_events') }}) as gone
{%- endmacro %}

{#- gold_notif_impact_per_day: by notification. Both tombstones carry the notification id. -#}
{% macro notif_impact_scope() -%}
    {{ return(incremental_scope([['raw_postgres', 'notifications'], ['raw_cassandra', 'notification_states']])) }}
{%- endmacro %}

{% macro notif_impact_affected_ids() -%}
    select notifications.notification_id
    from {{ ref('stg_postgres__notifications') }} as notifications
    where notifications.{{ changed_since_watermark('raw_postgres') }}
    union
    select cast(gone.id as bigint) as notification_id
    from ({{ tombstones_since_watermark('raw_postgres', 'notifications') }}) as gone
    union
    select states.notification_id
    from {{ ref('int_notification_states_latest') }} as states
    where states.{{ changed_since_watermark('raw_cassandra') }}
    union
    select cast(gone.notification_id as bigint) as notification_id
    from ({{ tombstones_since_watermark('raw_cassandra', 'notification_states') }}) as gone
{%- endmacro %}

{#-
    gold_outing_summary: by outing. A deleted payment's tombstone lacks its outing: every
    outing is recomputed then. A payment's outing_id does not change.
-#}
{% macro outing_summary_scope() -%}
    {{ return(incremental_scope(
        [['raw_postgres', 'outings'], ['raw_postgres', 'outing_participants'], ['raw_postgres', 'payments']],
        money=true,
        tombstones_force_all=[['raw_postgres', 'payments']]
    )) }}
{%- endmacro %}

{% macro outing_summary_affected_ids() -%}
    select outings.outing_id
    from {{ ref('stg_postgres__outings') }} as outings
    where outings.{{ changed_since_watermark('raw_postgres') }}
    union
    select cast(gone.id as uuid) as outing_id
    from ({{ tombstones_since_watermark('raw_postgres', 'outings') }}) as gone
    union
    select participants.outing_id
    from {{ ref('stg_postgres__outing_participants') }} as participants
    where participants.{{ changed_since_watermark('raw_postgres') }}
    union
    select cast(gone.outing_id as uuid) as outing_id
    from ({{ tombstones_since_watermark('raw_postgres', 'outing_participants') }}) as gone
    union
    select payments.outing_id
    from {{ ref('stg_postgres__payments') }} as payments
    where payments.outing_id is not null and payments.{{ changed_since_watermark('raw_postgres') }}
{%- endmacro %}
