-- LAB-03: wage kick-back loop. A wage credit from an employer (the payer) to a worker
-- comes back to the payer within window_days: directly (payer -> worker -> payer, two
-- hops) or through an associate (payer -> worker -> associate -> payer, three hops), with
-- at least min_return_ratio of the wage returned.
--
-- Bounds: a loop starts at a wage credit (payroll wording or a payroll processor's name
-- in the description or merchant descriptor, transfer channels only); at most three
-- hops; every later leg lies within window_days of the wage and in time order; workers
-- whose account paid more than max_daily_payees counterparties on one day (processors,
-- businesses paying staff) are not followed; the worker's own legs carry between
-- min_return_ratio and max_return_ratio of the wage. Nothing joins an account's whole
-- history with itself: the legs are joined on (account, counterparty) pairs that can
-- close a loop at all.
-- wage credits come from the shared wage_credits table (sql/features/wage_credits.sql):
-- ACH, wire, cheque or book-transfer credits with payroll wording or a payroll
-- processor's name
with wage_candidates as (
    select
        wage_payer as payer,
        worker,
        tx_id,
        timestamp,
        day,
        amount,
        currency,
        amount_rep,
        channel
    from wage_credits
),

-- a wage recipient that paid more than max_daily_payees counterparties on one day is a
-- processor or a business paying staff, not a worker: its outflows are not followed
wages as materialized (
    select w.*
    from wage_candidates w
    join account_features f on f.account_id = w.worker
    where f.max_daily_receivers <= $max_daily_payees
),

payers as (
    select distinct payer from wages
),

-- every transfer that reaches a wage payer: the only legs that can close a loop
closing_legs as materialized (
    select t.src_account, t.dst_account, t.tx_id, t.timestamp, t.amount, t.currency, t.amount_rep, t.channel
    from transactions t
    semi join payers p on p.payer = t.dst_account
    where list_contains($return_channels::varchar[], t.channel)
      and t.src_account <> cash_account()
),

closing_pairs as (
    select distinct src_account as sender, dst_account as payer from closing_legs
),

-- workers' transfers to an account that pays a wage payer (or to a payer itself)
worker_legs as materialized (
    select t.src_account, t.dst_account, t.tx_id, t.timestamp, t.amount, t.currency, t.amount_rep, t.channel
    from transactions t
    semi join (select distinct worker from wages) w on w.worker = t.src_account
    semi join (
        select sender as account from closing_pairs union select payer from payers
    ) c on c.account = t.dst_account
    where list_contains($return_channels::varchar[], t.channel)
),

-- the worker's legs of each wage: to the payer itself (two hops) or to an associate
-- that has paid the payer (three hops), within window_days after the wage
first_legs as (
    select
        w.tx_id as wage_tx,
        case when o.dst_account = w.payer then null else o.dst_account end as associate,
        o.tx_id,
        o.timestamp,
        o.amount_rep
    from wages w
    join worker_legs o
        on o.src_account = w.worker
        and o.timestamp > w.timestamp
        and o.timestamp <= w.timestamp + to_days($window_days)
    left join closing_pairs c on c.sender = o.dst_account and c.payer = w.payer
    where o.dst_account = w.payer or c.sender is not null
),

first_sums as (
    select
        wage_tx,
        associate,
        sum(amount_rep) as sent,
        min(timestamp) as first_sent,
        max(timestamp) as last_sent
    from first_legs
    group by wage_tx, associate
),

-- three hops: the associate pays the payer after the worker's first leg, within the
-- wage's window (one transfer may forward several workers' money)
associate_legs as (
    select s.wage_tx, s.associate, c.tx_id, c.timestamp, c.amount_rep
    from first_sums s
    join wages w on w.tx_id = s.wage_tx
    join closing_legs c
        on c.src_account = s.associate
        and c.dst_account = w.payer
        and c.timestamp > s.first_sent
        and c.timestamp <= w.timestamp + to_days($window_days)
    where s.associate is not null
),

associate_sums as (
    select wage_tx, associate, sum(amount_rep) as forwarded, max(timestamp) as last_forwarded
    from associate_legs
    group by wage_tx, associate
),

loops as materialized (
    select
        w.tx_id as wage_tx,
        w.payer,
        w.worker,
        s.associate,
        w.timestamp as loop_start,
        coalesce(a.last_forwarded, s.last_sent) as loop_end,
        w.amount_rep as wage_rep,
        least(s.sent, coalesce(a.forwarded, s.sent)) as returned
    from first_sums s
    join wages w on w.tx_id = s.wage_tx
    left join associate_sums a on a.wage_tx = s.wage_tx and a.associate = s.associate
    where (s.associate is null or a.wage_tx is not null)
      -- the worker hands back most of the wage, and not more than it
      and s.sent >= $min_return_ratio * w.amount_rep
      and s.sent <= $max_return_ratio * w.amount_rep
      -- and that much reaches the payer
      and coalesce(a.forwarded, s.sent) >= $min_return_ratio * w.amount_rep
),

