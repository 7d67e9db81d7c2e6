-- The pairs of parties that exchanged money (pairs: pair_flows, each pair once by its
-- account_keys, cash 0) whose two parties are both among accounts (a table with the column
-- account_id), by their ids: lo_account, hi_account (lo_account the party with the lower
-- key). Each such pair once; a reader wanting one orientation tests both. account_scores
-- and alerts read it for the ties of victim-role accounts to opened or alerted ones.
-- Usage: select * from pairs_among(some_accounts, pair_flows, account_keys)
create or replace macro pairs_among(accounts, pairs, keys) as table
with keyed as (
    -- every party of a transaction has a key: an account its account_key, cash 0
    select a.account_id, k.account_key
    from query_table(accounts) a
    join (select account_id, account_key from query_table(keys)
          union all
          select cash_account(), 0) k using (account_id)
)
select lo.account_id as lo_account, hi.account_id as hi_account
from query_table(pairs) p
join keyed lo on lo.account_key = p.lo_key
join keyed hi on hi.account_key = p.hi_key;
