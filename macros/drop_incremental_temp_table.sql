{#-
    Post-hook of every model (dbt_project.yml): drop the temporary table an incremental run
    of the model left behind. dbt-duckdb's incremental materialization builds the new rows
    into a session-local temporary table `<model>__dbt_tmp` and, on a local DuckDB file, never
    drops it. One dbt build is one DuckDB session, so these tables piled up in DuckDB's
    memory (they count against DBT_DUCKDB_MEMORY_LIMIT): at scale 5 the incremental build ran
    out of 160MB (and of 256MB) in its last tests. Dropped here, each lives only through its
    own model's insert. Nothing to drop on a first build, a --full-refresh or a table model.
-#}
{% macro drop_incremental_temp_table() -%}
    {%- if model.config.materialized == 'incremental' and is_incremental() -%}
        drop table if exists temp.main."{{ this.identifier }}__dbt_tmp"
    {%- endif -%}
{%- endmacro %}
