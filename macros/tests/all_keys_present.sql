{#
    Completeness: every non-null value of `field` in the `to` relation appears in the
    tested column (the reverse of `relationships`), e.g. every outing has a summary row.
#}
{% test all_keys_present(model, column_name, to, field) %}

select parent.{{ field }} as missing_key
from {{ to }} as parent
where
    parent.{{ field }} is not null
    and not exists (
        select 1
        from {{ model }} as child
        where child.{{ column_name }} = parent.{{ field }}
    )

{% endtest %}
