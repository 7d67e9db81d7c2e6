-- CTRL-03: account kept depleted, no normal living spend (victim side).
--
-- Per account and calendar month: the account received at least min_inflow in at least
-- min_credits credits of at least min_credit_amount, sent at least min_out_share of it
-- out again, its median end-of-day balance stayed below max_balance_share of the month's inflow, it made
-- fewer than max_living_txns + 1 living-expense payments, and its transfers out went to
-- at most max_payees payees (a payroll run or a business paying suppliers is not a
-- victim handing over money).
--
-- Exports carry no balance. The end-of-day balance is the running sum of the account's
-- credits minus debits (every channel) since its first transaction in the scan, lifted
-- by the smallest opening balance that keeps it from ever going negative: the least
-- balance consistent with the exported flows. Debits worded as the customer's own saving
-- (own_transfer_wording) are not sent out. An export without any MCC or description
-- cannot show living spend, and the rule judges nothing on it. Month totals screen the
-- accounts first, grouped on the hash of the account id and without the wording test (the
-- credits first, the debits only of the months whose credits pass); the exact month
-- totals, balances and the calendar-day grid are built from the legs of the accounts
-- that pass.
with living_mccs as (
    select distinct mcc from ref_mcc_groups
    where list_contains($living_groups::varchar[], mcc_group)
),

scan_end as (
    select max(day) as last_day from transactions
),

-- living spend is seen through MCCs and descriptions; an export that carries neither
-- (no card data, no payment texts) cannot show its absence, and nothing is judged. The
-- first such row answers: the scan stops there instead of reading both columns whole
living_evidence as (
    select exists (
        select 1 from transactions where mcc is not null or description is not null
    ) as visible
),

-- month totals of the credits, per 64-bit hash of the account id so that the grouping
-- of every leg of the scan is on integers; only months with enough money coming in, in
-- enough credits, can qualify (a necessary condition, checked before the debits are read)
hash_in_months as (
    select
        hash(dst_account) as subject_hash,
        date_trunc('month', day)::date as month,
        sum(amount_rep) as in_rep,
        count(*) filter (where list_contains($credit_channels::varchar[], channel)
                         -- a friend's small repayment is no earnings handed over
                         and amount_rep >= $min_credit_amount) as credits
    from transactions
    where dst_account <> cash_account()
    group by all
    having sum(amount_rep) >= $min_inflow
       and credits >= $min_credits
),

-- all debits of those months, and the debits at living-expense MCCs (a lower bound of
-- the living spend, which also counts rent paid by transfer)
hash_out_months as (
    select
        hash(src_account) as subject_hash,
        date_trunc('month', day)::date as month,
        sum(amount_rep) as out_all,
        count(*) filter (where mcc in (select mcc from living_mccs)) as mcc_living
    from transactions
    semi join hash_in_months m
        on m.subject_hash = hash(src_account)
        and m.month = date_trunc('month', day)::date
    where src_account <> cash_account()
    group by all
),

-- hashes that two accounts share (their totals add up both)
shared_hashes as (
    select hash(account_id) as subject_hash
    from account_keys
    group by all
    having count(*) > 1
),

