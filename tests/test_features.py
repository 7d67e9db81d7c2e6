"""The account feature table on a hand-made case."""

from __future__ import annotations

from datetime import date

import pytest

from engine.cases import fixture_rows
from engine.config import RunConfig
from engine.db import connect
from engine.features import FEATURES, build_account_features
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
