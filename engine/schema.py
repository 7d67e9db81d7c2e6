"""The canonical data contract: input columns, channels, reject codes and output schemas.

Every other module reads its column lists from here: the loader builds the staging
query from ``TRANSACTION_COLUMNS``, the validation suite is generated from it, fixture
rows take their defaults from it and the exporters cast to the Arrow schemas below.
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
    """Row-level problems; each rejected row carries exactly one (the first found)."""

    MALFORMED_ROW = "MALFORMED_ROW"  # wrong number of fields, unterminated quote
    BROKEN_ENCODING = "BROKEN_ENCODING"  # bytes that are not valid UTF-8
    REQUIRED_MISSING = "REQUIRED_MISSING"
    BAD_TIMESTAMP = "BAD_TIMESTAMP"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
    BAD_AMOUNT = "BAD_AMOUNT"  # not a finite decimal, or out of range
    NON_POSITIVE_AMOUNT = "NON_POSITIVE_AMOUNT"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    BAD_CURRENCY = "BAD_CURRENCY"
    NO_FX_RATE = "NO_FX_RATE"
    BAD_COUNTRY = "BAD_COUNTRY"
    BAD_MCC = "BAD_MCC"
    BAD_FLAG = "BAD_FLAG"
    SELF_TRANSFER = "SELF_TRANSFER"
    DUPLICATE_TX_ID = "DUPLICATE_TX_ID"
    DUPLICATE_ACCOUNT_ID = "DUPLICATE_ACCOUNT_ID"  # accounts file
    BAD_CUSTOMER_TYPE = "BAD_CUSTOMER_TYPE"  # accounts file


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
