-- account_graph: one row per account (the accounts of account_features) with the shape of
-- its place in the transfer graph over the whole export, for the slow and small laundering
-- structures that no per-account total shows: fan-in and fan-out (degrees, concentration,
-- windowed distinct counterparties), pass-through, directed cycles whose hops go forward in
-- time, scatter-gather and gather-scatter, and counterparties shared with other accounts of
-- such structures.
--
-- Counted legs are transfers by the channels in $channels between two accounts: card
-- payments buy goods and cash has no identifiable counterparty. Only the pass-through ratio
-- reads every non-cash leg (card spend is money leaving too). Hubs (more than
-- $hub_counterparties distinct senders or receivers in any 30 days: merchants, employers,
-- billers, payroll processors, marketplaces) keep their degree measures but take no part in
-- the structure searches, so every search is bounded by the degree of ordinary accounts.
--
-- Accounts are their account_keys (sql/features/account_keys.sql) from the first step on:
-- the transfers, pair aggregates, sweeps and searches group, join and sort integers, and
-- the ids come back by one join at the end (keys are in id order, so every order is the
-- same).
--
-- Cost, measured on 2 cores shared with other work: about 2.2 s of cpu on the 1M
-- benchmark dataset, 25 s on 10M transactions (a fifth of it the sort of the sweep,
-- about as much the transfers' scan and key joins, as much again the pair-days); the
-- cycle and scatter-gather searches stay under a second.
--
-- Parameters (defaults and their reasons in engine/features.py GRAPH_PARAMS): $channels,
-- $hub_counterparties, $cycle_min_amount, $cycle_span_days, $cycle_max_hops,
-- $cycle_min_hop_ratio, $cycle_max_hop_growth, $cycle_round_trip_min_amount,
-- $cycle_round_trip_days, $cycle_round_trip_max_return,
-- $cycle_max_next_hops, $cycle_max_paths_per_start, $fan_min_counterparties,
-- $sg_span_days, $recurring_months.
with recursive transfers as materialized (
    select tx_id, src_key, dst_key, timestamp, day, amount_rep
    from keyed_transactions(transactions, account_keys)
    where list_contains($channels::varchar[], channel)
      and src_key <> 0
      and dst_key <> 0
      and src_key <> dst_key
),

-- money in and out over every non-cash leg between two accounts (transfers, card spend,
-- refunds), each side grouped on its own account column
money_in as (
    select dst_account as account_id, sum(amount_rep) as money_in
    from transactions
    where channel not in ('cash_deposit', 'cash_withdrawal')
      and src_account <> cash_account()
      and dst_account <> cash_account()
    group by dst_account
),

money_out as (
    select src_account as account_id, sum(amount_rep) as money_out
    from transactions
    where channel not in ('cash_deposit', 'cash_withdrawal')
      and src_account <> cash_account()
      and dst_account <> cash_account()
    group by src_account
),

-- one row per pair of accounts and day with a transfer: the money and the first and last
-- transfer of the day, and the pair's previous and next such day (for the windowed
-- counts and the gather-scatter sweep below). The pair aggregates are built from these
-- rows, not from the transfers again
pair_days as materialized (
    select src_key as src, dst_key as dst, day, amount, first_ts, last_ts,
           lag(day) over pair_order as prev_day,
           lead(day) over pair_order as next_day
    from (
        select src_key, dst_key, day, sum(amount_rep) as amount,
               min(timestamp) as first_ts, max(timestamp) as last_ts
        from transfers
        group by src_key, dst_key, day
    )
    window pair_order as (partition by src_key, dst_key order by day)
),

-- one row per pair of accounts that transfer: the money over the export (a sum of exact
-- decimals, the same as one sum over the transfers), the first and last transfer, and the
-- calendar months with a transfer (the pair's days in order: a month counts at its first
-- day)
pairs as materialized (
    select src, dst, sum(amount) as amount, min(first_ts) as first_ts,
           max(last_ts) as last_ts,
           count(*) filter (where prev_day is null
                               or date_trunc('month', prev_day) <> date_trunc('month', day))
               as months
    from pair_days
    group by src, dst
),

-- degree and concentration, each side grouped on its own: the share of the money from (to) the largest
-- counterparty and the Herfindahl index of the shares (1 = one counterparty, 1/n = n
-- equal ones)
in_sides as (
    select dst as account_key, count(*) as in_degree,
           max(amount) / nullif(sum(amount), 0) as top_in_share,
           sum(amount * amount) / nullif(pow(sum(amount), 2), 0) as in_hhi
    from pairs
    group by dst
),

