"""End-to-end scans: outputs, determinism, atomic publishing, other input layouts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import Result

from engine import schema
from engine.errors import InputError
from engine.pipeline import ScanRequest, scan

OUTPUTS = (
    "alerts.parquet",
    "account_scores.parquet",
    "hits.parquet",
    "evidence.parquet",
    "rejects.parquet",
)


def test_outputs_have_the_documented_schemas(
    clean_csv: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    out = tmp_path / "out"
    result = run_cli("scan", str(clean_csv), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    for name, expected in (
        ("alerts.parquet", schema.ALERTS_SCHEMA),
        ("account_scores.parquet", schema.ACCOUNT_SCORES_SCHEMA),
        ("hits.parquet", schema.HITS_SCHEMA),
        ("evidence.parquet", schema.EVIDENCE_SCHEMA),
        ("rejects.parquet", schema.REJECTS_SCHEMA),
    ):
        assert pq.read_schema(out / name).remove_metadata() == expected, name
    alerts = pl.read_parquet(out / "alerts.parquet")
    assert alerts["rank"].to_list() == list(range(1, alerts.height + 1))
    assert "A1" in alerts["subject_id"].to_list()
    # every account ranked; the alerted ones in the alerts' order
    scores = pl.read_parquet(out / "account_scores.parquet")
    assert scores["rank"].to_list() == list(range(1, scores.height + 1))
    assert scores["account_id"].n_unique() == scores.height >= alerts.height
    alerted = scores.filter(pl.col("alerted"))["account_id"].to_list()
    assert alerted == alerts["subject_id"].to_list()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["name"] == "iff-engine"
    assert {t["id"] for t in manifest["typologies"]} >= {"STR-01"}
    assert all(len(t["content_hash"]) == 64 for t in manifest["typologies"])
    assert manifest["reference_files"] and manifest["timings_seconds"]["export"] >= 0


def test_two_runs_give_byte_identical_outputs(
    clean_csv: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    for name in ("one", "two"):
        result = run_cli(
            "scan",
            str(clean_csv),
            "--out",
            str(tmp_path / name),
            "--quiet",
            "--as-of",
            "2024-12-31",
        )
        assert result.exit_code == 0, result.output
    for name in OUTPUTS:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    one = json.loads((tmp_path / "one" / "manifest.json").read_text())
    two = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert one["run_id"] == two["run_id"]


def test_existing_output_is_refused_without_force(
    clean_csv: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("analyst notes")
    result = run_cli("scan", str(clean_csv), "--out", str(out), "--quiet")
    assert result.exit_code == 2
    assert "--force" in result.output
    assert (out / "keep.txt").exists()
    result = run_cli("scan", str(clean_csv), "--out", str(out), "--quiet", "--force")
    assert result.exit_code == 0
    assert not (out / "keep.txt").exists()
    assert (out / "alerts.parquet").exists()


def test_interrupted_run_leaves_no_output(
    clean_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("earlier run")

    def crash(*_args: object) -> dict[str, int]:
        raise KeyboardInterrupt

    monkeypatch.setattr("engine.pipeline.write_tables", crash)
    with pytest.raises(KeyboardInterrupt):
        scan(ScanRequest(inputs=(str(clean_csv),), out_dir=out, force=True))
    # the previous output is untouched and no partial folder is left behind
    assert (out / "previous.txt").read_text() == "earlier run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.csv", "out"]


def test_amlworld_layout(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    path = tmp_path / "HI-Tiny_Trans.csv"
    path.write_text(
        "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
        "Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
        "2022/09/01 00:20,010,8000EBD30,010,8000EBD31,3697.34,US Dollar,3697.34,US Dollar,"
        "Reinvestment,0\n"
        "2022/09/01 00:21,3208,8000F4580,001,8000F5340,0.01,US Dollar,0.01,US Dollar,Cheque,0\n"
        "2022/09/01 00:22,3209,8000F4581,001,8000F5341,14.61,Euro,14.61,Euro,Credit Card,1\n"
        "2022/09/01 00:23,12,8000F4582,001,8000F5342,2.1,Bitcoin,2.1,Bitcoin,Bitcoin,0\n"
        "2022/09/01 00:24,12,8000F4583,001,8000F4583,5,Yen,5,Yen,Reinvestment,0\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli(
        "scan",
        str(path),
        "--format",
        "amlworld",
        "--out",
        str(out),
        "--json",
        "--as-of",
        "2024-12-31",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_read"] == 5
    # the last row pays itself: rejected, not lost
    assert summary["rejects_by_reason"] == {"SELF_TRANSFER": 1}
    rejects = pl.read_parquet(out / "rejects.parquet").row(0, named=True)
    assert rejects["source_row"] == 5
    assert rejects["tx_id"] == "HI-Tiny_Trans.csv:5"


def test_mapping_file_for_a_bank_export(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    export_file = tmp_path / "bank.csv"
    export_file.write_text(
        "Ref;Booked;From;To;Betrag;Art;Land\n"
        "R1;01.02.2024 10:00;KASSE;DE01;9.500,00;Bareinzahlung;DE\n"
        "R2;01.02.2024 12:30;KASSE;DE01;9.700,00;Bareinzahlung;DE\n"
        "R3;02.02.2024 08:00;DE01;PH77;18.000,00;Auslandsüberweisung;PH\n"
        "R4;32.02.2024 08:00;DE01;PH77;1,00;Überweisung;PH\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "bank.toml"
    mapping.write_text(
        """
