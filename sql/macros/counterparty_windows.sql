-- Windows of window_days consecutive calendar days in which one account deals with at
-- least min_counterparties distinct counterparties on one side (fan-in: GRAPH-01,
-- CTRL-01 count senders; fan-out: GRAPH-02 counts payees):
-- select * from counterparty_windows(transfers, $window_days, $min_counterparties,
-- $max_counterparties, $min_total) -> subject_id, window_start, window_limit (calendar
-- days), counterparties, amount_rep, one row per qualifying window, from `transfers`
-- (subject_id, counterparty, day, amount_rep). Distinct counts over a sliding window
-- cannot be a window function (count(distinct) has no RANGE frame), so the work is
-- done on day buckets: one row per account, day and counterparty; the sum of the daily
-- counterparty counts over the window bounds the distinct counterparties from above (one
-- active on several days is counted once per day) and prunes most windows; the
-- remaining candidate windows get an exact count through an equi-join on (account,
-- day). Nothing joins an account's whole history with itself. An account that ever has
-- more than max_counterparties in one window is a hub (merchant, biller, charity,
-- marketplace receiving; payroll bureau, marketplace, insurer paying out): that is its
-- business, and the peer-group detectors, not a count rule, judge whether its volume
-- fits; none of its windows is returned. Windows below min_total (friends splitting a
-- bill, a few small gifts) are neither a collection nor a distribution.
create or replace macro counterparty_windows(
    transfers, window_days, min_counterparties, max_counterparties, min_total
) as table
with counterparty_days as materialized (
    select subject_id, day, counterparty, sum(amount_rep) as amount_rep
    from query_table(transfers)
    group by subject_id, day, counterparty
),
active_days as (
    select subject_id, day, count(*) as counterparties
    from counterparty_days
    group by subject_id, day
),
bounded as (
    select
        subject_id,
        day as window_day,
        sum(counterparties) over (
            partition by subject_id order by day
            range between current row and to_days(window_days - 1) following
        ) as counterparty_bound
    from active_days
),
candidate_windows as (
    select subject_id, window_day
    from bounded
    where counterparty_bound >= min_counterparties
),
candidate_window_days as (
    select c.subject_id, c.window_day, c.window_day + k.day_offset::integer as day
    from candidate_windows c
    cross join generate_series(0, window_days - 1) as k(day_offset)
),
window_counts as (
    select
        w.subject_id,
        w.window_day,
        count(distinct s.counterparty) as counterparties,
        sum(s.amount_rep) as amount_rep
    from candidate_window_days w
    join counterparty_days s on s.subject_id = w.subject_id and s.day = w.day
    group by w.subject_id, w.window_day
),
hubs as (
    select subject_id
    from window_counts
    group by subject_id
    having max(counterparties) > max_counterparties
)
select
    c.subject_id,
    c.window_day as window_start,
    c.window_day + (window_days - 1)::integer as window_limit,
    c.counterparties,
    c.amount_rep
from window_counts c
anti join hubs h on h.subject_id = c.subject_id
where c.counterparties >= min_counterparties
  and c.amount_rep >= min_total;
