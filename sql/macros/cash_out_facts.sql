-- Cash in, then out (GRAPH-09 deposit-send, XB-01 cash sent abroad): select * from
-- cash_out_facts(evidence_rows) -> subject_id, episode, n_cash, n_out, cash_rep,
-- out_rep, cash_then_out, one row per episode, from `evidence_rows` (subject_id,
-- episode, kind: 'cash' for a deposit, 'out' for what leaves, amount, currency,
-- amount_rep). cash_then_out is the head of the reason: '3 cash deposits totalling
-- 9,000.00 EUR, then 8,500.00 EUR (94% of the cash)', amounts in their own currency
-- when the episode has only one (see money_text).
create or replace macro cash_out_facts(evidence_rows) as table
select
    subject_id,
    episode,
    n_cash,
    n_out,
    cash_rep,
    out_rep,
    n_cash || case when n_cash = 1 then ' cash deposit of ' else ' cash deposits totalling ' end
        || money_text(cash_amount, cash_rep, one_currency, currency)
        || ', then '
        || money_text(out_amount, out_rep, one_currency, currency)
        || ' (' || format('{:.0f}', floor(100 * out_rep / cash_rep)::double) || '% of the cash)'
        as cash_then_out
from (
    select
        subject_id,
        episode,
        count(*) filter (where kind = 'cash') as n_cash,
        count(*) filter (where kind = 'out') as n_out,
        sum(amount_rep) filter (where kind = 'cash') as cash_rep,
        sum(amount_rep) filter (where kind = 'out') as out_rep,
        sum(amount) filter (where kind = 'cash') as cash_amount,
        sum(amount) filter (where kind = 'out') as out_amount,
        count(distinct currency) = 1 as one_currency,
        min(currency) as currency
    from query_table(evidence_rows)
    group by subject_id, episode
);
