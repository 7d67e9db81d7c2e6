-- Money between each pair of accounts, both directions together, with the share of the
-- account's own money (all its transactions, in and out, cash included) that flowed with
-- the counterparty: the weights of risk propagation. Hubs (more than $max_counterparties
-- distinct counterparties over the scan: merchants, employers, billers, payment
-- processors) carry no risk across: the people around a hub share only its service. Cash
-- is never an account here but stays a counterparty (its rows name it cash_account()), as
-- when these rows came from account_legs. The pairs are pair_flows (each pair of parties
-- once, by account_keys, with the money each way; cash is key 0).
with all_pairs as materialized (
    -- one row per account and counterparty: its degree is the count of its rows, its
    -- total the sum of theirs (amounts are decimals: the same sums in any order)
    select lo_key as account_key, hi_key as counterparty_key,
           coalesce(lo_to_hi, 0) + coalesce(hi_to_lo, 0) as amount
    from pair_flows
    where lo_key <> 0
    union all
    select hi_key, lo_key, coalesce(lo_to_hi, 0) + coalesce(hi_to_lo, 0)
    from pair_flows
    where hi_key <> 0
),

account_totals as (
    select account_key, sum(amount) as total, count(*) as degree
    from all_pairs group by account_key
),

hubs as (
    select account_key from account_totals where degree > $max_counterparties
),

pairs as (
    select account_key, counterparty_key, amount
    from all_pairs
    where account_key not in (select account_key from hubs)
      and counterparty_key not in (select account_key from hubs)
),

final as (
    select a.account_id, coalesce(c.account_id, cash_account()) as counterparty, p.amount,
           (p.amount / nullif(t.total, 0))::double as share
    from pairs p
    join account_totals t using (account_key)
    join account_keys a on a.account_key = p.account_key
    left join account_keys c on c.account_key = p.counterparty_key
)

select * from final
