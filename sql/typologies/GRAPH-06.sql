-- GRAPH-06: chain / random walk / peel chain. Money moves along a path of at least
-- min_hops transfers through distinct accounts, each hop at most max_gap_days after the
-- one before (and strictly later), every hop carrying at least min_amount, at least
-- min_hop_ratio of the hop before and no more than max_hop_growth above it or above the
-- first hop: the same money passed on, a slice peeled off at each step. The accounts
-- inside the chain (each received a hop and sent the next one on) are hit. The
-- evidence holds the chain's hops and its peels, the slices sent off the chain.
--
-- The search is bounded, cheapest first: (1) only transfers of min_amount or more by
-- the counted channels; (2) per-day aggregates screen the relays: an account can be
-- inside a chain only if on some day it receives such a transfer and on that day or the
-- max_gap_days after sends one (a necessary condition); (3) relays that are hubs of the
-- shared account_graph model (more than its hub_counterparties distinct senders or
-- receivers in some 30 days) are dropped; (4)
-- consecutive hops are paired once through a relay, by an equi-join on (account, day
-- bucket) plus the exact time and amount filters, each hop in with at most
-- max_next_hops hops out; (5) the walk follows those pairs for at most max_hops hops,
-- visiting each account once, and keeps at most max_paths_per_start open paths per
-- first hop at each depth. Every stretch of a chain is walked from its own first hop;
-- only the maximal stretches are kept before the accounts are expanded.
-- (not materialized: read twice, by candidates and by the peels, it would otherwise be
-- copied whole, every transfer of the scan)
with recursive counted as not materialized (
    select tx_id, src_account, dst_account, timestamp, day, amount, currency, amount_rep, channel
    from transactions
    -- card payments buy goods and are not passed on; cash has no identifiable
    -- counterparty
    where list_contains($channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
),

-- every hop of a qualifying chain carries at least min_amount
candidates as materialized (
    select * from counted where amount_rep >= $min_amount
),

-- per-day screen: the days on which each account receives, and sends, a candidate
in_days as (
    select distinct dst_account as account_id, day from candidates
),

out_days as (
    select distinct src_account as account_id, day from candidates
),

-- accounts that on some day receive a candidate transfer and send one on that day or
-- within max_gap_days after: only they can be inside a chain
relays as (
    select distinct i.account_id
    from in_days i
    cross join generate_series(0, $max_gap_days) as k(day_offset)
    join out_days o on o.account_id = i.account_id and o.day = i.day + k.day_offset::integer
),

-- a relay that is a hub of account_graph (more than hub_counterparties distinct senders
-- or receivers in some 30 days, over every amount of the transfer channels: payroll
-- processor, employer, marketplace, biller): money through it mixes with everyone
-- else's, so no chain runs through it. A hub may still be where a chain starts (a wage
-- forwarded at once) or ends.
hubs as (
    select account_id from account_graph where is_hub
),

inner_relays as (
    select account_id from relays
    except
    select account_id from hubs
),

-- transfers into a relay, each copied onto the days its next hop may fall on
inflow_buckets as (
    select c.tx_id, c.src_account, c.dst_account, c.timestamp, c.amount_rep,
           c.day + k.day_offset::integer as bucket_day
    from candidates c
    semi join inner_relays r on r.account_id = c.dst_account
    cross join generate_series(0, $max_gap_days) as k(day_offset)
),

-- consecutive hops: money received by a relay and sent on within max_gap_days, with an
-- amount the decay and growth bounds allow
hop_pairs as materialized (
    select
        b.tx_id as in_tx,
        n.tx_id,
        n.dst_account,
        n.timestamp,
        n.amount_rep
    from inflow_buckets b
    join candidates n on n.src_account = b.dst_account and n.day = b.bucket_day
    where n.timestamp > b.timestamp
      and n.timestamp <= b.timestamp + to_days($max_gap_days)
      and n.amount_rep >= $min_hop_ratio * b.amount_rep
      and n.amount_rep <= (1 + $max_hop_growth) * b.amount_rep
      -- passing the money straight back is a 2-cycle (GRAPH-05), not a chain
      and n.dst_account <> b.src_account
    -- branching bound: money received is followed into at most max_next_hops transfers
    -- sent on, the earliest that fit
    qualify row_number() over (partition by b.tx_id order by n.timestamp, n.tx_id)
        <= $max_next_hops
),

