-- Money between each pair of accounts, both directions together, with the share of the
-- account's own money (all its transactions, in and out, cash included) that flowed with
-- the counterparty: the weights of risk propagation. Cash is no counterparty, and hubs
-- (more than $max_counterparties distinct counterparties over the scan: merchants,
-- employers, billers, payment processors) carry no risk across: the people around a hub
-- share only its service. Each transaction counts once from either side, as in the
-- shared account_legs model, but grouped by sender and receiver first (cash has no side
-- of its own, and is a hub below anyway).
with directed_pairs as materialized (
    -- one group per sender and receiver of the transactions: a pair that pays again and
    -- again (a salary, rent, a friend) is one row before its two sides are made, so the
    -- grouping by account below reads far fewer rows than the legs of every transaction
    select src_account, dst_account, sum(amount_rep) as amount
    from transactions
    group by src_account, dst_account
),

all_pairs as materialized (
    -- one group per account and counterparty, both directions together: its degree is the
    -- count of its groups, its total the sum of theirs (amounts are decimals: the same
    -- sums in any order, so grouping the pairs first changes no figure). Cash is never the
    -- account, only a counterparty, as in account_legs
    select account_id, counterparty, sum(amount) as amount
    from (
        select dst_account as account_id, src_account as counterparty, amount
        from directed_pairs
        where dst_account <> cash_account()
        union all
        select src_account, dst_account, amount
        from directed_pairs
        where src_account <> cash_account()
    )
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
