-- The transactions with their parties' account_keys (sql/features/account_keys.sql) in
-- place of the ids: cash, which has no key, is 0. For the aggregates that hold about one
-- row per transaction (per pair of parties, per pair and day), which group integers
-- instead of text; account_features and pair_flows read it.
-- Usage: select * from keyed_transactions(transactions, account_keys) -> src_key, dst_key
-- and the other columns of the transactions (each reader's column choice reaches the scan).
create or replace macro keyed_transactions(txs, keys) as table
select
    coalesce(s.account_key, 0) as src_key,
    coalesce(d.account_key, 0) as dst_key,
    t.* exclude (src_account, dst_account)
from query_table(txs) t
left join query_table(keys) s on s.account_id = t.src_account
left join query_table(keys) d on d.account_id = t.dst_account;
