-- GRAPH-03: gather-scatter. An account receives from at least min_senders distinct
-- accounts and then, once everything has come in, pays at least min_receivers distinct
-- accounts, passing on at least min_out_share of what it gathered, all within
-- window_days.
--
-- The counted legs of an account (transfers of at least min_leg_amount, not wage credits,
-- outside standing relationships and with no hub as counterparty) are put in time order
-- and cut into runs of one direction. A gather-scatter is an inflow run followed
-- directly by an outflow run: every counted inflow precedes every counted outflow by
-- construction. The inflows kept are those at most window_days before the first outflow,
-- and the outflows kept those at most window_days after the first kept inflow, so the
-- pattern spans at most window_days. Whether a leg counts depends on its transfer, its
-- pair of accounts and its counterparty alone, so the counted legs are found first
-- (most transfers of the channels belong to standing relationships). Per-day
-- counterparty counts of the counted legs then drop every account that cannot have
-- enough senders and receivers within one window (a necessary condition, exact): only
-- those accounts reach the transaction-level steps.

-- the counted legs (counted_transfers of sql/macros: transfers by the channels between
-- two accounts, at least min_leg_amount, no wage credit, outside standing relationships)
with transfers as materialized (
    select *
    from counted_transfers(
        transactions, wage_credits, $channels, $min_leg_amount, $recurring_months)
),

-- a hub of the shared account_graph model (more than its hub_counterparties distinct
-- senders or receivers in some 30 days: employer, biller, marketplace, payroll
-- processor) is no gather or scatter party: money from or to it is a wage, a bill,
-- a payout or a sale, and mules are not hubs
legs as materialized (
    select t.dst_account as subject_id, t.src_account as party, 'in' as direction, t.*
    from transfers t
    anti join account_graph h on h.account_id = t.src_account and h.is_hub
    union all
    select t.src_account, t.dst_account, 'out', t.*
    from transfers t
    anti join account_graph h on h.account_id = t.dst_account and h.is_hub
),

-- one row per account, day, direction and counterparty: distinct counts become counts
party_days as (
    select subject_id, day, direction, party
    from legs
    group by all
),

day_degrees as (
    select
        subject_id,
        day,
        count(*) filter (where direction = 'in') as senders,
        count(*) filter (where direction = 'out') as receivers
    from party_days
    group by subject_id, day
),

-- a gather-scatter starting on day d lies in days d .. d + window_days: the daily counts
-- summed over those days bound its distinct senders and receivers from above
subjects as (
    select distinct subject_id
    from (
        select
            subject_id,
            sum(senders) over reach as sender_bound,
            sum(receivers) over reach as receiver_bound
        from day_degrees
        window reach as (
            partition by subject_id order by day
            range between current row and to_days($window_days) following
        )
    )
    where sender_bound >= $min_senders and receiver_bound >= $min_receivers
),

counted as (
    select l.*
    from legs l
    semi join subjects s on s.subject_id = l.subject_id
),

-- runs of one direction in time order (at equal times inflows first)
ordered as (
    select
        *,
        case when direction = lag(direction) over account_order then 0 else 1 end as run_start
    from counted
    window account_order as (partition by subject_id order by timestamp, direction, tx_id)
),

runs as materialized (
    select
        *,
        sum(run_start) over (
            partition by subject_id order by timestamp, direction, tx_id
            rows between unbounded preceding and current row
        ) as run
    from ordered
),

run_bounds as (
    select subject_id, run, min(direction) as direction, min(timestamp) as first_at
    from runs
    group by subject_id, run
),

-- each inflow run with the outflow run that follows it
phases as (
    select i.subject_id, i.run as gather_run, o.run as scatter_run, o.first_at as scatter_first
    from run_bounds i
    join run_bounds o
        on o.subject_id = i.subject_id
        and o.run = i.run + 1
        and o.direction = 'out'
    where i.direction = 'in'
),

