{#
    Helpers shared by the staging models.

    to_utc_timestamp: raw timestamps are TIMESTAMP WITH TIME ZONE; casting one to DATE or
    TIMESTAMP in DuckDB uses the session TimeZone (ICU), which is the machine's zone by
    default. `AT TIME ZONE 'UTC'` yields the UTC wall-clock TIMESTAMP whatever the session
    zone is, so every model downstream works on plain UTC timestamps.
#}
{% macro to_utc_timestamp(column) -%}
    cast({{ column }} at time zone 'UTC' as timestamp)
{%- endmacro %}

{#-
    dlt's load id is a unix-epoch seconds string ('1764052345.123456'): order it as a number.
    decimal(18, 6) holds 12 integer digits (good until the year 33658) and is an int64 in
    DuckDB; a wider decimal is a 128-bit one, whose cast from text is ~150x slower (it was
    most of the build time at scale 1: 7.6 s per 500 k rows against 0.05 s).
-#}
{% macro load_id_number(column='_dlt_load_id') -%}
    cast({{ column }} as decimal(18, 6))
{%- endmacro %}

{#-
    Ordering that puts the row to keep first when a key appears more than once:
    the latest load wins; inside one load, a live version before a tombstone (when the
    raw table has tombstones), the later extra columns (e.g. updated_at), then dlt's row id
    make the choice deterministic (same result for full refresh and incremental).
-#}
{% macro latest_load_first(tie_breakers=[], tombstones=false) -%}
    {{ load_id_number('_dlt_load_id') }} desc
    {%- if tombstones %}, {{ tombstone_column() }} is null desc{% endif %}
    {%- for column in tie_breakers %}, {{ column }} desc nulls last{% endfor %}, _dlt_id desc
{%- endmacro %}

{#- Whether a key's latest version is live (not a tombstone), as a grouped aggregate for the
    rows of one key: the greatest (load, live before tombstone) of latest_load_first, packed in
    one HUGEINT (the load id in microseconds, times 2, plus 1 when live), so that DuckDB keeps a
    fixed-size state per key and can spill it. Rows tied on both are alike for the answer. -#}
{% macro latest_version_is_live() -%}
    max(
        cast(cast({{ load_id_number("_dlt_load_id") }} as decimal(38, 6)) * 1000000 as hugeint) * 2
        + cast({{ tombstone_column() }} is null as integer)
    ) % 2 = 1
{%- endmacro %}

{#-
    Hard deletes. The loaders write a TOMBSTONE into raw when a key was deleted in the
    source: a row with the key, every other column null and `_loader_deleted_at` set, in a
    normal committed load (it is that key's latest version). Raw tables of warehouses the
    loaders have not written since they started writing tombstones lack the column: every
    macro here asks the warehouse once (has_tombstones) and then reads the table as before.
-#}
{% macro tombstone_column() -%}
    _loader_deleted_at
{%- endmacro %}

{% macro has_tombstones(relation) -%}
    {#- Whether the raw table has the tombstone column (asked at execution time only). -#}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set names = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {{ return(tombstone_column() in names) }}
{%- endmacro %}

{#-
    The staging de-duplication: the raw rows of `relation` keeping, for each key, the
    version to stage (latest_load_first), and no key whose version to stage is a tombstone.
    Only rows of loads committed in `committed_loads` (the raw schema's `_dlt_loads`) are
    read, and in an incremental run only those of loads committed since the last run
    (committed_loads_window).

    A key deleted since the last run is not in the new rows, but its older version is
    still in the model: the macro gives the model a pre-hook (delete_tombstoned_keys, with
    the same relation, key and ordering) that deletes, before the merge, the model's rows
    of the keys whose latest version in the window is a tombstone. The model's own
    unique_key names those keys in the model, in the order of `key_columns`. A second
    pre-hook (delete_keys_gone_from_reloaded_raw) covers a raw table the loaders reloaded
    in full (dropped and replaced: keys deleted meanwhile leave no tombstone).
-#}
{% macro latest_version_per_key(relation, key_columns, committed_loads, tie_breakers=[]) -%}
    {%- if not execute -%}
        {#- Parse time: register the delete of tombstoned keys, rendered when the model runs. -#}
        {%- do config(pre_hook=[
            "{{ delete_tombstoned_keys(" ~ (key_columns | tojson) ~ ", " ~ (tie_breakers | tojson) ~ ") }}",
            "{{ delete_keys_gone_from_reloaded_raw(" ~ (key_columns | tojson) ~ ") }}"
        ]) -%}
    {%- endif -%}
    {%- set tombstones = has_tombstones(relation) -%}
    {%- if tombstones %}
    select * exclude ({{ tombstone_column() }})
    from (
        {{ latest_rows(relation, key_columns, committed_loads, tie_breakers, tombstones) }}
    ) as latest
    where latest.{{ tombstone_column() }} is null
    {%- else %}
    {{ latest_rows(relation, key_columns, committed_loads, tie_breakers, tombstones) }}
    {%- endif %}
{%- endmacro %}

{#-
    The committed rows of `relation`, one per key (the first by latest_load_first). Raw holds
    each key once almost always (the loaders merge by key, a package holds a key once), so the
    window that picks a key's version runs only on the rows whose key hash is repeated: a
    grouped count of one 64-bit hash per row finds them (a collision only sends a few unique
    keys through the window, which is exact), and the other rows are kept as they are. The
    window over every row and column needed the whole table in memory and sorted it: on
    20 M user_events under 192MB, 34.4 s against 14.5 s this way, 6.9 s without any
    de-duplication (2026-12-04). `not materialized`: the rows are read again, never copied.
-#}
{% macro latest_rows(relation, key_columns, committed_loads, tie_breakers, tombstones) -%}
    with committed_rows as not materialized (
        select
            *,
            hash({{ key_columns | join(', ') }}) as __key_hash
        from {{ relation }}
        {{ committed_loads_window(committed_loads) }}
    ),

    repeated_keys as (
        select __key_hash
        from committed_rows
        group by __key_hash
        having count(*) > 1
    )

    select committed_rows.* exclude (__key_hash)
    from committed_rows
    anti join repeated_keys on committed_rows.__key_hash = repeated_keys.__key_hash
    union all
    select repeated.* exclude (__key_hash)
    from (
        select committed_rows.*
        from committed_rows
        semi join repeated_keys on committed_rows.__key_hash = repeated_keys.__key_hash
    ) as repeated
    qualify row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by {{ latest_load_first(tie_breakers, tombstones) }}
    ) = 1
{%- endmacro %}

{#-
    The pre-hook of an incremental model over a raw table with tombstones: deletes from
    {{ this }} the rows of the keys whose latest version among the rows the run reads (the
    committed-loads window, measured before the merge) is a tombstone. A no-op on a full
    refresh or first run (the model's select leaves those keys out) and on a raw table
    without the tombstone column.

    key_columns: the raw table's key, in raw's names, in the order of the model's
    unique_key; tie_breakers: as given to latest_version_per_key. raw_table: [source name,
    table name] of the raw table, by default the model's own source (the one that is not
    `_dlt_loads`); its loads are the `_dlt_loads` of the same source. The raw key is matched
    to the model's key through the model's contract: a `timestamp` column is the raw
    timestamptz in UTC (to_utc_timestamp), any other type a cast.
-#}
{% macro delete_tombstoned_keys(key_columns, tie_breakers=[], raw_table=none) -%}
    {%- if execute and is_incremental() -%}
        {%- set raw_table = raw_table or (model.sources | rejectattr(1, 'equalto', '_dlt_loads') | list | first) -%}
        {%- set relation = project_source(raw_table[0], raw_table[1]) -%}
        {%- if has_tombstones(relation) -%}
            {%- set unique_key = config.get('unique_key') -%}
            {%- set unique_key = [unique_key] if unique_key is string else unique_key -%}
            {%- if unique_key | length != key_columns | length -%}
                {{ exceptions.raise_compiler_error(
                    model.name ~ ": unique_key " ~ unique_key ~ " and raw key " ~ key_columns
                    ~ " must name the same columns in the same order"
                ) }}
            {%- endif %}
            delete from {{ this }}
            where exists (
                select 1
                from (
                    {{ latest_rows(relation, key_columns, project_source(raw_table[0], '_dlt_loads'), tie_breakers, true) }}
                ) as latest
                where
                    latest.{{ tombstone_column() }} is not null
                    {%- for raw_key in key_columns %}
                    and {{ this }}.{{ unique_key[loop.index0] }} = {{ staged_key(raw_key, unique_key[loop.index0]) }}
                    {%- endfor %}
            )
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    The pre-hook for a raw table the loaders reloaded in full since the model's last run
    (first load after a new source column, raw that lost rows, `loaders load --full-refresh`
    of one table): dlt drops and rewrites it, so a key deleted in the source meanwhile has
    no tombstone, it is simply absent. Detected at execution, cheaply: raw has rows of
    committed loads, and none of them comes from a load the model already processed. Then
    the model's rows whose key no committed raw row has are deleted (one anti-join); the
    merge brings the rest up to date. Arguments as for delete_tombstoned_keys.
-#}
{% macro delete_keys_gone_from_reloaded_raw(key_columns, raw_table=none) -%}
    {%- if execute and is_incremental() -%}
        {%- set raw_table = raw_table or (model.sources | rejectattr(1, 'equalto', '_dlt_loads') | list | first) -%}
        {%- set relation = project_source(raw_table[0], raw_table[1]) -%}
        {%- set loads = project_source(raw_table[0], '_dlt_loads') -%}
        {%- set committed_loads -%}
            select committed.load_id from {{ loads }} as committed where committed.status = 0
        {%- endset -%}
        {%- set check -%}
            select
                exists (
                    select 1 from {{ relation }} as raw where raw._dlt_load_id in ({{ committed_loads }})
                ) as has_committed_rows,
                exists (
                    select 1 from {{ relation }} as raw
                    where raw._dlt_load_id in (select distinct processed.dlt_load_id from {{ this }} as processed)
                ) as has_processed_rows
        {%- endset -%}
        {%- set found = run_query(check).rows[0] -%}
        {%- if found[0] and not found[1] -%}
            {%- set unique_key = config.get('unique_key') -%}
            {%- set unique_key = [unique_key] if unique_key is string else unique_key %}
            delete from {{ this }}
            where not exists (
                select 1
                from {{ relation }} as latest
                where
                    latest._dlt_load_id in ({{ committed_loads }})
                    {%- for raw_key in key_columns %}
                    and {{ this }}.{{ unique_key[loop.index0] }} = {{ staged_key(raw_key, unique_key[loop.index0]) }}
                    {%- endfor %}
            )
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro staged_key(raw_column, model_column) -%}
    {#- The raw key column as the model types it (its contract's data_type). -#}
    {%- set data_type = (model.columns.get(model_column) or {}).get('data_type') -%}
    {%- if not data_type -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": column " ~ model_column ~ " needs a data_type") }}
    {%- elif data_type | lower == 'timestamp' -%}
        {{ to_utc_timestamp('latest.' ~ raw_column) }}
    {%- else -%}
        cast(latest.{{ raw_column }} as {{ data_type }})
    {%- endif -%}
{%- endmacro %}

{% macro project_source(source_name, table_name) -%}
    {#- The relation of this project's source table `source_name`.`table_name`. -#}
    {%- for node in graph.sources.values()
        if node.package_name == project_name and node.source_name == source_name and node.name == table_name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.identifier)) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no source " ~ source_name ~ "." ~ table_name ~ " in this project") }}
{%- endmacro %}
