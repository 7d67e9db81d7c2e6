"""Tests of the Great Expectations suite generated from engine.schema."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine import schema
from engine.expectations import (
    BETWEEN,
    IN_SET,
    MATCH_REGEX,
    NOT_NULL,
    UNIQUE,
    ExpectationOutcome,
    ExpectationReport,
    suite_definition,
    validate_frame,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
CURRENCIES = ("EUR", "USD", "GBP")
COUNTRIES = ("DE", "GB", "US", "FR")
STRING_COLUMNS = (
    "tx_id",
    "src_account",
    "dst_account",
    "currency",
    "channel",
    "mcc",
    "src_country",
    "dst_country",
)


def make_frame(rows: list[dict[str, Any]], string_dtype: str = "str") -> pd.DataFrame:
    """Build a frame typed like the staging query's output (missing keys become null)."""
    data: dict[str, pd.Series] = {}
    for name in STRING_COLUMNS:
        data[name] = pd.Series([r.get(name) for r in rows], dtype=string_dtype)
    data["timestamp"] = pd.Series(
        pd.to_datetime([r.get("timestamp") for r in rows]), dtype="datetime64[us]"
    )
    data["amount"] = pd.Series([r.get("amount", np.nan) for r in rows], dtype="float64")
    data["is_laundering"] = pd.Series(
        [r.get("is_laundering", np.nan) for r in rows], dtype="float64"
    )
    return pd.DataFrame(data)


def clean_rows() -> list[dict[str, Any]]:
    """Six valid rows: optional columns partly null, is_laundering partly NaN."""
    base = {
        "src_account": "A1",
        "dst_account": "B1",
        "currency": "EUR",
        "channel": "wire",
        "timestamp": "2024-03-01 10:00:00",
        "amount": 100.5,
    }
    return [
        {**base, "tx_id": "t1", "mcc": "5411", "src_country": "DE", "dst_country": "FR",
         "is_laundering": 0.0},
        {**base, "tx_id": "t2", "channel": "card", "currency": "USD", "is_laundering": 1.0},
        {**base, "tx_id": "t3", "channel": "p2p", "amount": 0.0001, "src_country": "GB"},
        {**base, "tx_id": "t4", "channel": "cash_deposit", "amount": 99_999_999_999_999.0},
        {**base, "tx_id": "t5", "channel": "crypto", "currency": "GBP", "dst_country": "US"},
        {**base, "tx_id": "t6", "channel": "other", "mcc": "0742"},
    ]  # fmt: skip


def dirty_rows() -> list[dict[str, Any]]:
    """Clean rows plus one defect per row (t2 twice: the duplicated id)."""
    rows = clean_rows()
    rows[0]["tx_id"] = None
    rows[1]["amount"] = np.nan
    rows[2]["amount"] = -5.0
    rows[3]["channel"] = "teleport"
    rows[4]["currency"] = "ZZZ"
    rows[5]["src_country"] = "QQ"
    rows.append({**clean_rows()[1], "mcc": "12a4"})  # tx_id t2 again, and a bad mcc
    return rows


def failures(report: ExpectationReport) -> dict[tuple[str, str], int]:
    return {(o.column, o.expectation): o.unexpected_count for o in report.failed()}


@pytest.mark.parametrize("string_dtype", ["str", "object"])
def test_clean_frame_passes(string_dtype: str) -> None:
    frame = make_frame(clean_rows(), string_dtype)
    report = validate_frame(frame, CURRENCIES, COUNTRIES)

    assert report.success, report.failed()
    assert report.failed() == ()
    assert report.rows_checked == 6
    present = [e for e in suite_definition(CURRENCIES, COUNTRIES) if e[1] in frame.columns]
    assert len(report.outcomes) == len(present)
    assert all(o.element_count == 6 and o.unexpected_count == 0 for o in report.outcomes)
    keys = [(o.column, o.expectation) for o in report.outcomes]
    assert keys == sorted(keys)


