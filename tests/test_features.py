"""The feature tables on hand-made cases."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from engine.cases import fixture_rows
from engine.config import RunConfig
from engine.db import connect
from engine.features import FEATURE_TABLES, FEATURES, build_account_features
from engine.load import CANONICAL_MAPPING, load_arrow_rows
from engine.reference import load_reference
from engine.validate import stage_transactions


def test_features_by_hand() -> None:
    config = RunConfig(as_of=date(2099, 1, 1))
    con = connect(config)
    load_reference(con, config)
    rows = fixture_rows(
        [
            # A receives from three senders on one day (one at night), passes most on, and
            # spends at a hotel abroad and a fast-food place
            {
                "timestamp": "2024-01-01 09:00",
                "src_account": "S1",
                "dst_account": "A",
                "amount": 100,
            },
            {
                "timestamp": "2024-01-01 10:00",
                "src_account": "S2",
                "dst_account": "A",
                "amount": 100,
            },
            {
                "timestamp": "2024-01-01 23:30",
                "src_account": "S3",
                "dst_account": "A",
                "amount": 100,
                "channel": "p2p",
            },
            {
                "timestamp": "2024-01-02 08:00",
                "src_account": "A",
                "dst_account": "S1",
                "amount": 240,
            },
            {
                "timestamp": "2024-01-05 02:00",
                "src_account": "A",
                "dst_account": "CASH",
                "amount": 9000,
                "channel": "cash_withdrawal",
            },
            {
                "timestamp": "2024-01-06 12:00",
                "src_account": "A",
                "dst_account": "HOTEL",
                "amount": 50,
                "channel": "card",
                "mcc": "7011",
                "merchant_city": "Lyon",
                "src_country": "US",
                "dst_country": "FR",
            },
            {
                "timestamp": "2024-01-06 13:00",
                "src_account": "A",
                "dst_account": "BURGER",
                "amount": 10,
                "channel": "card",
                "mcc": "5814",
                "merchant_city": "Paris",
            },
        ]
    )
    stage_transactions(con, (load_arrow_rows(con, rows, "case"),), CANONICAL_MAPPING, config)
    assert build_account_features(con) == 6  # A, S1, S2, S3, HOTEL, BURGER (not CASH)
    names = [f.name for f in FEATURES]
    values = dict(
        zip(
            names,
            con.execute(
                f"select {', '.join(names)} from account_features where account_id = 'A'"
            ).fetchall()[0],
            strict=True,
        )
    )
    assert values["in_count"] == 3 and values["out_count"] == 4
    assert values["in_amount"] == 300 and values["out_amount"] == 9300
    assert values["in_counterparties"] == 3 and values["out_counterparties"] == 4
    assert values["max_daily_senders"] == 3
    assert values["mutual_counterparties"] == 1  # S1 paid A and was paid by A
    assert values["night_share"] == pytest.approx(2 / 7)  # 23:30 and 02:00
    assert values["night_cash_share"] == 1.0
    assert values["near_threshold_count"] == 1  # 9,000 cash in [8,000, 10,000)
    assert values["cash_out_share"] == pytest.approx(9000 / 9300)
    assert values["p2p_in_share"] == pytest.approx(1 / 3)
    assert values["lodging_share"] == pytest.approx(50 / 60)
    assert values["food_delivery_share"] == pytest.approx(10 / 60)
    assert values["distinct_cities"] == 2
    assert values["foreign_countries_out"] == 1
    assert values["active_days"] == 4
    assert values["longest_gap_days"] == 3
    assert values["pass_through_day_share"] == 0.0
    assert values["flow_balance"] == pytest.approx(300 / 9300)


def _staged(given: list[dict[str, object]]) -> duckdb.DuckDBPyConnection:
    config = RunConfig(as_of=date(2099, 1, 1))
    con = connect(config)
    load_reference(con, config)
    stage_transactions(
        con, (load_arrow_rows(con, fixture_rows(given), "case"),), CANONICAL_MAPPING, config
    )
    build_account_features(con)
    return con


def test_feature_tables_and_customer_side_purchases() -> None:
    card = {"channel": "card", "merchant_city": "Regina"}
    con = _staged(
        [
            # two guests pay a hotel-chain code (3600, lodging through the reference
            # group), the hotel refunds one of them: the refund is no purchase
            {
                "timestamp": "2024-04-01 10:00",
                "src_account": "G1",
                "dst_account": "HOTEL",
                "amount": 200,
                "mcc": "3600",
                **card,
            },
            {
                "timestamp": "2024-04-01 11:00",
                "src_account": "G2",
                "dst_account": "HOTEL",
                "amount": 180,
                "mcc": "3600",
                **card,
            },
            {
                "timestamp": "2024-04-03 10:00",
                "src_account": "HOTEL",
                "dst_account": "G1",
                "amount": 50,
                "mcc": "3600",
                **card,
            },
            # the hotel, paid first by two guests, is a merchant: its own parking is no
            # customer purchase; G1's parking is
            {
                "timestamp": "2024-04-04 10:00",
                "src_account": "HOTEL",
                "dst_account": "PARK",
                "amount": 5,
                "mcc": "7523",
                **card,
            },
            {
                "timestamp": "2024-04-04 11:00",
                "src_account": "G1",
                "dst_account": "PARK",
                "amount": 6,
                "mcc": "7523",
                **card,
            },
            {
                "timestamp": "2024-04-05 09:00",
                "src_account": "CASH",
                "dst_account": "G2",
                "amount": 300,
                "channel": "cash_deposit",
            },
        ]
    )
    relations = con.execute("select table_name from information_schema.tables").fetchall()
    assert set(FEATURE_TABLES) <= {r[0] for r in relations}
    purchases = con.execute(
        "select tx_id, subject_id, merchant_id, city from card_purchases order by tx_id"
    ).fetchall()
    assert purchases == [
        ("t1", "G1", "HOTEL", "REGINA"),
        ("t2", "G2", "HOTEL", "REGINA"),
        ("t5", "G1", "PARK", "REGINA"),
    ]
    # two legs per transaction between accounts, one for cash
    legs = con.execute(
        "select account_id, direction, counterparty from account_legs where tx_id = 't6'"
    ).fetchall()
    assert legs == [("G2", "in", "CASH")]
    assert con.execute("select count(*) from account_legs").fetchall() == [(11,)]


def test_peer_levels_hold_each_groups_values() -> None:
    con = _staged(
        [
            {
                "timestamp": "2024-04-01 10:00",
                "src_account": "CASH",
                "dst_account": "B1",
                "amount": 100,
                "channel": "cash_deposit",
            },
            {
                "timestamp": "2024-04-01 10:00",
                "src_account": "CASH",
                "dst_account": "B2",
                "amount": 300,
                "channel": "cash_deposit",
            },
        ]
    )
    assert con.execute("select count(*) from peer_levels").fetchall() == [(0,)]  # no accounts file
    con.execute(
        "create or replace table staged_accounts as select * from (values "
        "('B1', 'business', 'retail'), ('B2', 'business', 'retail'), ('I1', 'individual', null)"
        ") v(account_id, customer_type, segment)"
    )
    con.execute(
        "create or replace view accounts as select account_id, customer_type, "
        "null::timestamp as opened_at, segment from staged_accounts"
    )
    build_account_features(con)
    rows = con.execute(
        "select measure, customer_type, segment, peers, peer_values, "
        "list_aggregate(peer_values, 'quantile_cont', 0.5) from peer_levels"
    ).fetchall()
    assert rows == [
        ("business_revenue", "business", "retail", 2, [100.0, 300.0], 200.0),
    ]
