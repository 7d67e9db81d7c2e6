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
-- tested on its own transactions below.
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
            range between current row and to_days(ceil($window_hours / 24)::integer) following
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
                range between current row and to_days($period_days - 1) following
            ) as possible_cycles
        from possible_cycle_days
    )
    where possible_cycles >= $min_cycles
),

legs as materialized (
    select
        t.dst_account as subject_id,
        t.src_account as counterparty,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel,
        'in' as direction
    from transactions t
    semi join subjects s on s.subject_hash = hash(t.dst_account)
    -- card credits are merchant takings, not money to pass on
    where list_contains($in_channels::varchar[], t.channel)
      and t.dst_account <> cash_account()
    union all
    select
        t.src_account, t.dst_account,
        t.tx_id, t.timestamp, t.day, t.amount, t.currency, t.amount_rep, t.channel,
        'out'
    from transactions t
    semi join subjects s on s.subject_hash = hash(t.src_account)
    -- card spend consumes the money (living costs) instead of forwarding it
    where list_contains($out_channels::varchar[], t.channel)
      and t.src_account <> cash_account()
),

-- running totals per account; at equal timestamps inflows come first (in, then out)
running as materialized (
    select
        l.*,
        sum(case when l.direction = 'in' then l.amount_rep else 0 end) over account_order as cum_in,
        sum(case when l.direction = 'out' then l.amount_rep else 0 end) over account_order as cum_out
    from legs l
    window account_order as (
        partition by l.subject_id order by l.timestamp, l.direction, l.tx_id
        rows between unbounded preceding and current row
    )
),

-- one cycle candidate per account and day with inflows; the totals just before its
-- first inflow are the baseline of everything counted in the cycle
inflow_days as (
    select
        subject_id,
        day as cycle_day,
        min(timestamp) as first_in,
        max(timestamp) as last_in,
        min(cum_in - amount_rep) as in_before,
        min(cum_out) as out_before
    from running
    where direction = 'in'
    group by subject_id, day
),

-- the least balance the account can have held: the running sum of every leg (all
-- channels) since its first transaction in the scan, lifted by the smallest opening
-- balance that keeps it from ever going negative (as CTRL-03 computes it)
held_legs as (
    select
        l.account_id as subject_id,
        l.timestamp,
        sum(case when l.direction = 'in' then l.amount_rep else -l.amount_rep end) over (
            partition by l.account_id order by l.timestamp, l.direction, l.tx_id
            rows between unbounded preceding and current row) as cum
    from account_legs l
    semi join subjects s on s.subject_hash = hash(l.account_id)
),

held_balances as materialized (
    select
        subject_id,
        timestamp,
        cum - least(0, min(cum) over (partition by subject_id)) as balance,
        -least(0, min(cum) over (partition by subject_id)) as opening
    from held_legs
),

openings as (
    select distinct subject_id, opening from held_balances
),

-- what the account held just before each cycle's first inflow
inflow_days_held as (
    select d.*, coalesce(b.balance, o.opening) as held_before
    from inflow_days d
    join openings o on o.subject_id = d.subject_id
    asof left join held_balances b
        on b.subject_id = d.subject_id
        and b.timestamp < d.first_in
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
        d.subject_id,
        d.cycle_day,
        d.first_in,
        o.timestamp as out_at,
        o.cum_in - d.in_before as received,
        o.cum_out - d.out_before as sent,
        d.held_before
    from inflow_day_buckets d
    join running o
        on o.subject_id = d.subject_id
        and o.day = d.bucket_day
        and o.direction = 'out'
    where o.timestamp >= d.first_in
      and o.timestamp <= d.last_in + to_hours($window_hours)
),

-- a cycle runs from its first inflow to the last outflow in the window at which the
-- money received so far has been passed on (the whole forwarding burst)
passed_on as (
    select subject_id, cycle_day, min(first_in) as cycle_start, max(out_at) as cycle_end
    from pairs
    where received >= $min_inflow
      and sent >= $min_out_share * received
      and sent <= $max_out_share * received
      -- the money sent on is the money that came in: more than the account can have
      -- held before it arrived (an account with savings or a salary in hand that
      -- spends at its usual pace after a credit passes nothing on)
      and sent > held_before
    group by subject_id, cycle_day
),

passed_on_buckets as (
    select p.*, p.cycle_day + k.day_offset::integer as bucket_day
    from passed_on p
    cross join generate_series(0, ceil($window_hours / 24)::integer) as k(day_offset)
),

-- the transactions of each cycle: inflows and outflows from its first inflow to its end
cycle_legs as materialized (
    select p.subject_id, p.cycle_day, r.* exclude (subject_id)
    from passed_on_buckets p
    join running r
        on r.subject_id = p.subject_id
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
