-- Types the optional accounts file. Input: raw_accounts (text columns, source_row).
-- A rejected row carries the first failed check, in the order below.
with typed as (
    select
        source_row,
        account_id,
        lower(customer_type) as customer_type,
        opened_at as opened_at_text,
        iso_local_timestamp(opened_at) as opened_at,
        upper(country) as country,
        segment,
        bank
    from raw_accounts
),

checked as (
    select
        t.*,
        case
            when account_id is null then {'code': 'REQUIRED_MISSING', 'col': 'account_id', 'val': null}
            when customer_type is not null and customer_type not in ('individual', 'business')
                then {'code': 'BAD_CUSTOMER_TYPE', 'col': 'customer_type', 'val': customer_type}
            when opened_at_text is not null and opened_at is null
                then {'code': 'BAD_TIMESTAMP', 'col': 'opened_at', 'val': opened_at_text}
            when t.country is not null and c.code is null
                then {'code': 'BAD_COUNTRY', 'col': 'country', 'val': t.country}
        end as problem
    from typed t
    left join ref_countries c on c.code = t.country
),

final as (
    select
        source_row,
        account_id,
        customer_type,
        opened_at,
        country,
        segment,
        bank,
        case
            when problem is not null then problem.code
            when row_number() over (
                partition by account_id, problem is null order by source_row
            ) > 1 then 'DUPLICATE_ACCOUNT_ID'
        end as reject_reason,
        case when problem is not null then problem.col when reject_reason is not null then 'account_id' end as reject_column,
        case when problem is not null then problem.val when reject_reason is not null then account_id end as reject_value
    from checked
)

select * from final
