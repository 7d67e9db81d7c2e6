-- Then the pairs: select * from cash_out_pairs(running, to_hours($window_hours)) ->
-- subject_id, pair_start, pair_end, cash_in, sent_out: one row per deposit d and
-- later outflow o of the same account at most pair_window after it, with the cash
-- deposited from d up to o (cash_in) and the outflows in the same span (sent_out),
-- from `running` (the output of cash_running_totals, with day). Each deposit is
-- copied onto the days its window touches, so the pair join is an equi-join on
-- (account, day): the work grows with the deposit-outflow pairs within the window,
-- never with an account's whole history.
create or replace macro cash_out_pairs(running, pair_window) as table
with deposit_days as (
    select r.*, r.day + k.day_offset::integer as bucket_day
    from query_table(running) r
    cross join generate_series(
        0, ceil(epoch(pair_window) / 86400)::integer) as k(day_offset)
    where r.kind = 'cash'
)
select
    d.subject_id,
    d.timestamp as pair_start,
    o.timestamp as pair_end,
    o.cum_cash - (d.cum_cash - d.amount_rep) as cash_in,
    o.cum_out - d.cum_out as sent_out
from deposit_days d
join query_table(running) o
    on o.subject_id = d.subject_id
    and o.day = d.bucket_day
    and o.kind = 'out'
where o.timestamp >= d.timestamp
  and o.timestamp <= d.timestamp + pair_window;
