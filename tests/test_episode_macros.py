"""The macros rules share from windows to hits, on literal input rows."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from engine.config import RunConfig
from engine.db import connect


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = connect(RunConfig())
    con.execute(
        "create table events as select * from (values "
        "('A', 't1', timestamp '2024-01-01 10:00', 10.00::decimal(18, 4), 'EUR', "
        "11.00::decimal(18, 4)), "
        "('A', 't2', timestamp '2024-01-03 10:00', 20.00, 'EUR', 22.00), "
        "('A', 't0', timestamp '2024-01-03 10:00', 5.00, 'EUR', 5.50), "
        "('A', 't3', timestamp '2024-02-20 10:00', 30.00, 'USD', 30.00), "
        "('B', 't4', timestamp '2024-01-01 10:00', 40.00, 'EUR', 44.00)"
        ") v(subject_id, tx_id, timestamp, amount, currency, amount_rep)"
    )
    return con


def test_count_windows_and_episode_rows(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table qualifying as "
        "select * from count_windows(events, to_days(7), 3) order by window_start"
    )
    # only A's first payment opens a 7-day window holding three payments
    assert con.execute("select * from qualifying").fetchall() == [
        ("A", datetime(2024, 1, 1, 10), datetime(2024, 1, 8, 10))
    ]
    con.execute("create table bounds as select * from merged_windows(qualifying)")
    rows = con.execute(
        "select episode, tx_id from episode_rows(bounds, events) order by tx_id"
    ).fetchall()
    assert rows == [(1, "t0"), (1, "t1"), (1, "t2")]


def test_episode_hits(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table evidence_rows as select subject_id, 1 as episode, *, "
        "'payment ' || tx_id as why from events where subject_id = 'A'"
    )
    hit = con.execute("select * from episode_hits(evidence_rows)").fetchall()
    assert hit == [
        (
            "A",
            1,
            datetime(2024, 1, 1, 10),
            datetime(2024, 2, 20, 10),
            4,
            pytest.approx(68.5),
            # ordered by timestamp, then tx_id
            [
                {"tx_id": "t1", "why": "payment t1"},
                {"tx_id": "t0", "why": "payment t0"},
                {"tx_id": "t2", "why": "payment t2"},
                {"tx_id": "t3", "why": "payment t3"},
            ],
            False,
            "EUR",
            pytest.approx(65.0),
        )
    ]


def test_reason_texts(con: duckdb.DuckDBPyConnection) -> None:
    texts = con.execute(
        "select money_range_text(3, 1250.5, 3.3, 1375.55, true, 'EUR'), "
        "money_range_text(3, 1250.5, 3.3, 1375.55, false, 'EUR'), "
        "span_text(timestamp '2024-01-01 10:00', timestamp '2024-01-01 11:00'), "
        "span_text(timestamp '2024-01-01 10:00', timestamp '2024-01-02 23:00'), "
        "span_text(timestamp '2024-01-01 10:00', timestamp '2024-01-09 09:00')"
    ).fetchall()
    assert texts == [
        (
            "3.00\u20131,250.50 EUR",
            "3.30\u20131,375.55 (reporting currency)",
            "1 hour",
            "37 hours",
            "8 days",
        )
    ]


def test_peer_outliers(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table shares as select * from (values "
        "('A1', 'individual', 'retail', 0.10::double), ('A2', 'individual', 'retail', 0.20), "
        "('A3', 'individual', 'retail', 0.90), ('B1', 'business', '', 0.50)"
        ") v(account_id, customer_type, segment, share)"
    )
    # the median of the three retail shares is 0.20: A3 exceeds it and the 0.3 floor; B1's
    # group has one account (under min_peers 2), so the floor alone decides
    rows = con.execute(
        "select account_id, peer_level, peers from peer_outliers(shares, 0.5, 0.3, 2) "
        "order by account_id"
    ).fetchall()
    assert rows == [("A3", pytest.approx(0.2), 3), ("B1", pytest.approx(0.5), 1)]
