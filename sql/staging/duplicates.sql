-- Marks later repeats of an accepted tx_id (files in sorted order, then row order) with
-- the duplicate_tx_id check of engine/schema.py TRANSACTION_CHECKS, the last one. Only
-- the ids whose 64-bit hash occurs more than once are ranked: grouping every row by an
-- integer is several times faster than by the text or a window over every row, repeats
-- are rare, and the ranking by the id itself keeps two different ids sharing a hash apart.
update staged
set reject_reason = $check_reasons[list_position($check_names, 'duplicate_tx_id')],
    reject_column = $check_columns[list_position($check_names, 'duplicate_tx_id')],
    reject_value = staged.tx_id
from (
    select file_index, source_row
    from staged
    where reject_reason is null
        and hash(tx_id) in (
            select hash(tx_id) from staged where reject_reason is null
            group by hash(tx_id) having count(*) > 1
        )
    qualify row_number() over (partition by tx_id order by file_index, source_row) > 1
) as repeats
where staged.file_index = repeats.file_index and staged.source_row = repeats.source_row
