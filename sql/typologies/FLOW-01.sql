-- FLOW-01: pass-through (rapid in/out). An account forwards nearly all of what it
-- receives within window_hours, again and again: at least min_cycles such cycles within
-- period_days.
--
-- A cycle opens on each calendar day with inflows, at the day's first inflow. It
-- qualifies when some outflow o, no later than window_hours after the day's last
-- inflow, brings the account, counting everything from the first inflow up to o, to
-- having received at least min_inflow, sent on at least min_out_share of it (kept less
-- than the rest), sent no more than max_out_share of it and more than the least balance
-- the account can have held before the cycle (the money sent on is the money that came
-- in, not an older balance); the cycle's transactions run up to the
-- last such o. Running totals per account give both sums without a self-join; the
-- inflow days are paired with the outflows by an equi-join on (account, day bucket)
-- plus the exact time filter. Per-day totals first rule out every account that cannot
-- have min_cycles cycles (a necessary condition, so nothing is missed): at 10M rows about
-- one account in two thousand reaches the transaction-level steps. The screen knows an
-- account by the 64-bit hash of its id, so that its grouping and windows sort integers:
-- two accounts sharing a hash would be screened as one, whose per-day totals are at least
-- each one's, so the screen still misses nothing, and every account it lets through is
-- tested on its own transactions below. Those are read once, every leg of every channel
-- keyed by the account's integer account_key: one window over them gives the running
-- totals of the counted legs and the held balance.
with day_flows as (
    select subject_hash, day, sum(in_rep) as in_rep, sum(out_rep) as out_rep
    from (
        select hash(dst_account) as subject_hash, day, amount_rep as in_rep, 0 as out_rep
        from transactions
        where list_contains($in_channels::varchar[], channel)
          and dst_account <> cash_account()
        union all
        select hash(src_account), day, 0, amount_rep
        from transactions
        where list_contains($out_channels::varchar[], channel)
          and src_account <> cash_account()
    )
    group by subject_hash, day
),

-- a cycle opening on day d counts only inflows and outflows of days d .. d + window
-- days, so it needs min_inflow in and min_out_share * min_inflow out over those days:
-- a necessary condition checked on per-day totals, which drops every account that
-- cannot reach min_cycles cycles before any transaction-level work (exact, no misses)
possible_cycle_days as (
    select subject_hash, day
    from (
        select
            subject_hash,
            day,
            in_rep,
            sum(in_rep) over reach as in_reach,
            sum(out_rep) over reach as out_reach
        from day_flows
        window reach as (
            partition by subject_hash order by day
            range between current row and ceil($window_hours / 24)::integer following
        )
    )
    where in_rep > 0
      and in_reach >= $min_inflow
      and out_reach >= $min_out_share * $min_inflow
),

subjects as (
    select distinct subject_hash
    from (
        select
            subject_hash,
            count(*) over (
                partition by subject_hash order by day
                range between current row and ($period_days - 1)::integer following
            ) as possible_cycles
        from possible_cycle_days
    )
    where possible_cycles >= $min_cycles
),

-- the accounts behind the screened hashes, with their integer keys (an account sharing
-- its hash with a screened one is let through too and tested on its own transactions)
candidates as (
    select k.account_id, k.account_key
    from account_keys k
    semi join subjects s on s.subject_hash = hash(k.account_id)
),

-- every leg of the candidates in every channel (the held balance counts them all);
-- counted marks the legs of the cycles: card credits are merchant takings, not money to
-- pass on, and card spend consumes the money (living costs) instead of forwarding it
legs as (
    select
        c.account_key,
        t.dst_account as subject_id,
        t.src_account as counterparty,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel,
        'in' as direction,
        list_contains($in_channels::varchar[], t.channel) as counted
    from transactions t
    join candidates c on c.account_id = t.dst_account
    union all
    select
        c.account_key, t.src_account, t.dst_account,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel,
        'out',
        list_contains($out_channels::varchar[], t.channel)
    from transactions t
    join candidates c on c.account_id = t.src_account
),

-- running totals per account in one pass over its legs; at equal timestamps inflows come
-- first (in, then out). cum_in and cum_out add up the counted legs only, so at a counted
-- leg they are the totals of the counted legs up to it; cum is the net flow of every leg
running_all as materialized (
    select
        l.*,
        sum(case when l.counted and l.direction = 'in' then l.amount_rep else 0 end)
            over account_order as cum_in,
        sum(case when l.counted and l.direction = 'out' then l.amount_rep else 0 end)
            over account_order as cum_out,
        sum(case when l.direction = 'in' then l.amount_rep else -l.amount_rep end)
            over account_order as cum
    from legs l
    window account_order as (
        partition by l.account_key order by l.timestamp, l.direction, l.tx_id
        rows between unbounded preceding and current row
    )
),

running as materialized (
    select * exclude (counted, cum) from running_all where counted
),

-- one cycle candidate per account and day with inflows; the totals just before its
-- first inflow are the baseline of everything counted in the cycle
inflow_days as (
    select
        account_key,
        any_value(subject_id) as subject_id,
        day as cycle_day,
        min(timestamp) as first_in,
        max(timestamp) as last_in,
        min(cum_in - amount_rep) as in_before,
        min(cum_out) as out_before
    from running
    where direction = 'in'
    group by account_key, day
),

-- the least balance the account can have held: the running sum of every leg (all
-- channels) since its first transaction in the scan, lifted by the smallest opening
-- balance that keeps it from ever going negative (as CTRL-03 computes it)
openings as (
    select account_key, -least(0, min(cum)) as opening
    from running_all
    group by account_key
),

