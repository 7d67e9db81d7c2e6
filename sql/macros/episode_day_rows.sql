-- The rows of each episode, for episodes in calendar days (episode_rows is the same for
-- episodes bounded by timestamps): select * from
-- episode_day_rows(episode_bounds, rows) -> episode, then every column of `rows`, from
-- the episodes (subject_id, episode, episode_start, episode_limit: dates, as
-- merged_windows gives them) and `rows` (subject_id, day, ...): each row of a subject
-- whose day lies in one of its episodes, with that episode.
create or replace macro episode_day_rows(episode_bounds, rows) as table
select e.episode, r.*
from query_table(episode_bounds) e
join query_table(rows) r
    on r.subject_id = e.subject_id
    and r.day >= e.episode_start
    and r.day <= e.episode_limit;
