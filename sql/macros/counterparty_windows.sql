-- Windows of window_days consecutive calendar days in which one account deals with at
-- least min_counterparties distinct counterparties on one side (fan-in: GRAPH-01,
-- CTRL-01 count senders; fan-out: GRAPH-02 counts payees):
-- select * from counterparty_windows(transfers, $window_days, $min_counterparties,
-- $max_counterparties, $min_total) -> subject_id, window_start, window_limit (calendar
-- days), counterparties, amount_rep, one row per qualifying window, from `transfers`
-- (subject_id, counterparty, day, amount_rep). Distinct counts over a sliding window
-- cannot be a window function (count(distinct) has no RANGE frame), so the work is
-- done on day buckets: one row per account and day; the sum of the daily transfer counts
-- over the window bounds the distinct counterparties from above (each counterparty has
-- at least one transfer in the window) and prunes most windows, as does the money of
-- the window below min_total, and an account whose transfers or money over its whole
-- history stay below min_counterparties or min_total has no window to count; the
-- remaining candidate windows get an exact count through an equi-join on (account,
-- day). Nothing joins an account's whole history with itself. An account that ever has
-- more than max_counterparties in one window is a hub (merchant, biller, charity,
-- marketplace receiving; payroll bureau, marketplace, insurer paying out): that is its
-- business, and the peer-group detectors, not a count rule, judge whether its volume
-- fits; none of its windows is returned. Windows below min_total (friends splitting a
-- bill, a few small gifts) are neither a collection nor a distribution.
-- Accounts and counterparties are grouped and joined by 64-bit hashes of their ids (two
-- ids of one account's window sharing a hash are vanishingly unlikely); the id itself is
-- carried along for the few windows returned.
create or replace macro counterparty_windows(
    transfers, window_days, min_counterparties, max_counterparties, min_total
) as table
with keyed as materialized (
    select
        hash(subject_id) as subject_key,
        day,
        hash(counterparty) as counterparty_key,
        subject_id,
        amount_rep
    from query_table(transfers)
),
active_days as materialized (
    select subject_key, day, count(*) as transfer_count, sum(amount_rep) as day_amount
    from keyed
    group by subject_key, day
),
-- an account's transfers and money over its whole history bound every one of its
-- windows (amounts are positive): an account below min_counterparties or min_total has
-- no window to return, whether or not it is a hub
active_subjects as (
    select subject_key
    from active_days
    group by subject_key
    having sum(transfer_count) >= min_counterparties
       and sum(day_amount) >= min_total
),
bounded as (
    select
        subject_key,
        day as window_day,
        sum(transfer_count) over (
            partition by subject_key order by day
            range between current row and to_days(window_days - 1) following
        ) as counterparty_bound,
        sum(day_amount) over (
            partition by subject_key order by day
            range between current row and to_days(window_days - 1) following
        ) as window_amount
    from active_days
    semi join active_subjects s using (subject_key)
),
-- a window below min_total is not returned, and it can make its account a hub only if
-- its bound exceeds max_counterparties; the money of a window is exact
candidate_windows as (
    select subject_key, window_day
    from bounded
    where counterparty_bound >= min_counterparties
      and (window_amount >= min_total or counterparty_bound > max_counterparties)
),
candidate_window_days as (
    select c.subject_key, c.window_day, c.window_day + k.day_offset::integer as day
    from candidate_windows c
    cross join generate_series(0, window_days - 1) as k(day_offset)
),
window_counts as (
    select
        w.subject_key,
        w.window_day,
        any_value(s.subject_id) as subject_id,
        count(distinct s.counterparty_key) as counterparties,
        sum(s.amount_rep) as amount_rep
    from candidate_window_days w
    join keyed s on s.subject_key = w.subject_key and s.day = w.day
    group by w.subject_key, w.window_day
),
hubs as (
    select subject_key
    from window_counts
    group by subject_key
    having max(counterparties) > max_counterparties
)
select
    c.subject_id,
    c.window_day as window_start,
    c.window_day + (window_days - 1)::integer as window_limit,
    c.counterparties,
    c.amount_rep
from window_counts c
anti join hubs h on h.subject_key = c.subject_key
where c.counterparties >= min_counterparties
  and c.amount_rep >= min_total;
