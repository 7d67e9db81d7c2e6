"""Score stage: one alert per subject account, ranked, fusing typology hits and anomaly.

For an account with hits h (README, "How alerts are ranked")::

    effective(h) = risk_score(typology of h)
                   * (victim_weight if h.likely_role == 'victim' else 1)
                   * 0.5 ** (age_days(h) / recency_half_life_days)
    rules        = 1 - prod over the account's typologies t of (1 - max effective(h of t) / 100)
    anomaly      = max(0, (anomaly_score - anomaly_floor) / (1 - anomaly_floor))
    risk_score   = 100 * (1 - (1 - rules) * (1 - anomaly_weight * anomaly))

``age_days`` counts from the end of the hit's window to the latest transaction of the
scan (never the clock, so re-runs agree). A victim-role alert is then capped just under
the lowest score of the non-victim alerted accounts it transacted with, so a victim never
outranks the accounts that control it. Ties are broken by subject id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import duckdb

from engine.catalog import Catalog
from engine.config import ScoringConfig
from engine.db import scalar
from engine.resources import sql_text

ROLE_PRIORITY = ("controller", "collector", "mule", "business", "unknown", "victim")
"""When hits disagree on a role, the alert takes the first of these among its strongest hits."""

ANOMALY_ID = "ANOMALY"

SCORE_TABLES: Final = ("typology_meta", "scored_hits", "alert_keys", "evidence", "alerts")
"""The tables of this stage in build order, each from ``sql/score/<table>.sql``."""


def build_alerts(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    scoring: ScoringConfig,
    reporting_currency: str,
) -> int:
    """Create the ``SCORE_TABLES`` from ``hits`` and ``anomaly_hits`` (with
    ``anomaly_scores`` and ``anomaly_explanations``); returns the number of alerts."""
    meta = [(t.id, t.family, t.severity, float(t.risk_score)) for t in catalog.typologies]
    meta.append((ANOMALY_ID, ANOMALY_ID, "medium", 100 * scoring.anomaly_weight))
    params: Mapping[str, Mapping[str, Any]] = {
        "typology_meta": {
            "typology_ids": [m[0] for m in meta],
            "families": [m[1] for m in meta],
            "severities": [m[2] for m in meta],
            "risk_scores": [m[3] for m in meta],
        },
        "scored_hits": {
            "victim_weight": scoring.victim_weight,
            "roles": list(ROLE_PRIORITY),
            "half_life": scoring.recency_half_life_days,
        },
        "alerts": {
            "currency": reporting_currency,
            "min_score": scoring.min_alert_score,
            "anomaly_weight": scoring.anomaly_weight,
            "anomaly_floor": scoring.anomaly_floor,
        },
    }
    for table in SCORE_TABLES:
        con.execute(
            f"create or replace table {table} as " + sql_text(f"score/{table}.sql"),
            dict(params.get(table, {})),
        )
    return int(scalar(con, "select count(*) from alerts"))