first_hops as (
    select c.tx_id, c.src_account, c.dst_account, c.timestamp, c.amount_rep
    from candidates c
    semi join (select distinct in_tx from hop_pairs) q on q.in_tx = c.tx_id
),

-- the walk: every transfer that has a next hop may open a chain; a path ends at
-- max_hops hops or where no next hop follows
paths (first_tx, first_ts, first_rep, last_tx, last_ts, hop_count, accounts, txs) as (
    select
        f.tx_id, f.timestamp, f.amount_rep, f.tx_id, f.timestamp, 1,
        [f.src_account, f.dst_account], [f.tx_id]
    from first_hops f

    union all

    select
        p.first_tx, p.first_ts, p.first_rep, q.tx_id, q.timestamp, p.hop_count + 1,
        list_append(p.accounts, q.dst_account),
        list_append(p.txs, q.tx_id)
    from paths p
    join hop_pairs q on q.in_tx = p.last_tx
    where p.hop_count < $max_hops
      -- non-increasing along the whole chain, within the tolerance
      and q.amount_rep <= (1 + $max_hop_growth) * p.first_rep
      -- a simple path: each account once
      and not list_contains(p.accounts, q.dst_account)
    qualify row_number() over (
        partition by p.first_tx order by q.timestamp, q.tx_id, p.txs
    ) <= $max_paths_per_start
),

qualifying_paths as materialized (
    select
        array_to_string(txs, ',') as chain_id,
        array_to_string(list_slice(txs, 1, hop_count - 1), ',') as without_last,
        array_to_string(list_slice(txs, 2, hop_count), ',') as without_first,
        first_ts,
        last_ts,
        hop_count,
        accounts,
        txs
    from paths
    where hop_count >= $min_hops
),

-- every stretch of a chain was walked from its own first hop; only the maximal ones
-- (not extendable by one hop at either end within max_hops) are kept: the accounts and
-- transfers of the others are all in a maximal one
chains as materialized (
    select q.chain_id, q.first_ts, q.last_ts, q.hop_count, q.accounts, q.txs
    from qualifying_paths q
    anti join qualifying_paths longer on longer.without_last = q.chain_id
    anti join qualifying_paths earlier on earlier.without_first = q.chain_id
),

-- the accounts inside a chain: every one but its first sender and last receiver
chain_members as (
    select c.*, c.accounts[m.position] as subject_id,
           c.txs[m.position - 1] as hop_in, c.txs[m.position] as hop_out
    from chains c
    cross join unnest(generate_series(2, c.hop_count)) as m(position)
),

-- overlapping chains through one account form one episode (calendar days);
-- each chain with its episode (path_episodes of sql/macros)
episode_chains as (
    select * from path_episodes(chain_members)
),

-- the chain described in the reason: the longest through the account, then the earliest
described as (
    select
        subject_id,
        episode,
        chain_id,
        hop_count,
        accounts,
        txs,
        first_ts,
        last_ts
    from episode_chains
    qualify row_number() over (
        partition by subject_id, episode order by hop_count desc, first_ts, chain_id
    ) = 1
),

-- the slices a peel chain peels off: what a relay of the described chain sent, by the
-- counted channels, to an account off the chain after its hop in and within max_gap_days
-- of it, each transfer no larger than the slice the relay kept of that hop (hop in minus
-- hop out). Their receivers are the chain's side accounts, where the peeled money goes.
relay_hops as (
    select d.subject_id, d.episode, d.accounts, d.accounts[r.position] as relay,
           d.txs[r.position - 1] as hop_in, d.txs[r.position] as hop_out
    from described d
    cross join unnest(generate_series(2, d.hop_count)) as r(position)
),