-- necessary conditions on month totals: money came in, in several credits, nearly all
-- of it went out again (the debits counted here include the customer's own savings,
-- so they are at least the money sent out), and few card payments at living-expense
-- MCCs. A hash's totals are its account's; a hash shared by two accounts adds up both
-- (at least either one's credits and inflow) and is not held to the two other tests.
-- Each passing account is tested on its own legs below, so nothing is missed
screened_hashes as (
    select distinct i.subject_hash
    from hash_in_months i
    left join hash_out_months o using (subject_hash, month)
    cross join living_evidence e
    where e.visible
      and (i.subject_hash in (select subject_hash from shared_hashes)
           or (coalesce(o.out_all, 0) >= $min_out_share * i.in_rep
               and coalesce(o.mcc_living, 0) <= $max_living_txns))
),

screened_accounts as (
    select k.account_id as subject_id
    from account_keys k
    semi join screened_hashes h on h.subject_hash = hash(k.account_id)
    left join accounts a on a.account_id = k.account_id
    where a.customer_type is null or list_contains($customer_types::varchar[], a.customer_type)
),

candidate_legs as materialized (
    select
        l.account_id as subject_id, l.direction, l.counterparty,
        l.tx_id, l.timestamp, l.day, date_trunc('month', l.day)::date as month,
        l.amount, l.currency, l.amount_rep, l.channel, l.mcc, l.description
    from account_legs l
    semi join screened_accounts s on s.subject_id = l.account_id
),

-- the month totals of the accounts that passed, from their own legs
leg_months as (
    select
        subject_id,
        month,
        coalesce(sum(amount_rep) filter (where direction = 'in'), 0) as in_rep,
        -- a debit worded as the customer's own saving (an automatic sweep, a transfer to
        -- its savings or joint account) keeps the money in the customer's hands
        coalesce(sum(amount_rep) filter (
            where direction = 'out'
              and not coalesce(regexp_matches(description, $own_transfer_wording, 'i'), false)
        ), 0) as out_rep,
        count(*) filter (where direction = 'in'
                         and list_contains($credit_channels::varchar[], channel)
                         and amount_rep >= $min_credit_amount) as credits,
        count(*) filter (where direction = 'out'
                         and mcc in (select mcc from living_mccs)) as mcc_living
    from candidate_legs
    group by all
),

-- the same conditions on the account's own totals
screened as materialized (
    select m.*
    from leg_months m
    left join accounts a on a.account_id = m.subject_id
    where m.in_rep >= $min_inflow
      and m.credits >= $min_credits
      and m.out_rep >= $min_out_share * m.in_rep
      and m.mcc_living <= $max_living_txns
      and (a.customer_type is null or list_contains($customer_types::varchar[], a.customer_type))
),

candidate_texts as (
    select distinct description as text
    from candidate_legs
    where direction = 'out' and description is not null
),

living_texts as (
    select distinct text
    from pattern_matches(candidate_texts, $living_categories::varchar[])
),

month_checks as (
    select
        l.subject_id,
        l.month,
        count(*) filter (where l.direction = 'out'
                         and (lm.mcc is not null or lt.text is not null)) as living_txns,
        count(distinct l.counterparty) filter (where l.direction = 'out'
                                               and l.channel <> 'card'
                                               and l.counterparty <> cash_account()) as payees,
        count(distinct l.counterparty) filter (where l.direction = 'in'
                                               and l.counterparty <> cash_account()) as senders,
        count(*) filter (where l.direction = 'in' and l.channel = 'cash_deposit') as cash_credits,
        count(*) filter (where l.direction = 'out' and l.channel = 'cash_withdrawal') as cash_debits
    from candidate_legs l
    semi join screened s using (subject_id, month)
    left join living_mccs lm on lm.mcc = l.mcc
    left join living_texts lt on lt.text = l.description
    group by l.subject_id, l.month
),

-- end-of-day balance from the running net flow; the floor is the lowest running value
-- (at most 0), so the balance is the least one the flows allow
day_net as (
    select
        subject_id,
        day,
        sum(case when direction = 'in' then amount_rep else -amount_rep end) as net
    from candidate_legs
    group by subject_id, day
),

running as (
    select subject_id, day, sum(net) over (partition by subject_id order by day) as cum
    from day_net
),

day_balances as materialized (
    select
        r.subject_id,
        r.day,
        r.cum - least(0, min(r.cum) over (partition by r.subject_id)) as balance,
        -- the balance holds until the next day with a transaction, or the scan's end
        coalesce(lead(r.day) over (partition by r.subject_id order by r.day),
                 e.last_day + 1) as next_day
    from running r
    cross join scan_end e
),

-- the calendar days of each screened month that each balance holds for, from the
-- account's first transaction to the end of the month or of the scan
month_spans as (
    select
        s.subject_id,
        s.month,
        b.balance,
        least(b.next_day, (s.month + interval 1 month)::date, e.last_day + 1)
            - greatest(b.day, s.month) as days
    from screened s
    join day_balances b on b.subject_id = s.subject_id
    cross join scan_end e
    where b.day < (s.month + interval 1 month)::date
      and b.next_day > s.month
),

