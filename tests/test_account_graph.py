"""The account_graph feature table on hand-made transfer graphs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pytest

from engine.cases import fixture_rows
from engine.config import RunConfig
from engine.db import connect
from engine.detectors import create_detector_rows
from engine.features import DETECTOR_FEATURES, GRAPH_PARAMS, build_account_features
from engine.load import CANONICAL_MAPPING, load_arrow_rows
from engine.reference import load_reference
from engine.validate import stage_transactions

START = datetime(2024, 3, 1, 10, 0)


def tx(day: float, src: str, dst: str, amount: float, channel: str = "p2p") -> dict[str, Any]:
    at = START + timedelta(days=day)
    return {
        "timestamp": at.strftime("%Y-%m-%d %H:%M"),
        "src_account": src,
        "dst_account": dst,
        "amount": amount,
        "channel": channel,
    }


def table(
    rows: list[dict[str, Any]],
    name: str,
    create: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """A table built from the features of ``rows`` (by ``create(con)`` where given), by
    account."""
    config = RunConfig(as_of=date(2099, 1, 1))
    con = connect(config)
    try:
        load_reference(con, config)
        loaded = load_arrow_rows(con, fixture_rows(rows), "case")
        stage_transactions(con, (loaded,), CANONICAL_MAPPING, config)
        build_account_features(con)
        if create is not None:
            create(con)
        cursor = con.execute(f"select * from {name} order by account_id")
        names = [d[0] for d in cursor.description or ()]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    finally:
        con.close()


def graph(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """account_graph of ``rows``, by account."""
    return table(rows, "account_graph")


# a slow ring of ordinary sums: one hop every one to three weeks, 60 days in all
SLOW_RING = [
    tx(0, "R1", "R2", 900),
    tx(14, "R2", "R3", 860, "wire"),
    tx(35, "R3", "R4", 810),
    tx(49, "R4", "R5", 770, "internal"),
    tx(60, "R5", "R1", 720),
    # everyday transfers around it
    tx(5, "R2", "FRIEND", 40),
    tx(20, "FRIEND", "R3", 35),
]


def test_slow_five_hop_ring_is_a_cycle_of_every_member() -> None:
    g = graph(SLOW_RING)
    for member in ("R1", "R2", "R3", "R4", "R5"):
        assert g[member]["cycle_count"] == 1, member
        assert g[member]["cycle_min_hops"] == 5
        assert g[member]["is_hub"] is False
    assert g["FRIEND"]["cycle_count"] == 0


def test_ring_out_of_time_order_or_beyond_the_span_is_no_cycle() -> None:
    # the same ring with the closing hop before the first one
    shuffled = [tx(0, "A", "B", 900), tx(10, "B", "C", 860), tx(-5, "C", "A", 820)]
    # and with the closing hop 100 days after the first (span 90)
    slow = [tx(0, "D", "E", 900), tx(50, "E", "F", 860), tx(100, "F", "D", 820)]
    g = graph(shuffled + slow)
    assert all(g[a]["cycle_count"] == 0 for a in "ABCDEF")
    assert GRAPH_PARAMS["cycle_span_days"] == 90


def test_friends_paying_every_way_round_are_no_ring() -> None:
    # F1 -> F2 -> F3 -> F1 in time order with falling amounts, but F1 also pays F3
    rows = [
        tx(0, "F1", "F2", 146),
        tx(26, "F2", "F3", 138),
        tx(26.1, "F1", "F3", 138),
        tx(27, "F3", "F1", 121),
    ]
    g = graph(rows + SLOW_RING)
    assert all(g[a]["cycle_count"] == 0 for a in ("F1", "F2", "F3"))
    assert g["R1"]["cycle_count"] == 1


def test_loan_repaid_in_full_and_small_round_trips_are_no_cycle() -> None:
    rows = [
        # a loan repaid within days
        tx(0, "L1", "L2", 1500),
        tx(4, "L2", "L1", 1500),
        # two relatives paying ordinary sums back and forth
        tx(0, "P1", "P2", 600),
        tx(20, "P2", "P1", 520),
        # a large sum back within days less a cut: the layering round trip
        tx(0, "X1", "X2", 6000, "crypto"),
        tx(2, "X2", "X1", 5400, "wire"),
    ]
    g = graph(rows)
    assert g["L1"]["cycle_count"] == g["L2"]["cycle_count"] == 0
    assert g["P1"]["cycle_count"] == g["P2"]["cycle_count"] == 0
    assert g["X1"]["cycle_count"] == g["X2"]["cycle_count"] == 1
    assert g["X1"]["cycle_min_hops"] == 2


def test_scatter_gather_roles_and_shared_counterparties() -> None:
    rows = [tx(0, "S", f"M{k}", 2000 + 100 * k) for k in range(3)]
    rows += [tx(3 + k, f"M{k}", "T", 1800 + 90 * k) for k in range(3)]
    # two intermediaries only: no pattern
    rows += [tx(0, "S2", "N1", 2000), tx(0, "S2", "N2", 2000)]
    rows += [tx(2, "N1", "T2", 1900), tx(2, "N2", "T2", 1900)]
    g = graph(rows)
    assert g["S"]["sg_source_count"] == 1 and g["S"]["sg_sink_count"] == 0
    assert g["T"]["sg_sink_count"] == 1 and g["T"]["sg_source_count"] == 0
    for k in range(3):
        assert g[f"M{k}"]["sg_intermediary_count"] == 1
        # each intermediary's counterparties S and T are in the pattern too
        assert g[f"M{k}"]["shared_counterparties"] == 2
    # S's three intermediaries each deal with T, another account of the pattern
    assert g["S"]["shared_counterparties"] == 3
    assert g["S"]["out_degree"] == 3 and g["T"]["in_degree"] == 3
    for account in ("S2", "T2", "N1", "N2"):
        assert g[account]["sg_source_count"] == 0
        assert g[account]["sg_sink_count"] == 0
        assert g[account]["sg_intermediary_count"] == 0
        assert g[account]["shared_counterparties"] == 0


def test_fan_in_then_fan_out_windows_and_concentration() -> None:
    # five one-off senders within three days, then four receivers the week after
    rows = [tx(k * 0.5, f"IN{k}", "F", 500) for k in range(5)]
    rows += [tx(9 + k, "F", f"OUT{k}", 600) for k in range(4)]
    # a second account whose three senders are spread over three weeks
    rows += [tx(0, "A1", "G", 100), tx(10, "A2", "G", 300), tx(20, "A3", "G", 600)]
    g = graph(rows)
    f = g["F"]
    assert f["in_degree"] == 5 and f["out_degree"] == 4
    assert f["max_senders_7d"] == 5 and f["max_senders_30d"] == 5
    assert f["max_receivers_7d"] == 4
    assert f["gather_scatter_30d"] == 4
    assert f["top_in_share"] == pytest.approx(0.2)
    assert f["in_hhi"] == pytest.approx(0.2)
    assert f["pass_through_ratio"] == pytest.approx(2400 / 2500)
    assert f["sg_intermediary_count"] == 0 and f["cycle_count"] == 0
    gg = g["G"]
    assert gg["max_senders_7d"] == 1 and gg["max_senders_30d"] == 3
    assert gg["top_in_share"] == pytest.approx(0.6)
    assert gg["in_hhi"] == pytest.approx(0.01 + 0.09 + 0.36)
    # G sends nothing on: no gather-scatter, no pass-through
    assert gg["gather_scatter_30d"] == 0 and gg["pass_through_ratio"] == 0


def test_hub_takes_no_part_in_cycles() -> None:
    hub_limit = int(str(GRAPH_PARAMS["hub_counterparties"]))
    # a payroll processor paying more than hub_limit staff in one month
    rows = [tx(1, "PAYROLL", f"STAFF{k}", 1500, "ach") for k in range(hub_limit + 1)]
    # a ring through it: STAFF0 -> PAYROLL -> H2 -> STAFF0
    rows += [tx(2, "STAFF0", "PAYROLL", 1000), tx(3, "PAYROLL", "H2", 950, "ach")]
    rows += [tx(4, "H2", "STAFF0", 900)]
    g = graph(rows)
    assert g["PAYROLL"]["is_hub"] is True
    assert g["PAYROLL"]["max_receivers_30d"] == hub_limit + 2  # the staff and H2
    assert g["STAFF0"]["cycle_count"] == 0 and g["H2"]["cycle_count"] == 0


def test_cash_and_card_are_not_graph_legs() -> None:
    rows = [
        tx(0, "CASH", "C1", 2000, "cash_deposit"),
        tx(1, "C1", "SHOP", 1500, "card"),
        tx(2, "C2", "C1", 500),
    ]
    g = graph(rows)
    assert g["C1"]["in_degree"] == 1 and g["C1"]["out_degree"] == 0
    # non-cash money: 500 in by transfer, 1,500 out by card
    assert g["C1"]["pass_through_ratio"] == pytest.approx(500 / 1500)
    assert "CASH" not in g


def test_detectors_read_the_graph_structure_and_a_missing_share_as_one_counterparty() -> None:
    # SPREAD receives from four senders alike; LONE from one; SENDER receives nothing
    rows = [tx(d, f"S{i}", "SPREAD", 100) for i in range(4) for d in (1, 9)]
    rows += [tx(2, "SENDER", "LONE", 100), tx(3, "SENDER", "LONE", 50)]
    detector = table(rows, "detector_rows", create_detector_rows)
    assert set(detector) == set(graph(rows))
    assert detector["SPREAD"]["top_in_share"] == pytest.approx(0.25)
    assert detector["SPREAD"]["max_senders_30d"] == 4
    assert detector["LONE"]["top_in_share"] == 1.0
    # no transfer received: read as a single sender's share, not as money spread thin
    assert detector["SENDER"]["top_in_share"] == 1.0
    assert detector["SENDER"]["top_out_share"] == 1.0
    assert detector["SENDER"]["max_senders_30d"] == 0
    # a share with no money behind it (no card spend) reads as 0
    assert detector["SENDER"]["card_spend_share"] == 0.0
    assert [c for c in detector["SENDER"] if c not in ("account_id", "peer_group")] == [
        f.name for f in DETECTOR_FEATURES
    ]
