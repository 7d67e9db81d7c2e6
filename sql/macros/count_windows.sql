-- Windows that open on an event and hold enough events: select * from
-- count_windows(events, to_days($window_days), $min_payments) -> subject_id,
-- window_start, window_limit, one row per event of `events` (subject_id, timestamp) whose
-- window [timestamp, timestamp + window_length] holds at least min_count events of the
-- same subject (the event itself included). merged_windows then turns overlapping
-- windows into episodes.
create or replace macro count_windows(events, window_length, min_count) as table
select subject_id, window_start, window_start + window_length as window_limit
from (
    select
        subject_id,
        timestamp as window_start,
        count(*) over (
            partition by subject_id order by timestamp
            range between current row and window_length following
        ) as n_window
    from query_table(events)
)
where n_window >= min_count;
