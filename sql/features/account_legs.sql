-- account_legs: every transaction as its two legs, an incoming one for the destination
-- account and an outgoing one for the source account; the cash side is a counterparty,
-- never an account. Only the columns the legs' readers group and filter on are kept (the
-- table has twice as many rows as the transactions): account_id, direction ('in' or
-- 'out'), counterparty, tx_id, timestamp, day, channel, amount_rep. Readers join
-- transactions on tx_id for anything else. Read by account_features and by the rules
-- that follow an account's money in and out.
with final as (
    select
        t.dst_account as account_id,
        'in' as direction,
        t.src_account as counterparty,
        t.tx_id,
        t.timestamp,
        t.day,
        t.channel,
        t.amount_rep
    from transactions t
    where t.dst_account <> cash_account()
    union all
    select
        t.src_account,
        'out',
        t.dst_account,
        t.tx_id,
        t.timestamp,
        t.day,
        t.channel,
        t.amount_rep
    from transactions t
    where t.src_account <> cash_account()
)

select * from final
