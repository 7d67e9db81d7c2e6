-- GRAPH-04: scatter-gather. A source pays at least min_intermediaries distinct accounts,
-- and each of them passes most of that payment on to one and the same sink, all within
-- window_days. Both ends are hit: the source (controller) and the sink (collector).
--
-- A path is a leg a (source -> intermediary) and a later leg b (intermediary -> sink)
-- with b between min_leg_ratio and max_leg_ratio of a, at most window_days apart.
-- Only counted legs make paths, and whether a transfer counts depends on its pair and
-- itself alone (not a wage credit, not a standing relationship), so the counted legs
-- are found first: most transfers of the channels belong to standing relationships.
-- Per-day counterparty counts over the counted legs then keep only possible sources
-- (enough payees within a window) and possible sinks (enough senders within a window),
-- and only accounts paid by a possible source that pay a possible sink can be
-- intermediaries (necessary conditions, exact). The two legs are paired by an equi-join
-- on (intermediary, day bucket) plus the exact time and amount filters, so nothing joins
-- an account's whole history with itself. Paths sharing a source and a sink whose
-- intermediaries reach the minimum within window_days make a pattern; overlapping
-- patterns of one account make one hit.

-- the counted legs (counted_transfers of sql/macros: transfers by the channels between
-- two accounts, at least min_leg_amount, no wage credit, outside standing relationships)
with transfers as materialized (
    select *
    from counted_transfers(
        transactions, wage_credits, $channels, $min_leg_amount, $recurring_months)
),

payee_days as (
    select src_account as account_id, day, count(distinct dst_account) as parties
    from transfers
    group by all
),

sender_days as (
    select dst_account as account_id, day, count(distinct src_account) as parties
    from transfers
    group by all
),

-- a pattern starting on day d lies in days d .. d + window_days: summed daily counts
-- over those days bound its distinct payees (source) and senders (sink) from above
sources as (
    select distinct account_id
    from (
        select account_id, sum(parties) over (
                   partition by account_id order by day
                   range between current row and to_days($window_days) following) as bound
        from payee_days
    )
    where bound >= $min_intermediaries
),

sinks as (
    select distinct account_id
    from (
        select account_id, sum(parties) over (
                   partition by account_id order by day
                   range between current row and to_days($window_days) following) as bound
        from sender_days
    )
    where bound >= $min_intermediaries
),

scatter_all as (
    select t.* from transfers t semi join sources s on s.account_id = t.src_account
),

gather_all as (
    select t.* from transfers t semi join sinks s on s.account_id = t.dst_account
),

-- a hub of the shared account_graph model (more than its hub_counterparties distinct
-- senders or receivers in some 30 days: employer, biller, marketplace, payroll
-- processor) is no intermediary: its money mixes with everyone else's, and a mule is
-- not a hub
intermediaries as (
    (select distinct dst_account as account_id from scatter_all
     intersect
     select distinct src_account from gather_all)
    except
    select account_id from account_graph where is_hub
),

-- first legs (source -> intermediary) and second legs (intermediary -> sink) of
-- possible paths
counted_legs as materialized (
    select 'scatter' as hop, t.*
    from scatter_all t
    semi join intermediaries i on i.account_id = t.dst_account
    union all
    select 'gather', t.*
    from gather_all t
    semi join intermediaries i on i.account_id = t.src_account
),

-- each first leg copied onto the days its second leg may fall on
scatter_buckets as (
    select l.*, l.day + k.day_offset::integer as bucket_day
    from counted_legs l
    cross join generate_series(0, $window_days) as k(day_offset)
    where l.hop = 'scatter'
),

paths as materialized (
    select
        a.src_account as source,
        a.dst_account as intermediary,
        b.dst_account as sink,
        a.tx_id as a_tx,
        a.timestamp as a_at,
        a.amount_rep as a_rep,
        b.tx_id as b_tx,
        b.timestamp as b_at,
        b.amount_rep as b_rep
    from scatter_buckets a
    join counted_legs b
        on b.hop = 'gather'
        and b.src_account = a.dst_account
        and b.day = a.bucket_day
    where b.timestamp > a.timestamp
      and b.timestamp <= a.timestamp + to_days($window_days)
      -- the intermediary passes most of the payment on (AMLSim: gather = scatter -
      -- margin) and not more than it received
      and b.amount_rep >= $min_leg_ratio * a.amount_rep
      and b.amount_rep <= $max_leg_ratio * a.amount_rep
      -- a path back to the source is a cycle (GRAPH-05)
      and b.dst_account <> a.src_account
),

candidate_pairs as (
    select source, sink
    from paths
    group by source, sink
    having count(distinct intermediary) >= $min_intermediaries
),

