{#
    Row-count reconciliation between a raw table and its staging model: the number of
    distinct keys in staging equals the number of distinct keys in raw (staging neither
    loses nor invents rows; it only collapses a key's duplicates across loads).

    source_name / source_table: the raw table (a dbt source); source_key_columns: its key
    columns as named in raw; key_columns: the same key as named in the model.
#}
{% test distinct_keys_match_source(model, source_name, source_table, source_key_columns, key_columns) %}

with raw_keys as (
    select count(*) as n_keys
    from (
        select distinct {{ source_key_columns | join(', ') }}
        from {{ source(source_name, source_table) }}
    ) as keys
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
