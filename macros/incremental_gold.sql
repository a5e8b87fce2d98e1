{#
    Incremental gold: int_user_activity_daily and the marts keyed by a day, an outing or a
    notification recompute, in an incremental run, only the keys that the staging rows of the
    loads committed since their last run touch, and delete+insert those keys.

    The watermark. Each such model records, after it ran (post-hook record_watermark), the
    commit time of the newest load committed before the dbt run started (both raw schemas),
    and the fingerprint of the fx_rates seed, into intermediate.int_incremental_watermarks
    (one row per model; gold's contracts stay as they are). The next run reads the loads
    committed after that time and before it started: their staging rows (the new versions of
    changed keys) and their tombstones (keys deleted in the sources) name the keys to
    recompute. A load that commits while dbt runs is after the recorded time, so the next
    run reads it; a staging row of such a load on a key recomputed now is simply included.

    The scope of a run (incremental_scope):
      'keys'  the keys named by the new loads (the model's pre-hook deletes them, its select
              recomputes them: a key left without rows, say a day emptied by a refund, is gone);
      'all'   every key, deleted then recomputed, when the model has no watermark (a warehouse
              whose gold was built as plain tables, or int_incremental_watermarks rebuilt), when
              fx_rates changed since the last run (money models), when a raw table it reads was
              reloaded in full since then (no tombstone for keys deleted meanwhile: no row of a
              load older than the watermark is left), or when a deleted row's key is not in
              its tombstone (a payment: its day and outing are gone with it);
      'full'  not an incremental run (first build, --full-refresh): the plain select.
    Assumed from the sources' contract: a payment's paid_at is set once (and kept when
    refunded), its user_id and outing_id and an outing's group_id do not change.
#}

{% macro watermarks_relation() -%}
    {{ return(ref('int_incremental_watermarks')) }}
{%- endmacro %}

{% macro fx_fingerprint_sql() -%}
    (
        select md5(string_agg(fx.currency || '=' || cast(fx.rate_to_eur as varchar), ',' order by fx.currency))
        from {{ ref('fx_rates') }} as fx
    )
{%- endmacro %}

{#- When this dbt run started (a timestamptz literal): the upper bound of every window. -#}
{% macro run_started_sql() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00' as timestamptz)
{%- endmacro %}

{#- The newest load committed before this dbt run started, both raw schemas. -#}
{% macro loads_through_sql() -%}
    (
        select max(loads.inserted_at)
        from (
            select inserted_at from {{ source('raw_postgres', '_dlt_loads') }} where status = 0
            union all
            select inserted_at from {{ source('raw_cassandra', '_dlt_loads') }} where status = 0
        ) as loads
        where loads.inserted_at <= {{ run_started_sql() }}
    )
{%- endmacro %}

{#- Post-hook: this model's watermark, replaced (delete, then insert). -#}
{% macro record_watermark() -%}
    delete from {{ watermarks_relation() }} where model_name = '{{ this.identifier }}';
    insert into {{ watermarks_relation() }} (model_name, loads_through, fx_fingerprint)
    select
        '{{ this.identifier }}',
        coalesce({{ loads_through_sql() }}, cast('-infinity' as timestamptz)),
        {{ fx_fingerprint_sql() }}
{%- endmacro %}

{#- This model's row of int_incremental_watermarks (a subquery's from clause). -#}
{% macro stored_watermark_rows() -%}
    {{ watermarks_relation() }} as kept where kept.model_name = '{{ this.identifier }}'
{%- endmacro %}

{#-
    The watermark, a scalar subquery (read by the statement that uses it: no query while
    the model renders; -infinity when none, a case in which the scope is 'all' anyway).
-#}
{% macro watermark_sql() -%}
    coalesce((select kept.loads_through from {{ stored_watermark_rows() }}), cast('-infinity' as timestamptz))
{%- endmacro %}

{#-
    Loads of raw schema `source_name` committed after the watermark and before this run
    started (a subquery of load ids): a load that commits while dbt runs is read by the next
    run, so the pre-hook and the select of a model always name the same keys.
-#}
{% macro loads_after_watermark(source_name) -%}
    (
        select new_loads.load_id
        from {{ source(source_name, '_dlt_loads') }} as new_loads
        where
            new_loads.status = 0
            and new_loads.inserted_at > {{ watermark_sql() }}
            and new_loads.inserted_at <= {{ run_started_sql() }}
    )
{%- endmacro %}

{#- Staging rows of the loads committed after the watermark: a where clause on dlt_load_id. -#}
{% macro changed_since_watermark(source_name, column='dlt_load_id') -%}
    {{ column }} in {{ loads_after_watermark(source_name) }}
{%- endmacro %}

{#-
    This dbt run's answers, asked once per run: whether a raw table has the tombstone column
    (one column lookup per table, not one per table per render: a model renders twice, its
    select and its pre-hook) and each model's scope (its one scope query: the pre-hook, which
    renders after the select and before its own delete, reuses the select's scope). Kept in
    the run's graph under its invocation id (no answer outlives the run); a load that commits
    while dbt runs is after run_started_at, so no answer changes during a run.
-#}
{% macro run_cache(kind) -%}
    {%- set key = '_incremental_gold_' ~ kind ~ '_' ~ invocation_id -%}
    {%- if key not in graph -%}
        {%- do graph.update({key: {}}) -%}
    {%- endif -%}
    {{ return(graph[key]) }}
{%- endmacro %}

{#-
    has_tombstones (macros/staging_helpers.sql) for this model's raw tables: the first call
    of a run asks the warehouse once which tables have the tombstone column (one query for
    the run instead of one per table per render).
-#}
{% macro run_has_tombstones(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set answers = run_cache('tombstones') -%}
    {%- if 'tables' not in answers -%}
        {%- set found = run_query(
            "select distinct lower(table_catalog || '.' || table_schema || '.' || table_name)"
            ~ " from information_schema.columns where lower(column_name) = '" ~ tombstone_column() ~ "'"
        ) -%}
        {%- do answers.update({'tables': found.columns[0].values() | list}) -%}
    {%- endif -%}
    {%- set name = [relation.database, relation.schema, relation.identifier] | join('.') | lower -%}
    {{ return(name in answers['tables']) }}
{%- endmacro %}

{#- Tombstones (raw rows, raw names) of source_name.table_name committed after the watermark. -#}
{% macro tombstones_since_watermark(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    select *
    from {{ relation }}
    where
        {% if run_has_tombstones(relation) -%}
            {{ tombstone_column() }} is not null
            and _dlt_load_id in {{ loads_after_watermark(source_name) }}
        {%- else -%}
            false
        {%- endif %}
{%- endmacro %}

{#-
    'full', 'all' or 'keys' (see the top of this file). raw_tables: [source, table] pairs the
    model reads (through staging); money: the model converts money with fx_rates;
    tombstones_force_all: [source, table] pairs whose tombstones lack the model's key;
    extra_checks: further SQL conditions that mean 'all'.
-#}
{% macro incremental_scope(raw_tables, money=false, tombstones_force_all=[], extra_checks=[]) -%}
    {#- a unit test has no `this`: the plain select -#}
    {%- if not execute or this is none or model.resource_type == 'unit_test' or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {#- asked once per model and run (run_cache): the select's answer serves its pre-hook -#}
    {%- set scopes = run_cache('scopes') -%}
    {%- set key = this | string -%}
    {%- if key in scopes -%}
        {{ return(scopes[key]) }}
    {%- endif -%}
    {#- one query per scope: no watermark yet, or any reason for 'all' -#}
    {%- set checks = ["not exists (select 1 from " ~ stored_watermark_rows() ~ ")"] -%}
    {%- if money -%}
        {%- do checks.append(
            fx_fingerprint_sql() ~ " is distinct from (select kept.fx_fingerprint from "
            ~ stored_watermark_rows() ~ ")"
        ) -%}
    {%- endif -%}
    {%- for source_name, table_name in raw_tables -%}
        {%- set relation = source(source_name, table_name) -%}
        {%- set loads = source(source_name, '_dlt_loads') -%}
        {%- do checks.append(
            "(exists (select 1 from " ~ relation ~ ") and not exists (select 1 from " ~ relation
            ~ " as raw where raw._dlt_load_id in (select old.load_id from " ~ loads
            ~ " as old where old.status = 0 and old.inserted_at <= " ~ watermark_sql() ~ ")))"
        ) -%}
    {%- endfor -%}
    {%- for source_name, table_name in tombstones_force_all -%}
        {%- do checks.append("exists (" ~ tombstones_since_watermark(source_name, table_name) ~ ")") -%}
    {%- endfor -%}
    {%- for check in extra_checks -%}{%- do checks.append('(' ~ check ~ ')') -%}{%- endfor -%}
    {%- set found = run_query("select " ~ (checks | join(' or '))) -%}
    {%- do scopes.update({key: 'all' if found.rows[0][0] else 'keys'}) -%}
    {{ return(scopes[key]) }}
{%- endmacro %}

{#-
    The declarative form (macros/incremental_gold_keys.sql describes each model so): a spec is
    a dict with
      key_columns  the model's key columns, e.g. ['group_id', 'week_start'];
      reads        [source, table] raw tables the model reads (through staging): a full reload
                   of one means 'all';
      money        (optional) the model converts money with fx_rates: a rate change means 'all';
      force_all    (optional) [source, table] raw tables whose tombstones lack the model's key;
      checks       (optional) SQL conditions that also mean 'all' (asked at run time);
      changes      the key sources: each a dict with `keys`, one SQL expression per key column
                   (in key order) over the alias `changed`, and one of
                     model: 'stg_…' and source: 'raw_…'  the model's rows of the new loads,
                     tombstones: [source, table]         the raw tombstones of the new loads,
                     sql: a_macro                        a macro (not called: the spec is
                                                         built in unit tests too) that
                                                         selects the key columns;
                   optional `join` (SQL after the from) and `where` (a condition).
    A key expression may be a typed null in the LAST key column: a wildcard, every value of it
    (say all weeks of a group, when the old week of a moved outing is gone with its old version).
-#}
{% macro spec_scope(spec) -%}
    {{ return(incremental_scope(
        spec.reads, money=spec.get('money', false),
        tombstones_force_all=spec.get('force_all', []), extra_checks=spec.get('checks', [])
    )) }}
{%- endmacro %}

{#- The select of the keys a 'keys' run recomputes (columns named as spec.key_columns). -#}
{% macro spec_affected_keys(spec) -%}
    {%- for change in spec.changes %}
    {%- if not loop.first %}
    union
    {% endif -%}
    {%- if change.sql is defined %}
    select * from ({{ change.sql() }}) as changed
    {%- else %}
    select
        {%- for column in spec.key_columns %}
        {{ change['keys'][loop.index0] }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    {%- if change.tombstones is defined %}
    from ({{ tombstones_since_watermark(change.tombstones[0], change.tombstones[1]) }}) as changed
    {%- else %}
    from {{ ref(change.model) }} as changed
    {%- endif %}
    {{ change.get('join', '') }}
    where
        {% if change.tombstones is defined %}true{% else %}changed.{{ changed_since_watermark(change.source) }}{% endif %}
        {%- if change.where is defined %} and ({{ change.where }}){% endif %}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#-
    A condition: the row whose key columns are `exprs` is one this run recomputes (`affected`:
    a relation or alias of spec_affected_keys' rows), wildcards in the last key column included.
-#}
{% macro in_spec_keys(spec, exprs, affected='affected_keys') -%}
    {%- set columns = spec.key_columns -%}
    {%- set last = columns[-1] -%}
    (
        ({{ exprs | join(', ') }}) in (
            select {{ columns | join(', ') }} from {{ affected }} where {{ last }} is not null
        )
        {%- if columns | length > 1 %}
            or ({{ exprs[:-1] | join(', ') }}) in (
                select {{ columns[:-1] | join(', ') }} from {{ affected }} where {{ last }} is null
            )
        {%- endif %}
    )
{%- endmacro %}

{#- Pre-hook of a spec'd model: delete what the run recomputes (all, the keys, or nothing). -#}
{% macro spec_delete_affected(spec) -%}
    {%- set scope = spec_scope(spec) -%}
    {%- if scope == 'all' -%}
        delete from {{ this }}
    {%- elif scope == 'keys' -%}
        delete from {{ this }}
        where {{ in_spec_keys(spec, spec.key_columns, '(' ~ spec_affected_keys(spec) ~ ') as affected') }}
    {%- endif -%}
{%- endmacro %}

{#- In a model's select: the filter on its rows' keys, or true when the run recomputes all. -#}
{% macro spec_filter(spec, exprs) -%}
    {%- if spec_in_scope(spec) -%}{{ in_spec_keys(spec, exprs) }}{%- else -%}true{%- endif -%}
{%- endmacro %}

{#- True when this run recomputes some keys of the spec'd model (not all, not none). -#}
{% macro spec_in_scope(spec) -%}
    {{ return(spec_scope(spec) == 'keys') }}
{%- endmacro %}

{#-
    The first CTE of a spec'd model's select, `affected_keys` (the keys this run recomputes,
    what spec_filter and in_spec_keys read), followed by its comma; nothing when the run
    recomputes all. Written right after the model's `with`.
-#}
{% macro affected_keys_cte(spec) -%}
    {%- if spec_in_scope(spec) %}
affected_keys as (
    {{ spec_affected_keys(spec) }}
),
    {%- endif %}
{%- endmacro %}

{#-
    The config of a model incremental by the keys of a spec: appended rows, the pre-hook that
    deletes the keys the run recomputes, the post-hook that records the model's watermark.
    `spec_call` is the spec macro's call as text (e.g. "activity_spec('date')"): hooks are
    rendered at run time, when the scope of the run is known.
-#}
{% macro incremental_by_keys(spec_call) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook='{{ spec_delete_affected(' ~ spec_call ~ ') }}',
        post_hook=['{{ record_watermark() }}']
    ) }}
{%- endmacro %}