@pytest.mark.parametrize("string_dtype", ["str", "object"])
def test_dirty_frame_fails_with_exact_counts(string_dtype: str) -> None:
    report = validate_frame(make_frame(dirty_rows(), string_dtype), CURRENCIES, COUNTRIES)

    assert not report.success
    assert failures(report) == {
        ("tx_id", "expect_column_values_to_not_be_null"): 1,
        # GX counts every row of a duplicated value: t2 twice -> 2.
        ("tx_id", "expect_column_values_to_be_unique"): 2,
        ("amount", "expect_column_values_to_not_be_null"): 1,
        # NaN is null, so the range check counts only the negative amount.
        ("amount", "expect_column_values_to_be_between"): 1,
        ("channel", "expect_column_values_to_be_in_set"): 1,
        ("currency", "expect_column_values_to_be_in_set"): 1,
        ("src_country", "expect_column_values_to_be_in_set"): 1,
        ("mcc", "expect_column_values_to_match_regex"): 1,
    }
    assert {o.element_count for o in report.outcomes} == {7}
    passed = {(o.column, o.expectation) for o in report.outcomes if o.success}
    assert ("dst_country", "expect_column_values_to_be_in_set") in passed
    assert ("timestamp", "expect_column_values_to_not_be_null") in passed


def test_amount_bounds_flag_values_and_null_timestamp() -> None:
    rows = clean_rows()
    rows[0]["amount"] = 0.0  # strict minimum: zero is not allowed
    rows[1]["amount"] = 1e14  # the bound itself is allowed (DECIMAL(18,4) cannot hold it,
    rows[2]["amount"] = 1e15  # but the staging query rejects that, not this suite)
    rows[3]["is_laundering"] = 2.0
    rows[4]["timestamp"] = None
    report = validate_frame(make_frame(rows), CURRENCIES, COUNTRIES)

    assert failures(report) == {
        ("amount", "expect_column_values_to_be_between"): 2,
        ("is_laundering", "expect_column_values_to_be_in_set"): 1,
        ("timestamp", "expect_column_values_to_not_be_null"): 1,
    }


def test_all_nan_flag_and_all_null_optional_columns_pass() -> None:
    rows = [
        {k: v for k, v in r.items() if k not in {"mcc", "src_country", "dst_country"}}
        for r in clean_rows()
    ]
    for r in rows:
        r.pop("is_laundering", None)
    frame = make_frame(rows, "object")
    assert frame["is_laundering"].isna().all()
    assert validate_frame(frame, CURRENCIES, COUNTRIES).success


def test_missing_columns_are_skipped() -> None:
    frame = make_frame(clean_rows()).drop(columns=["mcc", "src_country", "is_laundering"])
    report = validate_frame(frame, CURRENCIES, COUNTRIES)

    assert report.success
    assert {o.column for o in report.outcomes} == set(frame.columns)


def test_frame_without_suite_columns_gives_empty_report() -> None:
    report = validate_frame(pd.DataFrame({"other": [1, 2]}), CURRENCIES, COUNTRIES)
    assert report == ExpectationReport(success=True, rows_checked=2, outcomes=())


def test_empty_frame_passes() -> None:
    report = validate_frame(make_frame([]), CURRENCIES, COUNTRIES)
    assert report.success
    assert report.rows_checked == 0
    assert all(o.element_count == 0 for o in report.outcomes)


