-- Deposit-then-send rules (GRAPH-09 deposit-send, XB-01 cash sent abroad) pair each
-- cash deposit with the later outflows of the same account. Running totals first:
-- select * from cash_running_totals(candidates) -> every column of `candidates`
-- (subject_id, tx_id, timestamp, amount_rep, kind: 'cash' for a deposit, 'out' for an
-- outflow, ...) plus cum_cash and cum_out, the account's cash deposited and money sent
-- up to and including the row; at equal timestamps the deposit comes first.
create or replace macro cash_running_totals(candidates) as table
select
    c.*,
    sum(case when c.kind = 'cash' then c.amount_rep else 0 end)
        over account_order as cum_cash,
    sum(case when c.kind = 'out' then c.amount_rep else 0 end)
        over account_order as cum_out
from query_table(candidates) c
window account_order as (
    partition by c.subject_id order by c.timestamp, c.kind, c.tx_id
    rows between unbounded preceding and current row
);
