"""Validate stage: type every raw row, split accepted from rejected, account for every row.

Exact row-level checks run as one SQL query over every row (``sql/staging``); the
Great Expectations suite generated from ``engine.schema`` checks the same contract on a
bounded, deterministic sample of each file and its result goes into the manifest
(see README, "Validation").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import duckdb

from engine import schema
from engine.config import RunConfig
from engine.db import compact
from engine.errors import StageError
from engine.load import ExportMapping, LoadedFile, drop_raw
from engine.resources import sql_text

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class FileAccount:
    """Row accounting of one input file: ``rows_read == rows_accepted + rows_rejected``."""

    path: str
    sha256: str
    size_bytes: int
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    content: str = "transactions"


@dataclass(frozen=True)
class ValidationResult:
    files: tuple[FileAccount, ...]
    rejects_by_reason: tuple[tuple[str, int], ...]
    latest_allowed: datetime

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def latest_allowed_timestamp(config: RunConfig) -> datetime:
    """Rows after this instant are rejected as FUTURE_TIMESTAMP."""
    as_of = config.as_of or datetime.now(UTC).date()
    return datetime.combine(
        as_of + timedelta(days=1 + config.future_tolerance_days), datetime.min.time()
    )


def stage_transactions(
    con: duckdb.DuckDBPyConnection,
    loaded: Sequence[LoadedFile],
    mapping: ExportMapping,
    config: RunConfig,
    accounts: LoadedFile | None = None,
) -> ValidationResult:
    """Create ``staged`` (every row, typed, with its reject reason), the ``transactions``
    view (accepted rows), the ``accounts`` view (accepted rows of the optional accounts
    file; empty without one) and ``rejects`` (every rejected row with file, row, column
    and reason). Drops the raw tables afterwards."""
    con.execute("create or replace table input_files (file_index integer, source_file varchar)")
    every_file = [*loaded, *([accounts] if accounts else [])]
    con.executemany(
        "insert into input_files values (?, ?)",
        [(f.index, str(f.file.path)) for f in every_file],
    )
    _create_reject_details(con)
    _stage_accounts(con, accounts)
    latest = latest_allowed_timestamp(config)
    checks = schema.check_params(schema.TRANSACTION_CHECKS, schema.REQUIRED_COLUMNS)
    # One input file at a time, compressed after each: the staged table (every column of
    # every row) then never outgrows memory uncompressed, so no spilled block has to be
    # read back to be compressed. Files in order; within a file, blocks of
    # STAGING_BLOCK_ROWS rows in file order, each block's rows grouped by channel
    # (sql/staging/transactions.sql says why) and in file order within a channel.
    first = True
    for f in loaded:
        for block in _row_blocks(con, f):
            con.execute(
                f"create or replace view raw_union as select {f.index} as file_index, * "
                f"from {f.raw_table} {block}"
            )
            into = "create or replace table staged as " if first else "insert into staged "
            first = False
            con.execute(
                into + sql_text("staging/transactions.sql"),
                transaction_staging_params(mapping, latest),
            )
            con.execute("drop view raw_union")
        drop_raw(con, f)
        compact(con)
    con.execute(
        sql_text("staging/duplicates.sql"),
        {k: checks[k] for k in ("check_names", "check_reasons", "check_columns")},
    )
    con.execute(sql_text("staging/accepted_transactions.sql"))
    con.execute(sql_text("staging/rejects.sql"))
    return _account(con, loaded, accounts, latest)


STAGING_BLOCK_ROWS: Final = 1 << 22
"""Rows of one input file staged by one query (4,194,304: 34 of DuckDB's row groups).
Each block is sorted by channel before it is written, so a larger file is staged block by
block: the sort of one block stays within memory whatever the file's size, and a block
still spans enough row groups that most of them hold one channel."""


def _row_blocks(con: duckdb.DuckDBPyConnection, loaded: LoadedFile) -> list[str]:
    """The ``where`` clauses splitting one raw table into blocks of at most
    ``STAGING_BLOCK_ROWS`` consecutive source rows (one empty clause for a file that
    fits in one block). The blocks' ranges cover every source row, so no row is lost."""
    if loaded.rows_read <= STAGING_BLOCK_ROWS:
        return [""]
    low, high = con.execute(
        f"select min(source_row), max(source_row) from {loaded.raw_table}"
    ).fetchone() or (None, None)
    if low is None or high is None:
        return [""]
    return [
        f"where source_row >= {start} and source_row < {start + STAGING_BLOCK_ROWS}"
        for start in range(int(low), int(high) + 1, STAGING_BLOCK_ROWS)
    ]


def transaction_staging_params(mapping: ExportMapping, latest: datetime) -> dict[str, object]:
    """The bound parameters of ``sql/staging/transactions.sql`` (also used by
    ``engine.api`` to read a run's inputs back the way the scan staged them)."""
    return {
        "timestamp_format": mapping.timestamp_format,
        "latest_timestamp": latest,
        "channels": list(schema.CHANNELS),
        **schema.check_params(schema.TRANSACTION_CHECKS, schema.REQUIRED_COLUMNS),
    }


def account_staging_params(file_index: int | None) -> dict[str, object]:
    """The bound parameters of ``sql/staging/accounts.sql``."""
    return {
        "file_index": file_index,
        "customer_types": list(schema.CUSTOMER_TYPES),
        **schema.check_params(schema.ACCOUNT_CHECKS, schema.ACCOUNT_REQUIRED_COLUMNS),
    }


def _create_reject_details(con: duckdb.DuckDBPyConnection) -> None:
    """The detail text of each reject reason (``schema.REJECT_DETAILS``) as a table."""
    con.execute("create or replace table reject_details (reason_code varchar, detail varchar)")
    con.executemany(
        "insert into reject_details values (?, ?)",
        [(reason.value, detail) for reason, detail in schema.REJECT_DETAILS.items()],
    )


def _stage_accounts(con: duckdb.DuckDBPyConnection, accounts: LoadedFile | None) -> None:
    """Create ``staged_accounts`` and the ``accounts`` view; without an accounts file they
    are empty (the staging query runs on an empty ``raw_accounts``)."""
    if accounts is None:
        # column names are schema constants
        columns = ", ".join(f"{c.name} varchar" for c in schema.ACCOUNT_COLUMNS)
        con.execute(f"create or replace table raw_accounts (source_row bigint, {columns})")
    con.execute(
        "create or replace table staged_accounts as " + sql_text("staging/accounts.sql"),
        account_staging_params(accounts.index if accounts else None),
    )
    if accounts is None:
        con.execute("drop table raw_accounts")
    else:
        drop_raw(con, accounts)
    con.execute(sql_text("staging/accepted_accounts.sql"))


def _account(
    con: duckdb.DuckDBPyConnection,
    loaded: Sequence[LoadedFile],
    accounts: LoadedFile | None,
    latest: datetime,
) -> ValidationResult:
    counts = dict(
        ((int(r[0]), bool(r[1])), int(r[2]))
        for r in con.execute(sql_text("staging/file_counts.sql")).fetchall()
    )
    files = []
    for f in [*loaded, *([accounts] if accounts else [])]:
        accepted = counts.get((f.index, True), 0)
        rejected = counts.get((f.index, False), 0) + f.structural_rejects
        if accepted + rejected != f.rows_read:
            raise StageError(
                "validate",
                f"{f.file.path}: {f.rows_read} rows read but {accepted} accepted and "
                f"{rejected} rejected",
            )
        files.append(
            FileAccount(
                path=str(f.file.path),
                sha256=f.file.sha256,
                size_bytes=f.file.size_bytes,
                rows_read=f.rows_read,
                rows_accepted=accepted,
                rows_rejected=rejected,
                content="accounts" if f is accounts else "transactions",
            )
        )
    by_reason = con.execute(
        "select reason_code, count(*) from rejects group by 1 order by 2 desc, 1"
    ).fetchall()
    return ValidationResult(
        files=tuple(files),
        rejects_by_reason=tuple((str(r[0]), int(r[1])) for r in by_reason),
        latest_allowed=latest,
    )


def expectation_sample_sizes(rows_read: Sequence[int], budget: int) -> tuple[int, ...]:
    """The Great Expectations sample of each input file: the scan's ``budget`` of rows
    (``gx_sample_rows``) shared out in proportion to the files' rows, at least one row per
    file, so the suite's cost is bounded per scan however the export is split into files
    (the exact SQL checks cover every row whatever the sample)."""
    total = sum(rows_read)
    return tuple(max(1, budget * rows // total) if total else 1 for rows in rows_read)


@dataclass(frozen=True)
class ExpectationSample:
    """The rows of one raw input file that the Great Expectations suite checks, read
    before staging drops the raw table, with what the report records beside them."""

    file: str
    step: int
    frame: pd.DataFrame
    currencies: tuple[str, ...]
    countries: tuple[str, ...]


def expectation_sample(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, mapping: ExportMapping, sample_rows: int
) -> ExpectationSample:
    """A systematic sample of one raw file: every ``step``-th row (``step`` = rows /
    sample_rows, rounded up), so the sample spreads over the whole file and is the same on
    every run."""
    step = max(1, -(-loaded.rows_read // max(1, sample_rows)))
    frame = con.execute(
        sql_text("staging/expectation_sample.sql"),
        {
            "raw_table": loaded.raw_table,
            "timestamp_format": mapping.timestamp_format,
            "step": step,
        },
    ).df()
    currencies = tuple(r[0] for r in con.execute("select code from ref_currencies").fetchall())
    countries = tuple(r[0] for r in con.execute("select code from ref_countries").fetchall())
    return ExpectationSample(str(loaded.file.path), step, frame, currencies, countries)


def expectation_record(sample: ExpectationSample) -> dict[str, object]:
    """Run the Great Expectations suite on one file's sample: Python only, no connection,
    so it can run while DuckDB stages the rows (engine/pipeline.py)."""
    from engine.expectations import validate_frame

    report = validate_frame(sample.frame, sample.currencies, sample.countries)
    record = report.to_record()
    record["file"] = sample.file
    record["sample_step"] = sample.step
    return record
