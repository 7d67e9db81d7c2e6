-- Evidence of a path walk's episodes: select * from hop_evidence(episode_txs, hops,
-- 'cycle hop') -> subject_id, episode, window_start, window_end, tx_count,
-- amount_total, evidence, from `episode_txs` (subject_id, episode, tx_id: each
-- transfer once) and the transfers `hops` (tx_id, src_account, dst_account,
-- timestamp, amount, currency, amount_rep, channel); each transfer's why reads
-- "<label>: <amount> <currency> from <src> to <dst> by <channel>".
create or replace macro hop_evidence(episode_txs, hops, label) as table
select
    e.subject_id,
    e.episode,
    min(h.timestamp) as window_start,
    max(h.timestamp) as window_end,
    count(*) as tx_count,
    sum(h.amount_rep) as amount_total,
    list({'tx_id': h.tx_id,
          'why': label || ': ' || format('{:,.2f}', h.amount::double) || ' '
                 || h.currency || ' from ' || h.src_account || ' to ' || h.dst_account
                 || ' by ' || replace(h.channel, '_', ' ')}
         order by h.timestamp, h.tx_id) as evidence
from query_table(episode_txs) e
join query_table(hops) h on h.tx_id = e.tx_id
group by e.subject_id, e.episode;
