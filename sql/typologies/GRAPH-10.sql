-- GRAPH-10: a single large payment out of the account's profile. The account pays at
-- least min_amount in one transfer or cash withdrawal, more than amount_multiple times
-- the median of its own payments over the previous history_days, and above the
-- peer_quantile of the payment amounts of its peer group (customer type and segment of
-- the accounts file; groups with fewer than min_peers paying accounts, and scans without
-- an accounts file, use the whole population).
--
-- Only payments above the peer level (half a percent of them by default) become
-- candidates, so the history join reads the past of few payments: one equi-join on the
-- account plus the time range. Card purchases, purchase settlements (escrow, title
-- agents, car dealers, and the rule's purchase_wording in the description or payee name),
-- payees paid in several calendar months, payments of a size the account pays about once
-- a month in several calendar months (its own habit, whoever the payee), and a
-- business's payments to a payee it has paid before or to a business of the accounts
-- file are left out before it. A business's payment must also exceed
-- business_outflow_months of its own average monthly outflow over the scan.
with peer_groups as (
    -- peer groups of the accounts file with their size; accounts without a row belong
    -- to no group
    select customer_type, segment, count(*) as peers
    from accounts
    where customer_type is not null or segment is not null
    group by customer_type, segment
),

-- the peer groups large enough for a stable 99.5th percentile, numbered, and their
-- accounts: only their payments count towards a group level. Every payment is matched to
-- its payer's group on the 64-bit hash of the account id, so the join compares integers
-- (an account outside the groups sharing a member's hash is vanishingly unlikely)
usable_groups as (
    select customer_type, segment, peers,
           row_number() over (order by customer_type, segment) as group_no
    from peer_groups
    where peers >= $min_peers
),

group_members as (
    select hash(a.account_id) as account_hash, g.group_no
    from accounts a
    join usable_groups g
        on g.customer_type is not distinct from a.customer_type
        and g.segment is not distinct from a.segment
),

group_levels as (
    select m.group_no, quantile_cont(t.amount_rep, $peer_quantile) as peer_level
    from transactions t
    join group_members m on m.account_hash = hash(t.src_account)
    where t.src_account <> cash_account()
    group by m.group_no
),

population_level as (
    select quantile_cont(amount_rep, $peer_quantile) as peer_level
    from transactions
    where src_account <> cash_account()
),

-- the level of each usable peer group
usable_levels as (
    select g.customer_type, g.segment, g.peers, l.peer_level
    from usable_groups g
    join group_levels l using (group_no)
),

-- payments of at least min_amount (a small share of all payments) with the level of
-- the payer's peer group, or of the population when the group is too small, the payer
-- has no row in the accounts file, or there is no accounts file
large as materialized (
    select
        t.src_account as subject_id,
        t.dst_account as payee,
        t.tx_id,
        t.timestamp,
        t.day,
        t.amount,
        t.currency,
        t.amount_rep,
        t.channel,
        t.description,
        t.merchant_name,
        coalesce(u.peer_level, p.peer_level) as peer_level,
        case
            when u.peer_level is null then 'all accounts'
            else trim(coalesce(u.customer_type, '') || ' ' || coalesce(u.segment, ''))
                 || ' accounts (' || u.peers || ')' end as peer_group
    from transactions t
    left join accounts a on a.account_id = t.src_account
    left join usable_levels u
        on u.customer_type is not distinct from a.customer_type
        and u.segment is not distinct from a.segment
        and a.account_id is not null
    cross join population_level p
    -- card purchases have a merchant and a category (large card spend is LIFE-01's);
    -- the rest are transfers and cash withdrawals that move money to someone
    where list_contains($channels::varchar[], t.channel)
      and t.src_account <> cash_account()
      and t.amount_rep >= $min_amount
      and t.amount_rep > coalesce(u.peer_level, p.peer_level)
),

-- every payment of the accounts that made a large one, read once for the relationships,
-- habits, histories and outflows below (all channels, like the checks that read it)
payer_history as materialized (
    select t.src_account as subject_id, t.dst_account, t.timestamp, t.day, t.amount_rep
    from transactions t
    semi join (select distinct subject_id from large) l on l.subject_id = t.src_account
),

-- house and car purchases are settled through escrow, title agents, conveyancers and
-- dealers: large, rare and in nobody's profile, but not laundering on their face
settlement_texts as (
    select description as text from large where description is not null
    union
    select merchant_name from large where merchant_name is not null
    union
    select payee from large where payee <> cash_account()
),

-- purchase settlements by the shared patterns, and the rule's own purchase wording
-- (deposits on a property, a vehicle or building work) in the description or payee name
settlement_texts_matched as (
    select distinct text from pattern_matches(settlement_texts, ['purchase_settlement'])
    union
    select text from settlement_texts where regexp_matches(text, $purchase_wording, 'i')
),

-- a business's payments to a payee it has paid before, or to a business of the accounts
-- file, are its supplier relationships; payer and payee types from the accounts file
business_payments as (
    select l.tx_id
    from large l
    join accounts a on a.account_id = l.subject_id
    left join accounts b on b.account_id = l.payee
    where list_contains($business_types::varchar[], a.customer_type)
      and (list_contains($business_types::varchar[], b.customer_type)
           or exists (select 1 from payer_history t
                      where t.subject_id = l.subject_id and t.dst_account = l.payee
                        and t.timestamp < l.timestamp))
),

business_payers as (
    select account_id from accounts
    where list_contains($business_types::varchar[], customer_type)
),

-- a payee paid in several calendar months is a standing relationship (rent, tuition
-- instalments, a loan, a relative abroad): its payments are the profile, not outliers
recurring_payees as (
    select t.subject_id, t.dst_account as payee
    from payer_history t
    semi join large l on l.subject_id = t.subject_id and l.payee = t.dst_account
    where t.dst_account <> cash_account()
    group by t.subject_id, t.dst_account
    having count(distinct date_trunc('month', t.day)) >= $recurring_months
),

-- a payment of a size the account pays about once a month in several calendar months of
-- the scan (at least habit_share of it: a monthly rent or mortgage, a monthly transfer to savings, the large
-- cash withdrawal that pays the month's bills) is the account's own habit, whoever the
-- payee; before or after the payment, so the first of them is no outlier either
habitual_sizes as (
    select l.tx_id
    from large l
    join payer_history t
        on t.subject_id = l.subject_id
        and t.amount_rep >= $habit_share * l.amount_rep
    group by l.tx_id
    having count(distinct date_trunc('month', t.day)) >= $recurring_months
       -- about once a month (a four-weekly payment gives thirteen in twelve months): a
       -- burst of large payments to new parties within weeks is no habit
       and count(*) <= count(distinct date_trunc('month', t.day)) + 1
),

candidates as materialized (
    select l.*
    from large l
    anti join recurring_payees r on r.subject_id = l.subject_id and r.payee = l.payee
    anti join habitual_sizes h on h.tx_id = l.tx_id
    anti join business_payments b on b.tx_id = l.tx_id
    where not exists (
        select 1 from settlement_texts_matched m
        where m.text = l.description or m.text = l.merchant_name
    )
),

-- the account's own payments in the history_days before each candidate (all channels:
-- card spend is part of what the account usually pays)
profiles as (
    select
        c.tx_id,
        count(*) as history_count,
        median(h.amount_rep) as history_median
    from candidates c
    join payer_history h
        on h.subject_id = c.subject_id
        and h.timestamp < c.timestamp
        and h.timestamp >= c.timestamp - to_days($history_days)
    group by c.tx_id, c.timestamp
),

-- a business's average monthly outflow over its whole activity in the scan (from its
-- first to its last payment, at least a month), the candidate payment left out: what it
-- usually pays out, before and after, not only in the days the scan happens to show
-- before the payment
business_outflows as (
    select
        c.tx_id,
        (sum(h.amount_rep) - c.amount_rep) * 30.0
            / greatest(date_diff('day', min(h.day), max(h.day)) + 1, 30) as monthly_out
    from candidates c
    semi join business_payers b on b.account_id = c.subject_id
    join payer_history h on h.subject_id = c.subject_id
    group by c.tx_id, c.amount_rep
),

-- what was paid, as the evidence and the reason say it
described as (
    select
        c.*,
        case when c.channel = 'cash_withdrawal' then 'cash withdrawal of '
             else replace(c.channel, '_', ' ') || ' of ' end
            || format('{:,.2f}', c.amount::double) || ' ' || c.currency
            || case when c.payee = cash_account() then '' else ' to ' || c.payee end as payment
    from candidates c
),

final as (
    select
        c.subject_id,
        c.timestamp as window_start,
        c.timestamp as window_end,
        1 as tx_count,
        c.amount_rep as amount_total,
        [{'tx_id': c.tx_id, 'why': c.payment}] as evidence,
        c.payment
            || ': ' || format('{:,.1f}', (c.amount_rep / p.history_median)::double)
            || ' times the median payment (' || format('{:,.2f}', p.history_median::double)
            || ') of the ' || p.history_count || ' payments of the previous '
            || $history_days || ' days, and above the ' || format('{:g}', 100 * $peer_quantile::double)
            || 'th percentile (' || format('{:,.2f}', c.peer_level::double) || ') of payments by '
            || c.peer_group as reason,
        'controller' as likely_role
    from described c
    join profiles p using (tx_id)
    left join business_outflows o using (tx_id)
    where p.history_count >= $min_history
      and c.amount_rep > $amount_multiple * p.history_median
      -- a business's one-off purchase (equipment, a vehicle, a fit-out, stock) is a few
      -- months of its outflows; more than business_outflow_months of them in one
      -- payment is out of its profile
      and (c.subject_id not in (select account_id from business_payers)
           or c.amount_rep > $business_outflow_months * o.monthly_out)
)

select * from final order by subject_id, window_start
