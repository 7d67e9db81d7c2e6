"""Shared helpers: write small input files and run the CLI in-process."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from engine.cli import cli
from engine.config import RunConfig
from engine.db import connect
from engine.load import CANONICAL_MAPPING, describe_file, load_files
from engine.reference import load_reference
from engine.validate import stage_transactions

CANONICAL_HEADER = (
    "tx_id",
    "timestamp",
    "src_account",
    "dst_account",
    "amount",
    "currency",
    "channel",
)

CLEAN_ROWS: tuple[tuple[str, ...], ...] = (
    ("t1", "2024-01-01 10:00:00", "CASH", "A1", "9500", "USD", "cash_deposit"),
    ("t2", "2024-01-01 15:00:00", "CASH", "A1", "9100.50", "USD", "cash_deposit"),
    ("t3", "2024-01-02 09:00:00", "CASH", "A1", "9900", "USD", "cash_deposit"),
    ("t4", "2024-01-02 11:00:00", "A1", "B1", "25000", "USD", "wire"),
    ("t5", "2024-01-03 11:00:00", "B1", "C1", "120.25", "EUR", "p2p"),
)


def write_csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    header: Sequence[str] = CANONICAL_HEADER,
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def clean_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "clean.csv", CLEAN_ROWS)


def stage_files(paths: Sequence[Path], as_of: date) -> duckdb.DuckDBPyConnection:
    """An in-memory scan connection with the canonical files ``paths`` loaded and staged
    (the validate stage's ``staged`` table and ``transactions`` view) as of ``as_of``."""
    config = RunConfig().with_overrides(as_of=as_of)
    con = connect(config)
    load_reference(con, config)
    loaded = load_files(con, tuple(describe_file(p) for p in paths), CANONICAL_MAPPING)
    stage_transactions(con, loaded, CANONICAL_MAPPING, config)
    return con
