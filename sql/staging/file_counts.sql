-- Accepted and rejected rows per input file, from both staging tables (the rows the CSV
-- reader skipped are counted by the loader).
select file_index, reject_reason is null as accepted, count(*) as row_count
from staged
group by all
union all
select file_index, reject_reason is null, count(*)
from staged_accounts
group by all
