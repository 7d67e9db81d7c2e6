-- The cash reporting threshold of each currency (cash_thresholds.csv), typed.
select upper(currency) as currency, try_cast(threshold as decimal(18, 4)) as threshold
from ref_cash_thresholds
