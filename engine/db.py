"""The DuckDB connection every stage works on.

A scan works in an in-memory database whose temp directory sits in the run's scratch
folder, so inputs larger than the memory limit spill to disk instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa

from engine.config import RunConfig
from engine.errors import StageError
from engine.resources import sql_text


def connect(config: RunConfig, scratch_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection set up for a scan.

    Args:
        config: supplies ``memory_limit`` and ``threads``.
        scratch_dir: folder for spill files; ``None`` keeps everything in memory
            (tests, fixture cases).
    """
    # An in-memory database is about twice as fast as a database file here; with a
    # temp directory DuckDB still spills to disk past the memory limit.
    con = duckdb.connect(":memory:")
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        con.execute("set temp_directory = $dir", {"dir": str(scratch_dir / "spill")})
    # DuckDB's own default is 80% of the machine; the detectors' matrices live outside
    # DuckDB, so by default it gets half and spills beyond that
    limit = config.memory_limit or f"{max(1, _physical_memory_gib() // 2)}GB"
    con.execute("set memory_limit = $limit", {"limit": limit})
    if config.threads:
        con.execute("set threads = $threads", {"threads": config.threads})
    # Row order of every materialised table follows its query: needed for row numbers
    # and for byte-identical outputs.
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    con.execute("set TimeZone = 'UTC'")
    create_macros(con)
    return con


# Macros shared by the staging SQL and the typologies, one file each under sql/macros/,
# created in this order (a macro may call those before it).
MACROS: Final = (
    "cash_account",
    "hit_id",
    "iso_local_timestamp",
    "money_text",
    "money_range_text",
    "span_text",
    "merged_windows",
    "count_windows",
    "episode_rows",
    "episode_hits",
    "peer_outliers",
    "pattern_matches",
    "customer_payments",
    "fan_in_inflows",
    "counterparty_windows",
    "cash_running_totals",
    "cash_out_pairs",
    "pruned_pair_transfers",
    "two_counterparty_accounts",
    "windowed_links",
    "hop_evidence",
    "path_end_amounts",
    "distinct_day_sweep",
    "cash_out_facts",
    "episode_day_rows",
    "counterparty_episode_rows",
    "path_episodes",
)


def create_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create every macro of ``sql/macros`` in the declared order."""
    for name in MACROS:
        try:
            con.execute(sql_text(f"macros/{name}.sql"))
        except duckdb.Error as exc:
            raise StageError("setup", f"macro sql/macros/{name}.sql: {exc}") from exc


def arrow_table(con: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """Run a read-only query on a cursor of its own and return the result as Arrow.

    DuckDB's relation API refuses to run while the connection holds an unfinished
    ``execute`` result; a cursor shares the database but not that state.
    """
    cursor = con.cursor()
    try:
        return cursor.sql(query).to_arrow_table()
    finally:
        cursor.close()


def scalar(
    con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object] | None = None
) -> Any:
    """The first value of a one-row query (read to the end, which DuckDB 2.0 requires
    before the connection runs anything else)."""
    rows = con.execute(query, params or {}).fetchall()
    return rows[0][0] if rows else None


def _physical_memory_gib() -> int:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 8
    return int(pages * page_size / 2**30)
