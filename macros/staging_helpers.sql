{#
    Helpers shared by the staging models.

    to_utc_timestamp: raw timestamps are TIMESTAMP WITH TIME ZONE; casting one to DATE or
    TIMESTAMP in DuckDB uses the session TimeZone (ICU), which is the machine's zone by
    default. `AT TIME ZONE 'UTC'` yields the UTC wall-clock TIMESTAMP whatever the session
    zone is, so every model downstream works on plain UTC timestamps.
#}
{% macro to_utc_timestamp(column) -%}
    cast({{ column }} at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- dlt's load id is a unix-epoch seconds string ('1764052345.123456'): order it as a number. -#}
{% macro load_id_number(column='_dlt_load_id') -%}
    cast({{ column }} as decimal(20, 6))
{%- endmacro %}

{#-
    Ordering that puts the row to keep first when a key appears more than once:
    the latest load wins; inside one load, the later extra columns (e.g. updated_at), then
    dlt's row id make the choice deterministic (same result for full refresh and incremental).
-#}
{% macro latest_load_first(tie_breakers=[]) -%}
    {{ load_id_number('_dlt_load_id') }} desc
    {%- for column in tie_breakers %}, {{ column }} desc nulls last{% endfor %}, _dlt_id desc
{%- endmacro %}
