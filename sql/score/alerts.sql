-- One row per alerted account of account_scores, in the same order (README, "How alerts
-- are ranked"). Its reasons are its own hits' (rule reasons strongest first, the anomaly
-- explanation last), then the hits of the victim-role accounts it transacted with, each
-- marked with the victim's id: a victim-side hit opens no alert of its own, it is read in
-- the alert of the account on the other side of the money. Amounts are in the reporting
-- currency $currency.
with alerted as (
    select s.account_id as subject_id, s.risk_score, s.likely_role, s.anomaly_score
    from account_scores s
    where s.alerted
),

subject_hits as (
    select subject_id,
           count(*) as hit_count,
           list(distinct typology_id order by typology_id) as typology_ids,
           list(distinct family order by family) as families,
           list(typology_id || ': ' || reason order by typology_id = 'ANOMALY',
                effective_score desc, typology_id, window_start, hit_id) as reasons,
           min(window_start) as first_activity,
           max(window_end) as last_activity
    from scored_hits
    where subject_id in (select subject_id from alerted)
    group by subject_id
),

victim_hits as (
    select * from scored_hits where likely_role = 'victim' and typology_id <> 'ANOMALY'
),

linked_accounts as (
    select subject_id as account_id from alerted
    union
    select subject_id from victim_hits
),

linked_pairs as (
    -- the pairs of those accounts that exchanged money, either way
    select * from pairs_among(linked_accounts, pair_flows, account_keys)
),

victim_links as (
    -- victim-role hit subjects each alerted account transacted with
    select lo_account as subject_id, hi_account as victim
    from linked_pairs
    where lo_account in (select subject_id from alerted)
      and hi_account in (select subject_id from victim_hits)
    union
    select hi_account, lo_account
    from linked_pairs
    where hi_account in (select subject_id from alerted)
      and lo_account in (select subject_id from victim_hits)
),

linked_reasons as (
    select l.subject_id,
           list('linked victim ' || v.subject_id || ', ' || v.typology_id || ': ' || v.reason
                order by v.effective_score desc, v.subject_id, v.typology_id,
                v.window_start, v.hit_id) as reasons
    from victim_links l
    join victim_hits v on v.subject_id = l.victim
    where l.victim <> l.subject_id
    group by l.subject_id
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
           row_number() over (order by a.risk_score desc, a.subject_id) as rank,
           a.subject_id, a.risk_score, a.likely_role, h.typology_ids,
           h.families, h.hit_count,
           list_concat(h.reasons, coalesce(r.reasons, [])) as reasons,
           h.first_activity, h.last_activity,
           coalesce(e.amount_total, 0)::decimal(38, 4) as amount_total,
           $currency as reporting_currency,
           coalesce(e.evidence_count, 0) as evidence_count,
           a.anomaly_score,
           coalesce(x.top_features, []) as anomaly_top_features,
           coalesce(x.explanation, '') as anomaly_explanation
    from alerted a
    join alert_keys k using (subject_id)
    join subject_hits h using (subject_id)
    left join linked_reasons r using (subject_id)
    left join evidence_amounts e using (alert_id)
    left join anomaly_explanations x on x.account_id = a.subject_id
)

select * from final order by rank