out_sides as (
    select src as account_key, count(*) as out_degree,
           max(amount) / nullif(sum(amount), 0) as top_out_share,
           sum(amount * amount) / nullif(pow(sum(amount), 2), 0) as out_hhi
    from pairs
    group by src
),

degrees as materialized (
    select coalesce(i.account_key, o.account_key) as account_key,
           coalesce(i.in_degree, 0) as in_degree,
           coalesce(o.out_degree, 0) as out_degree,
           i.top_in_share, o.top_out_share, i.in_hhi, o.out_hhi
    from in_sides i
    full join out_sides o on o.account_key = i.account_key
),

-- distinct counterparties per sliding window of 7 and 30 calendar days, exact and without
-- a join: the sweep of distinct_day_sweep (sql/macros) for both window lengths and both
-- sides from one ordering of the days of each pair of accounts (a pair's days are the
-- sender's member days of the receiver and the receiver's member days of the sender). A
-- member active on day x is in the windows starting on x - w + 1 .. x (+1 at the first,
-- -1 after the last), and when it was also active on an earlier day p inside that range,
-- the windows starting on x - w + 1 .. p already count it and get -1 / +1 back, cancelled
-- in place: +1 where a run of windows opens, -1 after it ends. The running sum of delta
-- over the start days is the number of distinct members of the window starting there.
--
-- One curve per account, side and window length, keyed account_key * 4 + code: code 0 receivers
-- in 7 days, 1 receivers in 30, 2 senders in 7, 3 senders in 30
sweep as (
    select (case when c.code >= 2 then p.dst else p.src end) * 4 + c.code as curve,
           p.day - (c.w - 1) as point, 1 as delta
    from pair_days p cross join (values (0, 7), (1, 30), (2, 7), (3, 30)) c(code, w)
    where p.prev_day is null or p.prev_day < p.day - (c.w - 1)
    union all
    select (case when c.code >= 2 then p.dst else p.src end) * 4 + c.code,
           p.day + 1, -1
    from pair_days p cross join (values (0, 7), (1, 30), (2, 7), (3, 30)) c(code, w)
    where p.next_day is null or p.next_day - (c.w - 1) > p.day
),

-- the running sum over the start days (the -1 before the +1 of one day) and its maximum.
-- Every run of windows opened is closed in the same curve, so each curve's deltas add up
-- to 0 and one running sum over all curves in order is each curve's own: one sort of the
-- whole sweep instead of one per curve. The sum is counted on the sorted rows by window
-- functions with an empty OVER clause, which keep the order of their input (engine/db.py
-- sets preserve_insertion_order) and run as one stream: after the i-th row it is the
-- number of +1 rows so far less the number of -1 rows, 2 * (+1 rows so far) - i. A curve's
-- maximum follows a +1 row (the first row of a curve is one, and a -1 lowers the sum), so
-- only those rows are kept
windowed as (
    select
        curve // 4 as account_key,
        max(n) filter (where curve % 4 = 2) as max_senders_7d,
        max(n) filter (where curve % 4 = 0) as max_receivers_7d,
        max(n) filter (where curve % 4 = 3) as max_senders_30d,
        max(n) filter (where curve % 4 = 1) as max_receivers_30d
    from (
        select curve, delta,
               2 * count(*) filter (where delta > 0) over (rows between unbounded preceding
                                                            and current row)
                   - row_number() over () as n
        from (select curve, point, delta from sweep order by curve, point, delta)
    )
    where delta > 0
    group by account_key
),

-- a hub deals with more distinct accounts on one side in some 30 days than a private
-- person or a mule does: money through it mixes with everyone else's
hubs as (
    select account_key
    from windowed
    where max_senders_30d > $hub_counterparties or max_receivers_30d > $hub_counterparties
),

-- candidates of every structure: non-hub accounts that both receive and send transfers
candidates as materialized (
    select account_key
    from degrees
    where in_degree > 0 and out_degree > 0
    except
    select account_key from hubs
),

-- one-off pairs between non-hub accounts: a pair transacting in recurring_months
-- calendar months is a standing relationship (wage, allowance, rent, instalments), not a
-- layering leg; the gather-scatter and scatter-gather searches read these pairs only
one_off_pairs as materialized (
    select src as src_key, dst as dst_key, first_ts, last_ts
    from pairs p
    anti join hubs s on s.account_key = p.src
    anti join hubs d on d.account_key = p.dst
    where months < $recurring_months
),

