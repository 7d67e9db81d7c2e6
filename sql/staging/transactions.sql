-- Types every raw row of every input file and decides whether it is accepted.
-- Input: raw_union (canonical columns as text, file_index, source_row) and the
-- reference tables ref_currencies, ref_countries, ref_fx.
-- A rejected row carries one reason: the first failed check, in the order below.
-- Later duplicates of an accepted tx_id are marked afterwards by duplicates.sql.
with typed as (
    select
        file_index,
        source_row,
        tx_id,
        timestamp as timestamp_text,
        case
            when $timestamp_format is null
                -- ISO 8601; a zone suffix is dropped, keeping the local wall-clock time
                then iso_local_timestamp(timestamp)
            else try_strptime(timestamp, $timestamp_format)
        end as ts,
        src_account,
        dst_account,
        amount as amount_text,
        try_cast(amount as decimal(18, 4)) as amount,
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
        pattern
    from raw_union
),

with_fx as (
    select
        t.*,
        c.code is not null as currency_known,
        fx.rate_to_reporting,
        sc.code is not null or t.src_country is null as src_country_known,
        dc.code is not null or t.dst_country is null as dst_country_known
    from typed t
    left join ref_currencies c on c.code = t.currency
    left join ref_fx fx on fx.currency = t.currency
    left join ref_countries sc on sc.code = t.src_country
    left join ref_countries dc on dc.code = t.dst_country
),

checked as (
    select
        *,
        try_cast(amount::double * rate_to_reporting as decimal(18, 4)) as amount_rep,
        case
            when tx_id is null then {'code': 'REQUIRED_MISSING', 'col': 'tx_id', 'val': null}
            when timestamp_text is null then {'code': 'REQUIRED_MISSING', 'col': 'timestamp', 'val': null}
            when src_account is null then {'code': 'REQUIRED_MISSING', 'col': 'src_account', 'val': null}
            when dst_account is null then {'code': 'REQUIRED_MISSING', 'col': 'dst_account', 'val': null}
            when amount_text is null then {'code': 'REQUIRED_MISSING', 'col': 'amount', 'val': null}
            when currency is null then {'code': 'REQUIRED_MISSING', 'col': 'currency', 'val': null}
            when channel is null then {'code': 'REQUIRED_MISSING', 'col': 'channel', 'val': null}
            when ts is null then {'code': 'BAD_TIMESTAMP', 'col': 'timestamp', 'val': timestamp_text}
            when ts > $latest_timestamp then {'code': 'FUTURE_TIMESTAMP', 'col': 'timestamp', 'val': timestamp_text}
            when amount is null then {'code': 'BAD_AMOUNT', 'col': 'amount', 'val': amount_text}
            when amount <= 0 then {'code': 'NON_POSITIVE_AMOUNT', 'col': 'amount', 'val': amount_text}
            when not currency_known then {'code': 'BAD_CURRENCY', 'col': 'currency', 'val': currency}
            when rate_to_reporting is null then {'code': 'NO_FX_RATE', 'col': 'currency', 'val': currency}
            when amount_rep is null then {'code': 'BAD_AMOUNT', 'col': 'amount', 'val': amount_text}
            when not list_contains($channels, channel) then {'code': 'UNKNOWN_CHANNEL', 'col': 'channel', 'val': channel}
            when not src_country_known then {'code': 'BAD_COUNTRY', 'col': 'src_country', 'val': src_country}
            when not dst_country_known then {'code': 'BAD_COUNTRY', 'col': 'dst_country', 'val': dst_country}
            when mcc is not null and not regexp_full_match(mcc, '\d{4}') then {'code': 'BAD_MCC', 'col': 'mcc', 'val': mcc}
            when is_laundering_text is not null and is_laundering is null then {'code': 'BAD_FLAG', 'col': 'is_laundering', 'val': is_laundering_text}
            when src_account = dst_account then {'code': 'SELF_TRANSFER', 'col': 'dst_account', 'val': dst_account}
        end as problem
    from with_fx
),

final as (
    select
        file_index,
        source_row,
        tx_id,
        ts as timestamp,
        src_account,
        dst_account,
        amount,
        currency,
        amount_rep,
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
        cast(ts as date) as day,
        problem.code as reject_reason,
        problem.col as reject_column,
        problem.val as reject_value
    from checked
)

select * from final
