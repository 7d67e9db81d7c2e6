-- Marks later repeats of an accepted tx_id (files in sorted order, then row order) with
-- the duplicate_tx_id check of engine/schema.py TRANSACTION_CHECKS, the last one. Ranking
-- only the ids that occur more than once is several times faster than a window over
-- every row, and repeats are rare.
update staged
set reject_reason = $check_reasons[list_position($check_names, 'duplicate_tx_id')],
    reject_column = $check_columns[list_position($check_names, 'duplicate_tx_id')],
    reject_value = staged.tx_id
from (
    select file_index, source_row
    from staged
    where reject_reason is null
        and tx_id in (
            select tx_id from staged where reject_reason is null group by tx_id having count(*) > 1
        )
    qualify row_number() over (partition by tx_id order by file_index, source_row) > 1
) as repeats
where staged.file_index = repeats.file_index and staged.source_row = repeats.source_row
