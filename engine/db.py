"""The DuckDB connection every stage works on.

A scan works in an in-memory database whose temp directory sits in the run's scratch
folder, so inputs larger than the memory limit spill to disk instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine.config import RunConfig


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
    _create_macros(con)
    return con


def _create_macros(con: duckdb.DuckDBPyConnection) -> None:
    # Typologies find qualifying windows per account and report one hit per episode:
    # overlapping windows [window_start, window_limit] of one subject are merged.
    # Usage: select * from merged_windows(qualifying) -> subject_id, episode,
    # episode_start, episode_limit.
    con.execute(
        """
        create or replace macro merged_windows(windows) as table
        select subject_id, episode, min(window_start) as episode_start,
               max(window_limit) as episode_limit
        from (
            select *, sum(is_new) over (
                       partition by subject_id order by window_start, window_limit
                   ) as episode
            from (
                select *,
                       case when window_start <= max(window_limit) over (
                                partition by subject_id order by window_start, window_limit
                                rows between unbounded preceding and 1 preceding)
                            then 0 else 1 end as is_new
                from query_table(windows)
            )
        )
        group by subject_id, episode
        """
    )
    # ISO 8601 text to a local timestamp: a zone suffix after the time of day (Z, +02,
    # -05:00) is dropped so the wall-clock time of the export is kept; NULL when invalid.
    con.execute(
        r"""
        create or replace macro iso_local_timestamp(text) as try_cast(
            regexp_replace(
                text,
                '([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)\s*(Z|[+-]\d{2}(:?\d{2})?)$',
                '\1'
            ) as timestamp)
        """
    )


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
