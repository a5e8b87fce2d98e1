{#
    Row-count reconciliation between a raw table and its staging model: the number of
    distinct keys in staging equals the number of distinct keys in raw (staging neither
    loses nor invents rows; it only collapses a key's duplicates across loads).

    source_name / source_table: the raw table (a dbt source); source_key_columns: its key
    columns as named in raw; key_columns: the same key as named in the model.
    committed_only: count only the raw rows of committed dlt loads (the source's
    `_dlt_loads`), for models that read nothing else (committed_loads_window).
    A key whose latest version is a tombstone (a hard delete, staging_helpers.sql) is not
    counted: staging leaves it out.

    When the test is scoped to the loads under test (its where config, see
    loads_under_test.sql), both sides count only the keys of those loads: a key of a new
    load is staged with that load's id (the latest load of a key wins), and a staged row
    carrying a new load's id has its key in that load, so the two counts still match.
#}
{% test distinct_keys_match_source(
    model, source_name, source_table, source_key_columns, key_columns, committed_only=false
) %}

{%- set raw_table = source(source_name, source_table) %}
{%- set tombstones = has_tombstones(raw_table) %}

with raw_keys as (
    select count(*) as n_keys
    from (
        select {{ 'distinct' if not tombstones }} {{ source_key_columns | join(', ') }}
        {%- if tombstones %}, {{ tombstone_column() }}{% endif %}
        from {{ raw_table }}
        {%- if committed_only %}
            {{ committed_loads_window(source(source_name, '_dlt_loads')) }}
        {%- endif %}
        {%- if scoped_to_loads_under_test() %}
            {{ 'and' if committed_only else 'where' }} {{ loads_under_test_condition('_dlt_load_id') }}
        {%- endif %}
        {%- if tombstones %}
        qualify row_number() over (
            partition by {{ source_key_columns | join(', ') }}
            order by {{ latest_load_first(tombstones=true) }}
        ) = 1
        {%- endif %}
    ) as keys
    {%- if tombstones %}
    where keys.{{ tombstone_column() }} is null
    {%- endif %}
),

staged_keys as (
    select count(*) as n_keys
    from (
        select distinct {{ key_columns | join(', ') }}
        from {{ model }}
    ) as keys
)

select
    raw_keys.n_keys as raw_distinct_keys,
    staged_keys.n_keys as staging_distinct_keys
from raw_keys
cross join staged_keys
where raw_keys.n_keys <> staged_keys.n_keys

{% endtest %}
