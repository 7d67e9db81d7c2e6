-- FLOW-04: a newly opened account that moves more money in its first weeks than almost
-- every other new account of its kind. Needs the accounts file (opened_at).
with new_accounts as (
    select account_id, opened_at, coalesce(customer_type, 'unknown') as customer_type
    from accounts
    where opened_at is not null
),

-- activity in the first window_days after opening, for accounts opened inside the data
early_activity as (
    select n.account_id, n.customer_type, n.opened_at, l.tx_id, l.timestamp, l.amount_rep,
           l.direction
    from new_accounts n
    join account_legs l
        on l.account_id = n.account_id
        and l.timestamp >= n.opened_at
        and l.timestamp < n.opened_at + to_days($window_days)
    where n.opened_at >= (select min(timestamp) from transactions)
),

turnover as (
    select account_id, customer_type, sum(amount_rep) as early_turnover
    from early_activity group by all
),

peer_levels as (
    select customer_type, quantile_cont(early_turnover, $peer_quantile) as peer_level,
           count(*) as peers
    from turnover group by customer_type
),

flagged as (
    select t.account_id, t.early_turnover, p.peer_level, p.peers
    from turnover t join peer_levels p using (customer_type)
    where t.early_turnover >= $min_turnover and t.early_turnover >= p.peer_level
),

final as (
    select
        e.account_id as subject_id,
        min(e.timestamp) as window_start,
        max(e.timestamp) as window_end,
        count(*) as tx_count,
        sum(e.amount_rep) as amount_total,
        list({'tx_id': e.tx_id,
              'why': case e.direction when 'in' then 'received ' else 'sent ' end
                     || format('{:,.2f}', e.amount_rep::double) || ' in the first '
                     || $window_days || ' days of the account'}
             order by e.timestamp, e.tx_id) as evidence,
        'new account moved ' || format('{:,.2f}', sum(e.amount_rep)::double) || ' in '
            || count(*) || ' transactions within ' || $window_days
            || ' days of opening (' || any_value(f.peers) || ' new '
            || any_value(e.customer_type) || ' accounts, level ' || $peer_quantile
            || ': ' || format('{:,.2f}', any_value(f.peer_level)::double) || ')' as reason,
        'mule' as likely_role
    from early_activity e
    join flagged f using (account_id)
    group by e.account_id
)

select * from final
