-- Every hit, typology and anomaly alike, with its typology's family, severity and
-- risk_score, and two scores of it:
--   opening_score   the risk_score, times $victim_weight for a victim-role hit: what the
--                   hit weighs when the alert policy decides whether an alert opens (age
--                   changes a hit's place in the queue, not whether it is enough);
--   effective_score the opening_score halved every $half_life days of age (0: no decay),
--                   what ranks the queue. Age counts from the end of the hit's window to
--                   the latest hit of the scan, never the clock, so re-runs agree.
-- role_priority orders roles when the strongest hits of an account disagree ($roles).
with all_hits as (
    select * from hits
    union all
    select * from anomaly_hits
),

latest as (
    select max(window_end) as latest_end from all_hits
),

weighted as (
    select h.*, m.family, m.severity, m.risk_score,
           m.risk_score
             * case when h.likely_role = 'victim' then $victim_weight else 1 end
               as opening_score,
           case when $half_life > 0
                then pow(0.5, date_diff('second', h.window_end, l.latest_end)
                              / 86400.0 / $half_life)
                else 1 end as recency,
           list_position($roles, h.likely_role) as role_priority
    from all_hits h
    join typology_meta m using (typology_id)
    cross join latest l
),

final as (
    select * exclude (recency), opening_score * recency as effective_score
    from weighted
)

select * from final
