-- Money between each pair of accounts, both directions together, with the share of the
-- account's own money (all its transactions, in and out, cash included) that flowed with
-- the counterparty: the weights of risk propagation. Hubs (more than $max_counterparties
-- distinct counterparties over the scan: merchants, employers, billers, payment
-- processors) carry no risk across: the people around a hub share only its service. Cash
-- is never an account here but stays a counterparty (its rows name it cash_account()), as
-- when these rows came from account_legs. The pairs are pair_flows (each pair of parties
-- once, by account_keys, with the money each way; cash is key 0).
with all_pairs as (
    -- one row per account and counterparty: its degree is the count of its rows, its
    -- total the sum of theirs (amounts are decimals: the same sums in any order). Read
    -- once, straight into the totals: only the pairs of two non-hubs go further
    select lo_key as account_key, hi_key as counterparty_key,
           coalesce(lo_to_hi, 0) + coalesce(hi_to_lo, 0) as amount
    from pair_flows
    where lo_key <> 0
    union all
    select hi_key, lo_key, coalesce(lo_to_hi, 0) + coalesce(hi_to_lo, 0)
    from pair_flows
    where hi_key <> 0
),

account_totals as materialized (
    select account_key, sum(amount) as total, count(*) as degree
    from all_pairs group by account_key
),

hubs as (
    select account_key from account_totals where degree > $max_counterparties
),

kept_pairs as materialized (
    -- the pairs of pair_flows with no hub on either side, each once (cash, key 0, is
    -- never a hub: it has no row of account_totals)
    select lo_key, hi_key, coalesce(lo_to_hi, 0) + coalesce(hi_to_lo, 0) as amount
    from pair_flows
    where lo_key not in (select account_key from hubs)
      and hi_key not in (select account_key from hubs)
),

pairs as (
    -- the rows of all_pairs whose account and counterparty are both non-hubs
    select lo_key as account_key, hi_key as counterparty_key, amount
    from kept_pairs
    where lo_key <> 0
    union all
    select hi_key, lo_key, amount
    from kept_pairs
    where hi_key <> 0
),

named_totals as (
    -- each account's total with its id: one join per pair for both
    select t.account_key, a.account_id, t.total
    from account_totals t
    join account_keys a using (account_key)
),

final as (
    select t.account_id, coalesce(c.account_id, cash_account()) as counterparty, p.amount,
           (p.amount / nullif(t.total, 0))::double as share
    from pairs p
    join named_totals t using (account_key)
    left join account_keys c on c.account_key = p.counterparty_key
)

select * from final
