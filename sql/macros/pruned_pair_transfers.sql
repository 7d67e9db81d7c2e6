-- Graph rules on payer -> payee links (GRAPH-07 bipartite, GRAPH-08 stack) start from
-- the same pruned pairs: select * from pruned_pair_transfers(transactions, $channels,
-- $recurring_months, $min_link_amount, $max_degree, $window_days) -> the transfers
-- (tx_id, timestamp, day, src, dst, amount, currency, amount_rep, channel) by the given
-- channels of the payer-payee pairs that can carry a link. Standing relationships are
-- removed: pairs paid in recurring_months calendar months (rent, bills, allowances),
-- pairs paid both ways (family, flatmates, friends settling up), pairs with payroll
-- wording (an employer's wages), payees paid by card (merchants, billers: a shared shop
-- or utility is no block) and pairs below min_link_amount over the whole scan. So are
-- hubs: more than max_degree distinct payees (employer, payroll bureau) or payers
-- (landlord, utility, charity) within one window_days bucket of the calendar (days
-- since 1970-01-01 divided by window_days), counted over every transfer of the
-- channels (recurring ones too); their transfers on that side leave.
-- Calendar months are counted as the bits of a 64-bit mask (one bit per month number
-- modulo 64), cheaper than a distinct count and exact for scans spanning fewer than 64
-- calendar months. Only accounts of a possible pair with more than max_degree
-- counterparties over the whole scan can be hubs, so only their transfers are bucketed.
create or replace macro pruned_pair_transfers(
    transactions, channels, recurring_months, min_link_amount, max_degree, window_days
) as table
with payroll_texts as (
    select distinct description as text
    from query_table(transactions)
    where description is not null and list_contains(channels::varchar[], channel)
),
payroll_descriptions as (
    select text from pattern_matches(payroll_texts, ['payroll_credit'])
),
pair_history as materialized (
    select
        src_account as src,
        dst_account as dst,
        bit_count(bit_or(
            1::ubigint << ((year(day) * 12 + month(day)) % 64)::ubigint)) as months,
        sum(amount_rep) as amount_rep,
        coalesce(bool_or(description in (select text from payroll_descriptions)),
                 false) as payroll
    from query_table(transactions)
    where list_contains(channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
    group by src_account, dst_account
),
merchants as (
    select distinct dst_account as account
    from query_table(transactions)
    where channel = 'card'
),
possible_pairs as materialized (
    select p.src, p.dst
    from pair_history p
    anti join pair_history r on r.src = p.dst and r.dst = p.src
    anti join merchants m on m.account = p.dst
    where p.months < recurring_months
      and not p.payroll
      and p.amount_rep >= min_link_amount
),
payer_hub_candidates as (
    select src as account
    from pair_history
    semi join possible_pairs c using (src)
    group by src
    having count(*) > max_degree
),
payee_hub_candidates as (
    select dst as account
    from pair_history
    semi join possible_pairs c using (dst)
    group by dst
    having count(*) > max_degree
),
payer_hubs as (
    select distinct src_account as account
    from (
        select src_account,
               date_diff('day', date '1970-01-01', day) // window_days as bucket
        from query_table(transactions)
        semi join payer_hub_candidates c on c.account = src_account
        where list_contains(channels::varchar[], channel) and dst_account <> cash_account()
        group by src_account, bucket
        having count(distinct dst_account) > max_degree
    )
),
payee_hubs as (
    select distinct dst_account as account
    from (
        select dst_account,
               date_diff('day', date '1970-01-01', day) // window_days as bucket
        from query_table(transactions)
        semi join payee_hub_candidates c on c.account = dst_account
        where list_contains(channels::varchar[], channel) and src_account <> cash_account()
        group by dst_account, bucket
        having count(distinct src_account) > max_degree
    )
)
select
    t.tx_id, t.timestamp, t.day, t.src_account as src, t.dst_account as dst,
    t.amount, t.currency, t.amount_rep, t.channel
from query_table(transactions) t
semi join possible_pairs p on p.src = t.src_account and p.dst = t.dst_account
anti join payer_hubs h on h.account = t.src_account
anti join payee_hubs g on g.account = t.dst_account
where list_contains(channels::varchar[], t.channel);
