{#
    Every row satisfies a boolean SQL expression (a row where it is null fails too),
    optionally only rows matching `where_clause`. Usable on a model or a column (the
    column is then only documentation: the expression says what is checked).
#}
{% test expression_is_true(model, expression, where_clause=none, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where_clause %}
    and ({{ where_clause }})
{%- endif %}

{% endtest %}