def test_suite_is_generated_from_schema() -> None:
    suite = suite_definition(CURRENCIES, COUNTRIES)
    by_column: dict[str, dict[str, dict[str, object]]] = {}
    for name, column, kwargs in suite:
        assert column in schema.COLUMNS_BY_NAME
        assert name not in by_column.setdefault(column, {}), "one expectation per type per column"
        by_column[column][name] = kwargs

    assert schema.REQUIRED_COLUMNS
    for column in schema.REQUIRED_COLUMNS:
        assert NOT_NULL in by_column[column], column
    for column in schema.OPTIONAL_COLUMNS:
        assert NOT_NULL not in by_column.get(column, {}), column
    for col in schema.TRANSACTION_COLUMNS:
        if col.kind in {"code", "flag", "decimal"}:
            assert by_column[col.name].keys() & {IN_SET, BETWEEN, MATCH_REGEX}, col.name

    assert by_column["timestamp"] == {NOT_NULL: {}}
    assert by_column["amount"][BETWEEN] == {"min_value": 0, "max_value": 1e14, "strict_min": True}
    assert by_column["channel"][IN_SET] == {"value_set": list(schema.CHANNELS)}
    assert by_column["currency"][IN_SET] == {"value_set": ["EUR", "GBP", "USD"]}
    assert by_column["src_country"][IN_SET] == {"value_set": ["DE", "FR", "GB", "US"]}
    assert by_column["dst_country"] == by_column["src_country"]
    assert by_column["mcc"] == {MATCH_REGEX: {"regex": r"^\d{4}$"}}
    assert by_column["is_laundering"] == {IN_SET: {"value_set": [0, 1]}}
    assert UNIQUE in by_column["tx_id"]
    assert not any("mostly" in kwargs for _, _, kwargs in suite)


def test_reference_codes_are_normalised_and_must_not_be_empty() -> None:
    suite = suite_definition([" eur", "EUR", "usd"], ["de"])
    sets = {(n, c): k for n, c, k in suite}
    assert sets[(IN_SET, "currency")] == {"value_set": ["EUR", "USD"]}
    assert sets[(IN_SET, "dst_country")] == {"value_set": ["DE"]}
    with pytest.raises(ValueError, match="currency"):
        suite_definition([], COUNTRIES)
    with pytest.raises(ValueError, match="country"):
        suite_definition(CURRENCIES, [" "])


def test_report_record_is_json_ready() -> None:
    report = ExpectationReport(
        success=False,
        rows_checked=3,
        outcomes=(
            ExpectationOutcome("expect_column_values_to_not_be_null", "amount", True, 0, 3),
            ExpectationOutcome("expect_column_values_to_be_unique", "tx_id", False, 2, 3),
        ),
    )
    record = report.to_record()
    assert json.loads(json.dumps(record)) == record
    assert record["expectations_evaluated"] == 2
    assert record["expectations_failed"] == 1
    assert report.failed() == (report.outcomes[1],)


def test_validation_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args[1:] if len(args) > 1 else args)
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

    report = validate_frame(make_frame(dirty_rows()), CURRENCIES, COUNTRIES)
    assert not report.success
    assert attempts == []


def _run_python(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, *flags, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_does_not_import_great_expectations(tmp_path: Path) -> None:
    proc = _run_python(
        """
        import sys
        import engine.expectations
        print("great_expectations" in sys.modules)
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_fresh_process_is_offline_silent_and_writes_nothing(tmp_path: Path) -> None:
    """Patch sockets before GX is first imported; run under -W error; check cwd and HOME."""
    proc = _run_python(
        """
        import json, socket
        attempts = []
        def refuse(*args, **kwargs):
            attempts.append(repr(args[1:]))
            raise OSError("network disabled by test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.getaddrinfo = refuse

        import pandas as pd
        from engine.expectations import validate_frame
        frame = pd.DataFrame({"tx_id": ["a", "b", "b"], "amount": [1.0, -1.0, 2.0]})
        report = validate_frame(frame, ["EUR"], ["DE"])
        print(json.dumps({"attempts": attempts, "record": report.to_record()}))
        """,
        tmp_path,
        "-W",
        "error",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar, no warning, no log line
    out = json.loads(proc.stdout)
    assert out["attempts"] == []
    assert out["record"]["expectations_failed"] == 2
    assert list(tmp_path.iterdir()) == []
