-- What the score stage knows of each typology of the scan (and of ANOMALY, the detectors'
-- pseudo-typology): its family, severity and risk_score. The four parameters are lists
-- of one entry per typology, in the same order.
with final as (
    select unnest($typology_ids::varchar[]) as typology_id,
           unnest($families::varchar[]) as family,
           unnest($severities::varchar[]) as severity,
           unnest($risk_scores::double[]) as risk_score
)

select * from final