-- the (lower) median end-of-day balance over the month's days: the smallest balance
-- that at least half of the days are at or below
month_balances as (
    select subject_id, month, min(balance) filter (where cum_days * 2 >= total_days) as median_balance
    from (
        select
            *,
            sum(days) over (partition by subject_id, month order by balance
                            rows between unbounded preceding and current row) as cum_days,
            sum(days) over (partition by subject_id, month) as total_days
        from month_spans
        where days > 0
    )
    group by subject_id, month
),

depleted_months as materialized (
    select s.subject_id, s.month, s.in_rep, s.out_rep, s.credits, b.median_balance,
           c.living_txns, c.payees, c.senders, c.cash_credits, c.cash_debits
    from screened s
    join month_balances b using (subject_id, month)
    join month_checks c using (subject_id, month)
    where b.median_balance < $max_balance_share * s.in_rep
      and c.living_txns <= $max_living_txns
      and c.payees <= $max_payees
),

-- consecutive depleted months make one episode (the limit reaches the next month's
-- first day, so adjacent months overlap)
qualifying as (
    select subject_id, month as window_start, (month + interval 1 month)::date as window_limit
    from depleted_months
),

episode_bounds as (
    select * from merged_windows(qualifying)
),

episode_months as (
    select e.subject_id, e.episode, m.* exclude (subject_id)
    from episode_bounds e
    join depleted_months m
        on m.subject_id = e.subject_id
        and m.month >= e.episode_start
        and m.month < e.episode_limit
),

episode_summary as (
    select
        subject_id,
        episode,
        count(*) as months,
        min(month) as first_month,
        max(month) as last_month,
        sum(in_rep) as in_rep,
        sum(out_rep) as out_rep,
        sum(credits) as credits,
        sum(living_txns) as living_txns,
        max(payees) as payees,
        max(median_balance / in_rep) as balance_share,
        sum(cash_credits) as cash_credits,
        sum(cash_debits) as cash_debits
    from episode_months
    group by subject_id, episode
),

episode_legs as (
    select m.subject_id, m.episode, l.* exclude (subject_id, month)
    from episode_months m
    join candidate_legs l on l.subject_id = m.subject_id and l.month = m.month
),

evidence_rows as (
    select
        *,
        case direction
            when 'in' then 'credit of ' || format('{:,.2f}', amount::double) || ' '
                           || currency || ' from ' || counterparty
            else 'debit of ' || format('{:,.2f}', amount::double) || ' '
                 || currency || ' to ' || counterparty
        end || ' by ' || replace(channel, '_', ' ') as why
    from episode_legs
),

episode_totals as (
    select * from episode_hits(evidence_rows)
),

final as (
    select
        t.subject_id,
        t.window_start,
        t.window_end,
        t.tx_count,
        t.amount_total,
        t.evidence,
        'kept depleted in ' || case when s.months = 1 then strftime(s.first_month, '%Y-%m')
                                    else s.months || ' months (' || strftime(s.first_month, '%Y-%m')
                                         || ' to ' || strftime(s.last_month, '%Y-%m') || ')' end
            || ': ' || s.credits || ' credits of ' || format('{:,.2f}', s.in_rep::double)
            || ' (reporting currency)' || case when s.cash_credits > 0
                                               then ', ' || s.cash_credits || ' in cash' else '' end
            || ', ' || format('{:.0f}', floor(100 * s.out_rep / s.in_rep)::double)
            || '% sent out again to ' || s.payees || ' payee'
            || case when s.payees = 1 then '' else 's' end
            || case when s.cash_debits > 0
                    then ' and ' || s.cash_debits || ' cash withdrawal'
                         || case when s.cash_debits = 1 then '' else 's' end
                    else '' end
            || '; median end-of-day balance at most '
            || format('{:.1f}', 100 * s.balance_share::double) || '% of the month''s inflow; '
            || s.living_txns || ' living-expense payment'
            || case when s.living_txns = 1 then '' else 's' end as reason,
        'victim' as likely_role
    from episode_totals t
    join episode_summary s using (subject_id, episode)
)

select * from final
