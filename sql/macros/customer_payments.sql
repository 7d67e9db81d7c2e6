-- The payments of customers out of a rule's candidate payments (src_account pays
-- dst_account): a party that two or more others paid is the merchant, so its refunds and
-- reversals back to customers are not spending; business accounts are left out because
-- the lifestyle and purchase indicators that use this are about individuals.
-- Usage: select * from customer_payments(payment_rows) -> the rows of payment_rows, each
-- with subject_id = src_account (the paying customer).
create or replace macro customer_payments(payments) as table
with merchants as (
    select dst_account as account_id
    from query_table(payments)
    group by dst_account
    having count(distinct src_account) >= 2
)
select r.*, r.src_account as subject_id
from query_table(payments) r
anti join merchants m on m.account_id = r.src_account
anti join (select account_id from accounts where customer_type = 'business') b
    on b.account_id = r.src_account;
