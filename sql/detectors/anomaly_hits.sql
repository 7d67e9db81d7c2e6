-- One ANOMALY hit per account whose anomaly score reaches the threshold $t (the
-- 1 - contamination quantile); $share = 0 (too few accounts, detectors off) raises none.
-- The window is the account's whole activity; the reason quotes the score, the size of
-- the peer group and the features furthest from the peers.
with peer_sizes as (
    select peer_group, count(*) as size from anomaly_scores group by 1
),

final as (
    select hit_id('ANOMALY', 1, f.account_id, f.first_seen, f.last_seen) as hit_id,
           'ANOMALY' as typology_id,
           1 as typology_version,
           f.account_id as subject_id,
           f.first_seen as window_start,
           f.last_seen as window_end,
           f.in_count + f.out_count as tx_count,
           cast(f.in_amount + f.out_amount as decimal(38, 4)) as amount_total,
           []::struct(tx_id varchar, why varchar)[] as evidence,
           'anomaly score ' || format('{:.3f}', s.anomaly_score) || ' among '
               || format('{:,}', g.size) || ' peers: ' || e.explanation as reason,
           'unknown' as likely_role
    from anomaly_scores s
    join account_features f using (account_id)
    join anomaly_explanations e using (account_id)
    join peer_sizes g using (peer_group)
    where s.anomaly_score >= $t and $share > 0
)

select * from final order by subject_id
