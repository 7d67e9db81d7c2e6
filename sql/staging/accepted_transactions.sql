-- The transactions view every later stage reads: the accepted rows of `staged`, with the
-- input file each came from.
create or replace view transactions as
select s.* exclude (reject_reason, reject_column, reject_value), i.source_file
from staged s
join input_files i using (file_index)
where s.reject_reason is null
