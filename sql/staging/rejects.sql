-- Every rejected row with its file, row, column, reason, detail and raw value, in file
-- and row order: the checked rows of both staging queries and the rows the CSV reader
-- could not split or decode (raw_structural_rejects, which carry the reader's message as
-- detail). The detail of a checked row comes from engine/schema.py REJECT_DETAILS
-- (the reject_details table).
create or replace view rejects as
with row_level as (
    select file_index, source_row, reject_column as "column",
           reject_reason as reason_code, tx_id, reject_value as raw_value
    from staged where reject_reason is not null
),

accounts_file as (
    select file_index, source_row, reject_column as "column",
           reject_reason as reason_code, null as tx_id, reject_value as raw_value
    from staged_accounts where reject_reason is not null
),

checked as (
    select r.file_index, r.source_row, r."column", r.reason_code, d.detail, r.tx_id,
           r.raw_value
    from (select * from row_level union all select * from accounts_file) r
    left join reject_details d using (reason_code)
),

structural as (
    select file_index, source_row, null as "column", reason_code, detail,
           null as tx_id, raw_value
    from raw_structural_rejects
),

final as (
    select * from checked
    union all
    select * from structural
)

select i.source_file, f.source_row, f."column", f.reason_code, f.detail, f.tx_id,
       f.raw_value
from final f join input_files i using (file_index)
order by f.file_index, f.source_row
