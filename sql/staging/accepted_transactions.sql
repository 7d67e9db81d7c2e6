-- The transactions view every later stage reads: the accepted rows of `staged`, with the
-- input file each came from (stored in `staged`: a join here would run in every scan of
-- the view, since DuckDB keeps an inner join even when none of its columns is read).
create or replace view transactions as
select s.* exclude (reject_reason, reject_column, reject_value)
from staged s
where s.reject_reason is null
