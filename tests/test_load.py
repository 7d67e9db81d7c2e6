"""File-level problems stop the run with exit code 2 and one clear message."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from engine.cli import cli
from tests.conftest import CANONICAL_HEADER, CLEAN_ROWS, write_csv


def _fails_cleanly(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_missing_required_column(tmp_path: Path) -> None:
    header = tuple(c for c in CANONICAL_HEADER if c != "amount")
    rows = [tuple(v for i, v in enumerate(r) if i != 4) for r in CLEAN_ROWS]
    path = write_csv(tmp_path / "no_amount.csv", rows, header)
    _fails_cleanly(
        ["scan", str(path), "--out", str(tmp_path / "o")], "missing required column(s): amount"
    )
    assert not (tmp_path / "o").exists()


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _fails_cleanly(["validate", str(empty)], "empty.csv: file is empty")
    header_only = write_csv(tmp_path / "header.csv", [])
    quiet_day = CliRunner().invoke(cli, ["validate", str(header_only), "--json"])
    assert quiet_day.exit_code == 0, quiet_day.output
    assert '"rows_read": 0' in quiet_day.stdout


def test_unreadable_gzip_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.csv.gz"
    bad.write_bytes(b"this is not gzip data at all")
    _fails_cleanly(["validate", str(bad)], "broken.csv.gz: cannot read file")
    _fails_cleanly(["validate", str(tmp_path / "nope.csv")], "nope.csv: file not found")
    _fails_cleanly(["validate", str(tmp_path / "*.parquet")], "no file matches this pattern")


def test_parquet_with_wrong_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "tx_id": ["a"],
            "timestamp": ["2024-01-01 00:00:00"],
            "src_account": ["x"],
            "dst_account": ["y"],
            "amount": ["ten dollars"],
            "currency": ["USD"],
            "channel": ["wire"],
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    _fails_cleanly(["validate", str(path)], "column 'amount' has type VARCHAR")


def test_gzip_csv_and_parquet_inputs_are_read(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    plain = write_csv(tmp_path / "a.csv", CLEAN_ROWS)
    renamed = write_csv(tmp_path / "g.tmp", [("g" + r[0], *r[1:]) for r in CLEAN_ROWS])
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(renamed.read_bytes()))
    rows = [dict(zip(CANONICAL_HEADER, r, strict=True)) for r in CLEAN_ROWS]
    table = pa.Table.from_pylist(
        [{**r, "tx_id": "p" + r["tx_id"], "amount": float(r["amount"])} for r in rows]
    )
    pq.write_table(table, tmp_path / "c.parquet")
    result = run_cli(
        "validate",
        str(plain),
        str(tmp_path / "b.csv.gz"),
        str(tmp_path / "c.parquet"),
        "--json",
        "--as-of",
        "2024-12-31",
    )
    assert result.exit_code == 0, result.output
    assert '"rows_accepted": 15' in result.output
    assert '"rows_rejected": 0' in result.output


def test_cli_error_has_no_traceback_in_a_real_process(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "engine", "validate", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "file not found" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("args", [["scan"], ["scan", "x.csv"], ["nonsense"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(cli, args).exit_code == 2
