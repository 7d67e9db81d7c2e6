-- account_legs: every transaction as its two legs, an incoming one for the destination
-- account and an outgoing one for the source account; the cash side is a counterparty,
-- never an account. Columns: account_id, direction ('in' or 'out'), counterparty, then the
-- transaction's own columns its readers use (tx_id, timestamp, day, channel, amount,
-- currency, amount_rep, mcc, merchant_name, merchant_city, description, src_country,
-- dst_country). The features stage creates it as a view, not a table: a table of legs would
-- hold twice as many rows as the transactions for the whole scan, while through the view
-- each reader scans only the columns it selects and its filters and semi joins reach the
-- scans of transactions. Read by the rules that follow an account's money in and out
-- (account_features aggregates the two sides of the transactions directly).
with final as (
    select
        t.dst_account as account_id,
        'in' as direction,
        t.src_account as counterparty,
        t.tx_id, t.timestamp, t.day, t.channel, t.amount, t.currency, t.amount_rep, t.mcc,
        t.merchant_name, t.merchant_city, t.description, t.src_country, t.dst_country
    from transactions t
    where t.dst_account <> cash_account()
    union all
    select
        t.src_account,
        'out',
        t.dst_account,
        t.tx_id, t.timestamp, t.day, t.channel, t.amount, t.currency, t.amount_rep, t.mcc,
        t.merchant_name, t.merchant_city, t.description, t.src_country, t.dst_country
    from transactions t
    where t.src_account <> cash_account()
)

select * from final