gather_legs as (
    select p.subject_id, p.gather_run, r.* exclude (subject_id, run, run_start)
    from phases p
    join runs r on r.subject_id = p.subject_id and r.run = p.gather_run
    where r.timestamp >= p.scatter_first - to_days($window_days)
),

gather_start as (
    select subject_id, gather_run, min(timestamp) as gather_first
    from gather_legs
    group by subject_id, gather_run
),

scatter_legs as (
    select p.subject_id, p.gather_run, r.* exclude (subject_id, run, run_start)
    from phases p
    join gather_start g using (subject_id, gather_run)
    join runs r on r.subject_id = p.subject_id and r.run = p.scatter_run
    where r.timestamp <= g.gather_first + to_days($window_days)
),

pattern_legs as materialized (
    select * from gather_legs
    union all
    select * from scatter_legs
),

patterns as (
    select
        subject_id,
        gather_run,
        count(distinct party) filter (where direction = 'in') as senders,
        count(distinct party) filter (where direction = 'out') as receivers,
        coalesce(sum(amount_rep) filter (where direction = 'in'), 0) as in_rep,
        coalesce(sum(amount_rep) filter (where direction = 'out'), 0) as out_rep
    from pattern_legs
    group by subject_id, gather_run
),

qualifying as (
    select *
    from patterns
    where senders >= $min_senders
      and receivers >= $min_receivers
      -- a collection or pay run with dozens of parties is a business's trade (marketplace,
      -- payroll bureau, association), left to the peer-group detectors
      and senders <= $max_degree
      and receivers <= $max_degree
      and in_rep >= $min_total
      -- most of what was gathered goes out again (AMLSim keeps a 10% margin) ...
      and out_rep >= $min_out_share * in_rep
      -- ... and it is the gathered money that goes out, not older savings
      and out_rep <= $max_out_share * in_rep
),

-- the legs of the qualifying patterns, each with what it says (a pattern is the episode)
evidence_rows as (
    select
        l.* exclude (gather_run),
        l.gather_run as episode,
        case l.direction
            when 'in' then 'gathered ' || format('{:,.2f}', l.amount::double)
                           || ' ' || l.currency || ' from ' || l.party
            else 'scattered ' || format('{:,.2f}', l.amount::double)
                 || ' ' || l.currency || ' to ' || l.party
        end || ' by ' || replace(l.channel, '_', ' ') as why
    from pattern_legs l
    semi join qualifying q on q.subject_id = l.subject_id and q.gather_run = l.gather_run
),

pattern_facts as (
    select
        subject_id,
        episode,
        count(*) filter (where direction = 'in') as n_in,
        count(*) filter (where direction = 'out') as n_out,
        sum(amount) filter (where direction = 'in') as in_amount,
        sum(amount) filter (where direction = 'out') as out_amount
    from evidence_rows
    group by subject_id, episode
),

-- amounts are quoted in their own currency when the pattern has only one
pattern_totals as (
    select h.*, f.* exclude (subject_id, episode)
    from episode_hits(evidence_rows) h
    join pattern_facts f using (subject_id, episode)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        q.senders || ' senders paid in '
            || money_text(t.in_amount, q.in_rep, t.one_currency, t.currency)
            || ' (' || t.n_in || ' transfer' || case when t.n_in = 1 then '' else 's' end
            || '), then '
            || money_text(t.out_amount, q.out_rep, t.one_currency, t.currency)
            || ' (' || format('{:.0f}', floor(100 * q.out_rep / q.in_rep)::double) || '%) went to '
            || q.receivers || ' payees (' || t.n_out || ' transfer'
            || case when t.n_out = 1 then '' else 's' end || ') after the last inflow; '
            || (date_diff('day', t.window_start::date, t.window_end::date) + 1) || ' day'
            || case when t.window_start::date = t.window_end::date then '' else 's' end
            || ' in all' as reason,
        'collector' as likely_role
    from pattern_totals t
    join qualifying q on q.subject_id = t.subject_id and q.gather_run = t.episode
)

select * from final order by subject_id, window_start
