-- Accounts with two distinct counterparties on one side within window_days, from day
-- links (src, dst, day: one row per payer, payee and day):
-- select * from two_counterparty_accounts(links, $window_days) -> account, side
-- ('payer': two payees, 'payee': two payers). If an account has two, two of its links
-- that are neighbours in day order already show it (the first change of counterparty
-- between them), so comparing each link with the previous one is exact.
create or replace macro two_counterparty_accounts(links, window_days) as table
select distinct src as account, 'payer' as side
from (
    select src, dst, day,
           lag(dst) over (partition by src order by day, dst) as prev_dst,
           lag(day) over (partition by src order by day, dst) as prev_day
    from query_table(links)
)
where prev_dst <> dst and day - prev_day <= window_days - 1
union all
select distinct dst, 'payee'
from (
    select src, dst, day,
           lag(src) over (partition by dst order by day, src) as prev_src,
           lag(day) over (partition by dst order by day, src) as prev_day
    from query_table(links)
)
where prev_src <> src and day - prev_day <= window_days - 1;
