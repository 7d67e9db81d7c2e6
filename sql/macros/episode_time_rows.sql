-- The rows of each episode, for episodes bounded by timestamps: select * from
-- episode_time_rows(episode_bounds, rows) -> episode, then every column of `rows`, from
-- the episodes (subject_id, episode, episode_start, episode_limit: timestamps, as
-- merged_windows gives them) and `rows` (subject_id, timestamp, ...): each row of a
-- subject whose timestamp lies in one of its episodes, with that episode.
create or replace macro episode_time_rows(episode_bounds, rows) as table
select e.episode, r.*
from query_table(episode_bounds) e
join query_table(rows) r
    on r.subject_id = e.subject_id
    and r.timestamp >= e.episode_start
    and r.timestamp <= e.episode_limit;
