"""Reference tables (currencies, countries, FX, thresholds, MCC groups, descriptor patterns).

The shipped CSVs live in ``fixtures/reference/`` with their provenance in
``SOURCES.yaml``; a user folder with the same file names overrides any of them.
Each is loaded into a DuckDB table ``ref_<stem>``; ``ref_fx`` adds the rate into the
reporting currency.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb

from engine.config import RunConfig
from engine.db import scalar
from engine.errors import InputError
from engine.resources import reference_dir, sql_text

REFERENCE_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "currencies": ("code", "name"),
    "countries": ("code", "name"),
    "fx_rates": ("currency", "units_per_usd"),
    "cash_thresholds": ("currency", "threshold", "rule", "source"),
    "mcc_groups": ("mcc", "mcc_group", "description"),
    "merchant_patterns": ("pattern", "category", "note"),
    "jurisdictions": ("country", "list_name", "as_of", "source"),
}
"""File stem -> columns every version of that file must have."""


@dataclass(frozen=True)
class ReferenceFile:
    name: str
    path: Path
    sha256: str


def reference_files(config: RunConfig) -> tuple[ReferenceFile, ...]:
    """The reference files a run uses, user overrides first."""
    chosen = []
    for name in REFERENCE_TABLES:
        path = reference_dir() / f"{name}.csv"
        if config.reference_dir is not None and (config.reference_dir / f"{name}.csv").exists():
            path = config.reference_dir / f"{name}.csv"
        if name == "fx_rates" and config.fx_rates_file is not None:
            path = config.fx_rates_file
        if not path.exists():
            raise InputError("reference file not found", str(path))
        chosen.append(ReferenceFile(name, path, hashlib.sha256(path.read_bytes()).hexdigest()))
    return tuple(chosen)


def load_reference(con: duckdb.DuckDBPyConnection, config: RunConfig) -> tuple[ReferenceFile, ...]:
    """Create the ``ref_*`` tables; returns the files used (for the manifest)."""
    files = reference_files(config)
    for ref in files:
        try:
            con.execute(
                f"create or replace table ref_{ref.name} as select * from read_csv($path, "
                "header = true, all_varchar = true, delim = ',', quote = '\"')",
                {"path": str(ref.path)},
            )
        except duckdb.Error as exc:
            raise InputError(f"cannot read reference table: {exc}", str(ref.path)) from exc
        described = con.execute(f"describe ref_{ref.name}").fetchall()
        columns = {str(r[0]) for r in described}
        missing = [c for c in REFERENCE_TABLES[ref.name] if c not in columns]
        if missing:
            raise InputError(f"reference table lacks columns {missing}", str(ref.path))
    bad_patterns = []
    for (pattern,) in con.execute("select pattern from ref_merchant_patterns").fetchall():
        try:
            con.execute("select regexp_matches('', $p)", {"p": pattern})
        except duckdb.Error:
            bad_patterns.append(pattern)
    if bad_patterns:
        raise InputError(
            f"invalid regular expressions in merchant patterns: {bad_patterns}",
            str(next(f.path for f in files if f.name == "merchant_patterns")),
        )
    reporting = scalar(
        con,
        "select try_cast(units_per_usd as double) from ref_fx_rates where upper(currency) = $c",
        {"c": config.reporting_currency},
    )
    if reporting is None:
        raise InputError(
            f"reporting currency {config.reporting_currency} has no rate in the FX table",
            str(next(f.path for f in files if f.name == "fx_rates")),
        )
    con.execute(
        "create or replace table ref_fx as " + sql_text("reference/ref_fx.sql"),
        {"reporting_units": float(reporting)},
    )
    con.execute("update ref_currencies set code = upper(code)")
    con.execute("update ref_countries set code = upper(code)")
    con.execute(
        "create or replace table ref_cash_threshold as "
        + sql_text("reference/ref_cash_threshold.sql")
    )
    return files