-- what the account held just before each cycle's first inflow: the net flow of the legs
-- before that timestamp plus the opening. The first leg at that timestamp is an inflow
-- (inflows sort first) and amounts are positive, so the net flow before the timestamp is
-- the least cum - amount_rep of the inflows at it
inflow_days_held as (
    select
        d.*,
        min(r.cum - r.amount_rep) + any_value(o.opening) as held_before
    from inflow_days d
    join openings o on o.account_key = d.account_key
    join running_all r
        on r.account_key = d.account_key
        and r.timestamp = d.first_in
        and r.direction = 'in'
    group by all
),

-- each inflow day copied onto the days its window can reach, so the pairing with the
-- outflows is an equi-join on (account, day)
inflow_day_buckets as (
    select d.*, d.cycle_day + k.day_offset::integer as bucket_day
    from inflow_days_held d
    cross join generate_series(0, ceil($window_hours / 24)::integer) as k(day_offset)
),

pairs as (
    select
        d.account_key,
        d.subject_id,
        d.cycle_day,
        d.first_in,
        o.timestamp as out_at,
        o.cum_in - d.in_before as received,
        o.cum_out - d.out_before as sent,
        d.held_before
    from inflow_day_buckets d
    join running o
        on o.account_key = d.account_key
        and o.day = d.bucket_day
        and o.direction = 'out'
    where o.timestamp >= d.first_in
      and o.timestamp <= d.last_in + to_hours($window_hours)
),

-- a cycle runs from its first inflow to the last outflow in the window at which the
-- money received so far has been passed on (the whole forwarding burst)
passed_on as (
    select
        account_key,
        any_value(subject_id) as subject_id,
        cycle_day,
        min(first_in) as cycle_start,
        max(out_at) as cycle_end
    from pairs
    where received >= $min_inflow
      and sent >= $min_out_share * received
      and sent <= $max_out_share * received
      -- the money sent on is the money that came in: more than the account can have
      -- held before it arrived (an account with savings or a salary in hand that
      -- spends at its usual pace after a credit passes nothing on)
      and sent > held_before
    group by account_key, cycle_day
),

passed_on_buckets as (
    select p.*, p.cycle_day + k.day_offset::integer as bucket_day
    from passed_on p
    cross join generate_series(0, ceil($window_hours / 24)::integer) as k(day_offset)
),

-- the transactions of each cycle: inflows and outflows from its first inflow to its end
cycle_legs as materialized (
    select p.subject_id, p.cycle_day, r.* exclude (subject_id, account_key)
    from passed_on_buckets p
    join running r
        on r.account_key = p.account_key
        and r.day = p.bucket_day
    where r.timestamp >= p.cycle_start
      and r.timestamp <= p.cycle_end
),

-- a cycle paying out to many payees is a disbursement (payroll bureau, marketplace
-- payouts), not a mule passing money to its controller
cycles as (
    select subject_id, cycle_day
    from cycle_legs
    group by subject_id, cycle_day
    having count(distinct counterparty) filter (where direction = 'out') <= $max_payees
),

cycle_counts as (
    select
        subject_id,
        cycle_day,
        count(*) over (
            partition by subject_id order by cycle_day
            range between current row and to_days($period_days - 1) following
        ) as n_cycles
    from cycles
),

qualifying as (
    select
        subject_id,
        cycle_day as window_start,
        cycle_day + ($period_days - 1)::integer as window_limit
    from cycle_counts
    where n_cycles >= $min_cycles
),

-- overlapping qualifying periods of one account form one episode (calendar days)
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_cycles as (
    select e.subject_id, e.episode, c.cycle_day
    from episode_bounds e
    join cycles c
        on c.subject_id = e.subject_id
        and c.cycle_day >= e.episode_start
        and c.cycle_day <= e.episode_limit
),

-- a transaction can belong to two overlapping cycles; it is evidence once
evidence_rows as (
    select distinct
        ec.subject_id, ec.episode,
        l.tx_id, l.timestamp, l.direction, l.counterparty, l.channel,
        l.amount, l.currency, l.amount_rep,
        case l.direction
            when 'in' then 'inflow of ' || format('{:,.2f}', l.amount::double)
                           || ' ' || l.currency || ' from ' || l.counterparty
            else 'passed on ' || format('{:,.2f}', l.amount::double)
                 || ' ' || l.currency || ' to ' || l.counterparty
        end || ' by ' || replace(l.channel, '_', ' ') as why
    from episode_cycles ec
    join cycle_legs l on l.subject_id = ec.subject_id and l.cycle_day = ec.cycle_day
),

cycles_per_episode as (
    select subject_id, episode, count(*) as n_cycles
    from episode_cycles
    group by subject_id, episode
),

episode_facts as (
    select
        subject_id,
        episode,
        sum(amount_rep) filter (where direction = 'in') as in_rep,
        sum(amount_rep) filter (where direction = 'out') as out_rep,
        sum(amount) filter (where direction = 'in') as in_amount,
        sum(amount) filter (where direction = 'out') as out_amount,
        count(distinct counterparty) filter (where direction = 'out') as payees
    from evidence_rows
    group by subject_id, episode
),

-- amounts are quoted in their own currency when the episode has only one
episode_totals as (
    select h.*, f.* exclude (subject_id, episode)
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        c.n_cycles || ' cycles within ' || (date_diff('day', window_start, window_end) + 1)
            || ' days: received '
            || money_text(in_amount, in_rep, one_currency, currency)
            || ', passed on '
            || money_text(out_amount, out_rep, one_currency, currency)
            || ' (' || format('{:.0f}', floor(100 * out_rep / in_rep)::double) || '%) to '
            || payees || ' payee' || case when payees = 1 then '' else 's' end
            || ', each time within ' || $window_hours || ' hours' as reason,
        'mule' as likely_role
    from episode_totals t
    join cycles_per_episode c using (subject_id, episode)
)

select * from final
