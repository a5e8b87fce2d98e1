{{ config(materialized='incremental', unique_key='model_name', on_schema_change='fail') }}

-- One row per incremental gold model (and int_user_activity_daily), written by the model's
-- post-hook record_watermark (macros/incremental_gold.sql); this select only creates the
-- table (empty) on a first build or a --full-refresh, after which every model recomputes
-- all its keys once.
select
    cast(null as varchar) as model_name,
    cast(null as timestamptz) as loads_through,
    cast(null as varchar) as fx_fingerprint
where false
