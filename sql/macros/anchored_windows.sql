-- Windows opened by rows: every row of `rows` (subject_id, timestamp) opens a window
-- [timestamp, timestamp + span] of its subject, which qualifies when it holds at least
-- min_count rows of that subject (the opening one included):
-- select * from anchored_windows(rows, to_days($window_days), $min_count) ->
-- subject_id, window_start, window_limit, one row per qualifying opening row (rows at
-- one time open the same window; merged_windows folds them). Structuring rules (STR-01,
-- STR-03) count transactions just under a threshold this way.
create or replace macro anchored_windows(rows, span, min_count) as table
select subject_id, window_start, window_limit
from (
    select
        subject_id,
        timestamp as window_start,
        timestamp + span as window_limit,
        count(*) over (
            partition by subject_id order by timestamp
            range between current row and span following
        ) as n_window
    from query_table(rows)
)
where n_window >= min_count;
