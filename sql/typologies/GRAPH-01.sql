-- GRAPH-01: fan-in. At least min_sources distinct accounts send money to one account
-- within window_days consecutive calendar days.
--
-- Distinct counts over a sliding window cannot be a window function (count(distinct)
-- has no RANGE frame), so the work is done on day buckets: one row per receiver, day
-- and sender; the sum of the daily sender counts over the window bounds the distinct
-- senders from above and prunes most windows; the remaining candidate windows get an
-- exact count through an equi-join on (receiver, day). Nothing joins an account's whole
-- history with itself.
with recurring_pairs as (
    -- a sender paying the same account in several calendar months is a standing
    -- relationship (rent, a subscription, a family allowance), not a fan-in member:
    -- AMLSim's fan-in members each send once
    select src_account, dst_account
    from transactions
    where list_contains($channels::varchar[], channel)
    group by src_account, dst_account
    having count(distinct date_trunc('month', day)) >= $recurring_months
),

inflows as materialized (
    select
        dst_account as subject_id,
        src_account as sender,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel
    from transactions
    -- card payments to shops are the classic false fan-in; cash deposits have no
    -- identifiable sender and cash withdrawals no receiving account
    where list_contains($channels::varchar[], channel)
      and src_account <> 'CASH'
      and dst_account <> 'CASH'
      and (src_account, dst_account) not in (select * from recurring_pairs)
),

-- one row per receiver, day and sender: the unit every distinct count is built from
sender_days as materialized (
    select subject_id, day, sender, sum(amount_rep) as amount_rep
    from inflows
    group by subject_id, day, sender
),

receiver_days as (
    select subject_id, day, count(*) as senders
    from sender_days
    group by subject_id, day
),

-- upper bound of the distinct senders of the window opening on each active day
-- (a sender active on several days is counted once per day)
bounded as (
    select
        subject_id,
        day as window_day,
        sum(senders) over (
            partition by subject_id order by day
            range between current row and to_days($window_days - 1) following
        ) as sender_bound
    from receiver_days
),

candidate_windows as (
    select subject_id, window_day
    from bounded
    where sender_bound >= $min_sources
),

-- each candidate window copied onto each of its days, for an equi-join on the day
candidate_window_days as (
    select c.subject_id, c.window_day, c.window_day + k.day_offset::integer as day
    from candidate_windows c
    cross join generate_series(0, $window_days - 1) as k(day_offset)
),

window_counts as (
    select
        w.subject_id,
        w.window_day,
        count(distinct s.sender) as senders,
        sum(s.amount_rep) as amount_rep
    from candidate_window_days w
    join sender_days s on s.subject_id = w.subject_id and s.day = w.day
    group by w.subject_id, w.window_day
),

-- a receiver that ever has more than max_sources senders in one window is a hub
-- (merchant, biller, charity, marketplace): its fan-in is its business, and the
-- peer-group detectors, not a count rule, judge whether its volume fits
hubs as (
    select subject_id
    from window_counts
    group by subject_id
    having max(senders) > $max_sources
),

qualifying as (
    select
        c.subject_id,
        c.window_day as window_start,
        c.window_day + ($window_days - 1)::integer as window_limit
    from window_counts c
    anti join hubs h on h.subject_id = c.subject_id
    where c.senders >= $min_sources
      -- many tiny payments (friends splitting a bill) are not a collection
      and c.amount_rep >= $min_total
),

-- overlapping qualifying windows of one receiver form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_inflows as (
    select e.subject_id, e.episode, i.* exclude (subject_id)
    from episode_bounds e
    join inflows i
        on i.subject_id = e.subject_id
        and i.day >= e.episode_start
        and i.day <= e.episode_limit
),

episode_totals as (
    select
        subject_id,
        episode,
        min(timestamp) as window_start,
        max(timestamp) as window_end,
        count(*) as tx_count,
        sum(amount_rep) as amount_total,
        list({'tx_id': tx_id,
              'why': 'inflow of ' || format('{:,.2f}', amount::double) || ' ' || currency
                     || ' from ' || sender || ' by ' || replace(channel, '_', ' ')}
             order by timestamp, tx_id) as evidence,
        count(distinct sender) as senders,
        -- amounts are quoted in their own currency when the episode has only one
        count(distinct currency) = 1 as one_currency,
        min(currency) as currency,
        sum(amount) as amount_sum,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' ')) as channels,
        date_diff('day', min(day), max(day)) + 1 as days
    from episode_inflows
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
        senders || ' senders paid '
            || case
                when one_currency then format('{:,.2f}', amount_sum::double) || ' ' || currency
                else format('{:,.2f}', amount_total::double) || ' (reporting currency)' end
            || ' in ' || tx_count || ' transfer' || case when tx_count = 1 then '' else 's' end
            || ' (' || channels || ') within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'collector' as likely_role
    from episode_totals
)

select * from final
