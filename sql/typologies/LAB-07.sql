-- LAB-07: workers pay "rent" or "fees" back to their employer or an associate. Within
-- days_after_wage days of receiving a wage, a worker pays the payee a share of that wage
-- (between min_share and max_share), where the payee is the worker's wage payer or an
-- associate of it: an account that exchanged money with the wage payer other than by
-- wage credits (the employer paying an associate, or funding the payroll processor that
-- pays the worker). At least min_payers workers paying the same payee within window_days
-- of the first payment, each a share within share_tolerance of the first payment's share,
-- make the payee a subject (wage retention).
--
-- A landlord whose tenants happen to work for one employer is not linked to that
-- employer, and fixed rents are not a fixed share of different wages: both tests keep
-- landlords out. Only payments to the few accounts linked to a wage payer are read, and
-- each is paired with the payer's latest wage through an as-of join on the worker.
-- wage credits come from the shared wage_credits table (sql/features/wage_credits.sql):
-- ACH, wire, cheque or book-transfer credits with payroll wording or a payroll
-- processor's name; credits into an account that itself pays wages to several
-- accounts (an employer or processor receiving "PAYROLL FUNDING") are left out.
with worker_wage_credits as materialized (
    select * exclude (worker_pays_wages)
    from wage_credits
    where not worker_pays_wages
),

wage_payers as (
    select distinct wage_payer as account from worker_wage_credits
),

-- money between a wage payer and another account, other than the wages it pays: the
-- payer's associates (the payer itself counts as its own associate)
associations as materialized (
    select distinct wage_payer, associate
    from (
        select t.src_account as wage_payer, t.dst_account as associate
        from transactions t
        semi join wage_payers p on p.account = t.src_account
        where list_contains($link_channels::varchar[], t.channel)
          and t.dst_account <> cash_account()
          and t.tx_id not in (select tx_id from worker_wage_credits)
        union all
        select t.dst_account, t.src_account
        from transactions t
        semi join wage_payers p on p.account = t.dst_account
        where list_contains($link_channels::varchar[], t.channel)
          and t.src_account <> cash_account()
          and t.tx_id not in (select tx_id from worker_wage_credits)
        union all
        select account, account from wage_payers
    )
),

linked_payees as (
    select distinct associate as account from associations
),

wage_workers as (
    select distinct worker from worker_wage_credits
),

-- workers' payments to accounts linked to some wage payer, with the columns the pairing
-- reads (the rest is read for the few payments retained)
payments as materialized (
    select
        t.src_account as payer,
        t.dst_account as payee,
        t.tx_id,
        t.timestamp,
        t.amount_rep
    from transactions t
    semi join wage_workers w on w.worker = t.src_account
    semi join linked_payees l on l.account = t.dst_account
    where list_contains($pay_channels::varchar[], t.channel)
),

-- the time of the payer's latest wage credit at or before the payment
latest_wage as (
    select p.*, c.timestamp as wage_time
    from payments p
    asof join worker_wage_credits c
        on c.worker = p.payer
        and c.timestamp <= p.timestamp
),

-- that wage credit (of credits at the same time, the last by tx_id), when it came within
-- days_after_wage days of the payment
paired as (
    select
        p.payer,
        p.payee,
        p.tx_id,
        p.timestamp,
        p.amount_rep,
        c.tx_id as wage_tx,
        c.wage_payer,
        c.timestamp as wage_time,
        c.amount as wage_amount,
        c.currency as wage_currency,
        p.amount_rep / c.amount_rep as share
    from latest_wage p
    join worker_wage_credits c on c.worker = p.payer and c.timestamp = p.wage_time
    where p.wage_time >= p.timestamp - to_days($days_after_wage)
    qualify row_number() over (partition by p.tx_id order by c.tx_id desc) = 1
),

-- payments of a share of the wage to the wage payer or one of its associates (a wage
-- credit is no such payment); each payment is paired on its own, so the few retained
-- ones are the only ones whose other columns are read
retained as materialized (
    select
        p.payer,
        p.payee,
        p.tx_id,
        p.timestamp,
        t.amount,
        t.currency,
        p.amount_rep,
        t.channel,
        t.description,
        p.* exclude (payer, payee, tx_id, timestamp, amount_rep)
    from paired p
    semi join associations a on a.wage_payer = p.wage_payer and a.associate = p.payee
    join transactions t on t.tx_id = p.tx_id
    where p.share >= $min_share
      and p.share <= $max_share
      and p.tx_id not in (select tx_id from worker_wage_credits)
),

-- a window opens at each such payment: the payee's payments of the next window_days whose
-- share is within share_tolerance of the opening one's (retained payments of one payee
-- are few, so they are paired directly)
members as (
    select a.payee, a.tx_id as anchor, a.timestamp as anchor_time, b.tx_id, b.payer
    from retained a
    join retained b
        on b.payee = a.payee
        and b.timestamp >= a.timestamp
        and b.timestamp <= a.timestamp + to_days($window_days)
        and abs(b.share - a.share) <= $share_tolerance
),

qualifying_anchors as (
    select payee, anchor, any_value(anchor_time) as anchor_time
    from members
    group by payee, anchor
    having count(distinct payer) >= $min_payers
),

qualifying as (
    select payee as subject_id, anchor_time as window_start,
           anchor_time + to_days($window_days) as window_limit
    from qualifying_anchors
),

-- overlapping qualifying windows of one payee form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

-- evidence: the payments that made a qualifying window
evidence_rows as (
    select distinct
        e.subject_id,
        e.episode,
        r.*,
        replace(r.channel, '_', ' ') || ' of ' || format('{:,.2f}', r.amount::double)
            || ' ' || r.currency || ' from ' || r.payer
            || coalesce(' ("' || r.description || '")', '') || ', '
            || format('{:.0f}', round(100 * r.share)::double) || '% of the wage of '
            || format('{:,.2f}', r.wage_amount::double) || ' ' || r.wage_currency
            || ' from ' || r.wage_payer || ' credited '
            || format('{:.1f}', date_diff('minute', r.wage_time, r.timestamp) / 1440.0)
            || ' days before' as why
    from episode_bounds e
    join qualifying_anchors q
        on q.payee = e.subject_id
        and q.anchor_time >= e.episode_start
        and q.anchor_time <= e.episode_limit
    join members m on m.payee = q.payee and m.anchor = q.anchor
    join retained r on r.tx_id = m.tx_id
),

episode_facts as (
    select
        subject_id,
        episode,
        count(distinct payer) as payers,
        min(share) as min_share,
        max(share) as max_share,
        bool_and(payee = wage_payer) as all_employer,
        string_agg(distinct wage_payer, ', ' order by wage_payer) as wage_payers
    from evidence_rows
    group by subject_id, episode
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        payers || ' workers paid '
            || case when round(100 * min_share) = round(100 * max_share)
                    then format('{:.0f}', round(100 * min_share)::double)
                    else format('{:.0f}', round(100 * min_share)::double) || '-'
                         || format('{:.0f}', round(100 * max_share)::double) end
            || '% of their wages ('
            || money_text(amount_own, amount_total, one_currency, currency)
            || ' in ' || tx_count || ' payment' || case when tx_count = 1 then '' else 's' end
            || ') within ' || $days_after_wage || ' days of payday to '
            || case when all_employer then 'their wage payer'
                    else 'an associate of their wage payer ' || wage_payers end
            as reason,
        'controller' as likely_role
    -- amounts are quoted in their own currency when the episode has only one
    from episode_hits(evidence_rows) h
    join episode_facts f using (subject_id, episode)
)

select * from final
