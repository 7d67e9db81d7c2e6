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
    # Descriptor matching against ref_merchant_patterns (case-insensitive RE2 regexes):
    # select * from pattern_matches(texts, ['vasp', 'tppp']), where texts is a table or
    # CTE with a column named text (categories NULL: every category)
    # -> text, category, label (the pattern's note up to its first colon, else the
    # pattern), one row per distinct text and matching category.
    # A regex whose pattern comes from a table is compiled again for every row it meets,
    # so testing every text against every pattern costs (texts x patterns) compilations.
    # Instead the texts are joined into 256 newline-separated blocks and each pattern runs
    # once per block, wrapped so that it returns whole lines: every text the pattern
    # matches lies inside one of the returned lines. Only those candidates are then
    # tested one by one, so the result is exactly that of testing every pair. Texts
    # containing a newline, and patterns with absolute anchors (\A, \z) or flag switches
    # that behave differently inside the joined block, are tested pair by pair.
    con.execute(
        r"""
        create or replace macro pattern_matches(texts, categories) as table
        with wanted_patterns as (
            select
                pattern,
                category,
                case when strpos(note, ':') > 1 then trim(split_part(note, ':', 1))
                     else pattern end as label,
                not regexp_matches(pattern, '\\[Az]|\(\?[a-zA-Z]*-') as joinable
            from ref_merchant_patterns
            where categories is null or list_contains(categories, category)
        ),
        distinct_texts as (
            select distinct text from query_table(texts) where text is not null
        ),
        text_blocks as (
            select hash(text) % 256 as block, string_agg(text, chr(10)) as joined
            from distinct_texts
            where strpos(text, chr(10)) = 0
            group by block
        ),
        candidate_pairs as (
            select distinct p.pattern, p.category, p.label, line as text
            from text_blocks b
            join wanted_patterns p on p.joinable
            cross join unnest(flatten(list_transform(
                regexp_extract_all(
                    b.joined, '(?m)^[^\n]*(?:' || p.pattern || ')[^\n]*$', 0, 'i'),
                lambda span: string_split(span, chr(10))))) as u(line)
            union all
            select p.pattern, p.category, p.label, d.text
            from distinct_texts d
            join wanted_patterns p on strpos(d.text, chr(10)) > 0 or not p.joinable
        )
        select text, category, min(label) as label
        from candidate_pairs
        where regexp_matches(text, pattern, 'i')
        group by text, category
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
