{#
    The keys each incremental gold model recomputes in a 'keys' run, described as data: one
    spec per model (the form is in macros/incremental_gold.sql, above spec_scope), read by
    spec_scope (the run's scope), spec_affected_keys (the keys, from the staging rows and the
    tombstones of the loads committed after the model's watermark), spec_delete_affected (the
    model's pre-hook) and spec_filter (its select), so the pre-hook and the select name the
    same keys.
#}

{#- The raw tables int_user_activity_daily and gold_user_activity_per_day read. -#}
{% macro activity_raw_tables() -%}
    {{ return([['raw_postgres', 'payments'], ['raw_cassandra', 'messages'], ['raw_cassandra', 'user_events']]) }}
{%- endmacro %}

{#-
    int_user_activity_daily, gold_user_activity_per_day (key column `key`): by UTC day. A day
    with a changed payment, message or event recomputes every user's row of that day (a
    message's or a payment's user may have changed too). A payment's paid_at is set once, so
    its new version names its day; its tombstone lacks the day: every key then.
-#}
{% macro activity_spec(key='activity_date') -%}
    {%- set day_of = 'cast({} as date)' -%}
    {{ return({
        'key_columns': [key],
        'reads': activity_raw_tables(),
        'money': true,
        'force_all': [['raw_postgres', 'payments']],
        'changes': [
            {'model': 'stg_postgres__payments', 'source': 'raw_postgres',
             'keys': [day_of.format('changed.paid_at')], 'where': 'changed.paid_at is not null'},
            {'model': 'stg_cassandra__messages', 'source': 'raw_cassandra',
             'keys': [day_of.format('changed.sent_at')]},
            {'tombstones': ['raw_cassandra', 'messages'],
             'keys': [day_of.format(to_utc_timestamp('changed.sent_at'))]},
            {'model': 'stg_cassandra__user_events', 'source': 'raw_cassandra',
             'keys': [day_of.format('changed.event_time')]},
            {'tombstones': ['raw_cassandra', 'user_events'],
             'keys': [day_of.format(to_utc_timestamp('changed.event_time'))]},
        ],
    }) }}
{%- endmacro %}

{#- gold_notif_impact_per_day: by notification. Both tombstones carry the notification id. -#}
{% macro notif_impact_spec() -%}
    {{ return({
        'key_columns': ['notification_id'],
        'reads': [['raw_postgres', 'notifications'], ['raw_cassandra', 'notification_states']],
        'changes': [
            {'model': 'stg_postgres__notifications', 'source': 'raw_postgres',
             'keys': ['changed.notification_id']},
            {'tombstones': ['raw_postgres', 'notifications'], 'keys': ['cast(changed.id as bigint)']},
            {'model': 'int_notification_states_latest', 'source': 'raw_cassandra',
             'keys': ['changed.notification_id']},
            {'tombstones': ['raw_cassandra', 'notification_states'],
             'keys': ['cast(changed.notification_id as bigint)']},
        ],
    }) }}
{%- endmacro %}

{#-
    gold_outing_summary: by outing. A deleted payment's tombstone lacks its outing: every
    outing is recomputed then. A payment's outing_id does not change.
-#}
{% macro outing_summary_spec() -%}
    {{ return({
        'key_columns': ['outing_id'],
        'reads': [['raw_postgres', 'outings'], ['raw_postgres', 'outing_participants'], ['raw_postgres', 'payments']],
        'money': true,
        'force_all': [['raw_postgres', 'payments']],
        'changes': [
            {'model': 'stg_postgres__outings', 'source': 'raw_postgres', 'keys': ['changed.outing_id']},
            {'tombstones': ['raw_postgres', 'outings'], 'keys': ['cast(changed.id as uuid)']},
            {'model': 'stg_postgres__outing_participants', 'source': 'raw_postgres',
             'keys': ['changed.outing_id']},
            {'tombstones': ['raw_postgres', 'outing_participants'], 'keys': ['cast(changed.outing_id as uuid)']},
            {'model': 'stg_postgres__payments', 'source': 'raw_postgres',
             'keys': ['changed.outing_id'], 'where': 'changed.outing_id is not null'},
        ],
    }) }}
{%- endmacro %}

{#-
    gold_group_engagement_per_week: by (group_id, week_start). A message names its group and
    week (its tombstone too); a payment its outing's group and the week of its paid_at (set
    once). A changed outing recomputes every week of its group (a wildcard week): its old
    starts_at, gone with its old version, may have counted it in another week. A deleted
    outing's or payment's tombstone lacks the group: every key then.
-#}
{% macro group_engagement_spec() -%}
    {%- set week = "cast(date_trunc('week', {}) as date)" -%}
    {{ return({
        'key_columns': ['group_id', 'week_start'],
        'reads': [['raw_cassandra', 'messages'], ['raw_postgres', 'outings'], ['raw_postgres', 'payments']],
        'money': true,
        'force_all': [['raw_postgres', 'outings'], ['raw_postgres', 'payments']],
        'changes': [
            {'model': 'stg_cassandra__messages', 'source': 'raw_cassandra',
             'keys': ['changed.group_id', week.format('changed.sent_at')]},
            {'tombstones': ['raw_cassandra', 'messages'],
             'keys': ['cast(changed.group_id as uuid)', week.format(to_utc_timestamp('changed.sent_at'))]},
            {'model': 'stg_postgres__outings', 'source': 'raw_postgres',
             'keys': ['changed.group_id', 'cast(null as date)']},
            {'model': 'stg_postgres__payments', 'source': 'raw_postgres',
             'keys': ['outings.group_id', week.format('changed.paid_at')],
             'join': 'inner join ' ~ ref('stg_postgres__outings') ~ ' as outings on changed.outing_id = outings.outing_id',
             'where': 'changed.paid_at is not null'},
        ],
    }) }}
{%- endmacro %}

{#-
    gold_user_retention_monthly: by (cohort_month, month_offset). A day with changed activity
    recomputes its month for every cohort (the key cohort + offset = that month); a changed
    user recomputes its cohort (a wildcard offset: its size and every month). A user's
    created_at is assumed never to change. A deleted user's tombstone lacks its cohort, and a
    move of last_month (the latest activity month) adds or removes an offset in every cohort:
    every key then.
-#}
{% macro retention_spec() -%}
    {%- set last_month_moved -%}
        (
            select max(cast(kept.cohort_month + to_months(kept.month_offset) as date)) from {{ this }} as kept
        ) is distinct from (
            select cast(date_trunc('month', max(activity.date)) as date)
            from {{ ref('gold_user_activity_per_day') }} as activity
        )
    {%- endset -%}
    {{ return({
        'key_columns': ['cohort_month', 'month_offset'],
        'reads': activity_raw_tables() + [['raw_postgres', 'users']],
        'force_all': [['raw_postgres', 'payments'], ['raw_postgres', 'users']],
        'checks': [last_month_moved],
        'changes': [
            {'sql': retention_affected_months},
            {'model': 'stg_postgres__users', 'source': 'raw_postgres',
             'keys': ["cast(date_trunc('month', changed.created_at) as date)", 'cast(null as integer)']},
        ],
    }) }}
{%- endmacro %}

{#- Every cohort's key in each month that holds a day with changed activity. -#}
{% macro retention_affected_months() -%}
    select
        cohorts.cohort_month,
        cast(date_diff('month', cohorts.cohort_month, months.activity_month) as integer) as month_offset
    from (
        select distinct cast(date_trunc('month', dates.activity_date) as date) as activity_month
        from ({{ spec_affected_keys(activity_spec()) }}) as dates
    ) as months
    inner join (
        select distinct cast(date_trunc('month', users.created_at) as date) as cohort_month
        from {{ ref('stg_postgres__users') }} as users
    ) as cohorts on months.activity_month >= cohorts.cohort_month
{%- endmacro %}

{#-
    int_user_notifications_daily: by notif_date. A notification changed names its day; a state
    changed or deleted names the day of its notification (matched on the id alone: a superset).
    A deleted notification's tombstone lacks its day: every key then.
-#}
{% macro notifications_daily_spec() -%}
    {%- set notifications = ref('stg_postgres__notifications') -%}
    {%- set of_notification = 'inner join ' ~ notifications ~ ' as notifications on ' -%}
    {{ return({
        'key_columns': ['notif_date'],
        'reads': [['raw_postgres', 'notifications'], ['raw_cassandra', 'notification_states']],
        'force_all': [['raw_postgres', 'notifications']],
        'changes': [
            {'model': 'stg_postgres__notifications', 'source': 'raw_postgres',
             'keys': ['cast(changed.created_at as date)']},
            {'model': 'int_notification_states_latest', 'source': 'raw_cassandra',
             'keys': ['cast(notifications.created_at as date)'],
             'join': of_notification ~ 'changed.notification_id = notifications.notification_id'},
            {'tombstones': ['raw_cassandra', 'notification_states'],
             'keys': ['cast(notifications.created_at as date)'],
             'join': of_notification ~ 'cast(changed.notification_id as bigint) = notifications.notification_id'},
        ],
    }) }}
{%- endmacro %}
