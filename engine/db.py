"""The DuckDB connection every stage works on.

A scan works in a database file in the run's scratch folder, with DuckDB's temp directory
beside it, so inputs larger than the memory limit spill to disk instead of failing. Its
tables are compressed when ``compact`` checkpoints the database: after each input file
while the validate stage stages them, then after each stage. The staged transactions take
about a sixth of their uncompressed size. Once checkpointed, a table's blocks are in the
file: under memory pressure DuckDB drops them from its buffers and reads them back (from
the operating system's file cache as long as it holds them), where the blocks of an
in-memory database would be written to spill files first and read back from there. A
connection without a scratch folder (tests, fixture cases) keeps a compressed in-memory
database instead.

``--memory-limit`` (``RunConfig.memory_limit``) bounds the whole process, not only
DuckDB: ``memory_budget`` keeps the Python side's share (interpreter and libraries, the
detectors' working set) out of DuckDB's ``memory_limit``; ``fit_memory`` checks the
limit against what the run needs once the transactions are loaded and again once the
accounts are counted, and gives DuckDB what is left.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa

from engine.config import RunConfig
from engine.errors import StageError
from engine.resources import sql_text
from engine.runguard import MemoryBudget, parse_size


def connect(config: RunConfig, scratch_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection set up for a scan.

    Args:
        config: supplies ``memory_limit`` and ``threads``.
        scratch_dir: folder for the scan's database file and spill files; ``None``
            keeps everything in memory (tests, fixture cases).
    """
    con = duckdb.connect(":memory:")
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
        # 100M transactions under --memory-limit 11GB: 1,703 s against 1,936 s in memory;
        # 10M under 1.8GB 154 s against 184 s; the same without a limit (README "Measured")
        con.execute("attach $path as " + SCAN_DATABASE, {"path": str(scratch_dir / "scan.duckdb")})
        con.execute("set temp_directory = $dir", {"dir": str(scratch_dir / "spill")})
    else:
        # DuckDB compresses an in-memory database's tables only when it is attached with
        # COMPRESS, and then at each checkpoint (see ``compact``)
        con.execute(f"attach ':memory:' as {SCAN_DATABASE} (compress)")
    con.execute(f"use {SCAN_DATABASE}")
    if config.threads:
        con.execute("set threads = $threads", {"threads": config.threads})
    budget = memory_budget(con, config)
    if budget is not None:
        con.execute("set memory_limit = $limit", {"limit": f"{budget.duckdb_bytes}B"})
    else:
        # DuckDB's own default is 80% of the machine; the detectors' matrices live
        # outside DuckDB, so by default it gets half and spills beyond that
        limit = f"{max(1, _physical_memory_gib() // 2)}GB"
        con.execute("set memory_limit = $limit", {"limit": limit})
    # Row order of every materialised table follows its query: needed for row numbers
    # and for byte-identical outputs.
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    con.execute("set TimeZone = 'UTC'")
    create_macros(con)
    return con


SCAN_DATABASE: Final = "scan"
"""Name of the database a scan's tables live in (a file in the scratch folder, or a
compressed in-memory database without one)."""


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of ``con`` that reads the scan's database (a cursor starts in DuckDB's
    default database, and ``use`` holds for one connection only)."""
    cur = con.cursor()
    attached = cur.execute(
        "select count(*) from duckdb_databases() where database_name = $name",
        {"name": SCAN_DATABASE},
    ).fetchall()[0][0]
    if attached:
        cur.execute(f"use {SCAN_DATABASE}")
    return cur


def compact(con: duckdb.DuckDBPyConnection) -> None:
    """Compress the tables written since the last call (a checkpoint of the scan's
    database; temporary tables stay as they are)."""
    con.execute(f"checkpoint {SCAN_DATABASE}")


# Macros shared by the staging SQL and the typologies, one file each under sql/macros/,
# created in this order (a macro may call those before it).
MACROS: Final = (
    "cash_account",
    "keyed_transactions",
    "noisy_or",
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
    "counted_transfers",
    "cash_out_facts",
    "episode_day_rows",
    "counterparty_episode_rows",
    "path_episodes",
    "pairs_among",
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
    cur = cursor(con)
    try:
        return cur.sql(query).to_arrow_table()
    finally:
        cur.close()


@contextmanager
def arrow_batches(
    con: duckdb.DuckDBPyConnection,
    query: str,
    batch_size: int,
    params: dict[str, object] | None = None,
) -> Iterator[pa.RecordBatchReader]:
    """Stream a read-only query's result as Arrow record batches of ``batch_size`` rows,
    on a cursor of its own (the connection stays free for other queries meanwhile)."""
    cur = cursor(con)
    try:
        with cur.sql(query, params=params).to_arrow_reader(batch_size=batch_size) as reader:
            yield reader
    finally:
        cur.close()


def memory_budget(
    con: duckdb.DuckDBPyConnection, config: RunConfig, accounts: int | None = None
) -> MemoryBudget | None:
    """How ``config.memory_limit`` is shared out (``None`` without a limit), for
    ``accounts`` accounts when they are known."""
    if config.memory_limit is None:
        return None
    from engine.detectors import working_set_bytes

    threads = int(scalar(con, "select current_setting('threads')"))
    # until the accounts are counted the detectors' share is unknown: DuckDB gets it
    # meanwhile, and the check asks only for what any run needs
    detectors = (
        working_set_bytes(accounts) if config.detectors.enabled and accounts is not None else None
    )
    return MemoryBudget(config.memory_limit, parse_size(config.memory_limit), threads, detectors)


def fit_memory(
    con: duckdb.DuckDBPyConnection,
    config: RunConfig,
    transactions: int,
    accounts: int | None = None,
    *,
    detectors_running: bool = False,
) -> None:
    """Stop the run (``ResourceError``, exit code 2) when ``--memory-limit`` cannot hold
    it, else give DuckDB what the rest of the process leaves.

    The check counts the detectors' working set once the number of accounts is known.
    DuckDB's limit leaves that set out only while ``detectors_running`` (the detectors
    stage lowers it and raises it again after; DuckDB drops or spills what no longer
    fits): at 100M transactions the set is about 0.8 GB, which the features, typology
    and score queries would otherwise never use."""
    budget = memory_budget(con, config, accounts)
    if budget is None:
        return
    seen = f"{transactions:,} transactions" + (
        f" and {accounts:,} accounts" if accounts is not None else ""
    )
    budget.check(seen)
    share = budget.duckdb_bytes if detectors_running else budget.duckdb_bytes_between_detectors
    con.execute("set memory_limit = $limit", {"limit": f"{share}B"})


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
