-- The account name that stands for cash on either side of a transaction (the canonical
-- value of src_account for cash deposits and dst_account for cash withdrawals). It must
-- equal engine/schema.py CASH_ACCOUNT; tests/test_macros.py checks that it does.
create or replace macro cash_account() as 'CASH';
