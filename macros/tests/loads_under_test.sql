{#
    Data tests scoped to the loads a run brings.

    The scheduled job (`loaders run`) publishes a warehouse only after every test passed, so
    every row of the published warehouse has been tested. An incremental run then only has
    to test the rows of the loads committed since: the job sets OUTINGS_TEST_LOADS_AFTER to
    the commit time (`_dlt_loads.inserted_at`) of the newest load in the published
    warehouse, and the tests whose `where` config holds the placeholder
    `__loads_under_test__` (staging and the large intermediate model, see dbt_project.yml)
    read only the rows whose `dlt_load_id` is a load committed after it.

    Why this is enough for every test that uses it: a staging row carries the load that
    brought its latest version, and the incremental models merge on their grain, so a key
    seen again in a new load is rewritten with the new load id. Grain uniqueness, not-null,
    accepted values, ranges and relationships (child side) are row or key properties, and
    the rows they could break are exactly the rows of the new loads.

    Unset (a plain `dbt build`, `loaders run --test-every-row` or `--full-refresh`, no
    published warehouse yet): the placeholder becomes `true` and every test reads its whole
    table. After a change to a model's SQL, run one of those to test all rows.
#}

{% macro loads_under_test_after() -%}
    {#- The cutoff, read at execution time only (parsing must not depend on it). -#}
    {%- set after = env_var('OUTINGS_TEST_LOADS_AFTER', '') if execute else '' -%}
    {%- if after and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9:.]+([+-][0-9:]+|Z)?', after) -%}
        {{ exceptions.raise_compiler_error(
            "OUTINGS_TEST_LOADS_AFTER must be an ISO timestamp such as 2026-11-30T09:00:00+00:00, got '"
            ~ after ~ "'; unset it to test every row"
        ) }}
    {%- endif -%}
    {{ return(after) }}
{%- endmacro %}

{% macro loads_under_test_condition(load_id_column='dlt_load_id') -%}
    {%- set after = loads_under_test_after() -%}
    {%- if not after -%}
        true
    {%- else -%}
        {%- set load_tables = [] -%}
        {%- for source_node in graph.sources.values()
            if source_node.package_name == project_name and source_node.name == '_dlt_loads' -%}
            {%- do load_tables.append(
                api.Relation.create(
                    database=source_node.database,
                    schema=source_node.schema,
                    identifier=source_node.identifier
                )
            ) -%}
        {%- endfor -%}
        {{ load_id_column }} in (
            {%- for loads in load_tables %}
            select load_id from {{ loads }}
            where inserted_at > cast('{{ after }}' as timestamptz)
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}

{% macro scoped_to_loads_under_test() -%}
    {#- True for a test whose where config asks for the scope (the raw side of a reconciliation test follows it). -#}
    {{ return('__loads_under_test__' in (config.get('where') or '')) }}
{%- endmacro %}

{#- dbt's own macro, overridden to resolve the placeholder; otherwise unchanged. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if scoped_to_loads_under_test() -%}
        {%- set where = where | replace('__loads_under_test__', loads_under_test_condition()) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