-- every transaction of each loop, with why it is evidence
loop_txs as (
    select l.wage_tx, w.tx_id, w.timestamp, w.amount, w.currency, w.amount_rep,
           'wage of ' || format('{:,.2f}', w.amount::double) || ' ' || w.currency
               || ' from ' || w.payer || ' to ' || w.worker as why
    from loops l
    join wages w on w.tx_id = l.wage_tx
    union all
    select l.wage_tx, o.tx_id, o.timestamp, o.amount, o.currency, o.amount_rep,
           'worker ' || o.src_account || ' paid ' || format('{:,.2f}', o.amount::double) || ' '
               || o.currency || ' to '
               || case when o.dst_account = l.payer then 'the wage payer ' else 'associate ' end
               || o.dst_account || ' by ' || replace(o.channel, '_', ' ')
    from loops l
    join first_legs f on f.wage_tx = l.wage_tx and f.associate is not distinct from l.associate
    join worker_legs o on o.tx_id = f.tx_id
    union all
    select l.wage_tx, c.tx_id, c.timestamp, c.amount, c.currency, c.amount_rep,
           'associate ' || c.src_account || ' paid ' || format('{:,.2f}', c.amount::double) || ' '
               || c.currency || ' to the wage payer ' || c.dst_account || ' by '
               || replace(c.channel, '_', ' ')
    from loops l
    join associate_legs a on a.wage_tx = l.wage_tx and a.associate = l.associate
    join closing_legs c on c.tx_id = a.tx_id
),

-- each loop makes the payer and the associate controllers and the worker a victim
subject_loops as (
    select payer as subject_id, 'controller' as role, * from loops
    union all
    select associate, 'controller', * from loops where associate is not null
    union all
    select worker, 'victim', * from loops
),

qualifying as (
    select subject_id, loop_start as window_start, loop_end as window_limit
    from subject_loops
),

-- overlapping loops of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_loops as (
    select e.subject_id, e.episode, s.* exclude (subject_id)
    from episode_bounds e
    join subject_loops s
        on s.subject_id = e.subject_id
        and s.loop_start >= e.episode_start
        and s.loop_start <= e.episode_limit
),

episode_figures as (
    select
        subject_id,
        episode,
        -- an account that controls any loop of the episode is a controller
        case when bool_or(role = 'controller') then 'controller' else 'victim' end as likely_role,
        bool_or(payer = subject_id) as is_payer,
        count(*) as loops,
        count(distinct worker) as workers,
        string_agg(distinct payer, ', ' order by payer) as payer_list,
        string_agg(distinct associate, ', ' order by associate) as associate_list,
        count(*) filter (where associate is null) as direct_loops,
        sum(wage_rep) as wages,
        sum(returned) as returned,
        max(date_diff('second', loop_start, loop_end)) / 86400.0 as longest_days
    from episode_loops
    group by subject_id, episode
),

episode_evidence as (
    select subject_id, episode, tx_id, any_value(timestamp) as timestamp,
           any_value(amount) as amount, any_value(currency) as currency,
           any_value(amount_rep) as amount_rep, min(why) as why
    from episode_loops l
    join loop_txs t using (wage_tx)
    group by subject_id, episode, tx_id
),

episode_totals as (
    select * from episode_hits(episode_evidence)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        f.loops || ' wage kick-back loop' || case when f.loops = 1 then '' else 's' end
            || ' (' || f.workers || case when f.workers = 1 then ' worker' else ' workers' end
            || '): wages of ' || format('{:,.2f}', f.wages::double) || ' paid by '
            || f.payer_list || ', ' || format('{:,.2f}', f.returned::double) || ' ('
            || format('{:.0f}', 100 * f.returned / f.wages) || '%) back to the payer within '
            || format('{:.1f}', f.longest_days) || ' days'
            || case
                when f.associate_list is null then ' directly'
                when f.direct_loops > 0 then ' directly and through ' || f.associate_list
                else ' through ' || f.associate_list end
            || ' (reporting currency); this account is the '
            || case
                when f.likely_role = 'victim' then 'worker'
                when f.is_payer then 'wage payer'
                else 'associate' end as reason,
        f.likely_role
    from episode_totals t
    join episode_figures f using (subject_id, episode)
)

select * from final
