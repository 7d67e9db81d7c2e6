-- LAB-02: wage in, then out straight away. A worker's wage credit is forwarded: at least
-- min_forward_share of it goes to one third party (not the wage payer) within
-- window_hours of the credit. A third party receiving forwarded wages of at least
-- min_workers different workers within period_days is the subject (likely controller);
-- each of those workers gets a victim-side hit.
--
-- Outflows are first summed per worker, payee and day; a wage credit is a candidate for a
-- payee only when that payee's outflows on the days the window touches reach the share
-- (a necessary condition), and only candidates are checked at transaction level through
-- an equi-join on (worker, payee, day) plus the exact time filter.
-- wage credits come from the shared wage_credits table (sql/features/wage_credits.sql):
-- ACH, wire, cheque or book-transfer credits with payroll wording or a payroll
-- processor's name; credits into an account that itself pays wages to several
-- accounts (an employer or processor receiving "PAYROLL FUNDING") are left out.
with worker_wage_credits as materialized (
    select * exclude (worker_pays_wages)
    from wage_credits
    where not worker_pays_wages
),

wage_workers as (
    select distinct worker from worker_wage_credits
),

-- the workers' transfers to other accounts (cash withdrawals have no payee; card spend
-- is consumption)
worker_outflows as materialized (
    select
        t.src_account as worker,
        t.dst_account as payee,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel
    from transactions t
    semi join wage_workers w on w.worker = t.src_account
    where list_contains($out_channels::varchar[], t.channel)
      and t.dst_account <> cash_account()
),

payee_days as (
    select worker, payee, day, sum(amount_rep) as amount_rep
    from worker_outflows
    group by worker, payee, day
),

-- each wage credit copied onto the days its window touches
wage_days as (
    select c.*, c.day + k.day_offset::integer as out_day
    from worker_wage_credits c
    cross join generate_series(0, ceil($window_hours / 24)::integer) as k(day_offset)
),

candidates as (
    select w.tx_id as wage_tx, p.payee
    from wage_days w
    join payee_days p on p.worker = w.worker and p.day = w.out_day
    -- money going back to the wage payer is not a third party (LAB-07 looks at that)
    where p.payee <> w.wage_payer
    group by w.tx_id, p.payee
    having sum(p.amount_rep) >= $min_forward_share * any_value(w.amount_rep)
),

forward_legs as materialized (
    select
        c.payee,
        w.tx_id as wage_tx,
        w.worker,
        w.wage_payer,
        w.timestamp as wage_time,
        w.amount as wage_amount,
        w.currency as wage_currency,
        w.amount_rep as wage_rep,
        o.tx_id,
        o.timestamp,
        o.amount,
        o.currency,
        o.amount_rep,
        o.channel
    from candidates c
    join wage_days w on w.tx_id = c.wage_tx
    join worker_outflows o
        on o.worker = w.worker
        and o.payee = c.payee
        and o.day = w.out_day
    where o.timestamp >= w.timestamp
      and o.timestamp <= w.timestamp + to_hours($window_hours)
),

-- wage credits of which at least min_forward_share went to the payee within the window
forwarded as materialized (
    select payee, wage_tx, any_value(worker) as worker, any_value(wage_time) as wage_time
    from forward_legs
    group by payee, wage_tx
    having sum(amount_rep) >= $min_forward_share * any_value(wage_rep)
),

-- a window of period_days opens at each forwarded wage; the forwarded wages of one payee
-- are few, so they are paired directly
qualifying as (
    select
        a.payee as subject_id,
        a.wage_time as window_start,
        a.wage_time + to_days($period_days) as window_limit
    from forwarded a
    join forwarded b
        on b.payee = a.payee
        and b.wage_time >= a.wage_time
        and b.wage_time <= a.wage_time + to_days($period_days)
    group by a.payee, a.wage_tx, a.wage_time
    having count(distinct b.worker) >= $min_workers
),

-- overlapping qualifying windows of one payee form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_legs as materialized (
    select e.subject_id, e.episode, l.*
    from episode_bounds e
    join forwarded f
        on f.payee = e.subject_id
        and f.wage_time >= e.episode_start
        and f.wage_time <= e.episode_limit
    join forward_legs l on l.payee = f.payee and l.wage_tx = f.wage_tx
),

-- one row per forwarding transfer (a transfer may follow two wage credits: the latest)
controller_rows as (
    select
        *,
        replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double)
            || ' ' || currency || ' from ' || worker || ', '
            || format('{:.1f}', date_diff('minute', wage_time, timestamp) / 60.0)
            || ' hours after a wage credit of '
            || format('{:,.2f}', wage_amount::double) || ' ' || wage_currency
            || ' from ' || wage_payer as why
    from episode_legs
    qualify row_number() over (
        partition by subject_id, episode, tx_id order by wage_time desc, wage_tx desc) = 1
),

controller_facts as (
    select
        subject_id,
        episode,
        count(distinct worker) as workers,
        count(distinct wage_tx) as wages
    from controller_rows
    group by subject_id, episode
),

controller_totals as (
    select h.*, f.* exclude (subject_id, episode)
    from episode_hits(controller_rows) h
    join controller_facts f using (subject_id, episode)
),

episode_wages as (
    select subject_id, episode, sum(wage_rep) as wage_rep
    from (select distinct subject_id, episode, wage_tx, wage_rep from episode_legs)
    group by subject_id, episode
),

-- the workers whose wages were forwarded: victim-side hits, one per worker and episode
-- of the payee (the episode key carries the payee)
worker_rows as (
    select worker as subject_id, {'payee': subject_id, 'n': episode} as episode,
           wage_tx as tx_id, wage_time as timestamp,
           wage_amount as amount, wage_currency as currency, wage_rep as amount_rep,
           'wage credit of ' || format('{:,.2f}', wage_amount::double) || ' ' || wage_currency
               || ' from ' || wage_payer as why
    from episode_legs
    union
    select worker, {'payee': subject_id, 'n': episode}, tx_id, timestamp, amount, currency,
           amount_rep,
           replace(channel, '_', ' ') || ' of ' || format('{:,.2f}', amount::double) || ' '
               || currency || ' to ' || subject_id || ', '
               || format('{:.1f}', date_diff('minute', wage_time, timestamp) / 60.0)
               || ' hours after the wage credit'
    from controller_rows
),

worker_wages as (
    select subject_id, episode, count(*) filter (where why like 'wage credit%') as wages
    from worker_rows
    group by subject_id, episode
),

worker_totals as (
    select h.*, h.episode.payee as payee, w.wages
    from episode_hits(worker_rows) h
    join worker_wages w using (subject_id, episode)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        'received ' || format('{:.0f}', floor(100 * t.amount_total / w.wage_rep)::double) || '% of '
            || wages || ' wage credit' || case when wages = 1 then '' else 's' end
            || ' of ' || workers || ' workers ('
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' transfer' || case when tx_count = 1 then '' else 's' end
            || '), each within ' || $window_hours || ' hours of the wage' as reason,
        'controller' as likely_role
    from controller_totals t
    join episode_wages w using (subject_id, episode)
    union all
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        'passed ' || wages || ' wage credit' || case when wages = 1 then '' else 's' end
            || ' on to ' || payee || ' within ' || $window_hours
            || ' hours (victim side: the wages of several workers went to the same account)'
            as reason,
        'victim' as likely_role
    from worker_totals
)

select * from final
