"""Score stage: one alert per subject account, ranked, from the typology hits.

Alert score (0-100), a noisy-OR over the subject's distinct typologies::

    effective(hit) = risk_score * (victim_weight if likely_role == 'victim' else 1)
    score = 100 * (1 - prod over typologies t of (1 - max effective(hit of t) / 100))

so one strong indicator counts fully, each further independent indicator raises the
score, and victim-side hits weigh less than the hits on the accounts controlling them.
Ties are broken by subject id so ranks are deterministic.
"""

from __future__ import annotations

import duckdb

from engine.catalog import Catalog
from engine.config import ScoringConfig

ROLE_PRIORITY = ("controller", "collector", "mule", "business", "unknown", "victim")
"""When hits disagree on a role, the alert takes the first of these among its strongest hits."""


def build_alerts(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    scoring: ScoringConfig,
    reporting_currency: str,
) -> int:
    """Create ``typology_meta``, ``scored_hits``, ``alerts`` and ``evidence``; returns the
    number of alerts."""
    con.execute(
        "create or replace table typology_meta (typology_id varchar, family varchar, "
        "severity varchar, risk_score double)"
    )
    rows = [(t.id, t.family, t.severity, float(t.risk_score)) for t in catalog.typologies]
    if rows:
        con.executemany("insert into typology_meta values (?, ?, ?, ?)", rows)
    con.execute(
        """
        create or replace table scored_hits as
        select h.*, m.family, m.severity, m.risk_score,
               m.risk_score * case when h.likely_role = 'victim' then $victim_weight else 1 end
                   as effective_score,
               list_position($roles, h.likely_role) as role_priority
        from hits h join typology_meta m using (typology_id)
        """,
        {"victim_weight": scoring.victim_weight, "roles": list(ROLE_PRIORITY)},
    )
    con.execute(
        """
        create or replace table alert_keys as
        select subject_id,
               substr(sha256('alert|' || subject_id || '|'
                             || string_agg(hit_id, ',' order by hit_id)), 1, 32) as alert_id
        from scored_hits group by subject_id
        """
    )
    con.execute(
        """
        create or replace table evidence as
        select k.alert_id, h.hit_id, h.typology_id, h.ev.tx_id as tx_id, h.ev.why as why
        from (select hit_id, typology_id, subject_id, unnest(evidence) as ev
              from scored_hits) h
        join alert_keys k using (subject_id)
        order by k.alert_id, h.typology_id, h.hit_id, tx_id
        """
    )
    con.execute(
        """
        create or replace table alerts as
        with per_typology as (
            select subject_id, typology_id, family, max(effective_score) as best
            from scored_hits group by all
        ),
        subject_score as (
            select subject_id,
                   round(100 * (1 - product(1 - best / 100 order by typology_id)), 4) as score,
                   list(typology_id order by typology_id) as typology_ids,
                   list(distinct family order by family) as families
            from per_typology group by subject_id
        ),
        subject_hits as (
            select subject_id,
                   count(*) as hit_count,
                   list(typology_id || ': ' || reason order by effective_score desc,
                        typology_id, window_start, hit_id) as reasons,
                   min(window_start) as first_activity,
                   max(window_end) as last_activity,
                   arg_min(likely_role, (-effective_score, role_priority)) as likely_role
            from scored_hits group by subject_id
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
                   row_number() over (order by s.score desc, k.subject_id) as rank,
                   k.subject_id, s.score as risk_score, h.likely_role, s.typology_ids,
                   s.families, h.hit_count, h.reasons, h.first_activity, h.last_activity,
                   coalesce(a.amount_total, 0)::decimal(38, 4) as amount_total,
                   $currency as reporting_currency,
                   coalesce(a.evidence_count, 0) as evidence_count
            from alert_keys k
            join subject_score s using (subject_id)
            join subject_hits h using (subject_id)
            left join evidence_amounts a using (alert_id)
            where s.score >= $min_score
        )
        select * from final order by rank
        """,
        {"currency": reporting_currency, "min_score": scoring.min_alert_score},
    )
    row = con.execute("select count(*) from alerts").fetchone()
    return int(row[0]) if row else 0