-- gather-scatter: the most one-off senders in the 30 days up to a day d that is followed
-- by as many one-off receivers in the 30 days after d, from the runs of each one-off
-- pair's days (the days at most 29 apart, as in the sweep above; the pair is the member
-- on either side). The 'out' count at window start p counts the receivers paid in
-- [p, p + 29]; the 'in' count of the senders in [p, p + 29], a gather ending on
-- d = p + 29, is keyed on d + 1 = p + 30, the start of the scatter window of the 'out'
-- count. Both counts are step functions: each is carried forward to the other's points.
one_off_days as materialized (
    select d.src, d.dst, d.day, d.prev_day, d.next_day
    from pair_days d
    semi join one_off_pairs p on p.src_key = d.src and p.dst_key = d.dst
),

-- +1 at the window start x where a run opens, -1 after it ends: a receiver paid on a
-- run's days first .. last is in the 'out' windows starting on first - 29 .. last, a
-- sender in the 'in' ones keyed on first + 1 .. last + 30. Each run end is seen from both
-- of its members (a cross join with the two parts): the receiver's 'in', the payer's 'out'
one_off_points as (
    select
        case s.part when 'in' then d.dst else d.src end as subject_id,
        s.part,
        d.day + case s.part when 'in' then 1 else -29 end as x,
        1 as delta
    from one_off_days d
    cross join (values ('in'), ('out')) as s(part)
    where d.prev_day is null or d.prev_day < d.day - 29
    union all
    select
        case s.part when 'in' then d.dst else d.src end,
        s.part,
        d.day + case s.part when 'in' then 31 else 1 end,
        -1
    from one_off_days d
    cross join (values ('in'), ('out')) as s(part)
    where d.next_day is null or d.next_day - 29 > d.day
),

-- both counts from one running count per part in the order of the subjects, points and
-- parts, the -1 before the +1 (each subject's and part's deltas add up to 0, so one
-- running count serves all subjects; counted as in windowed, on the sorted rows by window
-- functions with an empty OVER clause): at an 'in' point the 'out' count is the one
-- before x, at an 'out' point the 'in' count is the one at x. A row inside the rows of
-- one point and part holds no larger minimum than the last row before them or the last
-- of them (the -1 rows lower the count, the +1 rows raise it towards the last)
gather_scatter as (
    select subject_id as account_key, max(least(n_in, n_out)) as gather_scatter_30d
    from (
        select
            subject_id,
            2 * count(*) filter (where part = 'in' and delta > 0) over running
                - count(*) filter (where part = 'in') over running as n_in,
            2 * count(*) filter (where part = 'out' and delta > 0) over running
                - count(*) filter (where part = 'out') over running as n_out
        from (
            select subject_id, part, x, delta
            from one_off_points
            order by subject_id, x, part, delta
        )
        window running as (rows between unbounded preceding and current row)
    )
    group by subject_id
),

-- ---- directed cycles whose hops go forward in time --------------------------------
-- hops: transfers of at least cycle_min_amount between candidates; two trimming rounds
-- drop transfers out of accounts receiving none and into accounts sending none (exact)
hops_0 as (
    select t.tx_id, t.src_key, t.dst_key, t.timestamp, t.day, t.amount_rep
    from transfers t
    semi join candidates s on s.account_key = t.src_key
    semi join candidates d on d.account_key = t.dst_key
    where t.amount_rep >= $cycle_min_amount
),

hops_1 as (
    select * from hops_0 h
    where h.src_key in (select dst_key from hops_0)
      and h.dst_key in (select src_key from hops_0)
),

hops as materialized (
    select *, (day - date '1970-01-01') // 7 as week
    from hops_1 h
    where h.src_key in (select dst_key from hops_1)
      and h.dst_key in (select src_key from hops_1)
),

