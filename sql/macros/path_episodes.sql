-- Episodes of a path walk (GRAPH-05 cycles, GRAPH-06 chains): select * from
-- path_episodes(members) -> episode, then every column of `members` (subject_id,
-- first_ts, last_ts, ...: one row per path and account on it). The calendar days from a
-- path's first to its last hop are a window of the account; overlapping windows of one
-- account are merged into episodes (merged_windows), and each path falls in one of them.
create or replace macro path_episodes(members) as table
with qualifying as (
    select distinct
        subject_id,
        first_ts::date as window_start,
        last_ts::date as window_limit
    from query_table(members)
),
episode_bounds as (
    select * from merged_windows(qualifying)
)
select e.episode, m.*
from episode_bounds e
join query_table(members) m
    on m.subject_id = e.subject_id
    and m.first_ts::date >= e.episode_start
    and m.last_ts::date <= e.episode_limit;