name = "example-bank"
[csv]
delimiter = ";"
decimal_separator = ","
[columns]
tx_id = "Ref"
timestamp = "Booked"
src_account = "From"
dst_account = "To"
amount = "Betrag"
channel = "Art"
dst_country = "Land"
[constants]
currency = "EUR"
[timestamp]
format = "%d.%m.%Y %H:%M"
[values.channel]
"bareinzahlung" = "cash_deposit"
"auslandsüberweisung" = "wire"
"überweisung" = "wire"
[values.src_account]
"kasse" = "CASH"
""",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = run_cli(
        "scan",
        str(export_file),
        "--mapping",
        str(mapping),
        "--out",
        str(out),
        "--json",
        "--as-of",
        "2024-12-31",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_accepted"], summary["rows_rejected"]) == (3, 1)
    assert summary["rejects_by_reason"] == {"BAD_TIMESTAMP": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mapping"] == "example-bank"
    assert summary["hits_per_typology"]["STR-01"] == 1


def test_mapping_file_problems_are_listed(tmp_path: Path) -> None:
    mapping = tmp_path / "bad.toml"
    mapping.write_text('[columns]\ntx_id = "Ref"\nfoo = "Bar"\n[values.channel]\n"x" = "warp"\n')
    from engine.load import load_mapping

    with pytest.raises(InputError) as caught:
        load_mapping(mapping)
    message = str(caught.value)
    assert "unknown canonical columns ['foo']" in message
    assert "required columns not mapped" in message
    assert "unknown channel 'warp'" in message


def test_typology_subset_and_config_override(
    clean_csv: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[typologies.STR-01]\nmin_count_short = 4\nmin_count_long = 4\n")
    out = tmp_path / "out"
    result = run_cli(
        "scan",
        str(clean_csv),
        "--out",
        str(out),
        "--json",
        "--typology",
        "STR-01",
        "--config",
        str(config),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["hits_per_typology"] == {"STR-01": 0}
    bad = tmp_path / "bad.toml"
    bad.write_text("[typologies.STR-01]\nno_such_param = 1\n")
    result = run_cli("scan", str(clean_csv), "--out", str(tmp_path / "o2"), "--config", str(bad))
    assert result.exit_code == 2
    assert "unknown parameter 'no_such_param'" in result.output
    result = run_cli("scan", str(clean_csv), "--out", str(tmp_path / "o3"), "--typology", "NOPE-01")
    assert result.exit_code == 2


def test_runs_with_detectors_are_byte_identical(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(11)
    n = 6000
    accounts = [f"AC{i:04d}" for i in range(700)]
    src = rng.choice(accounts, n)
    dst = rng.choice(accounts, n)
    keep = src != dst
    seconds = rng.integers(0, 60 * 86400, n)
    table = pa.table(
        {
            "tx_id": [f"x{i}" for i in range(n)],
            "timestamp": pa.array(
                np.datetime64("2024-01-01T00:00:00") + seconds.astype("timedelta64[s]")
            ).cast(pa.timestamp("us")),
            "src_account": src,
            "dst_account": dst,
            "amount": np.round(rng.lognormal(5, 1.2, n), 2),
            "currency": ["USD"] * n,
            "channel": rng.choice(["wire", "p2p", "card", "ach"], n),
        }
    ).filter(pa.array(keep))
    pq.write_table(table, tmp_path / "tx.parquet")
    for name in ("one", "two"):
        result = run_cli(
            "scan",
            str(tmp_path / "tx.parquet"),
            "--out",
            str(tmp_path / name),
            "--quiet",
            "--as-of",
            "2024-12-31",
        )
        assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["anomaly"]["anomaly_hits"] > 0  # the detectors really ran
    for name in OUTPUTS:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
