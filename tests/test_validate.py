"""Row-level problems go to rejects with file, row, column and reason; nothing is lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result

from engine import schema, validate
from engine.validate import expectation_sample_sizes
from tests.conftest import CANONICAL_HEADER, CLEAN_ROWS, stage_files, write_csv

GOOD = ("2024-01-02 09:00:00", "A1", "B1", "5", "USD", "wire")


def _scan(run_cli: Callable[..., Result], inputs: list[Path], out: Path, *extra: str) -> Result:
    return run_cli(
        "scan", *map(str, inputs), "--out", str(out), "--quiet", "--as-of", "2024-12-31", *extra
    )


def _rejects(out: Path) -> dict[str, dict[str, object]]:
    rows = pl.read_parquet(out / "rejects.parquet").to_dicts()
    return {str(r["tx_id"] or r["source_row"]): r for r in rows}


def test_each_row_level_problem_is_rejected_with_its_reason(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    bad_rows = [
        ("b_ts", "2024-13-45 10:00", "A1", "B1", "5", "USD", "wire"),
        ("b_zero", *GOOD[:3], "0", "USD", "wire"),
        ("b_neg", *GOOD[:3], "-12.5", "USD", "wire"),
        ("b_nan", *GOOD[:3], "NaN", "USD", "wire"),
        ("b_inf", *GOOD[:3], "inf", "USD", "wire"),
        ("b_text", *GOOD[:3], "12 USD", "USD", "wire"),
        ("b_chan", *GOOD[:5], "teleport"),
        ("b_cur", *GOOD[:4], "ZZZ", "wire"),
        ("b_self", "2024-01-02 09:00:00", "A1", "A1", "5", "USD", "wire"),
        ("b_future", "2099-01-01 00:00:00", "A1", "B1", "5", "USD", "wire"),
        ("t1", *GOOD),  # later duplicate of t1
        ("", *GOOD),  # missing tx_id
    ]
    path = write_csv(tmp_path / "in.csv", [*CLEAN_ROWS, *bad_rows])
    out = tmp_path / "out"
    result = _scan(run_cli, [path], out)
    assert result.exit_code == 0, result.output
    rejects = pl.read_parquet(out / "rejects.parquet")
    got = {(r["tx_id"], r["reason_code"], r["column"]) for r in rejects.to_dicts()}
    assert got == {
        ("b_ts", "BAD_TIMESTAMP", "timestamp"),
        ("b_zero", "NON_POSITIVE_AMOUNT", "amount"),
        ("b_neg", "NON_POSITIVE_AMOUNT", "amount"),
        ("b_nan", "BAD_AMOUNT", "amount"),
        ("b_inf", "BAD_AMOUNT", "amount"),
        ("b_text", "BAD_AMOUNT", "amount"),
        ("b_chan", "UNKNOWN_CHANNEL", "channel"),
        ("b_cur", "BAD_CURRENCY", "currency"),
        ("b_self", "SELF_TRANSFER", "dst_account"),
        ("b_future", "FUTURE_TIMESTAMP", "timestamp"),
        ("t1", "DUPLICATE_TX_ID", "tx_id"),
        (None, "REQUIRED_MISSING", "tx_id"),
    }
    # rows are numbered from 1 after the header, in file order
    first_bad = rejects.filter(pl.col("tx_id") == "b_ts").row(0, named=True)
    assert first_bad["source_row"] == len(CLEAN_ROWS) + 1
    assert first_bad["source_file"] == str(path.resolve())
    assert first_bad["raw_value"] == "2024-13-45 10:00"
    manifest = json.loads((out / "manifest.json").read_text())
    accounting = manifest["row_accounting"]
    assert accounting["rows_read"] == len(CLEAN_ROWS) + len(bad_rows)
    assert accounting["rows_rejected"] == len(bad_rows)
    assert accounting["rows_accepted"] == len(CLEAN_ROWS)
    assert accounting["balanced"] is True


def test_country_mcc_and_flag_checks(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    header = (*CANONICAL_HEADER, "src_country", "dst_country", "mcc", "is_laundering")
    rows = [
        ("ok1", *GOOD, "us", "PH", "742", "0"),  # lower-case country, 3-digit MCC padded
        ("c1", *GOOD, "XX", "", "", ""),
        ("c2", *GOOD, "US", "Mexico", "", ""),
        ("m1", *GOOD, "", "", "54a1", ""),
        ("f1", *GOOD, "", "", "", "yes"),
    ]
    out = tmp_path / "out"
    result = _scan(run_cli, [write_csv(tmp_path / "in.csv", rows, header)], out)
    assert result.exit_code == 0, result.output
    rejects = _rejects(out)
    assert {k: (v["reason_code"], v["column"]) for k, v in rejects.items()} == {
        "c1": ("BAD_COUNTRY", "src_country"),
        "c2": ("BAD_COUNTRY", "dst_country"),
        "m1": ("BAD_MCC", "mcc"),
        "f1": ("BAD_FLAG", "is_laundering"),
    }


def test_malformed_rows_and_broken_encoding_keep_row_numbers(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    path = tmp_path / "in.csv"
    lines = [",".join(CANONICAL_HEADER)]
    lines += [",".join(r) for r in CLEAN_ROWS[:2]]
    lines.append("x1,2024-01-02 09:00:00,A1,B1,5,USD,wire,one-field-too-many")  # row 3
    lines.append(",".join(CLEAN_ROWS[2]))  # row 4
    data = ("\n".join(lines) + "\n").encode()
    data += b"x2,2024-01-02 09:00:00,A1,B\xff1,5,USD,wire\n"  # row 5: not UTF-8
    data += (",".join(CLEAN_ROWS[3]) + "\n").encode()  # row 6
    path.write_bytes(data)
    out = tmp_path / "out"
    result = _scan(run_cli, [path], out)
    assert result.exit_code == 0, result.output
    rejects = pl.read_parquet(out / "rejects.parquet").sort("source_row")
    assert rejects.select("source_row", "reason_code").rows() == [
        (3, "MALFORMED_ROW"),
        (5, "BROKEN_ENCODING"),
    ]
    assert "one-field-too-many" in rejects.row(0, named=True)["raw_value"]
    # the accepted rows after the skipped ones keep their own row numbers
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["row_accounting"]["rows_read"] == 6
    assert manifest["row_accounting"]["rows_accepted"] == 4


def test_values_that_look_like_sql_or_formulas_flow_through(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    evil = "A1'; DROP TABLE transactions;--"
    formula = '=HYPERLINK("http://x","y")'
    rows = [
        ("e1", "2024-01-01 10:00:00", "CASH", evil, "9500", "USD", "cash_deposit"),
        ("e2", "2024-01-01 12:00:00", "CASH", evil, "9600", "USD", "cash_deposit"),
        ("e3", "2024-01-01 13:00:00", evil, formula, "19000", "USD", "wire"),
    ]
    out = tmp_path / "out"
    result = _scan(run_cli, [write_csv(tmp_path / "in.csv", rows)], out)
    assert result.exit_code == 0, result.output
    alerts = pl.read_parquet(out / "alerts.parquet")
    assert alerts["subject_id"].to_list() == [evil]
    hits = pl.read_parquet(out / "hits.parquet")
    assert "STR-01" in set(hits["typology_id"])
    evidence = pl.read_parquet(out / "evidence.parquet")
    # the structuring deposits, and the wire when a rule also cites it (deposit-send)
    assert {"e1", "e2"} <= set(evidence["tx_id"]) <= {"e1", "e2", "e3"}
    assert set(hits["subject_id"]) <= {evil, formula}


def test_counts_add_up_over_several_files(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    write_csv(tmp_path / "a.csv", CLEAN_ROWS)
    write_csv(tmp_path / "b.csv", [("t1", *GOOD), ("n1", *GOOD[:3], "-1", "USD", "wire")])
    out = tmp_path / "out"
    result = run_cli(
        "scan", str(tmp_path / "*.csv"), "--out", str(out), "--json", "--as-of", "2024-12-31"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    per_file = {Path(f["path"]).name: f for f in summary["files"]}
    assert per_file["a.csv"]["rows_accepted"] == len(CLEAN_ROWS)
    assert per_file["b.csv"] == {**per_file["b.csv"], "rows_read": 2, "rows_rejected": 2}
    assert summary["rejects_by_reason"] == {"DUPLICATE_TX_ID": 1, "NON_POSITIVE_AMOUNT": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert {Path(i["path"]).name for i in manifest["inputs"]} == {"a.csv", "b.csv"}
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])


def test_expectation_sample_is_a_budget_per_scan_shared_by_rows() -> None:
    assert expectation_sample_sizes([1_000_000, 3_000_000, 10], 200_000) == (49_999, 149_999, 1)
    assert expectation_sample_sizes([100, 100], 1_000) == (500, 500)
    assert expectation_sample_sizes([0, 0], 1_000) == (1, 1)


def test_expectation_reports_share_the_scan_budget(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    # 30 rows and 10 rows under a budget of 8: 6 and 2 rows checked, every 5th row
    rows = [
        (f"a{i}", f"2024-01-02 09:{i:02d}:00", "A1", "B1", "5", "USD", "wire") for i in range(30)
    ]
    write_csv(tmp_path / "a.csv", rows)
    write_csv(tmp_path / "b.csv", [(f"b{i}", *GOOD) for i in range(10)])
    (tmp_path / "run.toml").write_text("gx_sample_rows = 8\n")
    out = tmp_path / "out"
    result = _scan(
        run_cli,
        [tmp_path / "a.csv", tmp_path / "b.csv"],
        out,
        "--config",
        str(tmp_path / "run.toml"),
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    checked = {
        Path(str(e["file"])).name: (e["rows_checked"], e["sample_step"])
        for e in manifest["expectations"]
    }
    assert checked == {"a.csv": (6, 5), "b.csv": (2, 5)}


def _staged_rows(paths: list[Path]) -> list[tuple[object, ...]]:
    """``staged`` of the given files in its physical order (file, source row, channel)."""
    con = stage_files(paths, date(2024, 12, 31))
    return con.execute(
        "select file_index, source_row, channel, reject_reason from staged"
    ).fetchall()


def test_a_file_staged_in_blocks_loses_no_row_and_groups_each_block_by_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = ["wire", "card", "p2p", "cash_deposit", "ach", "bogus"]
    rows = [
        (
            f"t{i}",
            GOOD[0],
            "CASH" if i % 6 == 3 else "A1",
            "B1",
            "-5" if i % 5 == 0 else "5",
            "USD",
            channels[i % len(channels)],
        )
        for i in range(23)
    ]
    csv_file = write_csv(tmp_path / "a.csv", rows)
    parquet_file = tmp_path / "b.parquet"
    columns: dict[str, list[object]] = {
        name: [r[k] for r in rows] for k, name in enumerate(CANONICAL_HEADER[:7])
    }
    columns["timestamp"] = [datetime.fromisoformat(str(t)) for t in columns["timestamp"]]
    columns["amount"] = [float(str(a)) for a in columns["amount"]]
    pq.write_table(pa.table(columns), parquet_file)
    whole = _staged_rows([csv_file, parquet_file])
    monkeypatch.setattr(validate, "STAGING_BLOCK_ROWS", 4)
    blocked = _staged_rows([csv_file, parquet_file])

    # the same rows, every one accepted or rejected with its reason
    assert sorted(blocked, key=str) == sorted(whole, key=str)
    assert len(blocked) == 2 * len(rows)
    # physically: files in order, blocks of 4 source rows in order, each block grouped by
    # channel in the order of the schema's channels (others first), rows in file order
    order = list(schema.CHANNELS)
    assert [r[0] for r in blocked] == sorted(r[0] for r in blocked)
    for file_index in {r[0] for r in blocked}:
        in_file = [r for r in blocked if r[0] == file_index]
        first_row = min(r[1] for r in in_file)
        keys = [
            ((r[1] - first_row) // 4, order.index(r[2]) + 1 if r[2] in order else 0, r[1])
            for r in in_file
        ]
        assert keys == sorted(keys)
        assert len({k[0] for k in keys}) == 6
