-- The range of amounts in a reason: money_range_text(min_native, max_native, min_rep,
-- max_rep, one_currency_flag, code) -> e.g. '2,800.00–2,990.00 USD' when every transfer
-- is in one currency (code), else the range in the reporting currency,
-- '2,650.10–2,995.00 (reporting currency)'.
create or replace macro money_range_text(
    min_native, max_native, min_rep, max_rep, one_currency_flag, code
)
as case
    when one_currency_flag
        then format('{:,.2f}', min_native::double) || '–' || format('{:,.2f}', max_native::double)
             || ' ' || code
    else format('{:,.2f}', min_rep::double) || '–' || format('{:,.2f}', max_rep::double)
         || ' (reporting currency)' end;
