-- GRAPH-02: fan-out. One account sends money to at least min_sinks distinct accounts
-- within window_days consecutive calendar days.
--
-- Distinct counts over a sliding window cannot be a window function (count(distinct)
-- has no RANGE frame), so the work is done on day buckets: one row per sender, day
-- and payee; the sum of the daily payee counts over the window bounds the distinct
-- payees from above and prunes most windows; the remaining candidate windows get an
-- exact count through an equi-join on (sender, day). Nothing joins an account's whole
-- history with itself.
with outflows as materialized (
    select
        src_account as subject_id,
        dst_account as payee,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel
    from transactions
    -- payroll (ach) and card spend are the classic false fan-outs; cash withdrawals
    -- have no receiving account and cash deposits no sending account
    where list_contains($channels::varchar[], channel)
      and src_account <> 'CASH'
      and dst_account <> 'CASH'
),

-- one row per sender, day and payee: the unit every distinct count is built from
payee_days as materialized (
    select subject_id, day, payee, sum(amount_rep) as amount_rep
    from outflows
    group by subject_id, day, payee
),

sender_days as (
    select subject_id, day, count(*) as payees
    from payee_days
    group by subject_id, day
),

-- upper bound of the distinct payees of the window opening on each active day
-- (a payee paid on several days is counted once per day)
bounded as (
    select
        subject_id,
        day as window_day,
        sum(payees) over (
            partition by subject_id order by day
            range between current row and to_days($window_days - 1) following
        ) as payee_bound
    from sender_days
),

candidate_windows as (
    select subject_id, window_day
    from bounded
    where payee_bound >= $min_sinks
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
        count(distinct s.payee) as payees,
        sum(s.amount_rep) as amount_rep
    from candidate_window_days w
    join payee_days s on s.subject_id = w.subject_id and s.day = w.day
    group by w.subject_id, w.window_day
),

-- a sender that ever pays more than max_sinks payees in one window is a disburser
-- (payroll bureau, marketplace or insurer paying out): its fan-out is its business, and
-- the peer-group detectors, not a count rule, judge whether its volume fits
disbursers as (
    select subject_id
    from window_counts
    group by subject_id
    having max(payees) > $max_sinks
),

qualifying as (
    select
        c.subject_id,
        c.window_day as window_start,
        c.window_day + ($window_days - 1)::integer as window_limit
    from window_counts c
    anti join disbursers d on d.subject_id = c.subject_id
    where c.payees >= $min_sinks
      -- a few small gifts or refunds to several people are not a distribution
      and c.amount_rep >= $min_total
),

-- overlapping qualifying windows of one sender form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_outflows as (
    select e.subject_id, e.episode, o.* exclude (subject_id)
    from episode_bounds e
    join outflows o
        on o.subject_id = e.subject_id
        and o.day >= e.episode_start
        and o.day <= e.episode_limit
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
              'why': 'outflow of ' || format('{:,.2f}', amount::double) || ' ' || currency
                     || ' to ' || payee || ' by ' || replace(channel, '_', ' ')}
             order by timestamp, tx_id) as evidence,
        count(distinct payee) as payees,
        -- amounts are quoted in their own currency when the episode has only one
        count(distinct currency) = 1 as one_currency,
        min(currency) as currency,
        sum(amount) as amount_sum,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' ')) as channels,
        date_diff('day', min(day), max(day)) + 1 as days
    from episode_outflows
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
        'paid ' || payees || ' payees '
            || case
                when one_currency then format('{:,.2f}', amount_sum::double) || ' ' || currency
                else format('{:,.2f}', amount_total::double) || ' (reporting currency)' end
            || ' in ' || tx_count || ' transfer' || case when tx_count = 1 then '' else 's' end
            || ' (' || channels || ') within ' || days || ' day'
            || case when days = 1 then '' else 's' end as reason,
        'controller' as likely_role
    from episode_totals
)

select * from final
