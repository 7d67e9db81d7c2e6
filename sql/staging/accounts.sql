-- Types the optional accounts file. Input: raw_accounts (text columns, source_row; empty
-- without an accounts file) and $file_index, its position among the input files.
-- The checks are those of engine/schema.py ACCOUNT_CHECKS: each condition below is
-- written under the check's name; the order, reason and column come from the schema as
-- bound lists ($check_names, $check_reasons, $check_columns) and a rejected row carries
-- the first failed check in that order.
with typed as (
    select
        source_row,
        account_id,
        lower(customer_type) as customer_type,
        opened_at as opened_at_text,
        iso_local_timestamp(opened_at) as opened_at,
        upper(country) as country,
        segment,
        bank,
        -- position of the first empty required column ($required_columns, schema order)
        list_position([*columns($required_columns)], null) as missing_required
    from raw_accounts
),

-- each failed check as {'n': its position in the schema's order, 'value': the value the
-- reject reports}; least() keeps the first
checked as (
    select
        t.*,
        least(
            case when missing_required > 0 then {
                'n': list_position($check_names, 'missing_' || $required_columns[missing_required]),
                'value': null} end,
            case when customer_type is not null
                and not list_contains($customer_types, customer_type) then {
                'n': list_position($check_names, 'bad_customer_type'), 'value': customer_type} end,
            case when opened_at_text is not null and opened_at is null then {
                'n': list_position($check_names, 'bad_opened_at'), 'value': opened_at_text} end,
            case when t.country is not null and c.code is null then {
                'n': list_position($check_names, 'bad_country'), 'value': t.country} end
        ) as problem
    from typed t
    left join ref_countries c on c.code = t.country
),

-- an account id seen again after an accepted row is a duplicate
with_duplicates as (
    select
        *,
        coalesce(problem, case
            when row_number() over (
                partition by account_id, problem is null order by source_row
            ) > 1 then {
                'n': list_position($check_names, 'duplicate_account_id'), 'value': account_id}
        end) as first_problem
    from checked
),

final as (
    select
        $file_index::integer as file_index,
        source_row,
        account_id,
        customer_type,
        opened_at,
        country,
        segment,
        bank,
        $check_reasons[first_problem.n] as reject_reason,
        $check_columns[first_problem.n] as reject_column,
        first_problem.value as reject_value
    from with_duplicates
)

select * from final
