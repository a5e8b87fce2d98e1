{#
    Grain test: no two rows share the values of combination_of_columns.
    (dbt Hub is unreachable here, so this stands in for dbt_utils' test of the same name.)
    Null values take part in the comparison like any value: a grain column that may be null
    must also have a not_null test.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as n_rows
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
