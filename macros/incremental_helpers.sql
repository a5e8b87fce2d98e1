{#
    Which raw rows a model reads: rows of committed dlt loads only, and in an incremental
    run only the loads committed after the newest load already processed into {{ this }}.

    dlt writes one row per finished load into the schema's `_dlt_loads` table (status 0,
    inserted_at = when the load committed). A load killed half-way has rows in some raw
    tables but no such row: it is skipped until the next `loaders load` completes it.

    The incremental window is "committed after", not "load id greater than": a load is
    picked up even if its id (its extract time) is older than one already processed, and
    late-arriving rows (an old event, a state overwritten days later) always come in a new
    load, so they are in the window whatever their business timestamps. Each run reads
    only the new loads, so an incremental run costs what the new data costs. The models
    merge on their unique key, so reading a load twice would be harmless.

    loads: the `_dlt_loads` relation of the raw schema the rows come from.
#}
{% macro committed_loads_window(loads, source_load_id='_dlt_load_id', target_load_id='dlt_load_id') -%}
    where {{ source_load_id }} in (
        select committed.load_id
        from {{ loads }} as committed
        where
            committed.status = 0
            {%- if is_incremental() %}
                and committed.inserted_at > (
                    select coalesce(max(processed.inserted_at), cast('-infinity' as timestamptz))
                    from {{ loads }} as processed
                    where processed.load_id in (select distinct {{ target_load_id }} from {{ this }})
                )
            {%- endif %}
    )
{%- endmacro %}
