-- pair_flows: one row per pair of parties that exchanged money, by their account_keys
-- ordered (lo_key < hi_key; cash is key 0, so a cash pair has lo_key 0), with the money
-- each way over the whole scan (NULL when none went that way): lo_key, hi_key, lo_to_hi,
-- hi_to_lo. account_features reads its distinct counterparties from it, the score stage's
-- counterparty_flows and the victims' ties (pairs_among) read it instead of aggregating
-- every transaction leg by two text ids. At 100M transactions it holds tens of millions of
-- rows: a table of the scan's database file, which DuckDB evicts while the typologies run
-- and reads back for the score stage. Sums of amount_rep (decimals): the same in any order.
with final as (
    select
        least(src_key, dst_key) as lo_key,
        greatest(src_key, dst_key) as hi_key,
        sum(amount_rep) filter (where src_key < dst_key) as lo_to_hi,
        sum(amount_rep) filter (where src_key > dst_key) as hi_to_lo
    from keyed_transactions(transactions, account_keys)
    group by all
)

select * from final
