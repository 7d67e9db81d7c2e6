-- Money in a reason: money_text(native_sum, reporting_sum, one_currency_flag, code) ->
-- e.g. '1,250.00 EUR' when every transfer summed is in one currency (code), else the
-- sum in the reporting currency, '1,371.40 (reporting currency)'.
create or replace macro money_text(native_sum, reporting_sum, one_currency_flag, code)
as case
    when one_currency_flag then format('{:,.2f}', native_sum::double) || ' ' || code
    else format('{:,.2f}', reporting_sum::double) || ' (reporting currency)' end;
