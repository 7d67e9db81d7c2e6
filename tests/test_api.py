"""The Python API: frames over a run's outputs and its inputs read back."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from click.testing import Result
from run_data import REJECTED_ROWS, ROWS, a1_alert, small_run_fixture  # noqa: F401

import engine
from engine.api import TRANSACTION_FRAME_COLUMNS, Run, UnknownAlertError, open_run
from engine.errors import InputError
from engine.resources import reference_dir


def test_package_exports_the_api() -> None:
    assert engine.open_run is open_run
    assert engine.Run is Run
    assert engine.__version__


def test_frames_equal_the_parquet_files(small_run: Run) -> None:
    for name in ("alerts", "hits", "evidence", "rejects", "account_scores"):
        frame = getattr(small_run, name)
        assert isinstance(frame, pl.LazyFrame)
        assert frame.collect().equals(pl.read_parquet(small_run.dir / f"{name}.parquet")), name
    assert small_run.manifest["run_id"] == open_run(small_run.dir).manifest["run_id"]


def test_account_scores_only_when_the_run_has_them(small_run: Run, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(small_run.dir, tmp_path / "run"))
    (copy / "account_scores.parquet").unlink()
    assert open_run(copy).account_scores is None


def test_alert_lookup(small_run: Run) -> None:
    alert_id = a1_alert(small_run)
    alert = small_run.alert(alert_id)
    assert alert["subject_id"] == "A1" and alert["alert_id"] == alert_id
    assert {"STR-01", "GRAPH-09"} <= set(alert["typology_ids"])
    with pytest.raises(KeyError):
        small_run.alert("no-such-alert")
    with pytest.raises(InputError, match="unknown alert id 'no-such-alert'"):
        small_run.alert("no-such-alert")


def test_open_run_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no manifest\.json"):
        open_run(tmp_path)
    with pytest.raises(InputError, match="not found"):
        open_run(tmp_path / "missing")


def _expected_rows(accounts: set[str]) -> set[tuple[str, int]]:
    return {
        (row[0], i)
        for i, row in enumerate(ROWS, start=1)
        if i not in REJECTED_ROWS and (row[2] in accounts or row[3] in accounts)
    }


def test_transactions_are_exactly_the_accepted_rows_of_the_accounts(small_run: Run) -> None:
    for accounts in ({"A1"}, {"B1", "E1"}, {"CASH"}, {"nobody"}):
        rows = small_run.transactions(sorted(accounts))
        assert rows.columns == list(TRANSACTION_FRAME_COLUMNS)
        got = set(zip(rows["tx_id"], rows["source_row"], strict=True))
        assert got == _expected_rows(accounts), accounts
        ordered = rows.sort("timestamp", "tx_id")
        assert rows["tx_id"].to_list() == ordered["tx_id"].to_list()
    one = small_run.transactions("A1")
    assert one["tx_id"].to_list() == ["t1", "t2", "t3", "t4", "t8"]


def test_transactions_convert_to_the_reporting_currency(small_run: Run) -> None:
    rows = small_run.transactions("C1")
    eur = rows.filter(pl.col("tx_id") == "t5").row(0, named=True)
    with (reference_dir() / "fx_rates.csv").open(encoding="utf-8") as handle:
        units = {r["currency"]: Decimal(r["units_per_usd"]) for r in csv.DictReader(handle)}
    assert eur["currency"] == "EUR" and eur["amount"] == Decimal("120.25")
    assert abs(eur["amount_rep"] - Decimal("120.25") / units["EUR"]) < Decimal("0.01")
    usd = rows.filter(pl.col("tx_id") == "t6").row(0, named=True)
    assert usd["amount_rep"] == usd["amount"] == Decimal("50")


def test_transactions_by_id_skip_rejected_repeats(small_run: Run) -> None:
    rows = small_run.transactions_by_id(["t4", "t11", "t6"])
    assert rows["tx_id"].to_list() == ["t4", "t6"]
    assert rows.filter(pl.col("tx_id") == "t4")["dst_account"].to_list() == ["B1"]


def test_accounts_file_is_read_back(small_run: Run) -> None:
    accounts = small_run.accounts(["A1", "Z1"])
    assert accounts is not None
    assert accounts["account_id"].to_list() == ["A1"]
    assert accounts.row(0, named=True)["segment"] == "retail"


def _edges(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (r["src_account"], r["dst_account"]): (r["tx_count"], r["hop"])
        for r in frame.iter_rows(named=True)
    }


def test_network_walks_the_hand_made_graph(small_run: Run) -> None:
    alert_id = a1_alert(small_run)
    evidence = set(small_run.alert_evidence(alert_id)["tx_id"].to_list())
    assert {"t1", "t2", "t3", "t4"} <= evidence

    two = small_run.network(alert_id)
    assert two.columns == [
        "src_account",
        "dst_account",
        "tx_count",
        "amount_total",
        "first_timestamp",
        "last_timestamp",
        "on_evidence",
        "hop",
    ]
    assert _edges(two) == {
        ("CASH", "A1"): (3, 1),
        ("A1", "B1"): (1, 1),
        ("A1", "E1"): (1, 1),
        ("B1", "C1"): (1, 2),
        ("X1", "B1"): (1, 2),
        ("E1", "F1"): (1, 2),
    }
    by_pair = {(r["src_account"], r["dst_account"]): r for r in two.iter_rows(named=True)}
    assert by_pair["CASH", "A1"]["amount_total"] == pytest.approx(28500.50)
    assert by_pair["CASH", "A1"]["on_evidence"] and by_pair["A1", "B1"]["on_evidence"]
    assert by_pair["A1", "E1"]["on_evidence"] == ("t8" in evidence)
    assert not by_pair["B1", "C1"]["on_evidence"]
    eur = small_run.transactions_by_id(["t5"])["amount_rep"][0]
    assert by_pair["B1", "C1"]["amount_total"] == pytest.approx(float(eur))
    assert str(by_pair["CASH", "A1"]["first_timestamp"]) == "2024-03-01 10:00:00"
    assert str(by_pair["CASH", "A1"]["last_timestamp"]) == "2024-03-02 09:00:00"

    assert _edges(small_run.network(alert_id, hops=1)) == {
        ("CASH", "A1"): (3, 1),
        ("A1", "B1"): (1, 1),
        ("A1", "E1"): (1, 1),
    }
    three = _edges(small_run.network(alert_id, hops=3))
    assert three["C1", "D1"] == (1, 3) and ("CASH", "Z1") not in three

    capped = small_run.network(alert_id, max_edges=2)
    assert [(r["src_account"], r["dst_account"]) for r in capped.iter_rows(named=True)] == [
        ("CASH", "A1"),
        ("A1", "B1"),
    ]


def test_networks_of_many_alerts_match_one_by_one(small_run: Run) -> None:
    alert_ids = small_run.alerts.collect()["alert_id"].to_list()
    together = small_run.networks(alert_ids)
    assert together.columns[0] == "alert_id"
    for alert_id in alert_ids:
        alone = small_run.network(alert_id)
        part = together.filter(pl.col("alert_id") == alert_id).drop("alert_id")
        assert part.equals(alone), alert_id
    with pytest.raises(UnknownAlertError):
        small_run.networks(["nope"])
    with pytest.raises(InputError, match="hops"):
        small_run.network(alert_ids[0], hops=0)


def test_missing_inputs_give_a_clear_error(small_run: Run, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(small_run.dir, tmp_path / "run"))
    manifest = (copy / "manifest.json").read_text(encoding="utf-8")
    moved = manifest.replace(str(small_run.dir.parent / "data"), str(tmp_path / "gone"))
    (copy / "manifest.json").write_text(moved, encoding="utf-8")
    with pytest.raises(InputError, match="input file not found"):
        open_run(copy).transactions("A1")


def test_scan_with_a_mapping_file_reads_back(tmp_path: Path) -> None:
    export_file = tmp_path / "bank.csv"
    export_file.write_text(
        "Ref;Booked;From;To;Betrag;Art\n"
        "R1;01.02.2024 10:00;KASSE;DE01;9.500,00;Bareinzahlung\n"
        "R2;01.02.2024 12:30;KASSE;DE01;9.700,00;Bareinzahlung\n"
        "R3;02.02.2024 08:00;DE01;PH77;18.000,00;Überweisung\n"
        "R4;32.02.2024 08:00;DE01;PH77;1,00;Überweisung\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "bank.toml"
    mapping.write_text(
        'name = "example-bank"\n[csv]\ndelimiter = ";"\ndecimal_separator = ","\n'
        '[columns]\ntx_id = "Ref"\ntimestamp = "Booked"\nsrc_account = "From"\n'
        'dst_account = "To"\namount = "Betrag"\nchannel = "Art"\n'
        '[constants]\ncurrency = "EUR"\n[timestamp]\nformat = "%d.%m.%Y %H:%M"\n'
        '[values.channel]\n"bareinzahlung" = "cash_deposit"\n"überweisung" = "wire"\n'
        '[values.src_account]\n"kasse" = "CASH"\n',
        encoding="utf-8",
    )
    config = tmp_path / "iff.toml"
    config.write_text('as_of = "2024-12-31"\n[detectors]\nenabled = false\n', encoding="utf-8")
    with engine.scan(export_file, out=tmp_path / "out", mapping=mapping, config=config) as run:
        assert run.manifest["mapping_file"] == str(mapping.resolve())
        rows = run.transactions("DE01")
        assert rows["tx_id"].to_list() == ["R1", "R2", "R3"]
        assert rows["amount"].to_list() == [Decimal("9500"), Decimal("9700"), Decimal("18000")]
        assert rows["currency"].unique().to_list() == ["EUR"]


def test_report_command_refuses_a_folder_that_is_not_a_run(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    result = run_cli("report", str(tmp_path))
    assert result.exit_code == 2
    assert "not a run folder" in result.output


def _hand_written_run(
    folder: Path, rows: list[tuple[str, str, str, str]], evidence: list[str]
) -> Run:
    """A run folder written by hand: one alert on S citing ``evidence``; rows are
    (tx_id, timestamp, src, dst) of 100 USD wires in a canonical CSV."""
    import hashlib
    import json
    from datetime import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine import schema

    folder.mkdir(parents=True)
    data = folder / "tx.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ("tx_id", "timestamp", "src_account", "dst_account", "amount", "currency", "channel")
        )
        writer.writerows((*r, "100", "USD", "wire") for r in rows)
    run_dir = folder / "run"
    run_dir.mkdir()
    when = datetime(2024, 1, 1)
    alert = {
        "alert_id": ["AL1"], "rank": [1], "subject_id": ["S"], "risk_score": [90.0],
        "likely_role": ["mule"], "typology_ids": [["GRAPH-05"]], "families": [["GRAPH"]],
        "hit_count": [1], "reasons": [["GRAPH-05: cycle"]], "first_activity": [when],
        "last_activity": [when], "amount_total": [Decimal("400")],
        "reporting_currency": ["USD"], "evidence_count": [len(evidence)],
        "anomaly_score": [0.0], "anomaly_top_features": [[]], "anomaly_explanation": [""],
    }  # fmt: skip
    pq.write_table(pa.table(alert, schema=schema.ALERTS_SCHEMA), run_dir / "alerts.parquet")
    ev = {
        "alert_id": ["AL1"] * len(evidence), "hit_id": ["H1"] * len(evidence),
        "typology_id": ["GRAPH-05"] * len(evidence), "tx_id": evidence,
        "why": ["leg"] * len(evidence),
    }  # fmt: skip
    pq.write_table(pa.table(ev, schema=schema.EVIDENCE_SCHEMA), run_dir / "evidence.parquet")
    for name, arrow_schema in (("hits", schema.HITS_SCHEMA), ("rejects", schema.REJECTS_SCHEMA)):
        pq.write_table(arrow_schema.empty_table(), run_dir / f"{name}.parquet")
    manifest = {
        "run_id": "hand-written",
        "input_format": "canonical",
        "mapping": "canonical",
        "config": {"reporting_currency": "USD"},
        "latest_allowed_timestamp": "2025-01-02T00:00:00",
        "inputs": [
            {
                "path": str(data),
                "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
                "size_bytes": data.stat().st_size,
                "content": "transactions",
            }
        ],
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return open_run(run_dir)


def test_network_labels_evidence_by_the_hop_that_reaches_it(tmp_path: Path) -> None:
    # a cycle S -> P -> Q -> R -> S cited as evidence, plus X -> Y cited but unreachable
    rows = [
        ("e1", "2024-01-01 10:00:00", "S", "P"),
        ("e2", "2024-01-02 10:00:00", "P", "Q"),
        ("e3", "2024-01-03 10:00:00", "Q", "R"),
        ("e4", "2024-01-04 10:00:00", "R", "S"),
        ("e5", "2024-01-05 10:00:00", "X", "Y"),
        ("n1", "2024-01-06 10:00:00", "Q", "W"),
    ]
    with _hand_written_run(tmp_path / "h", rows, ["e1", "e2", "e3", "e4", "e5"]) as run:
        two = {(r["src_account"], r["dst_account"]): (r["hop"], r["on_evidence"])
               for r in run.network("AL1", hops=2).iter_rows(named=True)}  # fmt: skip
        assert two == {
            ("S", "P"): (1, True),
            ("R", "S"): (1, True),
            ("P", "Q"): (2, True),
            ("Q", "R"): (2, True),
            ("X", "Y"): (2, True),
        }
        three = {(r["src_account"], r["dst_account"]): r["hop"]
                 for r in run.network("AL1", hops=3).iter_rows(named=True)}  # fmt: skip
        assert three == {
            ("S", "P"): 1, ("R", "S"): 1, ("P", "Q"): 2, ("Q", "R"): 2,
            ("X", "Y"): 3, ("Q", "W"): 3,
        }  # fmt: skip
        assert run.transactions("S")["tx_id"].to_list() == ["e1", "e4"]


def test_kept_and_streamed_reads_agree(small_run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    alert_ids = small_run.alerts.collect()["alert_id"].to_list()
    kept_rows = small_run.transactions(["A1", "B1", "CASH"], tx_ids=["t6"])
    kept_edges = small_run.networks(alert_ids)
    monkeypatch.setattr("engine.api.KEEP_ROWS", 0)  # every call reads the inputs again
    with open_run(small_run.dir) as streamed:
        assert streamed.transactions(["A1", "B1", "CASH"], tx_ids=["t6"]).equals(kept_rows)
        assert streamed.networks(alert_ids).equals(kept_edges)


def test_report_command_prints_the_index_path(
    small_run: Run, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    out = tmp_path / "report"
    result = run_cli("report", str(small_run.dir), "--out", str(out), "--top", "1")
    assert result.exit_code == 0, result.output
    index = Path(result.stdout.strip())
    assert index.name == "index.html" and index.is_file() and index.parent == out
