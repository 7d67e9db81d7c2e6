-- account_keys: every account of the scan (every party of a transaction except cash)
-- numbered once, in account id order: account_id, account_key (integer, 1 ..). Feature
-- tables whose aggregates hold about one row per transaction (per pair of parties and day,
-- per pair) group, join and sort these integers instead of the ids: an integer row is a
-- third of the width of a text one, so less of it spills at 100M transactions, and keys in
-- id order compare as the ids do. Cash has no key; readers give it 0 (a left join and
-- coalesce), below every account.
with parties as (
    select src_account as account_id from transactions
    union
    select dst_account from transactions
),

final as (
    select account_id, row_number() over (order by account_id)::integer as account_key
    from parties
    where account_id <> cash_account()
)

select * from final order by account_key
