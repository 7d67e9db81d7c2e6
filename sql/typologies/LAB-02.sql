-- LAB-02: wage in, then out straight away. A worker's wage credit is forwarded: at least
-- min_forward_share of it goes to one third party (not the wage payer) within
-- window_hours of the credit. A third party receiving forwarded wages of at least
-- min_workers different workers within period_days is the subject (likely controller);
-- each of those workers gets a victim-side hit. An episode of no more workers than a
-- household has (household_max_workers) is kept only when the payee's own living costs
-- (living-expense MCCs, rent wording, domestic bills to much-paid billers) stay below
-- household_living_share of the forwarded wages and at least min_bare_workers of the
-- workers keep no living spend of their own: a family account paying the household's rent and
-- groceries with its earners' pooled pay is not a controller.
--
-- Outflows on the days a wage window touches are first summed per worker, payee and day
-- (no other outflow is compared with a wage); a wage credit is a candidate for a
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

-- each wage credit copied onto the days its window touches (not materialized: a copy of
-- every wage credit per day costs more than the cross join it saves)
wage_days as not materialized (
    select c.*, hash(c.worker) as worker_hash, hash(c.wage_payer) as payer_hash,
           c.day + k.day_offset::integer as out_day
    from worker_wage_credits c
    cross join generate_series(0, ceil($window_hours / 24)::integer) as k(day_offset)
),

-- the workers and days on which a wage can be forwarded
forwarding_days as (
    select distinct worker_hash, out_day from wage_days
),

-- the workers' transfers to other accounts (cash withdrawals have no payee; card spend
-- is consumption) on the days a wage window touches: only they are compared with a
-- wage below. The channel test is written as a position in the list so that the scan
-- applies it before it reads the other columns. Worker and payee also come as the
-- 64-bit hashes of their ids, which the per-day sums and the joins group and match as
-- integers (two accounts sharing a hash is vanishingly unlikely).
worker_outflows as materialized (
    select
        t.src_account as worker,
        t.dst_account as payee,
        hash(t.src_account) as worker_hash,
        hash(t.dst_account) as payee_hash,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel
    from transactions t
    semi join forwarding_days f on f.worker_hash = hash(t.src_account) and f.out_day = t.day
    where list_position($out_channels::varchar[], t.channel) > 0
      and t.dst_account <> cash_account()
),

payee_days as (
    select worker_hash, payee_hash, day, sum(amount_rep) as amount_rep
    from worker_outflows
    group by worker_hash, payee_hash, day
),

candidates as (
    select w.tx_id as wage_tx, p.payee_hash
    from wage_days w
    join payee_days p on p.worker_hash = w.worker_hash and p.day = w.out_day
    -- money going back to the wage payer is not a third party (LAB-07 looks at that)
    where p.payee_hash <> w.payer_hash
    group by w.tx_id, p.payee_hash
    having sum(p.amount_rep) >= $min_forward_share * any_value(w.amount_rep)
),

