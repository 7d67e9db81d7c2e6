"""The canonical data contract: input columns, channels, reject codes and output schemas.

Every other module reads its column lists from here: the loader builds the staging
query from ``TRANSACTION_COLUMNS``, the validation suite is generated from it, fixture
rows take their defaults from it and the exporters cast to the Arrow schemas below.
The row-level checks of the staging SQL take their order, reasons, reported columns and
detail texts from ``TRANSACTION_CHECKS``, ``ACCOUNT_CHECKS`` and ``REJECT_DETAILS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

import pyarrow as pa

ColumnKind = Literal["string", "timestamp", "decimal", "code", "flag"]


@dataclass(frozen=True)
class Column:
    """One canonical input column.

    Attributes:
        name: canonical column name.
        kind: how the raw text is parsed and checked.
        required: whether every row must carry a value.
        sql_type: DuckDB type of the staged column.
        meaning: one line for the README and ``iff validate`` output.
    """

    name: str
    kind: ColumnKind
    required: bool
    sql_type: str
    meaning: str


AMOUNT_SQL_TYPE: Final = "DECIMAL(18,4)"
"""Amounts are exact decimals so sums are identical whatever the thread schedule."""

CASH_ACCOUNT: Final = "CASH"
"""Counterparty id that stands for cash (src of a deposit, dst of a withdrawal)."""


class Channel(StrEnum):
    """Closed vocabulary of payment channels (input is case-insensitive)."""

    WIRE = "wire"
    ACH = "ach"
    CARD = "card"
    CASH_DEPOSIT = "cash_deposit"
    CASH_WITHDRAWAL = "cash_withdrawal"
    CHEQUE = "cheque"
    P2P = "p2p"
    CRYPTO = "crypto"
    INTERNAL = "internal"
    OTHER = "other"


CHANNELS: Final[tuple[str, ...]] = tuple(c.value for c in Channel)

TRANSACTION_COLUMNS: Final[tuple[Column, ...]] = (
    Column("tx_id", "string", True, "VARCHAR", "unique id of the transaction"),
    Column(
        "timestamp",
        "timestamp",
        True,
        "TIMESTAMP",
        "booking time, ISO 8601; without a zone it is the local time of the export",
    ),
    Column("src_account", "string", True, "VARCHAR", "originator account; CASH for cash deposits"),
    Column(
        "dst_account",
        "string",
        True,
        "VARCHAR",
        "beneficiary account or merchant id; CASH for cash withdrawals",
    ),
    Column("amount", "decimal", True, AMOUNT_SQL_TYPE, "amount in `currency`, > 0"),
    Column("currency", "code", True, "VARCHAR", "ISO 4217 currency code"),
    Column("channel", "code", True, "VARCHAR", "one of " + ", ".join(CHANNELS)),
    Column("src_bank", "string", False, "VARCHAR", "originator institution id"),
    Column("dst_bank", "string", False, "VARCHAR", "beneficiary institution id"),
    Column("mcc", "code", False, "VARCHAR", "4-digit merchant category code of card payments"),
    Column("merchant_name", "string", False, "VARCHAR", "card payment descriptor"),
    Column("merchant_city", "string", False, "VARCHAR", "city of the merchant or ATM"),
    Column("src_country", "code", False, "VARCHAR", "ISO 3166-1 alpha-2 country of the originator"),
    Column(
        "dst_country", "code", False, "VARCHAR", "ISO 3166-1 alpha-2 country of the beneficiary"
    ),
    Column("description", "string", False, "VARCHAR", "free text / payment reference"),
    Column("is_laundering", "flag", False, "TINYINT", "ground truth 0/1; never used for detection"),
    Column(
        "pattern", "string", False, "VARCHAR", "ground-truth pattern name; never used for detection"
    ),
)

COLUMNS_BY_NAME: Final = {c.name: c for c in TRANSACTION_COLUMNS}
REQUIRED_COLUMNS: Final = tuple(c.name for c in TRANSACTION_COLUMNS if c.required)
OPTIONAL_COLUMNS: Final = tuple(c.name for c in TRANSACTION_COLUMNS if not c.required)

DERIVED_COLUMNS: Final[tuple[Column, ...]] = (
    Column("amount_rep", "decimal", True, AMOUNT_SQL_TYPE, "amount in the reporting currency"),
    Column(
        "day", "timestamp", True, "DATE", "calendar day of `timestamp` (bucket for window joins)"
    ),
    Column("source_file", "string", True, "VARCHAR", "input file the row came from"),
    Column(
        "source_row", "decimal", True, "BIGINT", "1-based data row in that file (header excluded)"
    ),
)
"""Columns the staging step adds to every accepted transaction."""

ACCOUNT_COLUMNS: Final[tuple[Column, ...]] = (
    Column("account_id", "string", True, "VARCHAR", "account id as used in transactions"),
    Column("customer_type", "code", False, "VARCHAR", "individual or business"),
    Column("opened_at", "timestamp", False, "TIMESTAMP", "account opening date"),
    Column("country", "code", False, "VARCHAR", "ISO 3166-1 alpha-2 country of the holder"),
    Column("segment", "string", False, "VARCHAR", "peer-group segment (bank-defined)"),
    Column("bank", "string", False, "VARCHAR", "institution id"),
)
CUSTOMER_TYPES: Final = ("individual", "business")


class RejectReason(StrEnum):
    """Row-level problems, in the order they are checked; each rejected row carries exactly
    one (the first found). The order is that of ``TRANSACTION_CHECKS`` and
    ``ACCOUNT_CHECKS`` below, after the two structural problems the reader finds."""

    MALFORMED_ROW = "MALFORMED_ROW"  # wrong number of fields, unterminated quote
    BROKEN_ENCODING = "BROKEN_ENCODING"  # bytes that are not valid UTF-8
    REQUIRED_MISSING = "REQUIRED_MISSING"
    BAD_CUSTOMER_TYPE = "BAD_CUSTOMER_TYPE"  # accounts file
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
    BAD_AMOUNT = "BAD_AMOUNT"  # not a finite decimal, or out of range
    NON_POSITIVE_AMOUNT = "NON_POSITIVE_AMOUNT"
    BAD_CURRENCY = "BAD_CURRENCY"
    NO_FX_RATE = "NO_FX_RATE"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    BAD_COUNTRY = "BAD_COUNTRY"
    BAD_MCC = "BAD_MCC"
    BAD_FLAG = "BAD_FLAG"
    SELF_TRANSFER = "SELF_TRANSFER"
    DUPLICATE_TX_ID = "DUPLICATE_TX_ID"
    DUPLICATE_ACCOUNT_ID = "DUPLICATE_ACCOUNT_ID"  # accounts file


STRUCTURAL_REJECTS: Final = (RejectReason.MALFORMED_ROW, RejectReason.BROKEN_ENCODING)
"""Problems the CSV reader finds before any value is read; their detail is the reader's
own message and the raw line is kept."""

REJECT_DETAILS: Final[dict[RejectReason, str]] = {
    RejectReason.REQUIRED_MISSING: "required value is empty",
    RejectReason.BAD_CUSTOMER_TYPE: "customer_type must be individual or business",
    RejectReason.BAD_TIMESTAMP: "not a valid timestamp",
    RejectReason.FUTURE_TIMESTAMP: "timestamp is after the allowed date",
    RejectReason.BAD_AMOUNT: "not a finite decimal number in range",
    RejectReason.NON_POSITIVE_AMOUNT: "amount must be greater than 0",
    RejectReason.BAD_CURRENCY: "not an ISO 4217 currency code",
    RejectReason.NO_FX_RATE: "no FX rate to the reporting currency",
    RejectReason.UNKNOWN_CHANNEL: "not a known channel",
    RejectReason.BAD_COUNTRY: "not an ISO 3166-1 alpha-2 country code",
    RejectReason.BAD_MCC: "merchant category code must be 4 digits",
    RejectReason.BAD_FLAG: "is_laundering must be 0 or 1",
    RejectReason.SELF_TRANSFER: "source and destination account are the same",
    RejectReason.DUPLICATE_TX_ID: "tx_id already seen in an earlier row",
    RejectReason.DUPLICATE_ACCOUNT_ID: "account_id already seen in an earlier row",
}
"""The ``detail`` text of a reject, by reason (every reason but the structural ones)."""


@dataclass(frozen=True)
class RowCheck:
    """One row-level check of a staging query.

    The staging SQL (``sql/staging/transactions.sql``, ``accounts.sql``,
    ``duplicates.sql``) writes each check's condition under the check's name; the order,
    reason and reported column come from here, and the first failed check in this order
    decides the reject.

    Attributes:
        name: the check's name in the staging SQL.
        reason: reject reason of a row failing it.
        column: the column a reject names; its value (as read, case-folded where the
            column is) is the reject's ``raw_value``.
    """

    name: str
    reason: RejectReason
    column: str


TRANSACTION_CHECKS: Final[tuple[RowCheck, ...]] = (
    *(RowCheck(f"missing_{c}", RejectReason.REQUIRED_MISSING, c) for c in REQUIRED_COLUMNS),
    RowCheck("bad_timestamp", RejectReason.BAD_TIMESTAMP, "timestamp"),
    RowCheck("future_timestamp", RejectReason.FUTURE_TIMESTAMP, "timestamp"),
    RowCheck("bad_amount", RejectReason.BAD_AMOUNT, "amount"),
    RowCheck("non_positive_amount", RejectReason.NON_POSITIVE_AMOUNT, "amount"),
    RowCheck("bad_currency", RejectReason.BAD_CURRENCY, "currency"),
    RowCheck("no_fx_rate", RejectReason.NO_FX_RATE, "currency"),
    # the amount is valid but out of range once converted to the reporting currency
    RowCheck("amount_rep_out_of_range", RejectReason.BAD_AMOUNT, "amount"),
    RowCheck("unknown_channel", RejectReason.UNKNOWN_CHANNEL, "channel"),
    RowCheck("bad_src_country", RejectReason.BAD_COUNTRY, "src_country"),
    RowCheck("bad_dst_country", RejectReason.BAD_COUNTRY, "dst_country"),
    RowCheck("bad_mcc", RejectReason.BAD_MCC, "mcc"),
    RowCheck("bad_flag", RejectReason.BAD_FLAG, "is_laundering"),
    RowCheck("self_transfer", RejectReason.SELF_TRANSFER, "dst_account"),
    # marked afterwards on the accepted rows of every file (files in sorted order)
    RowCheck("duplicate_tx_id", RejectReason.DUPLICATE_TX_ID, "tx_id"),
)
"""Checks of a transaction row, in the order they run (``REQUIRED_MISSING`` names the
first empty required column, in ``TRANSACTION_COLUMNS`` order)."""

ACCOUNT_REQUIRED_COLUMNS: Final = tuple(c.name for c in ACCOUNT_COLUMNS if c.required)

ACCOUNT_CHECKS: Final[tuple[RowCheck, ...]] = (
    *(RowCheck(f"missing_{c}", RejectReason.REQUIRED_MISSING, c) for c in ACCOUNT_REQUIRED_COLUMNS),
    RowCheck("bad_customer_type", RejectReason.BAD_CUSTOMER_TYPE, "customer_type"),
    RowCheck("bad_opened_at", RejectReason.BAD_TIMESTAMP, "opened_at"),
    RowCheck("bad_country", RejectReason.BAD_COUNTRY, "country"),
    RowCheck("duplicate_account_id", RejectReason.DUPLICATE_ACCOUNT_ID, "account_id"),
)
"""Checks of an accounts-file row, in the order they run."""


def check_params(checks: tuple[RowCheck, ...], required: tuple[str, ...]) -> dict[str, list[str]]:
    """The bound parameters through which a staging query reads its checks: their names,
    reasons and columns in order, and the required columns."""
    return {
        "check_names": [c.name for c in checks],
        "check_reasons": [c.reason.value for c in checks],
        "check_columns": [c.column for c in checks],
        "required_columns": list(required),
    }


Role = Literal["controller", "collector", "mule", "victim", "business", "unknown"]
ROLES: Final[tuple[str, ...]] = ("controller", "collector", "mule", "victim", "business", "unknown")

HIT_SQL_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("subject_id", "VARCHAR"),
    ("window_start", "TIMESTAMP"),
    ("window_end", "TIMESTAMP"),
    ("tx_count", "BIGINT"),
    ("amount_total", "DECIMAL(38,4)"),
    ("evidence", "STRUCT(tx_id VARCHAR, why VARCHAR)[]"),
    ("reason", "VARCHAR"),
    ("likely_role", "VARCHAR"),
)
"""Columns every typology SQL returns, in this order (see README, "Writing a typology")."""

_TS = pa.timestamp("us")
_AMOUNT = pa.decimal128(38, 4)

HITS_SCHEMA: Final = pa.schema(
    [
        pa.field("hit_id", pa.string(), nullable=False),
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("typology_id", pa.string(), nullable=False),
        pa.field("typology_version", pa.int32(), nullable=False),
        pa.field("family", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("risk_score", pa.float64(), nullable=False),
        pa.field("subject_id", pa.string(), nullable=False),
        pa.field("window_start", _TS, nullable=False),
        pa.field("window_end", _TS, nullable=False),
        pa.field("tx_count", pa.int64(), nullable=False),
        pa.field("amount_total", _AMOUNT, nullable=False),
        pa.field("evidence_count", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("likely_role", pa.string(), nullable=False),
    ]
)

ALERTS_SCHEMA: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("rank", pa.int64(), nullable=False),
        pa.field("subject_id", pa.string(), nullable=False),
        pa.field("risk_score", pa.float64(), nullable=False),
        pa.field("likely_role", pa.string(), nullable=False),
        pa.field("typology_ids", pa.list_(pa.string()), nullable=False),
        pa.field("families", pa.list_(pa.string()), nullable=False),
        pa.field("hit_count", pa.int64(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("first_activity", _TS, nullable=False),
        pa.field("last_activity", _TS, nullable=False),
        pa.field("amount_total", _AMOUNT, nullable=False),
        pa.field("reporting_currency", pa.string(), nullable=False),
        pa.field("evidence_count", pa.int64(), nullable=False),
        pa.field("anomaly_score", pa.float64(), nullable=False),
        pa.field("anomaly_top_features", pa.list_(pa.string()), nullable=False),
        pa.field("anomaly_explanation", pa.string(), nullable=False),
    ]
)

ACCOUNT_SCORES_SCHEMA: Final = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("rank", pa.int64(), nullable=False),
        pa.field("risk_score", pa.float64(), nullable=False),
        pa.field("rule_score", pa.float64(), nullable=False),
        pa.field("anomaly_score", pa.float64(), nullable=False),
        pa.field("alerted", pa.bool_(), nullable=False),
        pa.field("likely_role", pa.string(), nullable=False),
        pa.field("top_reason", pa.string(), nullable=False),
        pa.field("opening_score", pa.float64(), nullable=False),
        pa.field("propagated_score", pa.float64(), nullable=False),
    ]
)
"""``account_scores.parquet``: every account of the scan, ranked like the alerts."""

EVIDENCE_SCHEMA: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("hit_id", pa.string(), nullable=False),
        pa.field("typology_id", pa.string(), nullable=False),
        pa.field("tx_id", pa.string(), nullable=False),
        pa.field("why", pa.string(), nullable=False),
    ]
)

REJECTS_SCHEMA: Final = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("column", pa.string(), nullable=True),
        pa.field("reason_code", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("tx_id", pa.string(), nullable=True),
        pa.field("raw_value", pa.string(), nullable=True),
    ]
)

FIXTURE_DEFAULTS: Final[dict[str, str]] = {
    "currency": "USD",
    "channel": Channel.WIRE.value,
}
"""Values fixture rows get for required columns they leave out (tx_id becomes ``t<n>``)."""
