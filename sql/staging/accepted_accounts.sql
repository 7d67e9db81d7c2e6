-- The accounts view: the accepted rows of the accounts file (empty without one).
create or replace view accounts as
select account_id, customer_type, opened_at, country, segment, bank
from staged_accounts
where reject_reason is null
