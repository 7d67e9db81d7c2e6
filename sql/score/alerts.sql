-- One row per alerted account, ranked (README, "How alerts are ranked"):
--   rules      = 1 - product over the account's typologies of (1 - best effective score / 100)
--   anomaly    = max(0, (anomaly_score - $anomaly_floor) / (1 - $anomaly_floor))
--   risk_score = 100 * (1 - (1 - rules) * (1 - $anomaly_weight * anomaly))
-- A victim-role account is capped just under the lowest score of the non-victim alerted
-- accounts it transacted with. Accounts under $min_score are left out; ties rank by
-- subject id. Amounts are in the reporting currency $currency.
with per_typology as (
    select subject_id, typology_id, family, max(effective_score) as best
    from scored_hits where typology_id <> 'ANOMALY' group by all
),
rule_score as (
    select subject_id,
           1 - product(1 - best / 100 order by typology_id) as rules
    from per_typology group by subject_id
),
subject_typologies as (
    select subject_id,
           list(distinct typology_id order by typology_id) as typology_ids,
           list(distinct family order by family) as families
    from scored_hits group by subject_id
),
subject_score as (
    select k.subject_id,
           coalesce(r.rules, 0) as rules,
           coalesce(a.anomaly_score, 0) as anomaly_score,
           round(100 * (1 - (1 - coalesce(r.rules, 0))
                 * (1 - $anomaly_weight * greatest(0, (coalesce(a.anomaly_score, 0)
                        - $anomaly_floor) / (1 - $anomaly_floor)))), 4) as score
    from alert_keys k
    left join rule_score r using (subject_id)
    left join anomaly_scores a on a.account_id = k.subject_id
),
subject_hits as (
    select subject_id,
           count(*) as hit_count,
           -- rule reasons first (strongest first), the anomaly explanation last
           list(typology_id || ': ' || reason order by typology_id = 'ANOMALY',
                effective_score desc, typology_id, window_start, hit_id) as reasons,
           min(window_start) as first_activity,
           max(window_end) as last_activity,
           -- the role comes from the strongest rule hit; ANOMALY knows no role
           arg_min(likely_role, (typology_id = 'ANOMALY', -effective_score,
                                 role_priority)) as likely_role
    from scored_hits group by subject_id
),
preliminary as (
    select s.subject_id, s.score, s.anomaly_score, h.likely_role
    from subject_score s join subject_hits h using (subject_id)
),
victim_links as (
    -- non-victim alerted accounts each victim-role account transacted with
    select t.src_account as victim, t.dst_account as other
    from transactions t
    where t.src_account in (select subject_id from preliminary
                            where likely_role = 'victim')
      and t.dst_account in (select subject_id from preliminary
                            where likely_role <> 'victim')
    union
    select t.dst_account, t.src_account
    from transactions t
    where t.dst_account in (select subject_id from preliminary
                            where likely_role = 'victim')
      and t.src_account in (select subject_id from preliminary
                            where likely_role <> 'victim')
),
victim_caps as (
    select l.victim as subject_id, min(p.score) - 0.0001 as cap
    from victim_links l join preliminary p on p.subject_id = l.other
    group by l.victim
),
capped as (
    select p.subject_id, p.anomaly_score,
           greatest(0, least(p.score, coalesce(c.cap, p.score))) as score
    from preliminary p left join victim_caps c using (subject_id)
),
evidence_tx as (
    select distinct alert_id, tx_id from evidence
),
evidence_amounts as (
    select e.alert_id, count(*) as evidence_count,
           coalesce(sum(t.amount_rep), 0) as amount_total
    from evidence_tx e left join transactions t using (tx_id)
    group by e.alert_id
),
final as (
    select k.alert_id,
           row_number() over (order by c.score desc, k.subject_id) as rank,
           k.subject_id, c.score as risk_score, h.likely_role, t.typology_ids,
           t.families, h.hit_count, h.reasons, h.first_activity, h.last_activity,
           coalesce(a.amount_total, 0)::decimal(38, 4) as amount_total,
           $currency as reporting_currency,
           coalesce(a.evidence_count, 0) as evidence_count,
           c.anomaly_score,
           coalesce(x.top_features, []) as anomaly_top_features,
           coalesce(x.explanation, '') as anomaly_explanation
    from alert_keys k
    join capped c using (subject_id)
    join subject_hits h using (subject_id)
    join subject_typologies t using (subject_id)
    left join evidence_amounts a using (alert_id)
    left join anomaly_explanations x on x.account_id = k.subject_id
    where c.score >= $min_score
)
select * from final order by rank
