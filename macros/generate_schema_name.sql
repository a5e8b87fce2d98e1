{#
    Custom schema names are used verbatim: +schema: gold builds into `gold`, not
    `<target schema>_gold`. Nodes without a custom schema go to the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
