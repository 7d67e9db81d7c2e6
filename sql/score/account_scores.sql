-- Every account of the scan, ranked (README, "How alerts are ranked"). An account's LINK hit
-- (link_hits holds at most one per account) counts as one more family of its own evidence:
--   own        = 100 * (1 - (1 - own_score / 100) * (1 - link / 100)), the same for opening
--                and for ranking (ranking_score: the anomaly over its whole range above
--                the peer group's median, account_signals); beside the LINK hit the
--                anomaly's part above the floor counts towards opening as it does beside a
--                rule hit (uncounted_anomaly: where no rule hit has counted it already);
--   lifted     = 100 * (1 - (1 - ranking / 100) * (1 - propagated_score / 100)),
--                never above the account's own ranking score or its path's source score,
--                whichever is higher, so a member never outranks the hub it is linked to;
--                where the LINK hit and the path come from the same account they carry the
--                same evidence (the money moved with it): ranking without the link, and
--                max(link, propagated_score) in place of the two;
--   risk_score = lifted, and for a victim-role account at most just under the lowest score
--                of the non-victim alerted accounts it transacted with.
--   alerted    = opening_score >= $threshold (and > 0) and risk_score >= $min_score: its own
--                evidence (its LINK hit included) opens the alert; propagation moves it in the
--                queue but opens nothing.
-- top_reason: the strongest reason of its own hits, else the larger of its propagated
-- risk and its anomaly ranking part, with the features that set it furthest from its peer
-- group where anomaly_explanations has them (README, "Output").
-- Ranks run over every account, risk first, then account id.
with links as (
    -- link_hits keeps one hit per account (its strongest link)
    select subject_id as account_id, opening_score as link_opening,
           effective_score as link_score, likely_role as link_role, reason as link_reason,
           link_source
    from link_hits
),

signals as (
    select k.link_score, k.link_source,
           -- the account's ranking score before its link
           s.ranking_score as unlinked_ranking_score,
           s.* replace (
               round(noisy_or(s.own_score, coalesce(k.link_score, 0)), 4) as own_score,
               -- beside a LINK hit the anomaly counts as beside a rule hit
               round(noisy_or(noisy_or(s.opening_score, coalesce(k.link_opening, 0)),
                              case when k.link_opening is not null
                                   then s.uncounted_anomaly else 0 end), 4) as opening_score,
               round(noisy_or(s.ranking_score, coalesce(k.link_score, 0)), 4) as ranking_score,
               -- an account without a role of its own takes its link's (accounts with
               -- victim-side evidence receive no link)
               case when k.link_role is not null and s.likely_role = 'unknown'
                    then k.link_role else s.likely_role end as likely_role,
               case when k.link_reason is not null
                    then list_append(s.reasons, 'LINK: ' || k.link_reason)
                    else s.reasons end as reasons)
    from account_signals s
    left join links k using (account_id)
),

lifted as (
    select s.*,
           coalesce(p.propagated_score, 0) as propagated_score,
           p.source, p.source_score, p.hops,
           -- a link and a propagated path from the same account carry the same evidence
           -- (the money the account moved with it): the stronger counts, once
           least(case when p.source = s.link_source
                      then noisy_or(s.unlinked_ranking_score,
                                    greatest(s.link_score, p.propagated_score))
                      else noisy_or(s.ranking_score, coalesce(p.propagated_score, 0)) end,
                 greatest(s.ranking_score, coalesce(p.source_score, 0))) as lifted
    from signals s
    left join propagated_risk p using (account_id)
),

opened as (
    select account_id, lifted from lifted
    where opening_score >= $threshold and lifted >= $min_score and likely_role <> 'victim'
),

victims as (
    select account_id from lifted where likely_role = 'victim'
),

capped_accounts as (
    select account_id from victims union select account_id from opened
),

capped_pairs as (
    -- the pairs of those accounts that exchanged money, either way
    select * from pairs_among(capped_accounts, pair_flows, account_keys)
),

victim_links as (
    -- opened non-victim accounts each victim-role account transacted with
    select lo_account as victim, hi_account as other
    from capped_pairs
    where lo_account in (select account_id from victims)
      and hi_account in (select account_id from opened)
    union
    select hi_account, lo_account
    from capped_pairs
    where hi_account in (select account_id from victims)
      and lo_account in (select account_id from opened)
),

victim_caps as (
    select l.victim as account_id, min(o.lifted) - 0.0001 as cap
    from victim_links l join opened o on o.account_id = l.other
    group by l.victim
),

scored as (
    select l.*,
           round(greatest(0, least(l.lifted, coalesce(c.cap, l.lifted))), 4) as risk_score,
           nullif(x.explanation, '') as explanation
    from lifted l left join victim_caps c using (account_id)
    left join anomaly_explanations x using (account_id)
),

described as (
    -- the columns of the table, computed before the ranking so that the rows it orders
    -- carry no more than them
    select account_id,
           risk_score, rule_score, anomaly_score,
           opening_score > 0 and opening_score >= $threshold
             and risk_score >= $min_score as alerted,
           likely_role,
           -- without a hit of its own, the larger of the two parts of its score: the
           -- propagated risk, or the anomaly above the peer median (ranking_score is that
           -- anomaly part alone when the account has no hit)
           case when len(reasons) > 0 then reasons[1]
                when propagated_score > 0 and propagated_score >= ranking_score
                then 'PROPAGATED: ' || hops || (case when hops = 1 then ' hop' else ' hops' end)
                     || ' by money flows from ' || source || ' (own score '
                     || printf('%.1f', source_score) || ')'
                when ranking_score > 0
                then 'ANOMALY: anomaly score ' || printf('%.3f', anomaly_score)
                     || ' above its peer group''s median'
                     -- the features furthest from the peers, where the detectors explained
                     -- the account (an anomaly score of at least anomaly_floor)
                     || coalesce(' (' || explanation || ')', '') || ', no typology hit'
                     || case when propagated_score > 0
                             then '; ' || hops
                                  || (case when hops = 1 then ' hop' else ' hops' end)
                                  || ' by money flows from ' || source
                             else '' end
                else '' end as top_reason,
           opening_score,
           round(propagated_score, 4) as propagated_score,
           own_score
    from scored
),

final as (
    select account_id,
           row_number() over (order by risk_score desc, account_id) as rank,
           risk_score, rule_score, anomaly_score, alerted, likely_role, top_reason,
           opening_score, propagated_score, own_score
    from described
)

select * from final order by rank
