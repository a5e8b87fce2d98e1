{#
    The dbt variable `as_of_date` (marts.md): a 'YYYY-MM-DD' string, or null for the
    default, the latest date in gold_user_activity_per_day. Renders a DATE expression.
#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        (select max(activity.date) from {{ ref('gold_user_activity_per_day') }} as activity)
    {%- else -%}
        cast('{{ value | string | trim }}' as date)
    {%- endif -%}
{%- endmacro %}
