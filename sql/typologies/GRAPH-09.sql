-- GRAPH-09: deposit-send (cash-in, cash-out). Cash is deposited into a personal account
-- and most of it leaves again within window_hours, by transfer or as a cash withdrawal.
--
-- A deposit d and a later outflow o of the same account form a pair when o falls within
-- window_hours of d. The pair qualifies when, counting everything between d and o, the
-- cash deposited reaches min_cash and the outflows are between min_out_share and
-- max_out_share of it (most of the cash leaves, and it is the cash that funds what
-- leaves). Running totals give both sums without another join; deposits are paired with
-- outflows through an equi-join on (account, day bucket). Businesses are never
-- subjects, payees the account pays once a month in several calendar months (rent,
-- loan, utilities) are standing relationships whose payments do not count, and a cash
-- deposit that repeats the same amount about once a month is regular income (cash
-- wages, a pension), not placement.
with cash_deposits as materialized (
    select t.dst_account as subject_id, t.tx_id, t.timestamp, t.day, t.amount, t.currency,
           t.amount_rep, t.channel, cash_account() as party, 'cash' as kind
    from transactions t
    where t.channel = 'cash_deposit'
      and t.dst_account <> cash_account()
),

-- businesses matter only as the accounts deposits go into: the merchant test below reads
-- the card payments into those accounts alone, since no other account can be a subject
deposit_accounts as (
    select distinct subject_id from cash_deposits
),

businesses as (
    select account_id from accounts where customer_type = 'business'
    union
    -- without an accounts file, an account paid by card by two or more payers is a
    -- merchant: its cash takings and supplier payments are its trade (two payers or more
    -- is exactly a smallest and a largest payer that differ)
    select t.dst_account
    from transactions t
    semi join deposit_accounts d on d.subject_id = t.dst_account
    where t.channel = 'card'
    group by t.dst_account
    having min(t.src_account) <> max(t.src_account)
),

deposits as materialized (
    select d.*
    from cash_deposits d
    anti join businesses b on b.account_id = d.subject_id
),

-- a deposit of the same amount (within regular_tolerance) as the account's deposits in
-- other calendar months, on an account whose cash deposits come about once a month, is
-- its regular cash income (cash
-- wages, a pension or benefit collected in cash): the account's own history, not cash
-- placed for a funnel, whose deposits come every few days and vary
-- accounts whose cash deposits come about once a month (a four-weekly pay gives thirteen
-- in twelve months): a funnel's come every few days
monthly_depositors as (
    select subject_id
    from deposits
    group by subject_id
    having count(*) <= count(distinct date_trunc('month', day)) + 1
),

regular_deposits as (
    select d.tx_id
    from deposits d
    semi join monthly_depositors m on m.subject_id = d.subject_id
    join deposits o
        on o.subject_id = d.subject_id
        and abs(o.amount_rep - d.amount_rep) <= $regular_tolerance * d.amount_rep
    group by d.tx_id
    having count(distinct date_trunc('month', o.day)) >= $recurring_months
),

placed as materialized (
    select d.*
    from deposits d
    anti join regular_deposits r on r.tx_id = d.tx_id
),

depositors as (
    select distinct subject_id from placed
),

outflows as materialized (
    select t.src_account as subject_id, t.tx_id, t.timestamp, t.day, t.amount, t.currency,
           t.amount_rep, t.channel, t.dst_account as party, 'out' as kind
    from transactions t
    semi join depositors d on d.subject_id = t.src_account
    -- card spend consumes the money (shopping), it does not move it on
    where list_contains($out_channels::varchar[], t.channel)
),

-- rent, instalments and bills paid to the same payee once a month in several calendar
-- months are the household's standing payments, whatever funds them; a payee paid
-- several times a month (a controller collecting from a funnel every few days) stays
-- counted, and cash withdrawals always count
recurring_payees as (
    select subject_id, party
    from outflows
    where party <> cash_account()
    group by subject_id, party
    having count(distinct date_trunc('month', day)) >= $recurring_months
       and count(*) <= count(distinct date_trunc('month', day))
),

candidates as (
    select * from placed
    union all
    select o.*
    from outflows o
    anti join recurring_payees r on r.subject_id = o.subject_id and r.party = o.party
),

-- running totals per account (cash_running_totals of sql/macros, shared with XB-01)
running as materialized (
    select * from cash_running_totals(candidates)
),

-- each deposit with each outflow at most window_hours later, through an equi-join on
-- (account, day bucket)
pairs as (
    select * from cash_out_pairs(running, to_hours($window_hours))
),

qualifying as (
    select subject_id, pair_start as window_start, pair_end as window_limit
    from pairs
    where cash_in >= $min_cash
      -- most of the cash leaves again ...
      and sent_out >= $min_out_share * cash_in
      -- ... and the cash is what funds it: a small deposit next to a large transfer
      -- paid from wages or savings is not cash placement
      and sent_out <= $max_out_share * cash_in
),

-- overlapping qualifying spans of one account form one episode
episode_bounds as (
    select * from merged_windows(qualifying)
),

evidence_rows as (
    select
        r.*,
        case
            when r.kind = 'cash' then 'cash deposit of '
                 || format('{:,.2f}', r.amount::double) || ' ' || r.currency
            when r.channel = 'cash_withdrawal' then 'cash withdrawal of '
                 || format('{:,.2f}', r.amount::double) || ' ' || r.currency
            else replace(r.channel, '_', ' ') || ' of '
                 || format('{:,.2f}', r.amount::double) || ' ' || r.currency
                 || ' to ' || r.party
        end as why
    from episode_rows(episode_bounds, running) r
),

episode_channels as (
    select
        subject_id,
        episode,
        string_agg(distinct replace(channel, '_', ' '), ', ' order by replace(channel, '_', ' '))
            filter (where kind = 'out') as out_channels
    from evidence_rows
    group by subject_id, episode
),

-- cash in and out of the episode (cash_out_facts of sql/macros, shared with XB-01)
episode_totals as (
    select h.*, c.* exclude (subject_id, episode), o.out_channels
    from episode_hits(evidence_rows) h
    join cash_out_facts(evidence_rows) c using (subject_id, episode)
    join episode_channels o using (subject_id, episode)
),

final as (
    select
        subject_id,
        window_start,
        window_end,
        tx_count,
        amount_total,
        evidence,
        cash_then_out
            || ' left in ' || n_out || ' payment' || case when n_out = 1 then '' else 's' end
            || ' (' || out_channels || ') within '
            || case
                when date_diff('minute', window_start, window_end) <= 60 then '1 hour'
                else ceil(date_diff('minute', window_start, window_end) / 60)::integer
                     || ' hours' end as reason,
        'mule' as likely_role
    from episode_totals
)

select * from final order by subject_id, window_start
