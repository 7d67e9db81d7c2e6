-- Typologies find qualifying windows per account and report one hit per episode:
-- overlapping windows [window_start, window_limit] of one subject are merged.
-- Usage: select * from merged_windows(qualifying) -> subject_id, episode,
-- episode_start, episode_limit.
create or replace macro merged_windows(windows) as table
select subject_id, episode, min(window_start) as episode_start,
       max(window_limit) as episode_limit
from (
    select *, sum(is_new) over (
               partition by subject_id order by window_start, window_limit
           ) as episode
    from (
        select *,
               case when window_start <= max(window_limit) over (
                        partition by subject_id order by window_start, window_limit
                        rows between unbounded preceding and 1 preceding)
                    then 0 else 1 end as is_new
        from query_table(windows)
    )
)
group by subject_id, episode;
