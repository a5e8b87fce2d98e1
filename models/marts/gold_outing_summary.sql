-- One row per outing: RSVP counts and EUR spend of the succeeded payments made for it.
{{ incremental_by_keys("outing_summary_spec()") }}

-- depends_on: {{ ref('int_incremental_watermarks') }}
-- depends_on: {{ ref('stg_postgres__payments') }}

-- Incremental by outing (macros/incremental_gold.sql): a run recomputes the outings whose
-- row, answers or payments changed (or were deleted) since its last run.
{%- set spec = outing_summary_spec() %}

with
{{ affected_keys_cte(spec) }}

outings as (
    select * from {{ ref('stg_postgres__outings') }}
    where {{ spec_filter(spec, ['outing_id']) }}
),

rsvps as (
    select
        outing_id,
        count(*) filter (where rsvp = 'invited') as invited_count,
        count(*) filter (where rsvp = 'going') as going_count,
        count(*) filter (where rsvp = 'maybe') as maybe_count,
        count(*) filter (where rsvp = 'declined') as declined_count
    from {{ ref('stg_postgres__outing_participants') }}
    where {{ spec_filter(spec, ['outing_id']) }}
    group by outing_id
),

spend as (
    select
        outing_id,
        sum(amount_eur) as spend_eur
    from {{ ref('int_payments_converted') }}
    where
        is_succeeded and outing_id is not null
        and {{ spec_filter(spec, ['outing_id']) }}
    group by outing_id
),

joined as (
    select
        outings.outing_id,
        outings.group_id,
        outings.category,
        outings.status,
        outings.starts_at,
        coalesce(rsvps.invited_count, 0) as invited_count,
        coalesce(rsvps.going_count, 0) as going_count,
        coalesce(rsvps.maybe_count, 0) as maybe_count,
        coalesce(rsvps.declined_count, 0) as declined_count,
        coalesce(spend.spend_eur, 0) as spend_eur
    from outings
    left join rsvps on outings.outing_id = rsvps.outing_id
    left join spend on outings.outing_id = spend.outing_id
)

select
    outing_id,
    group_id,
    category,
    status,
    starts_at,
    cast(invited_count as bigint) as invited_count,
    cast(going_count as bigint) as going_count,
    cast(maybe_count as bigint) as maybe_count,
    cast(declined_count as bigint) as declined_count,
    cast(round(spend_eur, 2) as decimal(18, 2)) as total_spend_eur,
    cast(
        round(spend_eur / nullif(going_count, 0), 2) as decimal(18, 2)
    ) as spend_per_going_eur
from joined
