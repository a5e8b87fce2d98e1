{#
    Row-count reconciliation between a raw table and its staging model: the number of
    distinct keys in staging equals the number of distinct keys in raw (staging neither
    loses nor invents rows; it only collapses a key's duplicates across loads).

    source_name / source_table: the raw table (a dbt source); source_key_columns: its key
    columns as named in raw; key_columns: the same key as named in the model.
    committed_only: count only the raw rows of committed dlt loads (the source's
    `_dlt_loads`), for models that read nothing else (committed_loads_window).
    A key whose latest version is a tombstone (a hard delete, staging_helpers.sql) is not
    counted: staging leaves it out. Whether a key's latest version is live is a grouped
    aggregate with a fixed-size state (latest_version_is_live), not a window: on 10 M raw
    user_events (scale 5, testing every row) the window ran out of a 96MB limit, the
    aggregate passed (35.8 s, 290 MB peak); at 128MB both pass (43.0 s against 35.2 s).
    An arg_max over a struct with _dlt_id failed even at 128MB.
    Each side is grouped by one 64-bit hash of the key first; only the rows whose hash is
    repeated are grouped by the key itself (a key seen once is one distinct key, live when its
    row is no tombstone; a collision only sends a few keys through the exact count): hash
    tables of 8-byte keys instead of whole keys, as in unique_combination_of_columns.

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

with raw_rows as not materialized (
    select
        {{ source_key_columns | join(', ') }},
        {%- if tombstones %}
        _dlt_load_id,
        {{ tombstone_column() }},
        {%- endif %}
        hash({{ source_key_columns | join(', ') }}) as __key_hash
    from {{ raw_table }}
    {%- if committed_only %}
        {{ committed_loads_window(source(source_name, '_dlt_loads')) }}
    {%- endif %}
    {%- if scoped_to_loads_under_test() %}
        {{ 'and' if committed_only else 'where' }} {{ loads_under_test_condition('_dlt_load_id') }}
    {%- endif %}
),

raw_hashes as (
    select
        __key_hash,
        count(*) as n_rows,
        {%- if tombstones %}
        bool_and({{ tombstone_column() }} is null) as is_live
        {%- else %}
        true as is_live
        {%- endif %}
    from raw_rows
    group by __key_hash
),

raw_keys as (
    select
        (select count(*) from raw_hashes where raw_hashes.n_rows = 1 and raw_hashes.is_live)
        + (
            select count(*)
            from (
                select {{ source_key_columns | join(', ') }}
                from raw_rows
                semi join raw_hashes
                    on raw_rows.__key_hash = raw_hashes.__key_hash and raw_hashes.n_rows > 1
                group by {{ source_key_columns | join(', ') }}
                {%- if tombstones %}
                having {{ latest_version_is_live() }}
                {%- endif %}
            ) as repeated_keys
        ) as n_keys
),

staged_rows as not materialized (
    select
        {{ key_columns | join(', ') }},
        hash({{ key_columns | join(', ') }}) as __key_hash
    from {{ model }}
),

staged_hashes as (
    select
        __key_hash,
        count(*) as n_rows
    from staged_rows
    group by __key_hash
),

staged_keys as (
    select
        (select count(*) from staged_hashes where staged_hashes.n_rows = 1)
        + (
            select count(*)
            from (
                select distinct {{ key_columns | join(', ') }}
                from staged_rows
                semi join staged_hashes
                    on staged_rows.__key_hash = staged_hashes.__key_hash and staged_hashes.n_rows > 1
            ) as repeated_keys
        ) as n_keys
)

select
    raw_keys.n_keys as raw_distinct_keys,
    staged_keys.n_keys as staging_distinct_keys
from raw_keys
cross join staged_keys
where raw_keys.n_keys <> staged_keys.n_keys

{% endtest %}