forward_legs as materialized (
    select
        o.payee,
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
        on o.worker_hash = w.worker_hash
        and o.payee_hash = c.payee_hash
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
merged_bounds as materialized (
    select * from merged_windows(qualifying)
),

-- the forwarded money of each episode (a transfer following two wage credits once) and
-- its workers
merged_inflow as (
    select subject_id, episode, any_value(episode_start) as episode_start,
           any_value(episode_limit) as episode_limit,
           count(distinct worker) as workers, sum(amount_rep) as forwarded_rep
    from (
        select distinct e.subject_id, e.episode, e.episode_start, e.episode_limit,
                        l.worker, l.tx_id, l.amount_rep
        from merged_bounds e
        join forwarded f
            on f.payee = e.subject_id
            and f.wage_time >= e.episode_start
            and f.wage_time <= e.episode_limit
        join forward_legs l on l.payee = f.payee and l.wage_tx = f.wage_tx
    )
    group by subject_id, episode
),

living_mccs as (
    select distinct mcc from ref_mcc_groups
    where list_contains($living_groups::varchar[], mcc_group)
),

-- each worker's first forwarded wage of the episode, and the worker's own living-expense
-- payments in the period_days after it (victims' accounts keep no living spend)
episode_workers as (
    select e.subject_id, e.episode, f.worker, min(f.wage_time) as first_wage
    from merged_bounds e
    join forwarded f
        on f.payee = e.subject_id
        and f.wage_time >= e.episode_start
        and f.wage_time <= e.episode_limit
    group by all
),

-- the own payments of the receiving accounts and of their workers, read once for the
-- living costs of both below
episode_accounts as (
    select subject_id as account_id from merged_inflow
    union
    select worker from episode_workers
),

account_payments as materialized (
    select t.src_account, t.tx_id, t.timestamp, t.amount_rep, t.mcc, t.description,
           t.dst_account, t.channel, t.src_country, t.dst_country
    from transactions t
    semi join episode_accounts a on a.account_id = t.src_account
),

-- the receiving accounts' own payments from the first forwarded wage to the end of the
-- episode's last period
payee_debits as materialized (
    select e.subject_id, e.episode, t.amount_rep, t.mcc, t.description, t.dst_account,
           t.channel, t.src_country, t.dst_country
    from merged_inflow e
    join account_payments t
        on t.src_account = e.subject_id
        and t.timestamp >= e.episode_start
        and t.timestamp <= e.episode_limit
    where t.dst_account <> cash_account()
),

debit_texts as (
    select distinct description as text from payee_debits where description is not null
    union
    select distinct dst_account from payee_debits
),

text_categories as (
    select text, bool_or(category = 'rent_payment') and not bool_or(category = 'rent_non_housing')
                 as is_rent
    from pattern_matches(debit_texts, ['rent_payment', 'rent_non_housing'])
    group by text
),

-- billers: payees that bill_channels payments of at least biller_min_payers accounts
-- reach (utilities, telecoms, insurers collect from many customers)
billers as (
    select f.account_id
    from account_features f
    semi join (select distinct dst_account from payee_debits) d on d.dst_account = f.account_id
    where f.in_counterparties >= $biller_min_payers
),

-- household living costs paid by the receiving account: card payments at living-expense
-- MCCs (groceries, fuel, utilities, pharmacy ...), rent paid by transfer, and domestic
-- bill payments to billers
payee_living as (
    select d.subject_id, d.episode, sum(d.amount_rep) as living_rep
    from payee_debits d
    left join text_categories td on td.text = d.description
    left join text_categories tp on tp.text = d.dst_account
    where d.mcc in (select mcc from living_mccs)
       or coalesce(td.is_rent, false)
       or coalesce(tp.is_rent, false)
       or (list_contains($bill_channels::varchar[], d.channel)
           and coalesce(d.src_country = d.dst_country, true)
           and d.dst_account in (select account_id from billers))
    group by all
),

worker_living as (
    select w.subject_id, w.episode, w.worker, count(t.tx_id) as living_txns
    from episode_workers w
    left join account_payments t
        on t.src_account = w.worker
        and t.timestamp >= w.first_wage
        and t.timestamp < w.first_wage + to_days($period_days)
        and t.mcc in (select mcc from living_mccs)
    group by all
),

bare_workers as (
    select subject_id, episode,
           count(*) filter (where living_txns <= $max_worker_living_txns) as bare
    from worker_living
    group by all
),

-- an episode of no more workers than a household has is reported only when the
-- receiving account does not live on the money (its living costs stay below
-- household_living_share of it) and at least min_bare_workers of the workers keep no
-- living spend of their own; a household's family account pays the household's bills
-- and its earners keep their own everyday spend
episode_bounds as materialized (
    select e.subject_id, e.episode, e.episode_start, e.episode_limit,
           e.workers, e.forwarded_rep, coalesce(l.living_rep, 0) as living_rep, w.bare
    from merged_inflow e
    left join payee_living l using (subject_id, episode)
    join bare_workers w using (subject_id, episode)
    where e.workers > $household_max_workers
       or (coalesce(l.living_rep, 0) < $household_living_share * e.forwarded_rep
           and w.bare >= $min_bare_workers)
),

episode_legs as materialized (
    select e.subject_id, e.episode, l.*
    from (select subject_id, episode, episode_start, episode_limit from episode_bounds) e
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
            || '), each within ' || $window_hours || ' hours of the wage; its own living costs '
            || format('{:.0f}', floor(100 * b.living_rep / b.forwarded_rep)::double)
            || '% of that money; ' || b.bare || ' of the workers with no living spend of their own'
            as reason,
        'controller' as likely_role
    from controller_totals t
    join episode_wages w using (subject_id, episode)
    join (select subject_id, episode, living_rep, forwarded_rep, bare from episode_bounds) b
        using (subject_id, episode)
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
