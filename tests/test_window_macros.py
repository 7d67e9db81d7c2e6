"""Input -> expected rows of the macros shared by the structuring, graph and cross-border
rules (sql/macros: distinct_day_sweep, cash_out_facts, hop_evidence, episode_day_rows,
counterparty_episode_rows, path_episodes)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from engine.config import RunConfig
from engine.db import connect


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    return connect(RunConfig(as_of=date(2099, 1, 1)))


def _rows(con: duckdb.DuckDBPyConnection, query: str, **params: Any) -> list[tuple[Any, ...]]:
    return con.execute(query, params).fetchall()


def test_distinct_day_sweep_counts_each_member_once_per_window(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # depositor d1 on days 1 and 2, d2 on day 2, d3 on day 6; windows of 3 days
    con.execute(
        """
        create table members as
        select subject_id, part, member, date '2024-01-01' + offset_days as day
        from (values
            ('A', 'EUR', 'd1', 0), ('A', 'EUR', 'd1', 1), ('A', 'EUR', 'd2', 1),
            ('A', 'EUR', 'd3', 5), ('A', 'USD', 'd1', 1)
        ) t(subject_id, part, member, offset_days)
        """
    )

    def distinct(part: str, start: date) -> int:
        # the running sum of the deltas up to a start day
        got = _rows(
            con,
            "select coalesce(sum(delta), 0) from distinct_day_sweep(members, $days) "
            "where part = $part and point <= $start",
            days=3,
            part=part,
            start=start,
        )
        return int(got[0][0])

    d = date(2024, 1, 1)
    # windows of 3 days starting Dec 31 .. Jan 2 hold d1 and d2 (d1, active on two days,
    # once); Jan 3 nobody; Jan 4 .. Jan 6 d3; Jan 7 nobody
    assert [distinct("EUR", d + timedelta(days=k)) for k in range(-1, 7)] == [
        2,
        2,
        2,
        0,
        1,
        1,
        1,
        0,
    ]
    # parts are counted apart
    assert [distinct("USD", d + timedelta(days=k)) for k in range(-1, 3)] == [1, 1, 1, 0]


def test_cash_out_facts_head_of_the_reason(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        create table evidence_rows as
        select * from (values
            ('A', 1, 'cash', 5000.00::decimal(18, 2), 'EUR', 5400.00::decimal(18, 2)),
            ('A', 1, 'cash', 4000.00::decimal(18, 2), 'EUR', 4320.00::decimal(18, 2)),
            ('A', 1, 'out', 8500.00::decimal(18, 2), 'EUR', 9180.00::decimal(18, 2)),
            ('B', 1, 'cash', 1000.00::decimal(18, 2), 'EUR', 1080.00::decimal(18, 2)),
            ('B', 1, 'out', 900.00::decimal(18, 2), 'USD', 810.00::decimal(18, 2))
        ) t(subject_id, episode, kind, amount, currency, amount_rep)
        """
    )
    got = _rows(
        con,
        "select subject_id, n_cash, n_out, cash_rep, out_rep, cash_then_out "
        "from cash_out_facts(evidence_rows) order by subject_id",
    )
    assert got == [
        (
            "A",
            2,
            1,
            Decimal("9720.00"),
            Decimal("9180.00"),
            "2 cash deposits totalling 9,000.00 EUR, then 8,500.00 EUR (94% of the cash)",
        ),
        (
            "B",
            1,
            1,
            Decimal("1080.00"),
            Decimal("810.00"),
            "1 cash deposit of 1,080.00 (reporting currency), then 810.00 (reporting currency)"
            " (75% of the cash)",
        ),
    ]


def test_hop_evidence_lists_each_hop_once_in_time_order(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute(
        """
        create table hops as
        select * from (values
            ('t2', 'B', 'C', timestamp '2024-01-02 10:00', 95.00::decimal(18, 2), 'EUR',
             95.00::decimal(18, 2), 'wire'),
            ('t1', 'A', 'B', timestamp '2024-01-01 10:00', 100.00::decimal(18, 2), 'EUR',
             100.00::decimal(18, 2), 'book_transfer')
        ) t(tx_id, src_account, dst_account, timestamp, amount, currency, amount_rep, channel)
        """
    )
    con.execute(
        "create table episode_txs as "
        "select * from (values ('B', 1, 't1', 'chain hop'), ('B', 1, 't2', 'chain hop')) "
        "t(subject_id, episode, tx_id, label)"
    )
    got = _rows(con, "select * from hop_evidence(episode_txs, hops)")
    assert got == [
        (
            "B",
            1,
            datetime(2024, 1, 1, 10),
            datetime(2024, 1, 2, 10),
            2,
            Decimal("195.00"),
            [
                {"tx_id": "t1", "why": "chain hop: 100.00 EUR from A to B by book transfer"},
                {"tx_id": "t2", "why": "chain hop: 95.00 EUR from B to C by wire"},
            ],
        )
    ]


def test_episode_day_rows(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        create table bounds as
        select * from (values
            ('A', 1, date '2024-01-01', date '2024-01-02'),
            ('A', 2, date '2024-01-05', date '2024-01-05')
        ) t(subject_id, episode, episode_start, episode_limit)
        """
    )
    con.execute(
        """
        create table rows as
        select * from (values
            ('A', 't1', date '2024-01-02'), ('A', 't2', date '2024-01-03'),
            ('A', 't3', date '2024-01-05'), ('B', 't4', date '2024-01-01')
        ) t(subject_id, tx_id, day)
        """
    )
    assert _rows(con, "select * from episode_day_rows(bounds, rows) order by tx_id") == [
        (1, "A", "t1", date(2024, 1, 2)),
        (2, "A", "t3", date(2024, 1, 5)),
    ]


def test_counterparty_episode_rows_merge_windows_into_episodes(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # three senders within two days, a fourth six days later: with windows of 3 days and
    # at least 3 senders one episode holds the first three flows only
    con.execute(
        """
        create table flows as
        select 'A' as subject_id, counterparty, tx_id,
               date '2024-01-01' + offset_days as day, 100.00::decimal(18, 2) as amount_rep
        from (values ('S1', 't1', 0), ('S2', 't2', 1), ('S3', 't3', 1), ('S4', 't4', 7))
            t(counterparty, tx_id, offset_days)
        """
    )
    got = _rows(
        con,
        "select episode, tx_id from counterparty_episode_rows(flows, 3, 3, 10, 0) order by tx_id",
    )
    assert [tx for _, tx in got] == ["t1", "t2", "t3"]
    assert len({episode for episode, _ in got}) == 1


def test_path_episodes_merge_overlapping_paths_of_an_account(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # B lies on a path of Jan 1-2 and one of Jan 2-3 (one episode) and one of Jan 9
    con.execute(
        """
        create table members as
        select * from (values
            ('p1', 'B', timestamp '2024-01-01 10:00', timestamp '2024-01-02 09:00'),
            ('p2', 'B', timestamp '2024-01-02 12:00', timestamp '2024-01-03 08:00'),
            ('p3', 'B', timestamp '2024-01-09 10:00', timestamp '2024-01-09 11:00')
        ) t(path_id, subject_id, first_ts, last_ts)
        """
    )
    got = _rows(con, "select path_id, episode from path_episodes(members) order by path_id")
    assert got[0][1] == got[1][1] != got[2][1]
    assert [path for path, _ in got] == ["p1", "p2", "p3"]
