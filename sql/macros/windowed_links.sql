-- Day links copied onto the windows of window_days calendar days that open on each day
-- with a link: select * from windowed_links(links, $window_days, $min_link_amount) ->
-- window_day, src, dst, first_day, last_day, amount_rep, from `links` (src, dst, day,
-- amount_rep). A block whose links span at most window_days is seen whole in the
-- window opening on its first day; a pair with less than min_link_amount in a window
-- (a token payment) is no link of it.
create or replace macro windowed_links(links, window_days, min_link_amount) as table
with window_starts as (
    select distinct day as window_day from query_table(links)
)
select
    w.window_day,
    c.src,
    c.dst,
    min(c.day) as first_day,
    max(c.day) as last_day,
    sum(c.amount_rep) as amount_rep
from query_table(links) c
cross join generate_series(0, window_days - 1) as k(day_offset)
join window_starts w on w.window_day = c.day - k.day_offset::integer
group by w.window_day, c.src, c.dst
having sum(c.amount_rep) >= min_link_amount;
