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
--
-- Only a payer that is itself paid by someone (a payee) can lose a row: a payer nobody
-- pays has no rows the other way, so it paid first in every pair it is in, and it is no
-- merchant, as a merchant is paid. Nearly every row is of such a payer, so the first-payer
-- and merchant tests run on the few rows whose payer is a payee, and they hold every row
-- of their pairs (a payee paying a party makes that party a payee too). The tests yield
-- the dropped directions (payer, payee), and the full rows are read once more, streamed
-- past them into the table, rather than kept in memory while the tests run.
with merchant_rows as not materialized (
    select
        t.*,
        -- the parties as 64-bit hashes of their ids: parties and pairs are grouped and
        -- matched on integers (two different accounts sharing a hash is vanishingly
        -- unlikely)
        hash(t.src_account) as src_hash,
        hash(t.dst_account) as dst_hash
    from transactions t
    where (t.mcc in (select mcc from ref_mcc_groups)
           or t.merchant_name in (select merchant_name from merchant_categories))
      and t.src_account <> cash_account()
      and t.dst_account <> cash_account()
),

party_rows as materialized (
    -- what the tests read of every merchant payment
    select src_hash, dst_hash, timestamp, tx_id from merchant_rows
),

payees as (
    select dst_hash as account from party_rows group by dst_hash
),

payee_paid_rows as materialized (
    -- the rows whose payer is a payee, with the same key for both directions between two
    -- parties
    select r.src_hash, r.dst_hash, xor(r.src_hash, r.dst_hash) as pair_key, r.timestamp, r.tx_id
    from party_rows r
    semi join payees p on p.account = r.src_hash
),

first_payers as (
    -- the payer of each such pair's first payment; the payee is the other party, whose
    -- hash is the pair key's xor with the payer's
    select pair_key, payer, xor(pair_key, payer) as payee
    from (
        select pair_key, arg_min(src_hash, (timestamp, tx_id)) as payer
        from payee_paid_rows
        group by pair_key
    )
),

plain_payers as (
    -- per payee, how many of its payers nobody pays (each paid it first), counted up to
    -- two: two differ in their lowest and highest hash, and two already make a merchant
    select
        r.dst_hash as payee,
        case when min(r.src_hash) = max(r.src_hash) then 1 else 2 end as first_payers
    from party_rows r
    anti join payees p on p.account = r.src_hash
    group by r.dst_hash
),

merchants as (
    select payee
    from (
        select payee, first_payers from plain_payers
        union all
        select payee, count(*) from first_payers group by payee
    )
    group by payee
    having sum(first_payers) >= 2
),

customer_payers as (
    -- first payers that are no merchant: the directions of the pairs they keep
    select f.pair_key, f.payer
    from first_payers f
    anti join merchants m on m.payee = f.payer
),

dropped_directions as (
    select distinct r.src_hash, r.dst_hash
    from payee_paid_rows r
    anti join customer_payers c on c.pair_key = r.pair_key and c.payer = r.src_hash
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
    anti join dropped_directions d on d.src_hash = r.src_hash and d.dst_hash = r.dst_hash
)

select * from final
