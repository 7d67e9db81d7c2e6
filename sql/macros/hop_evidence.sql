-- Evidence of a path walk's episodes: select * from hop_evidence(episode_txs, hops) ->
-- subject_id, episode, window_start, window_end, tx_count, amount_total, evidence (see
-- episode_hits), from `episode_txs` (subject_id, episode, tx_id, label: each transfer
-- once, with what it is on the path, e.g. 'cycle hop', 'chain hop', 'peel') and the
-- transfers `hops` (tx_id, src_account, dst_account, timestamp, amount, currency,
-- amount_rep, channel); each transfer's why reads
-- "<label>: <amount> <currency> from <src> to <dst> by <channel>".
create or replace macro hop_evidence(episode_txs, hops) as table
with hop_rows as (
    select
        e.subject_id,
        e.episode,
        h.tx_id,
        h.timestamp,
        h.amount,
        h.currency,
        h.amount_rep,
        e.label || ': ' || format('{:,.2f}', h.amount::double) || ' ' || h.currency
            || ' from ' || h.src_account || ' to ' || h.dst_account
            || ' by ' || replace(h.channel, '_', ' ') as why
    from query_table(episode_txs) e
    join query_table(hops) h on h.tx_id = e.tx_id
)
select subject_id, episode, window_start, window_end, tx_count, amount_total, evidence
from episode_hits(hop_rows);