peels as materialized (
    select h.subject_id, h.episode, p.*
    from relay_hops h
    join candidates i on i.tx_id = h.hop_in
    join candidates o on o.tx_id = h.hop_out
    join counted p on p.src_account = h.relay
    where p.timestamp > i.timestamp
      and p.timestamp <= i.timestamp + to_days($max_gap_days)
      and p.amount_rep <= i.amount_rep - o.amount_rep
      and not list_contains(h.accounts, p.dst_account)
),

-- the evidence: every hop of the described chain, its peels, and the account's own hop
-- in and hop out on the other chains of the episode (in a dense cluster of related
-- accounts the union of all their chains would be most of the cluster); each transfer
-- once, as a hop where it is one
episode_txs as (
    select subject_id, episode, tx_id, min(label) as label
    from (
        select d.subject_id, d.episode, t.tx_id, 'chain hop' as label
        from described d
        cross join unnest(d.txs) as t(tx_id)
        union all
        select subject_id, episode, hop_in, 'chain hop' from episode_chains
        union all
        select subject_id, episode, hop_out, 'chain hop' from episode_chains
        union all
        select subject_id, episode, tx_id, 'peel' from peels
    )
    group by all
),

-- the peels of the evidence and the accounts they went to
episode_peels as (
    select e.subject_id, e.episode, count(*) as peel_count,
           count(distinct p.dst_account) as side_accounts
    from episode_txs e
    join peels p using (subject_id, episode, tx_id)
    where e.label = 'peel'
    group by all
),

-- the transfers the evidence names: every hop is a candidate; a peel may be below
-- min_amount
evidence_transfers as (
    select * from candidates
    union all
    select distinct tx_id, src_account, dst_account, timestamp, day, amount, currency,
           amount_rep, channel
    from peels
    where amount_rep < $min_amount
),

episode_totals as (
    select * from hop_evidence(episode_txs, evidence_transfers)
),

-- what the evidence holds beside the described chain: the account's transfers on other
-- chains of the episode, and its peels
episode_parts as (
    select t.subject_id, t.episode,
           t.tx_count - coalesce(p.peel_count, 0) - d.hop_count as other_chain_transfers,
           coalesce(p.peel_count, 0) as peel_count, p.side_accounts
    from episode_totals t
    join described d using (subject_id, episode)
    left join episode_peels p using (subject_id, episode)
),

-- amounts of the described chain: its first and its last hop
described_amounts as (
    select * from path_end_amounts(described, candidates)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        d.hop_count || '-hop chain ' || array_to_string(d.accounts, ' -> ')
            || ' within ' || (date_diff('day', d.first_ts::date, d.last_ts::date) + 1)
            || ' day' || case when d.first_ts::date = d.last_ts::date then '' else 's' end
            || ', each hop within ' || $max_gap_days || ' days of the one before: '
            || 'first hop '
            || money_text(a.first_amount, a.first_rep, a.one_currency, a.currency)
            || ', last hop '
            || money_text(a.last_amount, a.last_rep, a.one_currency, a.currency)
            || ' (' || format('{:.0f}', floor(100 * a.last_rep / a.first_rep)::double)
            || '%)'
            || case
                when p.other_chain_transfers > 0
                    then '; ' || p.other_chain_transfers || ' more transfer'
                         || case when p.other_chain_transfers = 1 then '' else 's' end
                         || ' of the account on other chains'
                else '' end
            || case
                when p.peel_count > 0
                    then '; ' || p.peel_count || ' slice'
                         || case when p.peel_count = 1 then '' else 's' end
                         || ' peeled off to ' || p.side_accounts || ' account'
                         || case when p.side_accounts = 1 then '' else 's' end
                         || ' off the chain'
                else '' end as reason,
        'mule' as likely_role
    from episode_totals t
    join described d using (subject_id, episode)
    join described_amounts a using (subject_id, episode)
    join episode_parts p using (subject_id, episode)
)

select * from final
