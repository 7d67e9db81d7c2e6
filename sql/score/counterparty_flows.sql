-- Money between each pair of accounts, both directions together, with the share of the
-- account's own money (all its transactions, in and out, cash included) that flowed with
-- the counterparty: the weights of risk propagation. Cash is no counterparty, and hubs
-- (more than $max_counterparties distinct counterparties over the scan: merchants,
-- employers, billers, payment processors) carry no risk across: the people around a hub
-- share only its service. The legs are the shared account_legs model (each transaction
-- once from either side; cash has no legs of its own, and is a hub below anyway).
with all_pairs as materialized (
    -- one group per account and counterparty: its degree is the count of its groups, its
    -- total the sum of theirs (amounts are decimals: the same sums in any order)
    select account_id, counterparty, sum(amount_rep) as amount
    from account_legs
    group by account_id, counterparty
),

account_totals as (
    select account_id, sum(amount) as total, count(counterparty) as degree
    from all_pairs group by account_id
),

hubs as (
    select account_id from account_totals
    where degree > $max_counterparties or account_id = cash_account()
),

pairs as (
    select account_id, counterparty, amount
    from all_pairs
    where account_id not in (select account_id from hubs)
      and counterparty not in (select account_id from hubs)
),

final as (
    select p.account_id, p.counterparty, p.amount,
           (p.amount / nullif(t.total, 0))::double as share
    from pairs p join account_totals t using (account_id)
)

select * from final
