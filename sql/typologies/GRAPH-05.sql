-- GRAPH-05: simple cycle. Money leaves an account and comes back to it through a chain
-- of 2 to max_hops distinct accounts, every hop later than the one before, the last hop
-- within window_days of the first, every hop carrying at least min_return_ratio of the
-- first hop's amount (so at least that share returns) and no hop more than
-- max_hop_growth above, or min_hop_ratio below, the hop before it.
--
-- A 2-hop round trip (A pays B, B pays A back) is everyday life between two people
-- (loans repaid, refunds, shared costs paid back, two-way standing relationships): it
-- counts only when at least round_trip_min_amount comes back within
-- round_trip_window_days, less than max_round_trip_return of it (a loan repaid or a
-- purchase refunded comes back whole, a layering round trip less the cut), and never
-- between two accounts one of which pays the other in recurring_months calendar months
-- (a standing relationship).
--
-- The search is bounded, cheapest first: (1) only transfers that can be a hop at all
-- (counted channels, at least min_return_ratio * min_amount) between candidates of the
-- shared account_graph model (non-hub accounts that both receive and send transfers;
-- hubs, more than its hub_counterparties distinct senders or receivers in some 30 days,
-- are payroll processors, employers, billers, marketplaces whose money mixes with
-- everyone else's); (2) an account on a cycle both receives and sends a hop, so two
-- trimming rounds drop every transfer whose sender has no candidate inflow or whose
-- receiver has no candidate outflow (exact: no cycle is lost); (3) consecutive hops are
-- paired once, through an equi-join on (account, week bucket) plus the exact time and
-- amount filters, never a join of an account's whole history with itself, and each hop
-- in is paired with at most max_next_hops hops out; (4) the walk follows those pairs for
-- at most max_hops hops inside the window, keeping at most max_paths_per_start open
-- paths per first hop at each depth, so a dense cluster cannot blow the frontier up.
-- Because hops are strictly time-ordered, a cycle can only be walked from its earliest
-- hop: every cycle is found exactly once, in one canonical rotation, without a separate
-- deduplication.
with recursive graph_candidates as (
    select g.account_id, k.account_key
    from account_graph g
    join account_keys k using (account_id)
    where not g.is_hub and g.in_degree > 0 and g.out_degree > 0
),

-- One pass over the transfers into candidate accounts, by the counted channels (card
-- payments buy goods, a shop never pays the card holder back in a cycle, and cash has no
-- identifiable counterparty), large enough to be a share of a split bill (below). The
-- hop candidates are among them: a transfer below min_return_ratio * min_amount cannot be
-- a hop of a qualifying cycle, and a hop's sender is a candidate account too (never
-- cash, which has no account_key). The bound is never above the hop candidates' own (a
-- negative split_tolerance splits nothing). Both parties are known by their account_key
-- (the sender's is NULL when it is no candidate), so the joins below match integers.
payments_in as materialized (
    select
        t.tx_id,
        t.src_account,
        t.dst_account,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        s.account_key as src_key,
        d.account_key as dst_key,
        (t.day - date '1970-01-01') // 7 as week
    from transactions t
    join graph_candidates d on d.account_id = t.dst_account
    left join graph_candidates s on s.account_id = t.src_account
    where list_contains($channels::varchar[], t.channel)
      and t.src_account <> cash_account()
      and t.amount_rep >= least(1 - $split_tolerance, 1) * $min_return_ratio * $min_amount
),

candidates as (
    select * from payments_in
    where src_key is not null and amount_rep >= $min_return_ratio * $min_amount
),

-- a share of a split bill is no hop: the organiser of a dinner, trip or concert is paid
-- the same share (within split_tolerance) by at least split_min_payers accounts within
-- split_window_days, while money passed round a ring is paid once. Each hop candidate is
-- compared with every payment to the same receiver within integer week buckets: it is
-- copied onto the week before, its own week and the next one.
candidate_buckets as (
    select a.tx_id, a.src_account, a.dst_key, a.timestamp, a.amount_rep,
           a.week + k.offset_weeks as bucket
    from candidates a
    cross join generate_series(-1, 1) as k(offset_weeks)
),

split_shares as (
    select a.tx_id
    from candidate_buckets a
    join payments_in b on b.dst_key = a.dst_key and b.week = a.bucket
    where b.src_account <> a.src_account
      and abs(b.amount_rep - a.amount_rep) <= $split_tolerance * a.amount_rep
      and abs(date_diff('second', a.timestamp, b.timestamp)) <= 86400 * $split_window_days
    group by a.tx_id
    having count(distinct b.src_account) + 1 >= $split_min_payers
),

-- an account on a cycle both receives and sends a hop: trimming rounds drop the
-- transfers out of accounts that receive no candidate and into accounts that send none
-- (payers that are never paid, payees that never pay on), and what only led to them;
-- a necessary condition, so no cycle is lost
unsplit as materialized (
    select c.* from candidates c anti join split_shares s on s.tx_id = c.tx_id
),

trimmed as (
    select * from unsplit e
    where e.src_key in (select dst_key from unsplit)
      and e.dst_key in (select src_key from unsplit)
),

hops as materialized (
    select * from trimmed e
    where e.src_key in (select dst_key from trimmed)
      and e.dst_key in (select src_key from trimmed)
),

-- each hop copied onto the weeks its next hop may fall in
hop_buckets as (
    select h.tx_id, h.dst_key, h.timestamp, h.amount_rep, h.week + k.offset_weeks as bucket
    from hops h
    cross join generate_series(0, ($window_days // 7) + 1) as k(offset_weeks)
),

-- consecutive hops: money received by an account and sent on later, inside the window,
-- with an amount the decay and growth bounds allow
hop_pairs as materialized (
    select
        b.tx_id as in_tx,
        n.tx_id,
        n.dst_account,
        n.timestamp,
        n.amount_rep
    from hop_buckets b
    join hops n on n.src_key = b.dst_key and n.week = b.bucket
    where n.timestamp > b.timestamp
      and n.timestamp <= b.timestamp + to_days($window_days)
      and n.amount_rep >= $min_hop_ratio * b.amount_rep
      and n.amount_rep <= (1 + $max_hop_growth) * b.amount_rep
    -- branching bound: money received is followed into at most max_next_hops transfers
    -- sent on, the earliest that fit
    qualify row_number() over (partition by b.tx_id order by n.timestamp, n.tx_id)
        <= $max_next_hops
),

-- the walk: every hop of min_amount or more may open a cycle; a path ends when it is
-- back at its origin or has max_hops hops
paths (first_tx, origin, first_ts, first_rep, last_tx, last_ts, hop_count, accounts, txs, closed)
as (
    select
        h.tx_id, h.src_account, h.timestamp, h.amount_rep,
        h.tx_id, h.timestamp, 1, [h.src_account, h.dst_account], [h.tx_id], false
    from hops h
    where h.amount_rep >= $min_amount
      and h.tx_id in (select in_tx from hop_pairs)

    union all

    select
        p.first_tx, p.origin, p.first_ts, p.first_rep,
        q.tx_id, q.timestamp, p.hop_count + 1,
        list_append(p.accounts, q.dst_account),
        list_append(p.txs, q.tx_id),
        q.dst_account = p.origin
    from paths p
    join hop_pairs q on q.in_tx = p.last_tx
    where not p.closed
      and p.hop_count < $max_hops
      and q.timestamp <= p.first_ts + to_days($window_days)
      and q.amount_rep >= $min_return_ratio * p.first_rep
      -- a simple cycle visits each account once before it closes
      and (q.dst_account = p.origin or not list_contains(p.accounts, q.dst_account))
      -- a hop that cannot close must leave room for the hops still needed
      and (q.dst_account = p.origin or p.hop_count + 1 < $max_hops)
      -- a 2-hop round trip is ordinary between two people (a loan repaid, a refund,
      -- shared costs paid back): it counts only when a large sum comes back quickly,
      -- less a cut
      and (p.hop_count > 1 or q.dst_account <> p.origin
           or (p.first_rep >= $round_trip_min_amount
               and q.timestamp <= p.first_ts + to_days($round_trip_window_days)
               and q.amount_rep < $max_round_trip_return * p.first_rep))
    qualify row_number() over (
        partition by p.first_tx
        order by q.dst_account = p.origin desc, q.timestamp, q.tx_id, p.txs
    ) <= $max_paths_per_start
),

closed_cycles as materialized (
    select
        array_to_string(txs, ',') as cycle_id,
        origin,
        first_ts,
        last_ts,
        first_rep,
        hop_count,
        accounts,
        txs
    from paths
    where closed and hop_count >= $min_hops
),

-- chords: two members of a ring of three or more that deal with each other other than
-- by the ring's own hop (the next member), in either direction, by any transfer of the
-- export. A ring's members each pay the next one on; friends, flatmates or relatives
-- settling shared costs pay each other every way round.
member_pairs as (
    select c.cycle_id, a.account_id as src_account, b.account_id as dst_account
    from closed_cycles c
    cross join unnest(list_slice(c.accounts, 1, c.hop_count)) as a(account_id)
    cross join unnest(list_slice(c.accounts, 1, c.hop_count)) as b(account_id)
    where c.hop_count >= 3
      and a.account_id <> b.account_id
      and b.account_id <> c.accounts[list_position(c.accounts, a.account_id) + 1]
),

-- a 2-hop round trip inside a standing relationship, where one of the two pays the other
-- (same direction, counted channels) in recurring_months calendar months of the export
-- (a wage, rent, an allowance, support between relatives), is the relationship's own back
-- and forth, not a sum routed through an intermediary and back
round_trip_legs as (
    select distinct accounts[1] as src_account, accounts[2] as dst_account
    from closed_cycles where hop_count = 2
    union
    select distinct accounts[2], accounts[1]
    from closed_cycles where hop_count = 2
),

-- the pairs looked up for both (chords, round-trip legs): one pass over the transfers
-- between them gives the calendar months each pair dealt in (counted channels). The scan
-- first keeps the transfers sent by a looked-up account, matched on that one column,
-- before the pairs.
looked_up_pairs as materialized (
    select src_account, dst_account from member_pairs
    union
    select src_account, dst_account from round_trip_legs
),

pair_months as materialized (
    select t.src_account, t.dst_account, count(distinct date_trunc('month', t.day)) as months
    from transactions t
    semi join (select distinct src_account from looked_up_pairs) s
        on s.src_account = t.src_account
    semi join looked_up_pairs p
        on p.src_account = t.src_account and p.dst_account = t.dst_account
    where list_contains($channels::varchar[], t.channel)
    group by t.src_account, t.dst_account
),

chorded as (
    select distinct p.cycle_id
    from member_pairs p
    semi join pair_months m using (src_account, dst_account)
),

standing_legs as (
    select m.src_account, m.dst_account
    from pair_months m
    semi join round_trip_legs l using (src_account, dst_account)
    where m.months >= $recurring_months
),

standing_round_trips as (
    select c.cycle_id
    from closed_cycles c
    semi join standing_legs s
        on (s.src_account = c.accounts[1] and s.dst_account = c.accounts[2])
        or (s.src_account = c.accounts[2] and s.dst_account = c.accounts[1])
    where c.hop_count = 2
),

cycles as materialized (
    select c.*
    from closed_cycles c
    anti join chorded h on h.cycle_id = c.cycle_id
    anti join standing_round_trips r on r.cycle_id = c.cycle_id
),

cycle_members as (
    select c.*, m.subject_id
    from cycles c
    cross join unnest(list_slice(c.accounts, 1, c.hop_count)) as m(subject_id)
),

-- overlapping cycles of one account form one episode (calendar days);
-- each cycle with its episode (path_episodes of sql/macros)
episode_cycles as (
    select * from path_episodes(cycle_members)
),

-- the cycle described in the reason: the earliest one of the episode
first_cycles as (
    select
        subject_id,
        episode,
        count(*) over (partition by subject_id, episode) as n_cycles,
        max(hop_count) over (partition by subject_id, episode) as max_hops_seen,
        bool_or(origin = subject_id) over (partition by subject_id, episode) as is_origin,
        accounts,
        txs,
        hop_count,
        first_ts,
        last_ts
    from episode_cycles
    qualify row_number() over (
        partition by subject_id, episode order by first_ts, cycle_id
    ) = 1
),

-- a transfer on several cycles of the episode is evidence once
episode_txs as (
    select distinct e.subject_id, e.episode, t.tx_id, 'cycle hop' as label
    from episode_cycles e
    cross join unnest(e.txs) as t(tx_id)
),

episode_totals as (
    select * from hop_evidence(episode_txs, hops)
),

-- amounts of the described cycle: its first and its closing hop
first_cycle_amounts as (
    select * from path_end_amounts(first_cycles, hops)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        f.hop_count || '-hop cycle ' || array_to_string(f.accounts, ' -> ')
            || ' closed within ' || (date_diff('day', f.first_ts::date, f.last_ts::date) + 1)
            || ' day' || case when f.first_ts::date = f.last_ts::date then '' else 's' end
            || ': sent '
            || money_text(a.first_amount, a.first_rep, a.one_currency, a.currency)
            || ', returned '
            || money_text(a.last_amount, a.last_rep, a.one_currency, a.currency)
            || ' (' || format('{:.0f}', floor(100 * a.last_rep / a.first_rep)::double) || '%)'
            || case
                when f.n_cycles > 1 then '; ' || f.n_cycles || ' cycles through the account, up to '
                                         || f.max_hops_seen || ' hops'
                else '' end as reason,
        case when f.is_origin then 'controller' else 'mule' end as likely_role
    from episode_totals t
    join first_cycles f using (subject_id, episode)
    join first_cycle_amounts a using (subject_id, episode)
)

select * from final
