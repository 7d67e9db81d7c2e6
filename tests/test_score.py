"""Alert scoring on hand-made hits: noisy-OR over typologies, victims weigh less, ids stable.

These tests read the ranking formula with the alert policy opened wide (``alert_threshold``
0: any hit opens); tests/test_policy.py covers the policy itself."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from engine.catalog import Catalog, load_catalog
from engine.config import RunConfig, ScoringConfig
from engine.db import connect
from engine.detectors import create_empty_anomaly_tables
from engine.rules import create_hits_table
from engine.score import build_alerts
from tests.score_inputs import create_score_inputs

T0 = datetime(2024, 1, 1, 10)
T1 = datetime(2024, 1, 3, 10)


def _con_with_hits(rows: list[tuple[str, str, str, str]]) -> duckdb.DuckDBPyConnection:
    """rows: (hit_id, typology_id, subject_id, likely_role)."""
    con = connect(RunConfig())
    con.execute(
        "create table transactions (tx_id varchar, src_account varchar, dst_account varchar, "
        "amount_rep decimal(18,4))"
    )
    con.execute("insert into transactions values ('x1', 'P', 'Q', 100), ('x2', 'Q', 'P', 50.5)")
    create_hits_table(con)
    for hit_id, typology_id, subject, role in rows:
        con.execute(
            "insert into hits values ($h, $t, 1, $s, $a, $b, 2, 150.5, "
            "[{'tx_id': 'x1', 'why': 'a'}, {'tx_id': 'x2', 'why': 'b'}], 'reason', $r)",
            {"h": hit_id, "t": typology_id, "s": subject, "a": T0, "b": T1, "r": role},
        )
    create_empty_anomaly_tables(con)  # detectors off
    create_score_inputs(con)
    return con


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog().select(["STR-01", "XB-01"])


def test_noisy_or_and_victim_weight(catalog: Catalog) -> None:
    str01 = catalog.get("STR-01").risk_score / 100
    xb01 = catalog.get("XB-01").risk_score / 100
    con = _con_with_hits(
        [
            ("h1", "STR-01", "BOSS", "controller"),
            ("h2", "XB-01", "BOSS", "collector"),
            ("h3", "STR-01", "VICTIM", "victim"),
            ("h4", "STR-01", "MULE", "mule"),
        ]
    )
    assert (
        build_alerts(con, catalog, ScoringConfig(victim_weight=0.5, alert_threshold=0), "USD") == 3
    )
    rows = con.execute(
        "select subject_id, risk_score, rank, likely_role, amount_total, evidence_count "
        "from alerts order by rank"
    ).fetchall()
    expected_boss = round(100 * (1 - (1 - str01) * (1 - xb01)), 4)
    assert rows[0][:4] == ("BOSS", pytest.approx(expected_boss), 1, "controller")
    assert rows[1][:3] == ("MULE", pytest.approx(100 * str01), 2)
    assert rows[2][:3] == ("VICTIM", pytest.approx(50 * str01), 3)
    # amounts come from the distinct evidence transactions, not from summing hits
    assert float(rows[0][4]) == 150.5 and rows[0][5] == 2


def test_alert_ids_depend_on_hits_only(catalog: Catalog) -> None:
    first = _con_with_hits([("h1", "STR-01", "A", "mule"), ("h2", "XB-01", "A", "collector")])
    second = _con_with_hits([("h2", "XB-01", "A", "collector"), ("h1", "STR-01", "A", "mule")])
    ids = []
    for con in (first, second):
        build_alerts(con, catalog, ScoringConfig(alert_threshold=0), "USD")
        ids.append(con.execute("select alert_id from alerts").fetchall())
    assert ids[0] == ids[1]


def test_victim_never_outranks_the_account_it_pays(catalog: Catalog) -> None:
    con = _con_with_hits(
        [
            ("h1", "STR-01", "VICTIM", "victim"),
            ("h2", "XB-01", "VICTIM", "victim"),
            ("h3", "XB-01", "BOSS", "collector"),
        ]
    )
    con.execute("drop table transactions")
    con.execute(
        "create table transactions as select * from (values "
        "('x1', 'VICTIM', 'BOSS', 100.0::decimal(18,4)), "
        "('x2', 'OTHER', 'BOSS', 50.5::decimal(18,4))) "
        "t(tx_id, src_account, dst_account, amount_rep)"
    )
    create_score_inputs(con)
    # with a victim weight of 1 the victim's two typologies would outscore the boss's one
    build_alerts(con, catalog, ScoringConfig(victim_weight=1.0, alert_threshold=0), "USD")
    rows = dict(con.execute("select subject_id, risk_score from alerts").fetchall())
    assert rows["VICTIM"] < rows["BOSS"]
    assert con.execute("select subject_id from alerts where rank = 1").fetchall() == [("BOSS",)]


def test_anomaly_hits_are_scored_with_the_typology_hits(catalog: Catalog) -> None:
    con = _con_with_hits([("h1", "STR-01", "MULE", "mule")])
    con.execute("insert into anomaly_scores values ('ODD', 'all', 0.99), ('MULE', 'all', 0.2)")
    con.execute(
        "insert into anomaly_hits values ('h9', 'ANOMALY', 1, 'ODD', $a, $b, 5, 10, [], "
        "'anomaly score 0.990', 'unknown')",
        {"a": T0, "b": T1},
    )
    scoring = ScoringConfig(
        anomaly_weight=0.5, anomaly_floor=0.9, alert_threshold=0, anomaly_alone_opens=True
    )
    assert build_alerts(con, catalog, scoring, "USD") == 2
    rows = dict(con.execute("select subject_id, risk_score from alerts").fetchall())
    # the ranking reads the anomaly above the peer group's median (anomaly_rank_floor 0.5);
    # opening reads its top share only (anomaly_floor 0.9)
    assert rows["ODD"] == pytest.approx(100 * 0.5 * (0.99 - 0.5) / 0.5)
    opening = con.execute(
        "select opening_score from account_scores where account_id = 'ODD'"
    ).fetchall()
    assert opening == [(pytest.approx(100 * 0.5 * (0.99 - 0.9) / 0.1),)]
    # an anomaly score below the median adds nothing
    assert rows["MULE"] == pytest.approx(catalog.get("STR-01").risk_score)
    reasons = con.execute("select reasons from alerts where subject_id = 'ODD'").fetchall()
    assert reasons == [(["ANOMALY: anomaly score 0.990"],)]


def test_accounts_without_hits_are_ranked_by_their_anomaly(catalog: Catalog) -> None:
    """Below the alerts, the queue follows the detectors: no account is left at zero and
    ordered by id while its peers' percentile ranks say it is unusual; none is alerted."""
    con = _con_with_hits([("h1", "STR-01", "MULE", "mule")])
    con.execute(
        "insert into anomaly_scores values ('A', 'all', 0.3), ('B', 'all', 0.85), "
        "('C', 'all', 0.6), ('MULE', 'all', 0.1)"
    )
    create_score_inputs(con, accounts=("A", "B", "C"))
    build_alerts(con, catalog, ScoringConfig(), "USD")
    ranked = con.execute(
        "select account_id, risk_score, alerted from account_scores "
        "where account_id in ('A', 'B', 'C') order by rank"
    ).fetchall()
    assert [r[0] for r in ranked] == ["B", "C", "A"]
    assert ranked[0][1] == pytest.approx(100 * 0.5 * (0.85 - 0.5) / 0.5)
    assert ranked[2][1] == 0
    assert not any(r[2] for r in ranked)
    assert con.execute(
        "select account_id from account_scores order by rank limit 1"
    ).fetchall() == [("MULE",)]
