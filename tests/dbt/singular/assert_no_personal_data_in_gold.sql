-- No email, username or message body reaches gold (marts.md): no gold column may carry one.
-- depends_on: {{ ref('gold_notif_impact_per_day') }}
-- depends_on: {{ ref('gold_user_activity_per_day') }}
-- depends_on: {{ ref('gold_outing_summary') }}
-- depends_on: {{ ref('gold_group_engagement_per_week') }}
-- depends_on: {{ ref('gold_user_retention_monthly') }}
-- depends_on: {{ ref('gold_ml_user_features') }}
select
    table_name,
    column_name
from information_schema.columns
where
    table_schema = 'gold'
    and (
        lower(column_name) like '%email%'
        or lower(column_name) like '%username%'
        or lower(column_name) like '%body%'
    )
