-- Fan-in rules (GRAPH-01 fan-in, CTRL-01 collector) count the distinct senders of one
-- receiver within window_days consecutive calendar days (counterparty_windows below).
-- Their inflows:
-- select * from fan_in_inflows(transactions, $channels, $recurring_months) ->
-- subject_id (the receiver), sender, tx_id, timestamp, day, amount, currency,
-- amount_rep, channel, description: the transfers by the given channels between two
-- accounts (cash has no identifiable sender or receiving account), less those of
-- standing relationships, a sender paying the same account in recurring_months
-- calendar months (rent, a subscription, a family allowance): AMLSim's fan-in members
-- each send once. The pairs are grouped and matched by one 64-bit hash of (sender,
-- receiver) instead of the two ids (a pair sharing the hash of a standing relationship is
-- vanishingly unlikely). Two months, the usual setting, need no distinct count: a pair's
-- first and last months differ exactly when it was paid in two or more months.
create or replace macro fan_in_inflows(transactions, channels, recurring_months) as table
with pair_months as (
    select
        hash(src_account, dst_account) as pair_hash,
        min(day) as first_day,
        max(day) as last_day
    from query_table(transactions)
    where recurring_months <= 2
      and list_contains(channels::varchar[], channel)
    group by pair_hash
),
recurring_pairs as (
    -- at most two months: every pair counts one month, a second month shows as a
    -- first and last day in different months
    select pair_hash
    from pair_months
    where recurring_months <= 1
       or date_trunc('month', first_day) < date_trunc('month', last_day)
    union all
    select hash(src_account, dst_account) as pair_hash
    from query_table(transactions)
    where recurring_months > 2
      and list_contains(channels::varchar[], channel)
    group by pair_hash
    having count(distinct date_trunc('month', day)) >= recurring_months
)
select
    t.dst_account as subject_id,
    t.src_account as sender,
    t.tx_id,
    t.timestamp,
    t.day,
    t.amount,
    t.currency,
    t.amount_rep,
    t.channel,
    t.description
from query_table(transactions) t
anti join recurring_pairs r on r.pair_hash = hash(t.src_account, t.dst_account)
where list_contains(channels::varchar[], t.channel)
  and t.src_account <> cash_account()
  and t.dst_account <> cash_account();
