-- The first and last hop of the path described in a reason: select * from
-- path_end_amounts(described, hops) -> subject_id, episode, one_currency, currency,
-- first_amount, last_amount, first_rep, last_rep, from `described` (subject_id,
-- episode, txs: the path's transfer ids in order, hop_count) and the transfers `hops`
-- (tx_id, amount, currency, amount_rep).
create or replace macro path_end_amounts(described, hops) as table
select
    d.subject_id,
    d.episode,
    count(distinct h.currency) = 1 as one_currency,
    min(h.currency) as currency,
    max(case when h.tx_id = d.txs[1] then h.amount end) as first_amount,
    max(case when h.tx_id = d.txs[d.hop_count] then h.amount end) as last_amount,
    max(case when h.tx_id = d.txs[1] then h.amount_rep end) as first_rep,
    max(case when h.tx_id = d.txs[d.hop_count] then h.amount_rep end) as last_rep
from query_table(described) d
cross join unnest(d.txs) as t(tx_id)
join query_table(hops) h on h.tx_id = t.tx_id
group by d.subject_id, d.episode;
