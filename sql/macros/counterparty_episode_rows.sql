-- Fan-in and fan-out episodes (GRAPH-01 senders, GRAPH-02 payees): select * from
-- counterparty_episode_rows(flows, $window_days, $min_counterparties,
-- $max_counterparties, $min_total) -> episode, then every column of `flows`, from `flows`
-- (subject_id, counterparty, day, amount_rep, ...): the windows counterparty_windows
-- finds, overlapping ones of a subject merged into episodes (merged_windows), and the
-- flows of each episode (episode_day_rows).
create or replace macro counterparty_episode_rows(
    flows, window_days, min_counterparties, max_counterparties, min_total
) as table
with qualifying as (
    select subject_id, window_start, window_limit
    from counterparty_windows(
        flows, window_days, min_counterparties, max_counterparties, min_total)
),
episode_bounds as (
    select * from merged_windows(qualifying)
)
select * from episode_day_rows(episode_bounds, flows);
