-- card_purchases: the customer side of every merchant payment, one row per payment. A
-- merchant payment is a transaction between two accounts (cash has no merchant) whose MCC
-- sits in a spend group of ref_mcc_groups or whose descriptor has a category in
-- merchant_categories. Between two parties the one that paid first is the customer: rows
-- the other way are the merchant's refunds and other card credits, not purchases (a hotel
-- refunding four guests is not four stays). A party that two or more others paid first is
-- a merchant and never a paying subject, even for a refund whose original payment predates
-- the export. The spend-group and descriptor-category rules (SEX-03, SEX-04, SEX-05,
-- SEX-08, SEX-09, SEX-10) pick their rows by mcc or merchant_name from here.
-- Columns: tx_id, timestamp, day, subject_id (the customer), merchant_id (the account
-- paid), channel, amount, currency, amount_rep, mcc, merchant_name, merchant (the
-- descriptor, else 'merchant <account>'), city (merchant city upper-cased, NULL when
-- blank).
with merchant_rows as (
    select
        t.tx_id,
        t.timestamp,
        t.day,
        t.src_account,
        t.dst_account,
        t.channel,
        t.amount,
        t.currency,
        t.amount_rep,
        t.mcc,
        t.merchant_name,
        t.merchant_city,
        -- the parties as 64-bit hashes of their ids, and the same key for both directions
        -- between two parties: the pairs are grouped and matched on integers (two
        -- different accounts or pairs sharing a hash is vanishingly unlikely)
        hash(t.src_account) as src_hash,
        hash(t.dst_account) as dst_hash,
        xor(src_hash, dst_hash) as pair_key
    from transactions t
    where (t.mcc in (select mcc from ref_mcc_groups)
           or t.merchant_name in (select merchant_name from merchant_categories))
      and t.src_account <> cash_account()
      and t.dst_account <> cash_account()
),

first_payers as (
    -- the payer of the pair's first payment; the payee is the other party, whose hash is
    -- the pair key's xor with the payer's
    select pair_key, payer, xor(pair_key, payer) as payee
    from (
        select pair_key, arg_min(src_hash, (timestamp, tx_id)) as payer
        from merchant_rows
        group by pair_key
    )
),

merchants as (
    select payee from first_payers group by payee having count(*) >= 2
),

final as (
    select
        r.tx_id,
        r.timestamp,
        r.day,
        r.src_account as subject_id,
        r.dst_account as merchant_id,
        r.channel,
        r.amount,
        r.currency,
        r.amount_rep,
        r.mcc,
        r.merchant_name,
        coalesce(r.merchant_name, 'merchant ' || r.dst_account) as merchant,
        nullif(upper(trim(r.merchant_city)), '') as city
    from merchant_rows r
    semi join first_payers f on f.pair_key = r.pair_key and f.payer = r.src_hash
    anti join merchants m on m.payee = r.src_hash
)

select * from final
