-- The transfers the scatter-gather rules (GRAPH-03 gather-scatter, GRAPH-04
-- scatter-gather) count as legs: select * from counted_transfers(transactions,
-- wage_credits, $channels, $min_leg_amount, $recurring_months) -> tx_id, timestamp, day,
-- src_account, dst_account, amount, currency, amount_rep, channel, description.
-- A leg is a transfer by one of the channels (card payments are shopping and merchant
-- takings; cash has no identifiable sender or receiver) between two accounts, of at least
-- min_leg_amount (AMLSim's minimum individual amount: tiny legs neither count nor
-- interrupt a run), that is no wage credit (the shared wage_credits table: an employer or
-- a payroll processor pays its staff by design) and whose pair of accounts is no standing
-- relationship: a pair transacting in recurring_months calendar months or more
-- (allowance, salary, rent, a supplier, a tenant) is one, where AMLSim's scatter and
-- gather legs each happen once. Whether a transfer counts depends on itself and its pair
-- alone, so the rules find their counted legs before any per-account screen. Pairs are
-- grouped by one 64-bit hash of (payer, payee) instead of the two ids (a pair sharing the
-- hash of a standing relationship is vanishingly unlikely).
create or replace macro counted_transfers(
    transactions, wage_credits, channels, min_leg_amount, recurring_months
) as table
with recurring_pairs as (
    select hash(src_account, dst_account) as pair_hash
    from query_table(transactions)
    where list_contains(channels::varchar[], channel)
      and src_account <> cash_account()
      and dst_account <> cash_account()
      and amount_rep >= min_leg_amount
    group by pair_hash
    having count(distinct date_trunc('month', day)) >= recurring_months
)
select t.tx_id, t.timestamp, t.day, t.src_account, t.dst_account, t.amount, t.currency,
       t.amount_rep, t.channel, t.description
from query_table(transactions) t
anti join query_table(wage_credits) w on w.tx_id = t.tx_id
where list_contains(channels::varchar[], t.channel)
  and t.src_account <> cash_account()
  and t.dst_account <> cash_account()
  and t.amount_rep >= min_leg_amount
  and hash(t.src_account, t.dst_account) not in (select pair_hash from recurring_pairs);
