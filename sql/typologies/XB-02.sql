-- XB-02: many unrelated senders from several places pay one beneficiary, each transfer
-- under the 3,000 USD wire-recordkeeping level (smuggling fees collected from migrants'
-- families, victims' earnings collected from several cities).
--
-- Inflows are credits in channels under max_amount (reporting currency) from senders
-- that are not standing relationships (a sender paying the account in recurring_months
-- or more calendar months is family, a tenant or a client). The location of a sender is
-- the best place the export gives for it: the city of the originating branch or agent
-- (merchant_city) with the country, else the country. A sending bank is no place (one
-- bank has branches and customers everywhere): an export without cities or countries
-- gives no inflow a location, and nothing qualifies. A window of window_days calendar
-- days qualifies with min_senders distinct senders from min_locations distinct
-- locations paying at least min_total; a receiver that in any window has more than
-- max_senders senders is a hub and never qualifies.
-- Overlapping windows make one hit.
with transfer_credits as materialized (
    select
        dst_account as subject_id,
        src_account as sender,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel,
        case
            when merchant_city is not null then merchant_city || coalesce(', ' || src_country, '')
            else src_country
        end as location
    from transactions
    semi join (select unnest($channels::varchar[]) as channel) c using (channel)
    where src_account <> cash_account()
      and dst_account <> cash_account()
      and src_account <> dst_account
),

-- FC14: smurfed wires stay under the 3,000 USD recordkeeping level. The bounds key the
-- receiver by the 64-bit hash of its id: receivers sharing a hash add up their bounds
-- and amounts, which only raises them, so no receiver that qualifies is dropped.
small_credit_bounds as (
    select hash(subject_id) as subject_key, day, sender, location, amount_rep
    from transfer_credits
    where amount_rep < $max_amount
),

-- Cheap bounds first, before standing relationships are dropped. Over the whole export,
-- a receiver has one distinct sender (location) when all are the same, else at most as
-- many as its credits: receivers whose bounds cannot reach the minimums cannot qualify.
reaching_receivers as (
    select subject_key
    from small_credit_bounds
    group by subject_key
    having case when min(sender) = max(sender) then 1 else count(*) end >= $min_senders
       and case
               when count(location) = 0 then 0
               when min(location) = max(location) then 1
               else count(location) end >= $min_locations
       and sum(amount_rep) >= $min_total
),

-- per receiver and day, upper bounds of the distinct senders and locations of that day
-- in the same way: summed over the days of a window, they bound the window's distinct
-- counts from above. Only the receivers with a window whose bounds reach the minimums
-- get the exact count below.
receiver_days as (
    select
        subject_key,
        day,
        case when min(sender) = max(sender) then 1 else count(*) end as senders,
        case
            when count(location) = 0 then 0
            when min(location) = max(location) then 1
            else count(location) end as locations,
        sum(amount_rep) as amount
    from small_credit_bounds
    semi join reaching_receivers using (subject_key)
    group by subject_key, day
),

candidate_receivers as materialized (
    select distinct subject_key
    from (
        select
            d.subject_key,
            sum(d.senders) over w as sender_bound,
            sum(d.locations) over w as location_bound,
            sum(d.amount) over w as amount
        from receiver_days d
        window w as (
            partition by d.subject_key order by d.day
            range between current row and ($window_days - 1) following
        )
    )
    where sender_bound >= $min_senders
      and location_bound >= $min_locations
      and amount >= $min_total
),

-- a sender paying the same account in several calendar months is a standing
-- relationship (family support, rent, a client), not an unrelated originator
recurring_pairs as (
    select subject_id, sender
    from transfer_credits
    where hash(subject_id) in (select subject_key from candidate_receivers)
    group by subject_id, sender
    having count(distinct date_trunc('month', day)) >= $recurring_months
),

-- FC14: smurfed wires stay under the 3,000 USD recordkeeping level
candidate_inflows as materialized (
    select c.*
    from transfer_credits c
    semi join candidate_receivers r on r.subject_key = hash(c.subject_id)
    anti join recurring_pairs p on p.subject_id = c.subject_id and p.sender = c.sender
    where c.amount_rep < $max_amount
),

-- one row per receiver, day and sender / location: the units of the exact distinct counts
member_days as (
    select subject_id, 'sender' as part, sender as member, day from candidate_inflows group by all
    union all
    select subject_id, 'location', location, day
    from candidate_inflows
    where location is not null
    group by all
),

day_totals as (
    select subject_id, day, sum(amount_rep) as amount from candidate_inflows group by all
),

-- exact distinct senders and locations of every window [d, d + window_days - 1] by a
-- sweep over day offsets instead of a join (see distinct_day_sweep in sql/macros):
-- running sums of the deltas at a start day are the distinct counts of that window
sweep_events as (
    select
        subject_id, point,
        case when part = 'sender' then delta else 0 end as senders,
        case when part = 'location' then delta else 0 end as locations,
        0::decimal(38, 4) as amount, false as is_start
    from distinct_day_sweep(member_days, $window_days)
    -- amounts enter and leave the windows the same way
    union all
    select subject_id, day - ($window_days - 1)::integer, 0, 0, amount, false from day_totals
    union all
    select subject_id, day + 1, 0, 0, -amount, false from day_totals
    -- windows start on days with inflows
    union all
    select subject_id, day, 0, 0, 0, true from day_totals
),

windows as (
    select
        subject_id,
        point as window_day,
        bool_or(is_start) as is_start,
        sum(sum(senders)) over w as senders,
        sum(sum(locations)) over w as locations,
        sum(sum(amount)) over w as amount
    from sweep_events
    group by subject_id, point
    window w as (partition by subject_id order by point rows between unbounded preceding and current row)
),

-- a receiver that ever has more than max_senders senders in one window is a hub
-- (merchant, biller, charity, marketplace): many payers are its business
hubs as (
    select subject_id
    from windows
    where is_start
    group by subject_id
    having max(senders) > $max_senders
),

qualifying as (
    select
        w.subject_id,
        w.window_day as window_start,
        w.window_day + ($window_days - 1)::integer as window_limit
    from windows w
    anti join hubs h on h.subject_id = w.subject_id
    where w.is_start
      -- FC23: multiple originators from different geographic locations to one beneficiary
      and w.senders >= $min_senders
      and w.locations >= $min_locations
      and w.amount >= $min_total
),

-- overlapping qualifying windows of one receiver form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double) || ' '
            || currency || ' from ' || sender
            || case when location is not null then ' (' || location || ')' else '' end as why
    from episode_day_rows(episode_bounds, candidate_inflows)
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct sender) as senders,
        list_sort(list_distinct(list(location))) as locations,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' ')) as channels,
        date_diff('day', min(day), max(day)) + 1 as days
    from evidence_rows
    group by subject_id, episode
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        senders || ' senders from ' || len(locations) || ' locations ('
            || array_to_string(list_slice(locations, 1, 3), '; ')
            || case when len(locations) > 3 then '; and ' || (len(locations) - 3) || ' more' else '' end
            || ') paid '
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' transfers (' || channels || ') of under '
            || format('{:,.0f}', $max_amount::double) || ' each within ' || days
            || case when days = 1 then ' day' else ' days' end as reason,
        'collector' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
