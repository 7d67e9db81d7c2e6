-- The episode -> hit tail every windowed typology ends with: select * from
-- episode_hits(evidence_rows) -> subject_id, episode, window_start, window_end,
-- tx_count, amount_total, evidence, one_currency, currency, amount_own, one row per
-- episode, from `evidence_rows` (subject_id, episode, tx_id, timestamp, amount,
-- currency, amount_rep, why: the episode's transactions, each once, with the sentence
-- the analyst reads). The window runs from the first to the last transaction; evidence
-- lists {tx_id, why} ordered by timestamp, tx_id; amount_total sums the reporting
-- amounts; one_currency, currency (the lowest code) and amount_own (the sum in the
-- transactions' own currency, meaningful when one_currency) feed money_text. A rule
-- joins its own aggregates of the same rows on (subject_id, episode) and writes the
-- reason.
create or replace macro episode_hits(evidence_rows) as table
select
    subject_id,
    episode,
    min(timestamp) as window_start,
    max(timestamp) as window_end,
    count(*) as tx_count,
    sum(amount_rep) as amount_total,
    list({'tx_id': tx_id, 'why': why} order by timestamp, tx_id) as evidence,
    count(distinct currency) = 1 as one_currency,
    min(currency) as currency,
    sum(amount) as amount_own
from query_table(evidence_rows)
group by subject_id, episode;
