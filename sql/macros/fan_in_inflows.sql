-- Fan-in rules (GRAPH-01 fan-in, CTRL-01 collector) count the distinct senders of one
-- receiver within window_days consecutive calendar days (counterparty_windows below).
-- Their inflows:
-- select * from fan_in_inflows(transactions, $channels, $recurring_months) ->
-- subject_id (the receiver), sender, tx_id, timestamp, day, amount, currency,
-- amount_rep, channel, description: the transfers by the given channels between two
-- accounts (cash has no identifiable sender or receiving account), less those of
-- standing relationships, a sender paying the same account in recurring_months
-- calendar months (rent, a subscription, a family allowance): AMLSim's fan-in members
-- each send once.
create or replace macro fan_in_inflows(transactions, channels, recurring_months) as table
with recurring_pairs as (
    select src_account, dst_account
    from query_table(transactions)
    where list_contains(channels::varchar[], channel)
    group by src_account, dst_account
    having count(distinct date_trunc('month', day)) >= recurring_months
)
select
    dst_account as subject_id,
    src_account as sender,
    tx_id,
    timestamp,
    day,
    amount,
    currency,
    amount_rep,
    channel,
    description
from query_table(transactions)
where list_contains(channels::varchar[], channel)
  and src_account <> cash_account()
  and dst_account <> cash_account()
  and (src_account, dst_account) not in (select * from recurring_pairs);
