{#
    Grain test: no two rows share the values of combination_of_columns.
    (dbt Hub is unreachable here, so this stands in for dbt_utils' test of the same name.)
    Null values take part in the comparison like any value: a grain column that may be null
    must also have a not_null test.

    Rows are first grouped by one 64-bit hash of their grain, and only the rows whose hash is
    repeated are grouped by the columns themselves (a collision only sends a few distinct rows
    through that exact count): a hash table of 8-byte keys instead of whole grains. On 20 M
    staged user_events (four columns, 44 bytes) under 96MB the grouped count by the columns ran
    out of memory, the hashed one passed in 4.7 s; under 192MB 3.4 s against 7.2 s (2026-12-04).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns_csv = combination_of_columns | join(', ') %}

with hashed as not materialized (
    select
        {{ columns_csv }},
        hash({{ columns_csv }}) as __grain_hash
    from {{ model }}
),

repeated_hashes as (
    select __grain_hash
    from hashed
    group by __grain_hash
    having count(*) > 1
)

select
    {{ columns_csv }},
    count(*) as n_rows
from hashed
semi join repeated_hashes on hashed.__grain_hash = repeated_hashes.__grain_hash
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
