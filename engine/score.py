"""Score stage: every account ranked, and the alert policy deciding which become alerts.

For an account with hits h (README, "How alerts are ranked")::

    opening(h)    = risk_score(typology of h) * (victim_weight if h.likely_role == 'victim' else 1)
    effective(h)  = opening(h) * 0.5 ** (age_days(h) / recency_half_life_days)
    rules         = 1 - prod over the account's typologies t of (1 - max effective(h of t) / 100)
    anomaly       = anomaly_weight * max(0, (anomaly_score - anomaly_floor) / (1 - anomaly_floor))
    own_score     = 100 * (1 - (1 - rules) * (1 - anomaly))
    ranking_score = the same with anomaly_weight * max(0, (anomaly_score - anomaly_rank_floor)
                    / (1 - anomaly_rank_floor)) for the anomaly: it orders the queue only
    opening_score = 100 * (1 - prod over its families f of (1 - max opening(h of f) / 100))
                    (the anomaly one more family, worth its part above anomaly_floor,
                    beside a non-victim rule hit; alone, only the ANOMALY hit and only if
                    anomaly_alone_opens)
    alerted       = opening_score >= alert_threshold

An account that moved most of its money with another earns a ``LINK`` hit (one more family
of its own evidence; ``sql/score/link_hits.sql``): as the beneficiary of an account with
victim-side indicators (at least ``link_share`` of what it sent or received, scored as the
victim's evidence at full weight and ``link_score`` for the tie), or as a member of the
network of an account whose own evidence opens an alert (the one-hop propagation term
reaching ``alert_threshold``; below it only a recipient of that account's money, whose weak
tie does not rank and opens on its own, the term and ``link_score`` together, where the
account is seen dealing with someone besides the source, else only beside its own
evidence), as a conduit between two
such accounts, or as an account of a money-flow structure (``link_structure_families``)
found on one, which carries most of its money. Beside a LINK hit, as beside a non-victim
rule hit, the anomaly above ``anomaly_floor`` counts towards opening.

Risk then propagates along money flows from the accounts whose own evidence opens an
alert to their counterparties (one or two hops, ``propagation_decay`` per hop, weighted by
the share of the receiving account's money that flowed with the sender), raising the
``risk_score`` that ranks ``account_scores`` and ``alerts`` but opening nothing. A
victim-role account is capped just under the lowest score of the non-victim alerted
accounts it transacted with, so a victim never outranks the accounts that control it, and
its hits are listed in their alerts. Ties are broken by account id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import duckdb

from engine.catalog import Catalog
from engine.config import ScoringConfig
from engine.db import scalar
from engine.resources import sql_text
from engine.runguard import building

ROLE_PRIORITY = ("controller", "collector", "mule", "business", "unknown", "victim")
"""When hits disagree on a role, the alert takes the first of these among its strongest hits."""

ANOMALY_ID = "ANOMALY"
LINK_ID: Final = "LINK"
"""Typology id of the hits an account earns from the account it moves its money with
(``sql/score/link_hits.sql``; not in the catalog, like ``ANOMALY``)."""
STANDING_ORDER_TOLERANCE: Final = 0.05
"""Payments of one pair within 5% of each other in two or more calendar months are a
standing order (rent, an allowance), as GRAPH-09 reads a repeated cash deposit."""
LINK_MAX_EVIDENCE: Final = 50
"""Transactions cited per LINK hit (the earliest between the two accounts)."""

SCORE_TABLES: Final = (
    "typology_meta",
    "own_hits",
    "account_signals",
    "counterparty_flows",
    "link_hits",
    "scored_hits",
    "alert_keys",
    "propagated_risk",
    "account_scores",
    "evidence",
    "alerts",
)
"""The tables of this stage in build order, each from ``sql/score/<table>.sql``."""


def build_alerts(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    scoring: ScoringConfig,
    reporting_currency: str,
) -> int:
    """Create the ``SCORE_TABLES`` from ``account_features``, ``transactions``, ``hits``
    and ``anomaly_hits`` (with ``anomaly_scores`` and ``anomaly_explanations``); returns
    the number of alerts."""
    meta = [(t.id, t.family, t.severity, float(t.risk_score)) for t in catalog.typologies]
    meta.append((ANOMALY_ID, ANOMALY_ID, "medium", 100 * scoring.anomaly_weight))
    params: Mapping[str, Mapping[str, Any]] = {
        "typology_meta": {
            "typology_ids": [m[0] for m in meta],
            "families": [m[1] for m in meta],
            "severities": [m[2] for m in meta],
            "risk_scores": [m[3] for m in meta],
        },
        "own_hits": {
            "victim_weight": scoring.victim_weight,
            "roles": list(ROLE_PRIORITY),
            "half_life": scoring.recency_half_life_days,
        },
        "account_signals": {
            "anomaly_weight": scoring.anomaly_weight,
            "anomaly_floor": scoring.anomaly_floor,
            "anomaly_rank_floor": scoring.anomaly_rank_floor,
            "anomaly_alone_opens": scoring.anomaly_alone_opens,
            "rules_ran": bool(catalog.typologies),
        },
        "counterparty_flows": {"max_counterparties": scoring.propagation_max_counterparties},
        "link_hits": {
            "threshold": scoring.alert_threshold,
            "hops": scoring.propagation_hops,
            "decay": scoring.propagation_decay,
            "link_share": scoring.link_share,
            "link_score": scoring.link_score,
            "pass_on_typologies": list(scoring.link_pass_on_typologies),
            "structure_families": list(scoring.link_structure_families),
            "block_typologies": list(scoring.link_block_typologies),
            "roles": list(ROLE_PRIORITY),
            "max_evidence": LINK_MAX_EVIDENCE,
            "standing_tolerance": STANDING_ORDER_TOLERANCE,
        },
        "propagated_risk": {
            "threshold": scoring.alert_threshold,
            "hops": scoring.propagation_hops,
            "decay": scoring.propagation_decay,
        },
        "account_scores": {
            "threshold": scoring.alert_threshold,
            "min_score": scoring.min_alert_score,
        },
        "alerts": {"currency": reporting_currency},
    }
    for table in SCORE_TABLES:
        with building(table):
            con.execute(
                f"create or replace table {table} as " + sql_text(f"score/{table}.sql"),
                dict(params.get(table, {})),
            )
    return int(scalar(con, "select count(*) from alerts"))
