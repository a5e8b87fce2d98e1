{#-
    Post-hook of every model (dbt_project.yml): drop the temporary tables an incremental run
    of the model left behind. dbt-duckdb's incremental materialization builds the new rows
    into a connection-local temporary table `<model>__dbt_tmp<timestamp>` and, on a local
    DuckDB file, never drops it. One dbt build keeps one DuckDB connection per thread, so
    these tables pile up in DuckDB's memory (they count against DBT_DUCKDB_MEMORY_LIMIT)
    until the build ends. The hook runs on the model's own connection, so it sees exactly
    the model's temporary tables; the name carries a timestamp, hence the lookup. Nothing
    is found on a first build, a --full-refresh or for a table model.
-#}
{% macro drop_incremental_temp_table() -%}
    {%- if execute and model.config.materialized == 'incremental' -%}
        {%- set leftovers = run_query(
            "select table_name from duckdb_tables() where temporary and starts_with(table_name, '"
            ~ this.identifier ~ "__dbt_tmp')"
        ) -%}
        {%- for leftover in leftovers.rows -%}
            {%- do run_query('drop table if exists temp.main."' ~ leftover[0] ~ '"') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
