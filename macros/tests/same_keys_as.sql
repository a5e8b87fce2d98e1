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

{%- set fingerprint_query -%}
    with model_side as (
        select count({{ column_name }}) as n_keys, coalesce(sum(hash({{ column_name }})), 0) as key_hash_sum
        from {{ model }}
    ),

    parent_side as (
        select count({{ field }}) as n_keys, coalesce(sum(hash({{ field }})), 0) as key_hash_sum
        from {{ to }}
    )

    select
        model_side.n_keys = parent_side.n_keys
        and model_side.key_hash_sum = parent_side.key_hash_sum as fingerprints_match
    from model_side
    cross join parent_side
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

with keyed_rows as (
    select
        {{ column_name }} as key_value,
        1 as in_model,
        0 as in_parent
    from {{ model }}
    where {{ column_name }} is not null
    union all
    select
        {{ field }} as key_value,
        0 as in_model,
        1 as in_parent
    from {{ to }}
    where {{ field }} is not null
)

select
    key_value,
    sum(in_model) as rows_in_model,
    sum(in_parent) as rows_in_parent
from keyed_rows
group by key_value
having sum(in_model) <> sum(in_parent)

{%- endif %}

{% endtest %}
