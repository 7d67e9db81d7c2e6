-- Exact distinct counts over sliding windows of window_days calendar days without a
-- join (structuring and smurfing rules: STR-02 counts depositors, XB-02 senders and
-- locations): select * from distinct_day_sweep(members, $window_days) -> subject_id,
-- part, point, delta, from `members` (subject_id, part, member, day), one row per
-- member active on a day. part separates counts kept apart (a threshold currency, or
-- what is counted). The running sum of delta over point, per subject_id and part, at a
-- day d is the number of distinct members active in [d, d + window_days - 1]. A member
-- active on day x is in the windows starting on x - window_days + 1 .. x (+1 at the
-- first, -1 after the last); when it was also active on an earlier day p inside that
-- range, the windows starting on x - window_days + 1 .. p already count it and get
-- -1 / +1 back.
create or replace macro distinct_day_sweep(members, window_days) as table
with spans as (
    select
        subject_id,
        part,
        day,
        lag(day) over (partition by subject_id, part, member order by day) as prev_day,
        day - (window_days - 1)::integer as first_start
    from query_table(members)
)
select subject_id, part, first_start as point, 1 as delta from spans
union all
select subject_id, part, day + 1, -1 from spans
union all
select subject_id, part, first_start, -1 from spans where prev_day >= first_start
union all
select subject_id, part, prev_day + 1, 1 from spans where prev_day >= first_start;
