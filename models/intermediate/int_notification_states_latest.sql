{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['user_id', 'notification_id'],
        on_schema_change='fail',
        pre_hook=[
            "{{ delete_tombstoned_keys(['user_id', 'notification_id'], ['updated_at'],"
            ~ " raw_table=['raw_cassandra', 'notification_states']) }}",
            "{{ delete_keys_gone_from_reloaded_raw(['user_id', 'notification_id'],"
            ~ " raw_table=['raw_cassandra', 'notification_states']) }}"
        ]
    )
}}

-- A state deleted in Cassandra (a tombstone in raw, or absent from a raw table reloaded in
-- full) leaves staging; the pre-hooks delete it here too, before the merge
-- (macros/staging_helpers.sql).

-- The latest known state of each (user_id, notification_id). Staging already keeps one row
-- per key (latest load); this model is the incremental, reusable "current state" table that
-- the marts join to, and still picks the most recent write should a key appear twice.
with states as (
    select
        user_id,
        notification_id,
        status,
        updated_at,
        dlt_load_id,
        row_number() over (
            partition by user_id, notification_id
            order by updated_at desc nulls last, {{ load_id_number('dlt_load_id') }} desc
        ) as state_rank
    from {{ ref('stg_cassandra__notification_states') }}
    {{ committed_loads_window(source('raw_cassandra', '_dlt_loads'), 'dlt_load_id') }}
)

select
    user_id,
    notification_id,
    status,
    updated_at,
    dlt_load_id
from states
where state_rank = 1
