-- Types every raw row of every input file and decides whether it is accepted.
-- Input: raw_union (canonical columns as text, file_index, source_row, and the typed
-- timestamp_value and amount_value a typed input file carries, else NULL: see
-- engine/load.py _typed_values) and the reference tables ref_currencies, ref_countries,
-- ref_fx. A typed value is taken as it is, which spares parsing its text and gives the
-- same value; every check still runs on it.
-- The checks are those of engine/schema.py TRANSACTION_CHECKS: each condition below is
-- written under the check's name; the order, reason and column come from the schema as
-- bound lists ($check_names, $check_reasons, $check_columns) and a rejected row carries
-- the first failed check in that order. Later duplicates of an accepted tx_id are
-- marked afterwards by duplicates.sql. input_files names the file of each file_index.
with typed as (
    select
        file_index,
        source_row,
        tx_id,
        timestamp as timestamp_text,
        coalesce(timestamp_value, case
            when $timestamp_format is null
                -- ISO 8601; a zone suffix is dropped, keeping the local wall-clock time
                then iso_local_timestamp(timestamp)
            else try_strptime(timestamp, $timestamp_format)
        end) as ts,
        src_account,
        dst_account,
        amount as amount_text,
        coalesce(amount_value, try_cast(amount as decimal(18, 4))) as amount,
        upper(currency) as currency,
        lower(channel) as channel,
        src_bank,
        dst_bank,
        -- numeric MCCs lose their leading zero in some exports: 742 -> 0742
        case when regexp_full_match(mcc, '\d{1,3}') then lpad(mcc, 4, '0') else mcc end as mcc,
        merchant_name,
        merchant_city,
        upper(src_country) as src_country,
        upper(dst_country) as dst_country,
        description,
        is_laundering as is_laundering_text,
        case lower(is_laundering)
            when '1' then 1 when 'true' then 1 when '0' then 0 when 'false' then 0
        end::tinyint as is_laundering,
        pattern,
        -- position of the first empty required column ($required_columns, schema order)
        list_position([*columns($required_columns)], null) as missing_required
    from raw_union
),

with_fx as (
    select
        t.*,
        c.code is not null as currency_known,
        fx.rate_to_reporting,
        sc.code is not null or t.src_country is null as src_country_known,
        dc.code is not null or t.dst_country is null as dst_country_known,
        try_cast(t.amount::double * fx.rate_to_reporting as decimal(18, 4)) as amount_rep
    from typed t
    left join ref_currencies c on c.code = t.currency
    left join ref_fx fx on fx.currency = t.currency
    left join ref_countries sc on sc.code = t.src_country
    left join ref_countries dc on dc.code = t.dst_country
),

-- each failed check as its position in the schema's order ($check_names); least() keeps
-- the first. Plain integers: a struct per check and row costs several times more.
checked as (
    select
        *,
        least(
            case when missing_required > 0
                then list_position($check_names, 'missing_' || $required_columns[missing_required]) end,
            case when ts is null then list_position($check_names, 'bad_timestamp') end,
            case when ts > $latest_timestamp
                then list_position($check_names, 'future_timestamp') end,
            case when amount is null then list_position($check_names, 'bad_amount') end,
            case when amount <= 0 then list_position($check_names, 'non_positive_amount') end,
            case when not currency_known then list_position($check_names, 'bad_currency') end,
            case when rate_to_reporting is null then list_position($check_names, 'no_fx_rate') end,
            case when amount_rep is null
                then list_position($check_names, 'amount_rep_out_of_range') end,
            case when not list_contains($channels, channel)
                then list_position($check_names, 'unknown_channel') end,
            case when not src_country_known then list_position($check_names, 'bad_src_country') end,
            case when not dst_country_known then list_position($check_names, 'bad_dst_country') end,
            case when mcc is not null and not regexp_full_match(mcc, '\d{4}')
                then list_position($check_names, 'bad_mcc') end,
            case when is_laundering_text is not null and is_laundering is null
                then list_position($check_names, 'bad_flag') end,
            case when src_account = dst_account
                then list_position($check_names, 'self_transfer') end
        ) as problem
    from with_fx
),

-- the canonical columns in schema order, then the derived ones (the transactions view
-- is these columns of the accepted rows)
final as (
    select
        tx_id,
        ts as timestamp,
        src_account,
        dst_account,
        amount,
        currency,
        channel,
        src_bank,
        dst_bank,
        mcc,
        merchant_name,
        merchant_city,
        src_country,
        dst_country,
        description,
        is_laundering,
        pattern,
        amount_rep,
        cast(ts as date) as day,
        file_index,
        source_row,
        $check_reasons[problem] as reject_reason,
        $check_columns[problem] as reject_column,
        -- the value the reject reports (none for a missing required value); worked out
        -- for the rejected rows only
        case when problem is not null then case $check_names[problem]
            when 'bad_timestamp' then timestamp_text
            when 'future_timestamp' then timestamp_text
            when 'bad_amount' then amount_text
            when 'non_positive_amount' then amount_text
            when 'amount_rep_out_of_range' then amount_text
            when 'bad_currency' then currency
            when 'no_fx_rate' then currency
            when 'unknown_channel' then channel
            when 'bad_src_country' then src_country
            when 'bad_dst_country' then dst_country
            when 'bad_mcc' then mcc
            when 'bad_flag' then is_laundering_text
            when 'self_transfer' then dst_account
        end end as reject_value,
        -- stored with the row (one value per file compresses to nearly nothing), so the
        -- transactions view every stage reads is a filter of this table, not a join
        i.source_file
    from checked c
    join input_files i using (file_index)
)

-- rows grouped by channel (in file order within a channel): most rules read one or two
-- channels (card spend, cash, transfers), and a row group holding one channel is skipped
-- by their scans from its min/max statistics, without reading its other columns. One
-- integer sort key (the channel's position in $channels, 0 for any other, above the row
-- number) sorts about as fast as no sort at all; a text key and the row number cost more.
select * from final
order by coalesce(list_position($channels, channel), 0)::bigint << 40 | source_row
