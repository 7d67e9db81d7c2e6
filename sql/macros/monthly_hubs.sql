-- Hubs of the path walks (GRAPH-05 cycle, GRAPH-06 chain): select * from
-- monthly_hubs(transfers, accounts, $max_counterparties) -> account_id of each account
-- of `accounts` (column account_id) that pays, or is paid by, more than
-- max_counterparties distinct accounts in one calendar month of `transfers` (columns
-- src_account, dst_account, day; every amount). Money through a hub (payroll
-- processor, employer, landlord of a large building, marketplace, biller) mixes with
-- everyone else's, so a path through it is not one of related accounts.
create or replace macro monthly_hubs(transfers, accounts, max_counterparties) as table
select distinct account_id
from (
    select distinct c.src_account as account_id, date_trunc('month', c.day) as month,
                    'out' as direction, c.dst_account as counterparty
    from query_table(transfers) c
    semi join query_table(accounts) a on a.account_id = c.src_account
    union all
    select distinct c.dst_account, date_trunc('month', c.day), 'in', c.src_account
    from query_table(transfers) c
    semi join query_table(accounts) a on a.account_id = c.dst_account
)
group by account_id, month, direction
having count(*) > max_counterparties;
