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

import duckdb

from engine import schema
from engine.config import RunConfig
from engine.errors import StageError
from engine.load import ExportMapping, LoadedFile, drop_raw
from engine.resources import sql_text

TRANSACTION_VIEW_COLUMNS = (
    *(c.name for c in schema.TRANSACTION_COLUMNS),
    "amount_rep",
    "day",
    "file_index",
    "source_row",
)


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
    _stage_accounts(con, accounts)
    union = " union all ".join(
        f"select {f.index} as file_index, * from {f.raw_table}" for f in loaded
    )
    con.execute(f"create or replace view raw_union as {union}")
    latest = latest_allowed_timestamp(config)
    con.execute(
        "create or replace table staged as " + sql_text("staging/transactions.sql"),
        {
            "timestamp_format": mapping.timestamp_format,
            "latest_timestamp": latest,
            "channels": list(schema.CHANNELS),
        },
    )
    con.execute(sql_text("staging/duplicates.sql"))
    con.execute("drop view raw_union")
    for f in loaded:
        drop_raw(con, f)

    columns = ", ".join(
        "s." + c if c != "source_file" else "i.source_file" for c in TRANSACTION_VIEW_COLUMNS
    )
    con.execute(
        f"""
        create or replace view transactions as
        select {columns}, i.source_file
        from staged s join input_files i using (file_index)
        where s.reject_reason is null
        """
    )
    _create_rejects(con)
    return _account(con, loaded, accounts, latest)


def _create_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        create or replace view rejects as
        with row_level as (
            select file_index, source_row, reject_column as "column",
                   reject_reason as reason_code, tx_id, reject_value as raw_value
            from staged where reject_reason is not null
        ),
        accounts_file as (
            select file_index, source_row, reject_column as "column",
                   reject_reason as reason_code, null as tx_id, reject_value as raw_value
            from staged_accounts where reject_reason is not null
        ),
        structural as (
            select file_index, source_row, null as "column", reason_code,
                   null as tx_id, raw_value, detail
            from raw_structural_rejects
        ),
        final as (
            select file_index, source_row, "column", reason_code,
                   case reason_code
                       when 'REQUIRED_MISSING' then 'required value is empty'
                       when 'BAD_TIMESTAMP' then 'not a valid timestamp'
                       when 'FUTURE_TIMESTAMP' then 'timestamp is after the allowed date'
                       when 'BAD_AMOUNT' then 'not a finite decimal number in range'
                       when 'NON_POSITIVE_AMOUNT' then 'amount must be greater than 0'
                       when 'BAD_CURRENCY' then 'not an ISO 4217 currency code'
                       when 'NO_FX_RATE' then 'no FX rate to the reporting currency'
                       when 'UNKNOWN_CHANNEL' then 'not a known channel'
                       when 'BAD_COUNTRY' then 'not an ISO 3166-1 alpha-2 country code'
                       when 'BAD_MCC' then 'merchant category code must be 4 digits'
                       when 'BAD_FLAG' then 'is_laundering must be 0 or 1'
                       when 'SELF_TRANSFER' then 'source and destination account are the same'
                       when 'DUPLICATE_TX_ID' then 'tx_id already seen in an earlier row'
                       when 'DUPLICATE_ACCOUNT_ID' then 'account_id already seen in an earlier row'
                       when 'BAD_CUSTOMER_TYPE' then 'customer_type must be individual or business'
                   end as detail,
                   tx_id, raw_value
            from (select * from row_level union all select * from accounts_file)
            union all
            select file_index, source_row, "column", reason_code, detail, tx_id, raw_value
            from structural
        )
        select i.source_file, f.source_row, f."column", f.reason_code, f.detail, f.tx_id,
               f.raw_value
        from final f join input_files i using (file_index)
        order by f.file_index, f.source_row
        """
    )


def _stage_accounts(con: duckdb.DuckDBPyConnection, accounts: LoadedFile | None) -> None:
    if accounts is None:
        con.execute(
            "create or replace table staged_accounts (file_index integer, source_row bigint, "
            "account_id varchar, customer_type varchar, opened_at timestamp, country varchar, "
            "segment varchar, bank varchar, reject_reason varchar, reject_column varchar, "
            "reject_value varchar)"
        )
    else:
        con.execute(
            f"create or replace table staged_accounts as select {accounts.index} as file_index, "
            "* from (" + sql_text("staging/accounts.sql") + ")"
        )
        drop_raw(con, accounts)
    con.execute(
        "create or replace view accounts as select account_id, customer_type, opened_at, "
        "country, segment, bank from staged_accounts where reject_reason is null"
    )


def _account(
    con: duckdb.DuckDBPyConnection,
    loaded: Sequence[LoadedFile],
    accounts: LoadedFile | None,
    latest: datetime,
) -> ValidationResult:
    counts = dict(
        ((int(r[0]), bool(r[1])), int(r[2]))
        for r in con.execute(
            "select file_index, reject_reason is null, count(*) from staged group by all "
            "union all "
            "select file_index, reject_reason is null, count(*) from staged_accounts "
            "group by all"
        ).fetchall()
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


def expectation_report(
    con: duckdb.DuckDBPyConnection, loaded: LoadedFile, mapping: ExportMapping, sample_rows: int
) -> dict[str, object]:
    """Run the Great Expectations suite on a systematic sample of one raw file.

    Every ``step``-th row is taken (``step`` = rows / sample_rows, rounded up), so the
    sample spreads over the whole file and is the same on every run.
    """
    from engine.expectations import validate_frame

    step = max(1, -(-loaded.rows_read // max(1, sample_rows)))
    frame = con.execute(
        f"""
        select tx_id,
               case when $timestamp_format is null
                    then iso_local_timestamp(timestamp)
                    else try_strptime(timestamp, $timestamp_format) end as timestamp,
               src_account, dst_account,
               try_cast(amount as double) as amount,
               upper(currency) as currency, lower(channel) as channel,
               case when regexp_full_match(mcc, '\\d{{1,3}}') then lpad(mcc, 4, '0')
                    else mcc end as mcc,
               upper(src_country) as src_country, upper(dst_country) as dst_country,
               try_cast(is_laundering as double) as is_laundering
        from {loaded.raw_table}
        where source_row % $step = 0
        order by source_row
        """,
        {"timestamp_format": mapping.timestamp_format, "step": step},
    ).df()
    currencies = [r[0] for r in con.execute("select code from ref_currencies").fetchall()]
    countries = [r[0] for r in con.execute("select code from ref_countries").fetchall()]
    report = validate_frame(frame, currencies, countries)
    record = report.to_record()
    record["file"] = str(loaded.file.path)
    record["sample_step"] = step
    return record
