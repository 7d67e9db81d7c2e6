-- Rate of each currency to the reporting currency: the FX table gives units per USD, so a
-- currency's rate is the reporting currency's units per USD over its own. Rows without a
-- positive rate are left out (amounts in them are rejected as NO_FX_RATE at staging).
-- $reporting_units: units of the reporting currency per USD.
select upper(currency) as currency,
       $reporting_units / try_cast(units_per_usd as double) as rate_to_reporting
from ref_fx_rates
where try_cast(units_per_usd as double) > 0
