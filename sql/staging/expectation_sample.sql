-- The rows of one raw input file ($raw_table) that the Great Expectations suite checks:
-- every $step-th row, typed as transactions.sql types them (amounts and flags as
-- doubles so that the suite sees non-finite and non-0/1 values).
select
    tx_id,
    case
        when $timestamp_format is null then iso_local_timestamp(timestamp)
        else try_strptime(timestamp, $timestamp_format)
    end as timestamp,
    src_account,
    dst_account,
    try_cast(amount as double) as amount,
    upper(currency) as currency,
    lower(channel) as channel,
    case when regexp_full_match(mcc, '\d{1,3}') then lpad(mcc, 4, '0') else mcc end as mcc,
    upper(src_country) as src_country,
    upper(dst_country) as dst_country,
    try_cast(is_laundering as double) as is_laundering
from query_table($raw_table)
where source_row % $step = 0
order by source_row
