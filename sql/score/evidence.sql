-- The transactions behind each alert: one row per evidence entry of each of its hits,
-- with why the hit's typology cites it.
with evidence_entries as (
    select hit_id, typology_id, subject_id, unnest(evidence) as ev
    from scored_hits
),

final as (
    select k.alert_id, h.hit_id, h.typology_id, h.ev.tx_id as tx_id, h.ev.why as why
    from evidence_entries h
    join alert_keys k using (subject_id)
)

select * from final order by alert_id, typology_id, hit_id, tx_id
