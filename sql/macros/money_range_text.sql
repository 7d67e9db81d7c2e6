-- Amounts from-to in a reason: money_range_text(min_native, max_native, min_reporting,
-- max_reporting, one_currency_flag, code) -> e.g. '12.00–24.00 EUR' when every amount is
-- in one currency (code), else the range in the reporting currency,
-- '13.16–26.33 (reporting currency)'.
create or replace macro money_range_text(
    min_native, max_native, min_reporting, max_reporting, one_currency_flag, code
) as case
    when one_currency_flag
        then format('{:,.2f}', min_native::double) || '–' || format('{:,.2f}', max_native::double)
             || ' ' || code
    else format('{:,.2f}', min_reporting::double) || '–' || format('{:,.2f}', max_reporting::double)
         || ' (reporting currency)' end;
