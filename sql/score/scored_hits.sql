-- Every hit, typology and anomaly alike, with its typology's family, severity and
-- risk_score and its effective score: the risk_score, times $victim_weight for a
-- victim-role hit, halved every $half_life days of age (0: no decay). Age counts from the
-- end of the hit's window to the latest hit of the scan, never the clock, so re-runs agree.
-- role_priority orders roles when the strongest hits of an account disagree ($roles).
with all_hits as (
    select * from hits
    union all
    select * from anomaly_hits
),

latest as (
    select max(window_end) as latest_end from all_hits
),

final as (
    select h.*, m.family, m.severity, m.risk_score,
           m.risk_score
             * case when h.likely_role = 'victim' then $victim_weight else 1 end
             * case when $half_life > 0
                    then pow(0.5, date_diff('second', h.window_end, l.latest_end)
                                  / 86400.0 / $half_life)
                    else 1 end
               as effective_score,
           list_position($roles, h.likely_role) as role_priority
    from all_hits h
    join typology_meta m using (typology_id)
    cross join latest l
)

select * from final
