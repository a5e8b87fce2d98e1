{#
    Grain against a parent: the tested column holds exactly the non-null values of `field`
    in the `to` relation, each as many times (for a unique parent key: one row per parent
    row, and no other key). It replaces the pair `relationships` + `all_keys_present`,
    which each build a hash table of every key: on the large marts (5 M notifications at
    scale 10) two such joins at once, in dbt's two threads, ran DuckDB out of its memory
    limit.

    Two steps, so that a passing check costs a scan and no memory:
    1. A fingerprint of each side, run at execution time: the number of non-null keys and
       the sum of their 64-bit hashes (a sum over every row, so duplicates count; DuckDB
       sums the UBIGINT hashes into a HUGEINT, without overflow). Equal multisets always
       give equal fingerprints; different ones give equal fingerprints only on a 64-bit hash
       collision of the sums (about 1 in 1.8e19 for changes that are not crafted).
    2. Only when the fingerprints differ, the exact difference: each key whose number of
       rows differs between the two sides, with both counts (a grouped aggregate, which
       DuckDB spills to disk), i.e. the failing rows dbt reports.
    When the fingerprints match the test compiles to a query of no rows; while parsing, or
    when a side is not built yet (`dbt compile` on a new warehouse), to the exact query.
#}
{% test same_keys_as(model, column_name, to, field) %}

{#- Both sides' non-null keys, once, for the fingerprint and for the exact difference. -#}
{%- set keyed_rows -%}
    keyed_rows as (
        {%- for relation, column, in_model in [(model, column_name, 1), (to, field, 0)] %}
        select
            {{ column }} as key_value,
            {{ in_model }} as in_model,
            {{ 1 - in_model }} as in_parent
        from {{ relation }}
        where {{ column }} is not null
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    )
{%- endset -%}

{%- set fingerprint_query -%}
    with {{ keyed_rows }}

    select
        count(*) filter (where in_model = 1) = count(*) filter (where in_parent = 1)
        and coalesce(sum(hash(key_value)) filter (where in_model = 1), 0)
        = coalesce(sum(hash(key_value)) filter (where in_parent = 1), 0) as fingerprints_match
    from keyed_rows
{%- endset -%}

{#- Not executing (parsing), or a side not built yet (`dbt compile` on a new warehouse): the exact query. -#}
{%- set fingerprints_match = false -%}
{%- if execute and load_relation(model) is not none and load_relation(to) is not none -%}
    {%- set fingerprints_match = run_query(fingerprint_query).columns[0].values()[0] -%}
{%- endif -%}

{%- if fingerprints_match %}

select
    null as key_value,
    0 as rows_in_model,
    0 as rows_in_parent
where false

{%- else %}

with {{ keyed_rows }}

select
    key_value,
    sum(in_model) as rows_in_model,
    sum(in_parent) as rows_in_parent
from keyed_rows
group by key_value
having sum(in_model) <> sum(in_parent)

{%- endif %}

{% endtest %}
