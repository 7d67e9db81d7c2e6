-- One row per account of the scan (every account of account_features, and any hit subject
-- it lacks) with its own evidence, before propagation (README, "How alerts are ranked"):
--   rule_score    = 100 * (1 - product over its typologies of (1 - best effective / 100))
--   anomaly_part  = $anomaly_weight * max(0, (anomaly_score - $anomaly_floor) / (1 - $anomaly_floor))
--   own_score     = 100 * (1 - (1 - rule_score / 100) * (1 - anomaly_part))
--   ranking_part  = $anomaly_weight * max(0, (anomaly_score - $anomaly_rank_floor)
--                                          / (1 - $anomaly_rank_floor))
--   ranking_score = 100 * (1 - (1 - rule_score / 100) * (1 - ranking_part)): the own
--                   evidence the queue is ordered by, the anomaly read over its whole range
--                   above the peer group's median; own_score (the anomaly's top share only)
--                   is what opens alerts and propagates
--   opening_score = 100 * (1 - product over its families of (1 - best opening score / 100)),
--                   the anomaly counting as one more family (worth 100 * anomaly_part, its
--                   part above $anomaly_floor) beside a non-victim rule hit, whether or not
--                   it reached an ANOMALY hit; without a rule hit only the ANOMALY hit
--                   counts, and only if $anomaly_alone_opens or $rules_ran is false (a
--                   detectors-only scan has no other evidence).
--   uncounted_anomaly = 100 * anomaly_part where it did not count in opening_score: it
--                   counts beside the account's LINK hit (account_scores).
-- Within a family only the strongest hit counts for opening: typologies of one family
-- read the same behaviour, so two of them firing together is not independent evidence.
with accounts_seen as (
    select account_id from account_features
    union
    select distinct subject_id from own_hits
),

per_typology as (
    select subject_id, typology_id, max(effective_score) as best
    from own_hits where typology_id <> 'ANOMALY' group by all
),

rule_score as (
    select subject_id, 1 - product(1 - best / 100 order by typology_id) as rules
    from per_typology group by subject_id
),

anomaly as (
    select s.account_id as subject_id, s.anomaly_score,
           $anomaly_weight * greatest(0, (s.anomaly_score - $anomaly_floor)
                                         / (1 - $anomaly_floor)) as anomaly_part,
           $anomaly_weight * greatest(0, (s.anomaly_score - $anomaly_rank_floor)
                                         / (1 - $anomaly_rank_floor)) as ranking_part,
           s.account_id in (select subject_id from anomaly_hits) as anomaly_hit
    from anomaly_scores s
),

per_family as (
    select subject_id, family, max(opening_score) as best,
           bool_or(likely_role <> 'victim') as non_victim
    from own_hits where typology_id <> 'ANOMALY' group by all
),

rule_opening as (
    select subject_id, 1 - product(1 - best / 100 order by family) as opening,
           bool_or(non_victim) as non_victim
    from per_family group by subject_id
),

subject_hits as (
    select subject_id,
           -- rule reasons first (strongest first), the anomaly explanation last
           list(typology_id || ': ' || reason order by typology_id = 'ANOMALY',
                effective_score desc, typology_id, window_start, hit_id) as reasons,
           -- the role comes from the strongest rule hit; ANOMALY knows no role
           arg_min(likely_role, (typology_id = 'ANOMALY', -effective_score,
                                 role_priority)) as likely_role
    from own_hits group by subject_id
),

joined as (
    select a.account_id, r.rules, n.anomaly_score, n.anomaly_part, n.ranking_part,
           o.opening, h.likely_role, h.reasons,
           -- whether the anomaly counts towards opening (beside a non-victim rule hit; or
           -- alone, as the ANOMALY hit, where that is allowed)
           coalesce(o.non_victim, false)
             or (coalesce(n.anomaly_hit, false) and ($anomaly_alone_opens or not $rules_ran))
             as anomaly_opens
    from accounts_seen a
    left join rule_score r on r.subject_id = a.account_id
    left join anomaly n on n.subject_id = a.account_id
    left join rule_opening o on o.subject_id = a.account_id
    left join subject_hits h on h.subject_id = a.account_id
),

final as (
    select account_id,
           round(100 * coalesce(rules, 0), 4) as rule_score,
           coalesce(anomaly_score, 0) as anomaly_score,
           round(100 * (1 - (1 - coalesce(rules, 0))
                 * (1 - coalesce(anomaly_part, 0))), 4) as own_score,
           round(100 * (1 - (1 - coalesce(rules, 0))
                 * (1 - coalesce(ranking_part, 0))), 4) as ranking_score,
           round(100 * (1 - (1 - coalesce(opening, 0))
                 * (1 - case when anomaly_opens then coalesce(anomaly_part, 0) else 0 end)), 4)
               as opening_score,
           -- the anomaly's opening share where it has not counted: a LINK hit (its own
           -- money carried with a flagged account or structure) is a hypothesis it
           -- corroborates as it does a rule hit's (account_scores)
           round(100 * case when anomaly_opens then 0 else coalesce(anomaly_part, 0) end, 4)
               as uncounted_anomaly,
           coalesce(likely_role, 'unknown') as likely_role,
           coalesce(reasons, []) as reasons
    from joined
)

select * from final
