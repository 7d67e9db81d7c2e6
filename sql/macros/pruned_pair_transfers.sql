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
-- calendar months.
-- The transfers are read once for the pairs: accounts are the 64-bit hashes of their ids,
-- so that pairs group and join on integers (two accounts sharing a hash is vanishingly
-- unlikely). Only accounts of a possible pair with more than max_degree counterparties
-- over the whole scan can be hubs. A hub's distinct counterparties in a bucket are its
-- pairs paid in that bucket, so each pair keeps its first and last bucket and the
-- buckets it was paid in as bits (bucket modulo 64) of one mask: a pair spanning fewer
-- than 64 buckets names each of its buckets by one bit, and only the pairs spanning more
-- (none in most scans) are bucketed again from their transfers.
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
        src_hash,
        dst_hash,
        bit_count(bit_or(
            1::ubigint << ((year(day) * 12 + month(day)) % 64)::ubigint)) as months,
        sum(amount_rep) as amount_rep,
        coalesce(bool_or(description in (select text from payroll_descriptions)),
                 false) as payroll,
        min(bucket) as first_bucket,
        max(bucket) as last_bucket,
        bit_or(1::ubigint << (bucket & 63)::ubigint) as buckets
    from (
        select
            hash(src_account) as src_hash,
            hash(dst_account) as dst_hash,
            date_diff('day', date '1970-01-01', day) // window_days as bucket,
            day,
            amount_rep,
            description
        from query_table(transactions)
        where list_contains(channels::varchar[], channel)
          and src_account <> cash_account()
          and dst_account <> cash_account()
    )
    group by src_hash, dst_hash
),
merchants as (
    select distinct hash(dst_account) as account
    from query_table(transactions)
    where channel = 'card'
),
possible_pairs as materialized (
    select p.src_hash, p.dst_hash
    from pair_history p
    anti join pair_history r on r.src_hash = p.dst_hash and r.dst_hash = p.src_hash
    anti join merchants m on m.account = p.dst_hash
    where p.months < recurring_months
      and not p.payroll
      and p.amount_rep >= min_link_amount
),
payer_hub_candidates as (
    select src_hash as account
    from pair_history
    semi join possible_pairs c using (src_hash)
    group by src_hash
    having count(*) > max_degree
),
payee_hub_candidates as (
    select dst_hash as account
    from pair_history
    semi join possible_pairs c using (dst_hash)
    group by dst_hash
    having count(*) > max_degree
),
-- the pairs of possible hubs, on either side
hub_pairs as materialized (
    select p.src_hash, p.dst_hash, p.first_bucket, p.last_bucket, p.buckets,
           p.src_hash in (select account from payer_hub_candidates) as payer_side,
           p.dst_hash in (select account from payee_hub_candidates) as payee_side
    from pair_history p
    where p.src_hash in (select account from payer_hub_candidates)
       or p.dst_hash in (select account from payee_hub_candidates)
),
-- every bucket from the first to the last of the scan
scan_buckets as (
    select unnest(range(min(first_bucket), max(last_bucket) + 1)) as bucket
    from hub_pairs
),
-- one row per hub pair and bucket it was paid in
hub_pair_buckets as materialized (
    select p.src_hash, p.dst_hash, p.payer_side, p.payee_side, b.bucket
    from hub_pairs p
    join scan_buckets b
        on b.bucket between p.first_bucket and p.last_bucket
        and (p.buckets >> (b.bucket & 63)::ubigint) & 1::ubigint = 1::ubigint
    where p.last_bucket - p.first_bucket < 64
    union all
    -- a pair spanning 64 buckets or more: its buckets from its transfers
    select distinct t.src_hash, t.dst_hash, p.payer_side, p.payee_side, t.bucket
    from (
        select
            hash(src_account) as src_hash,
            hash(dst_account) as dst_hash,
            date_diff('day', date '1970-01-01', day) // window_days as bucket
        from query_table(transactions)
        where list_contains(channels::varchar[], channel)
          and src_account <> cash_account()
          and dst_account <> cash_account()
    ) t
    join hub_pairs p
        on p.src_hash = t.src_hash
        and p.dst_hash = t.dst_hash
        and p.last_bucket - p.first_bucket >= 64
),
payer_hubs as (
    select distinct src_hash as account
    from hub_pair_buckets
    where payer_side
    group by src_hash, bucket
    having count(*) > max_degree
),
payee_hubs as (
    select distinct dst_hash as account
    from hub_pair_buckets
    where payee_side
    group by dst_hash, bucket
    having count(*) > max_degree
),
link_pairs as (
    select p.src_hash, p.dst_hash
    from possible_pairs p
    anti join payer_hubs h on h.account = p.src_hash
    anti join payee_hubs g on g.account = p.dst_hash
)
select
    t.tx_id, t.timestamp, t.day, t.src_account as src, t.dst_account as dst,
    t.amount, t.currency, t.amount_rep, t.channel
from query_table(transactions) t
semi join link_pairs p
    on p.src_hash = hash(t.src_account) and p.dst_hash = hash(t.dst_account)
where list_contains(channels::varchar[], t.channel)
  and t.src_account <> cash_account()
  and t.dst_account <> cash_account();
