{#
    Incremental window on dlt load ids.

    In an incremental run, keep the raw rows whose load id is newer than the latest load id
    already processed into {{ this }}, minus var('incremental_lookback_hours'). Late-arriving
    rows (an old event, a state overwritten days later) always arrive in a new load, so
    they are in the window whatever their business timestamps. The models then merge on
    their unique key, so reprocessing the lookback window is idempotent.

    Renders nothing in a full refresh or a first run.
#}
{% macro incremental_load_window(source_load_id='_dlt_load_id', target_load_id='dlt_load_id') -%}
    {%- if is_incremental() -%}
        where {{ load_id_number(source_load_id) }} > (
            select
                coalesce(max({{ load_id_number(target_load_id) }}), 0)
                - {{ var('incremental_lookback_hours') | int }} * 3600
            from {{ this }}
        )
    {%- endif -%}
{%- endmacro %}
