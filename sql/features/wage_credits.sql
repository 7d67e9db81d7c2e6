-- wage_credits: every credit of the scan that looks like a wage, built once per scan and
-- shared by the forced-labour rules (LAB-01, LAB-02, LAB-03, LAB-07).
--
-- A wage credit is a transfer by a wage channel ($wage_channels: ACH, wire, cheque,
-- internal book transfer, other; P2P, card and cash carry no payroll entry) whose
-- description or merchant descriptor carries payroll wording (category payroll_credit:
-- PAYROLL, SALARY, WAGES ...) or a payroll processor's name (category payroll_processor:
-- ADP, Paychex, Gusto ...). Every distinct text is matched once by pattern_matches.
--
-- worker_pays_wages marks credits into an account that itself pays wage credits to at
-- least $payer_min_payees accounts: an employer or a payroll processor receiving
-- "PAYROLL FUNDING" to disburse. That money is not the account's wage, and the rules
-- counting wages per worker leave it out.
with wage_channel_credits as materialized (
    select tx_id, src_account, dst_account, timestamp, day, amount, currency, amount_rep,
           channel, description, merchant_name
    from transactions
    where list_contains($wage_channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
      and (description is not null or merchant_name is not null)
),

wage_texts as (
    select description as text from wage_channel_credits
    union
    select merchant_name from wage_channel_credits
),

payroll_texts as (
    select distinct text
    from pattern_matches(wage_texts, ['payroll_credit', 'payroll_processor'])
),

payroll_worded as materialized (
    select
        c.tx_id,
        c.src_account as wage_payer,
        c.dst_account as worker,
        c.timestamp,
        c.day,
        c.amount,
        c.currency,
        c.amount_rep,
        c.channel,
        c.description,
        c.merchant_name
    from wage_channel_credits c
    where c.description in (select text from payroll_texts)
       or c.merchant_name in (select text from payroll_texts)
),

payroll_payers as (
    select wage_payer as account
    from payroll_worded
    group by wage_payer
    having count(distinct worker) >= $payer_min_payees
)

select
    w.*,
    w.worker in (select account from payroll_payers) as worker_pays_wages
from payroll_worded w
