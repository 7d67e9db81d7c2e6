"""Great Expectations suite generated from ``engine.schema``, run on a sample of input rows.

The exact row-level checks run in DuckDB over every row; this suite checks the same column
contract on a bounded sample with Great Expectations (GX) so the run manifest carries an
independent, declarative data-quality result (see README, "Validation").

GX is imported lazily inside :func:`validate_frame`: importing it costs seconds, and
importing this module must stay cheap (``iff --help``). Every validation runs in a fresh
ephemeral GX context with in-memory stores, analytics off and progress bars off, so it
writes no file, opens no network connection and prints nothing.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from engine import schema
from engine.errors import StageError

if TYPE_CHECKING:
    import pandas as pd

SUITE_NAME: Final = "iff_transactions"
"""Name of the generated expectation suite (appears in GX results)."""

MCC_REGEX: Final = r"^\d{4}$"
"""A merchant category code is exactly four digits."""

FLAG_VALUES: Final[tuple[int, ...]] = (0, 1)
"""Allowed values of a ``flag`` column (nulls are allowed by value-set expectations)."""

UNIQUE_COLUMNS: Final[tuple[str, ...]] = ("tx_id",)
"""Columns whose non-null values must be unique within the validated frame."""

RESULT_FORMAT: Final = "BASIC"
"""GX result format: enough for ``element_count`` and ``unexpected_count``."""

NOT_NULL: Final = "ExpectColumnValuesToNotBeNull"
IN_SET: Final = "ExpectColumnValuesToBeInSet"
BETWEEN: Final = "ExpectColumnValuesToBeBetween"
MATCH_REGEX: Final = "ExpectColumnValuesToMatchRegex"
UNIQUE: Final = "ExpectColumnValuesToBeUnique"

_DECIMAL_TYPE: Final = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$", re.IGNORECASE)
_GX_NOISE: Final[tuple[type[Warning], ...]] = (DeprecationWarning, FutureWarning, UserWarning)

SuiteEntry = tuple[str, str, dict[str, object]]
"""One expectation of the suite: (GX expectation class name, column, keyword arguments)."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """Result of one expectation on one column.

    Attributes:
        expectation: GX expectation type, e.g. ``"expect_column_values_to_not_be_null"``.
        column: column the expectation ran on.
        success: whether the expectation held.
        unexpected_count: number of rows that broke it (for uniqueness: every row whose
            value occurs more than once, so two rows sharing one id count as 2).
        element_count: number of rows validated, nulls included.
    """

    expectation: str
    column: str
    success: bool
    unexpected_count: int
    element_count: int


@dataclass(frozen=True)
class ExpectationReport:
    """Result of the generated suite on one frame.

    Attributes:
        success: whether every expectation held.
        rows_checked: number of rows in the validated frame.
        outcomes: one outcome per expectation, sorted by (column, expectation).
    """

    success: bool
    rows_checked: int
    outcomes: tuple[ExpectationOutcome, ...]

    def failed(self) -> tuple[ExpectationOutcome, ...]:
        """Return the outcomes that did not hold, in report order.

        Returns:
            The failed outcomes; empty when the report succeeded.
        """
        return tuple(o for o in self.outcomes if not o.success)

    def to_record(self) -> dict[str, object]:
        """Return a JSON-ready summary for the run manifest.

        Returns:
            A dict of plain ``bool``/``int``/``str``/``list``/``dict`` values.
        """
        return {
            "suite": SUITE_NAME,
            "success": self.success,
            "rows_checked": self.rows_checked,
            "expectations_evaluated": len(self.outcomes),
            "expectations_failed": len(self.failed()),
            "outcomes": [
                {
                    "expectation": o.expectation,
                    "column": o.column,
                    "success": o.success,
                    "unexpected_count": o.unexpected_count,
                    "element_count": o.element_count,
                }
                for o in self.outcomes
            ],
        }


def _decimal_limit(sql_type: str) -> float:
    """Return the exclusive magnitude limit of a ``DECIMAL(p,s)`` type, i.e. ``10**(p-s)``.

    Args:
        sql_type: a DuckDB decimal type such as ``"DECIMAL(18,4)"``.

    Returns:
        The smallest magnitude the type cannot hold, as a float.

    Raises:
        ValueError: if ``sql_type`` is not ``DECIMAL(p,s)``.
    """
    match = _DECIMAL_TYPE.match(sql_type.strip())
    if match is None:
        raise ValueError(f"decimal column has SQL type {sql_type!r}, expected DECIMAL(p,s)")
    precision, scale = int(match.group(1)), int(match.group(2))
    return float(10 ** (precision - scale))


def _code_set(values: Sequence[str], what: str) -> list[str]:
    """Normalise a reference code list the way the staging query normalises the data.

    Args:
        values: codes from the reference data.
        what: name of the list, for the error message.

    Returns:
        The distinct codes, stripped, upper-cased and sorted.

    Raises:
        ValueError: if no code is left.
    """
    codes = sorted({v.strip().upper() for v in values if v.strip()})
    if not codes:
        raise ValueError(f"{what} reference list is empty")
    return codes


def suite_definition(currencies: Sequence[str], countries: Sequence[str]) -> tuple[SuiteEntry, ...]:
    """Generate the expectation suite from ``schema.TRANSACTION_COLUMNS``.

    Per column, in schema order: not-null when the column is required; then the value rule
    of its kind (``decimal``: between 0 exclusive and the largest value of its SQL type, i.e.
    1e14 for ``DECIMAL(18,4)``; ``code``: in the channel/currency/country set or matching
    :data:`MCC_REGEX`; ``flag``: in {0, 1}); then uniqueness for :data:`UNIQUE_COLUMNS`.
    Value-set, range and regex expectations ignore nulls, so optional columns may be null.
    No ``mostly`` is set: every non-null value must comply.

    Args:
        currencies: allowed ISO 4217 codes (normalised: stripped, upper-cased, deduplicated).
        countries: allowed ISO 3166-1 alpha-2 codes (normalised likewise).

    Returns:
        ``(expectation class name, column, kwargs)`` triples; ``kwargs`` exclude ``column``.

    Raises:
        ValueError: if a reference list is empty, or a schema column of kind ``code`` or
            ``decimal`` has no rule here (a new column needs one).
    """
    value_sets: dict[str, list[str]] = {
        "channel": list(schema.CHANNELS),
        "currency": _code_set(currencies, "currency"),
        "src_country": _code_set(countries, "country"),
        "dst_country": _code_set(countries, "country"),
    }
    regexes: dict[str, str] = {"mcc": MCC_REGEX}

    entries: list[SuiteEntry] = []
    for column in schema.TRANSACTION_COLUMNS:
        name = column.name
        if column.required:
            entries.append((NOT_NULL, name, {}))
        if column.kind == "decimal":
            limit = _decimal_limit(column.sql_type)
            entries.append(
                (BETWEEN, name, {"min_value": 0, "max_value": limit, "strict_min": True})
            )
        elif column.kind == "code":
            if name in value_sets:
                entries.append((IN_SET, name, {"value_set": list(value_sets[name])}))
            elif name in regexes:
                entries.append((MATCH_REGEX, name, {"regex": regexes[name]}))
            else:
                raise ValueError(f"code column {name!r} has no expectation in engine.expectations")
        elif column.kind == "flag":
            entries.append((IN_SET, name, {"value_set": list(FLAG_VALUES)}))
        if name in UNIQUE_COLUMNS:
            entries.append((UNIQUE, name, {}))
    return tuple(entries)


@contextmanager
def _quiet_gx() -> Iterator[None]:
    """Silence the deprecation/future/user warnings GX and its dependencies emit.

    Without this, ``python -W error`` fails inside ``import great_expectations``
    (``sre_constants`` is deprecated). ``warnings.catch_warnings`` swaps process-wide
    filters, so do not run two validations on different threads at once.

    Yields:
        Nothing; the filters are restored on exit.
    """
    with warnings.catch_warnings():
        for category in _GX_NOISE:
            warnings.simplefilter("ignore", category)
        yield


def _raised_exception(exception_info: object) -> str | None:
    """Return the message of an exception GX caught while evaluating an expectation.

    GX reports it either flat (``{"raised_exception": True, "exception_message": ...}``) or
    keyed by metric id (``{metric_id: {"raised_exception": True, ...}}``).

    Args:
        exception_info: ``ExpectationValidationResult.exception_info``.

    Returns:
        The message, or None when nothing was raised.
    """
    if not isinstance(exception_info, Mapping):
        return None
    if exception_info.get("raised_exception"):
        return str(exception_info.get("exception_message"))
    for value in exception_info.values():
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _outcome(result: Any) -> ExpectationOutcome:
    """Convert one GX ``ExpectationValidationResult`` to an :class:`ExpectationOutcome`.

    Args:
        result: one element of ``ExpectationSuiteValidationResult.results``.

    Returns:
        The outcome.

    Raises:
        StageError: if GX could not evaluate the expectation (an engine bug, not bad data).
    """
    config = result.expectation_config
    expectation = str(config.type)
    column = str(config.kwargs.get("column"))
    problem = _raised_exception(result.exception_info)
    counts: Mapping[str, Any] = result.result or {}
    if problem is None and not {"unexpected_count", "element_count"} <= counts.keys():
        problem = f"result has no counts: {sorted(counts)}"
    if problem is not None:
        raise StageError("validate", f"Great Expectations {expectation} on {column!r}: {problem}")
    return ExpectationOutcome(
        expectation=expectation,
        column=column,
        success=bool(result.success),
        unexpected_count=int(counts["unexpected_count"]),
        element_count=int(counts["element_count"]),
    )


def validate_frame(
    frame: pd.DataFrame, currencies: Sequence[str], countries: Sequence[str]
) -> ExpectationReport:
    """Validate a (sampled) frame of pre-typed input rows with the generated suite.

    Expectations on columns the frame lacks are skipped. GX runs in a fresh ephemeral
    context (in-memory stores, analytics off, progress bars off): no file is written, no
    network connection is opened and nothing is printed.

    Args:
        frame: rows as typed by the staging query (unparseable values are None/NaN/NaT).
        currencies: allowed currency codes.
        countries: allowed country codes.

    Returns:
        The report, with outcomes sorted by (column, expectation).

    Raises:
        ValueError: if a reference list is empty.
        StageError: if GX fails to evaluate an expectation.
    """
    present = {str(c) for c in frame.columns}
    entries = [e for e in suite_definition(currencies, countries) if e[1] in present]
    rows = len(frame)
    if not entries:
        return ExpectationReport(success=True, rows_checked=rows, outcomes=())

    with _quiet_gx():
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        context = gx.get_context(project_config=config, mode="ephemeral")
        batch_definition = (
            context.data_sources.add_pandas(name="iff_sample")
            .add_dataframe_asset(name="transactions")
            .add_batch_definition_whole_dataframe("whole_frame")
        )
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        suite = gx.ExpectationSuite(
            name=SUITE_NAME,
            expectations=[
                getattr(gx.expectations, name)(column=column, **kwargs)
                for name, column, kwargs in entries
            ],
        )
        result = batch.validate(suite, result_format=RESULT_FORMAT)

    outcomes = tuple(
        sorted((_outcome(r) for r in result.results), key=lambda o: (o.column, o.expectation))
    )
    return ExpectationReport(
        success=all(o.success for o in outcomes), rows_checked=rows, outcomes=outcomes
    )