-- each path of a candidate (source, sink) opens a window of window_days at its first
-- leg; count the distinct intermediaries of the paths lying wholly inside it
windows as (
    select
        o.source,
        o.sink,
        o.a_at as window_start,
        max(p.b_at) as window_end,
        count(distinct p.intermediary) as n_intermediaries
    from (select distinct p.source, p.sink, p.a_at
          from paths p semi join candidate_pairs c using (source, sink)) o
    join paths p
        on p.source = o.source
        and p.sink = o.sink
        and p.a_at >= o.a_at
        and p.b_at <= o.a_at + to_days($window_days)
    group by o.source, o.sink, o.a_at
),

qualifying_windows as (
    select *
    from windows
    where n_intermediaries >= $min_intermediaries
      -- dozens of intermediaries between two accounts is a business's pay or collection
      -- run, not a layering pattern
      and n_intermediaries <= $max_intermediaries
),

qualifying_paths as (
    select distinct p.*
    from paths p
    join qualifying_windows w
        on w.source = p.source
        and w.sink = p.sink
        and p.a_at >= w.window_start
        and p.b_at <= w.window_end
),

-- both ends of a pattern are subjects: the source as controller, the sink as collector
ends as (
    select source as subject_id, 'source' as side, * from qualifying_paths
    union all
    select sink, 'sink', * from qualifying_paths
),

source_windows as (
    select subject_id, a_at as window_start, b_at as window_limit from ends where side = 'source'
),

sink_windows as (
    select subject_id, a_at as window_start, b_at as window_limit from ends where side = 'sink'
),

episode_bounds as (
    select 'source' as side, * from merged_windows(source_windows)
    union all
    select 'sink', * from merged_windows(sink_windows)
),

episode_paths as (
    select e.episode, p.*
    from episode_bounds e
    join ends p
        on p.subject_id = e.subject_id
        and p.side = e.side
        and p.a_at >= e.episode_start
        and p.b_at <= e.episode_limit
),

-- every leg of the episode once, with what it says; the source and sink episodes of
-- one account are numbered apart, so the episode key carries its side
episode_legs as (
    select distinct p.subject_id, p.side, p.episode, 'scatter' as hop, l.*
    from episode_paths p
    join transfers l on l.tx_id = p.a_tx
    union
    select distinct p.subject_id, p.side, p.episode, 'gather', l.*
    from episode_paths p
    join transfers l on l.tx_id = p.b_tx
),

evidence_rows as (
    select
        subject_id,
        {'side': side, 'n': episode} as episode,
        hop,
        tx_id,
        timestamp,
        amount,
        currency,
        amount_rep,
        case hop
            when 'scatter' then 'scattered ' || format('{:,.2f}', amount::double)
                 || ' ' || currency || ' from ' || src_account || ' to ' || dst_account
            else 'passed on ' || format('{:,.2f}', amount::double) || ' ' || currency
                 || ' from ' || src_account || ' to ' || dst_account
        end || ' by ' || replace(channel, '_', ' ') as why
    from episode_legs
),

episode_shape as (
    select
        subject_id,
        {'side': side, 'n': episode} as episode,
        count(distinct intermediary) as n_intermediaries,
        string_agg(distinct case when side = 'source' then sink else source end, ', '
                   order by case when side = 'source' then sink else source end) as other_ends
    from episode_paths
    group by subject_id, side, episode
),

episode_facts as (
    select
        subject_id,
        episode,
        sum(amount_rep) filter (where hop = 'scatter') as scatter_rep,
        sum(amount_rep) filter (where hop = 'gather') as gather_rep,
        sum(amount) filter (where hop = 'scatter') as scatter_amount,
        sum(amount) filter (where hop = 'gather') as gather_amount
    from evidence_rows
    group by subject_id, episode
),

-- amounts are quoted in their own currency when the episode has only one
episode_totals as (
    select h.*, h.episode.side as side, f.* exclude (subject_id, episode)
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        case t.side when 'source' then '' else s.other_ends || ' ' end
            || 'scattered '
            || money_text(t.scatter_amount, t.scatter_rep, t.one_currency, t.currency)
            || ' to ' || s.n_intermediaries || ' intermediaries, which passed '
            || money_text(t.gather_amount, t.gather_rep, t.one_currency, t.currency)
            || ' (' || format('{:.0f}', floor(100 * t.gather_rep / t.scatter_rep)::double) || '%) on to '
            || case t.side when 'source' then s.other_ends else 'this account' end
            || ' within ' || (date_diff('day', t.window_start::date, t.window_end::date) + 1)
            || ' day' || case when t.window_start::date = t.window_end::date then '' else 's' end
            as reason,
        case t.side when 'source' then 'controller' else 'collector' end as likely_role
    from episode_totals t
    join episode_shape s using (subject_id, episode)
)

select * from final order by subject_id, window_start
