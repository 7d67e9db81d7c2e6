-- The rows of each episode: select * from episode_rows(episode_bounds, candidates) ->
-- episode, then every column of `candidates` (subject_id, timestamp, ...), one row per
-- candidate whose timestamp lies in an episode of its subject, from the bounds
-- (subject_id, episode, episode_start, episode_limit) merged_windows returns. A rule adds
-- the why of each row and hands the result to episode_hits.
create or replace macro episode_rows(bounds, candidates) as table
select e.episode, c.*
from query_table(bounds) e
join query_table(candidates) c
    on c.subject_id = e.subject_id
    and c.timestamp >= e.episode_start
    and c.timestamp <= e.episode_limit;
