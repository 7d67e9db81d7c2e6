"""engine/schema.py is the single source of the staging checks: their order, reasons,
columns and detail texts are what the staging SQL emits."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from datetime import date

import duckdb
import pyarrow as pa
import pytest

from engine import schema
from engine.cases import fixture_rows
from engine.config import RunConfig
from engine.db import connect
from engine.load import ACCOUNTS_MAPPING, CANONICAL_MAPPING, load_arrow_rows
from engine.reference import load_reference
from engine.resources import sql_text
from engine.schema import RejectReason
from engine.validate import stage_transactions

CONFIG = RunConfig(as_of=date(2024, 12, 31))

GOOD_TRANSACTION: Mapping[str, str] = {
    "timestamp": "2024-01-02 09:00:00",
    "src_account": "A1",
    "dst_account": "B1",
    "amount": "5",
    "currency": "USD",
    "channel": "wire",
}

# A change to a good row that fails one check (and, where unavoidable, only later ones).
FAILING_TRANSACTION: Mapping[str, Mapping[str, str | None]] = {
    **{f"missing_{c}": {c: None} for c in schema.REQUIRED_COLUMNS},
    "bad_timestamp": {"timestamp": "2024-13-45 10:00"},
    "future_timestamp": {"timestamp": "2099-06-01 00:00:00"},
    "bad_amount": {"amount": "12 USD"},
    "non_positive_amount": {"amount": "-5"},
    "bad_currency": {"currency": "ZZZ"},  # no FX rate either: a later check
    "no_fx_rate": {"currency": "AFN"},  # ISO 4217, not in the FX table
    "amount_rep_out_of_range": {"amount": "99999999999999", "currency": "KWD"},
    "unknown_channel": {"channel": "Teleport"},
    "bad_src_country": {"src_country": "xx"},
    "bad_dst_country": {"dst_country": "Mexico"},
    "bad_mcc": {"mcc": "54a1"},
    "bad_flag": {"is_laundering": "yes"},
    "self_transfer": {"src_account": "S1", "dst_account": "S1"},
    "duplicate_tx_id": {"tx_id": "dup"},  # an earlier accepted row has this id
}

GOOD_ACCOUNT: Mapping[str, str] = {
    "customer_type": "individual",
    "opened_at": "2020-01-01",
    "country": "US",
}

FAILING_ACCOUNT: Mapping[str, Mapping[str, str | None]] = {
    **{f"missing_{c}": {c: None} for c in schema.ACCOUNT_REQUIRED_COLUMNS},
    "bad_customer_type": {"customer_type": "Alien"},
    "bad_opened_at": {"opened_at": "2020-13-01"},
    "bad_country": {"country": "xx"},
    "duplicate_account_id": {"account_id": "dup"},
}

CHECK_NAME = re.compile(r"list_position\(\$check_names, '([a-z_]+)'\)")


def _sql_check_names(*files: str) -> set[str]:
    names: set[str] = set()
    for file in files:
        text = sql_text(f"staging/{file}")
        names |= set(CHECK_NAME.findall(text))
        if "list_position($check_names, 'missing_' || $required_columns" in text:
            names.add("missing_*")
    return names


def _first_occurrences(checks: tuple[schema.RowCheck, ...]) -> list[RejectReason]:
    return list(dict.fromkeys(c.reason for c in checks))


def test_reject_reasons_are_declared_in_the_order_the_checks_run() -> None:
    transactions = _first_occurrences(schema.TRANSACTION_CHECKS)
    accounts = _first_occurrences(schema.ACCOUNT_CHECKS)
    order = list(RejectReason)
    for reasons in (transactions, accounts):
        positions = [order.index(r) for r in reasons]
        assert positions == sorted(positions), reasons
    assert set(order) == {*schema.STRUCTURAL_REJECTS, *transactions, *accounts}
    assert order[: len(schema.STRUCTURAL_REJECTS)] == list(schema.STRUCTURAL_REJECTS)
    # every reason a check can give has its detail text, in the same order
    assert list(schema.REJECT_DETAILS) == [r for r in order if r not in schema.STRUCTURAL_REJECTS]


def test_checks_name_canonical_columns_and_are_unique() -> None:
    for checks, columns in (
        (schema.TRANSACTION_CHECKS, {c.name for c in schema.TRANSACTION_COLUMNS}),
        (schema.ACCOUNT_CHECKS, {c.name for c in schema.ACCOUNT_COLUMNS}),
    ):
        names = [c.name for c in checks]
        assert len(names) == len(set(names))
        assert {c.column for c in checks} <= columns
    assert [c.name for c in schema.TRANSACTION_CHECKS[: len(schema.REQUIRED_COLUMNS)]] == [
        f"missing_{c}" for c in schema.REQUIRED_COLUMNS
    ]


@pytest.mark.parametrize(
    ("files", "checks"),
    [
        (("transactions.sql", "duplicates.sql"), schema.TRANSACTION_CHECKS),
        (("accounts.sql",), schema.ACCOUNT_CHECKS),
    ],
)
def test_staging_sql_writes_a_condition_for_exactly_the_schema_checks(
    files: tuple[str, ...], checks: tuple[schema.RowCheck, ...]
) -> None:
    in_sql = _sql_check_names(*files)
    declared = {
        "missing_*" if c.reason is RejectReason.REQUIRED_MISSING else c.name for c in checks
    }
    assert in_sql == declared


@pytest.fixture(scope="module")
def staged() -> Iterator[duckdb.DuckDBPyConnection]:
    """One staging run over rows that each fail one or two checks (the expected check's
    name is the row's ``pattern``), plus the earlier accepted rows the duplicates repeat."""
    transactions = [{**GOOD_TRANSACTION, "tx_id": "dup", "pattern": "accepted"}]
    for name, change in FAILING_TRANSACTION.items():
        transactions.append({**GOOD_TRANSACTION, **change, "pattern": name})
    order = [c.name for c in schema.TRANSACTION_CHECKS]
    for first, second in itertools.combinations(order, 2):
        a, b = FAILING_TRANSACTION[first], FAILING_TRANSACTION[second]
        if set(a).isdisjoint(b):
            transactions.append({**GOOD_TRANSACTION, **a, **b, "pattern": first})
    for i, row in enumerate(transactions):
        row.setdefault("tx_id", f"r{i}")

    accounts = [{**GOOD_ACCOUNT, "account_id": "dup", "segment": "accepted"}]
    for name, change in FAILING_ACCOUNT.items():
        accounts.append({**GOOD_ACCOUNT, "account_id": f"a_{name}", **change, "segment": name})
    account_order = [c.name for c in schema.ACCOUNT_CHECKS]
    for first, second in itertools.combinations(account_order, 2):
        a, b = FAILING_ACCOUNT[first], FAILING_ACCOUNT[second]
        if set(a).isdisjoint(b):
            accounts.append(
                {**GOOD_ACCOUNT, "account_id": f"a_{first}_{second}", **a, **b, "segment": first}
            )

    con = connect(CONFIG)
    load_reference(con, CONFIG)
    loaded = load_arrow_rows(con, fixture_rows(transactions), "transactions")
    account_table = pa.table(
        {
            c.name: pa.array([r.get(c.name) for r in accounts], pa.string())
            for c in schema.ACCOUNT_COLUMNS
        }
    )
    loaded_accounts = load_arrow_rows(con, account_table, "accounts", ACCOUNTS_MAPPING, index=1)
    stage_transactions(con, (loaded,), CANONICAL_MAPPING, CONFIG, loaded_accounts)
    con.execute(
        "create table expected as "
        "select 0 as file_index, source_row, pattern as check_name from staged "
        "union all "
        "select 1, source_row, segment from staged_accounts"
    )
    yield con
    con.close()


@pytest.mark.parametrize(
    ("file_index", "checks"), [(0, schema.TRANSACTION_CHECKS), (1, schema.ACCOUNT_CHECKS)]
)
def test_the_first_failed_check_gives_the_reason_column_detail_and_value(
    staged: duckdb.DuckDBPyConnection, file_index: int, checks: tuple[schema.RowCheck, ...]
) -> None:
    by_name = {c.name: c for c in checks}
    rows = staged.execute(
        """
        select e.check_name, r.reason_code, r."column", r.detail, r.raw_value
        from expected e
        join input_files i using (file_index)
        left join rejects r on r.source_file = i.source_file and r.source_row = e.source_row
        where e.file_index = $file_index
        order by e.source_row
        """,
        {"file_index": file_index},
    ).fetchall()
    failing = FAILING_TRANSACTION if file_index == 0 else FAILING_ACCOUNT
    assert len(rows) > len(checks)
    seen = set()
    for name, reason, column, detail, raw_value in rows:
        if name == "accepted":
            assert reason is None
            continue
        check = by_name[name]
        seen.add(name)
        assert (reason, column, detail) == (
            check.reason.value,
            check.column,
            schema.REJECT_DETAILS[check.reason],
        ), name
        value = failing[name].get(check.column)
        assert (raw_value or "").lower() == (value or "").lower(), name
    assert seen == set(by_name)


def test_reasons_emitted_by_staging_are_the_schema_reasons_in_schema_order(
    staged: duckdb.DuckDBPyConnection,
) -> None:
    emitted = staged.execute(
        """
        select e.file_index, e.check_name, r.reason_code
        from expected e
        join input_files i using (file_index)
        join rejects r on r.source_file = i.source_file and r.source_row = e.source_row
        """
    ).fetchall()
    for file_index, checks in ((0, schema.TRANSACTION_CHECKS), (1, schema.ACCOUNT_CHECKS)):
        order = [c.name for c in checks]
        reasons = {name: reason for i, name, reason in emitted if i == file_index}
        in_check_order = list(dict.fromkeys(reasons[name] for name in order))
        assert in_check_order == [r.value for r in _first_occurrences(checks)]
        assert in_check_order == [r for r in RejectReason if r.value in in_check_order]


def test_transactions_view_has_the_canonical_then_the_derived_columns(
    staged: duckdb.DuckDBPyConnection,
) -> None:
    columns = [r[0] for r in staged.execute("describe transactions").fetchall()]
    assert columns == [
        *(c.name for c in schema.TRANSACTION_COLUMNS),
        "amount_rep",
        "day",
        "file_index",
        "source_row",
        "source_file",
    ]
    types = dict(
        staged.execute("select column_name, column_type from (describe transactions)").fetchall()
    )
    for column in (*schema.TRANSACTION_COLUMNS, *schema.DERIVED_COLUMNS):
        assert types[column.name] == column.sql_type, column.name
    accounts = [r[0] for r in staged.execute("describe accounts").fetchall()]
    assert accounts == [c.name for c in schema.ACCOUNT_COLUMNS]
