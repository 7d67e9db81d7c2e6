-- peer_levels: how an account-level measure is spread over each peer group, for the rules
-- that set an account against its peers. One row per measure and peer group (customer_type
-- and segment of the accounts file, '' when missing): peers (accounts in the group with a
-- value) and peer_values (their values, ascending). A rule reads the level its own
-- peer_quantile parameter asks for, list_aggregate(peer_values, 'quantile_cont', q), the
-- same value quantile_cont gives over the group. Measures (from account_features, so they
-- need no typology parameter):
--   business_revenue  money received over the export, business accounts (LAB-04)
-- Measures that depend on a rule's own parameters (a share of spend in the rule's MCC
-- groups, turnover in the rule's first days) stay in that rule, and so do comparisons that
-- leave the account itself out of its peers (BIZ-01: a window excluding the current row).
with business_accounts as (
    select
        coalesce(a.customer_type, '') as customer_type,
        coalesce(a.segment, '') as segment,
        coalesce(f.in_amount, 0) as revenue
    from accounts a
    join account_features f using (account_id)
    where a.customer_type = 'business'
),

final as (
    select
        'business_revenue' as measure,
        customer_type,
        segment,
        count(*) as peers,
        list(revenue order by revenue) as peer_values
    from business_accounts
    group by customer_type, segment
)

select * from final order by measure, customer_type, segment