-- each hop copied onto the weeks its next hop may fall in (integer week buckets: eight
-- times fewer copies than day buckets for a span of months)
hop_buckets as (
    select h.tx_id, h.src_key, h.dst_key, h.timestamp, h.amount_rep,
           h.week + k.offset_weeks as bucket
    from hops h
    cross join generate_series(0, ($cycle_span_days // 7) + 1) as k(offset_weeks)
),

-- consecutive hops: money received and sent on later, within the span, with an amount the
-- decay and growth bounds allow (the same money, less a cut); per hop in, the earliest
-- hop out to each next account, and at most cycle_max_next_hops next accounts
hop_pairs as materialized (
    select in_tx, tx_id, dst_key, timestamp, amount_rep
    from (
        select
            b.tx_id as in_tx,
            n.tx_id,
            n.dst_key,
            n.timestamp,
            n.amount_rep
        from hop_buckets b
        join hops n on n.src_key = b.dst_key and n.week = b.bucket
        where n.timestamp > b.timestamp
          and n.timestamp <= b.timestamp + to_days($cycle_span_days)
          and n.amount_rep >= $cycle_min_hop_ratio * b.amount_rep
          and n.amount_rep <= (1 + $cycle_max_hop_growth) * b.amount_rep
        qualify row_number() over (
            partition by b.tx_id, n.dst_key order by n.timestamp, n.tx_id) = 1
    )
    qualify row_number() over (partition by in_tx order by timestamp, tx_id)
        <= $cycle_max_next_hops
),

paths (first_tx, origin, first_ts, first_rep, last_tx, hop_count, accounts, closed) as (
    select h.tx_id, h.src_key, h.timestamp, h.amount_rep, h.tx_id, 1,
           [h.src_key, h.dst_key], false
    from hops h
    semi join (select distinct in_tx from hop_pairs) q on q.in_tx = h.tx_id

    union all

    select
        p.first_tx, p.origin, p.first_ts, p.first_rep, q.tx_id, p.hop_count + 1,
        list_append(p.accounts, q.dst_key),
        q.dst_key = p.origin
    from paths p
    join hop_pairs q on q.in_tx = p.last_tx
    where not p.closed
      and p.hop_count < $cycle_max_hops
      and q.timestamp <= p.first_ts + to_days($cycle_span_days)
      -- a simple cycle visits each account once before it closes
      and (q.dst_key = p.origin or not list_contains(p.accounts, q.dst_key))
      and (q.dst_key = p.origin or p.hop_count + 1 < $cycle_max_hops)
      -- a 2-hop round trip is everyday life between two people (a loan repaid, a refund,
      -- shared costs paid back): it counts only when a large sum comes back quickly, less
      -- the intermediary's cut
      and (p.hop_count > 1 or q.dst_key <> p.origin
           or (p.first_rep >= $cycle_round_trip_min_amount
               and q.timestamp <= p.first_ts + to_days($cycle_round_trip_days)
               and q.amount_rep < $cycle_round_trip_max_return * p.first_rep))
    qualify row_number() over (
        partition by p.first_tx order by q.dst_key = p.origin desc, q.timestamp, q.tx_id
    ) <= $cycle_max_paths_per_start
),

-- one row per cycle: its accounts (keys) in order from the origin, which identify it
closed_cycles as materialized (
    select distinct accounts as cycle_key, hop_count, accounts
    from paths
    where closed
),

-- chords: two members of a ring of three or more that deal with each other other than
-- by the ring's own hop (the next member), in either direction, by any transfer. A
-- ring's members each pay the next one on; friends, flatmates or relatives settling
-- shared costs pay each other every way round.
chorded as (
    select distinct c.cycle_key
    from closed_cycles c
    cross join unnest(list_slice(c.accounts, 1, c.hop_count)) as a(account_key)
    cross join unnest(list_slice(c.accounts, 1, c.hop_count)) as b(account_key)
    semi join pairs t
        on t.src = a.account_key and t.dst = b.account_key
    where c.hop_count >= 3
      and a.account_key <> b.account_key
      and b.account_key <> c.accounts[list_position(c.accounts, a.account_key) + 1]
),

cycle_members as (
    select c.cycle_key, c.hop_count, m.account_key
    from closed_cycles c
    cross join unnest(list_slice(c.accounts, 1, c.hop_count)) as m(account_key)
    anti join chorded h on h.cycle_key = c.cycle_key
),

cycles as (
    select account_key, count(distinct cycle_key) as cycle_count,
           min(hop_count) as cycle_min_hops, max(hop_count) as cycle_max_hops
    from cycle_members
    group by account_key
),

-- ---- scatter-gather: source -> at least fan_min_counterparties intermediaries -> sink ----
-- two-hop paths at pair level: some leg into the intermediary precedes some leg out of
-- it, and the leg out can lie within sg_span_days of a leg in
sg_paths as materialized (
    select a.src_key as source, a.dst_key as intermediary, b.dst_key as sink
    from one_off_pairs a
    join one_off_pairs b on b.src_key = a.dst_key
    where b.dst_key <> a.src_key
      and b.last_ts > a.first_ts
      and b.first_ts <= a.last_ts + to_days($sg_span_days)
),

sg_patterns as materialized (
    select source, sink
    from sg_paths
    group by source, sink
    having count(*) >= $fan_min_counterparties
),

-- other: the account at the other end; for an intermediary, the (source, sink) pair as
-- one number (keys are below 2^32)
sg_roles as (
    select source as account_key, 'source' as role, sink::bigint as other from sg_patterns
    union all
    select sink, 'sink', source from sg_patterns
    union all
    select p.intermediary, 'intermediary', p.source::bigint * 4294967296 + p.sink
    from sg_paths p
    semi join sg_patterns s using (source, sink)
),

scatter_gather as (
    select
        account_key,
        count(distinct other) filter (where role = 'source') as sg_source_count,
        count(distinct other) filter (where role = 'sink') as sg_sink_count,
        count(distinct other) filter (where role = 'intermediary') as sg_intermediary_count
    from sg_roles
    group by account_key
),

-- ---- counterparties shared with other accounts of these structures --------------------
structured as materialized (
    select account_key from cycles
    union
    select account_key from scatter_gather
    union
    select account_key from gather_scatter where gather_scatter_30d >= $fan_min_counterparties
),

-- every pair of accounts that transfer, seen from both ends
pair_ends as (
    select dst as account_key, src as counterparty from pairs
    union all
    select src, dst from pairs
),

-- the non-hub neighbours (either direction) of the structured accounts: the shared
-- counterparties are counted for these accounts only, so the neighbours of the others
-- are never read
structured_accounts_neighbours as materialized (
    select distinct p.account_key, p.counterparty
    from pair_ends p
    semi join structured s on s.account_key = p.account_key
    anti join hubs h on h.account_key = p.counterparty
),

-- every account's structured neighbours, before the join that pairs them with the
-- structured accounts' neighbours (a join of all neighbours first would copy each
-- account's counterparties onto every neighbour)
structured_neighbours as materialized (
    select distinct p.account_key, p.counterparty
    from pair_ends p
    semi join structured o on o.account_key = p.counterparty
    anti join hubs h on h.account_key = p.counterparty
),

shared as (
    select a.account_key, count(distinct a.counterparty) as shared_counterparties
    from structured_accounts_neighbours a
    join structured_neighbours b on b.account_key = a.counterparty
    where b.counterparty <> a.account_key
    group by a.account_key
),

final as (
    select
        f.account_id,
        coalesce(d.in_degree, 0) as in_degree,
        coalesce(d.out_degree, 0) as out_degree,
        d.top_in_share,
        d.top_out_share,
        d.in_hhi,
        d.out_hhi,
        -- (no leg on one side is 0; none on either, 0 / NULL)
        least(coalesce(i.money_in, 0), coalesce(o.money_out, 0))
            / nullif(greatest(coalesce(i.money_in, 0), coalesce(o.money_out, 0)), 0)
            as pass_through_ratio,
        coalesce(w.max_senders_7d, 0)::bigint as max_senders_7d,
        coalesce(w.max_receivers_7d, 0)::bigint as max_receivers_7d,
        coalesce(w.max_senders_30d, 0)::bigint as max_senders_30d,
        coalesce(w.max_receivers_30d, 0)::bigint as max_receivers_30d,
        coalesce(g.gather_scatter_30d, 0)::bigint as gather_scatter_30d,
        coalesce(k.account_key in (select account_key from hubs), false) as is_hub,
        coalesce(c.cycle_count, 0) as cycle_count,
        c.cycle_min_hops,
        c.cycle_max_hops,
        coalesce(s.sg_source_count, 0) as sg_source_count,
        coalesce(s.sg_sink_count, 0) as sg_sink_count,
        coalesce(s.sg_intermediary_count, 0) as sg_intermediary_count,
        coalesce(x.shared_counterparties, 0) as shared_counterparties
    from account_features f
    left join account_keys k using (account_id)
    left join degrees d on d.account_key = k.account_key
    left join money_in i on i.account_id = f.account_id
    left join money_out o on o.account_id = f.account_id
    left join windowed w on w.account_key = k.account_key
    left join gather_scatter g on g.account_key = k.account_key
    left join cycles c on c.account_key = k.account_key
    left join scatter_gather s on s.account_key = k.account_key
    left join shared x on x.account_key = k.account_key
)

select * from final order by account_id
