"""Python API: run a scan and read its outputs as Polars frames.

A finished run is a folder (``alerts.parquet``, ``hits.parquet``, ``evidence.parquet``,
``rejects.parquet``, ``manifest.json`` and, when the scan wrote it,
``account_scores.parquet``). :func:`open_run` gives a :class:`Run` whose tables are
lazy frames over those files; :meth:`Run.transactions` and :meth:`Run.network` read the
run's input files back (through the same mapping, staging SQL and FX table the scan
used) to show the money behind an alert.

Example::

    from engine import open_run, scan

    run = scan("data/transactions-*.parquet", accounts="data/accounts.parquet", out="out")
    run = open_run("out")                       # or reopen a finished run later
    top = run.alerts.head(10).collect()
    alert = run.alert(top["alert_id"][0])
    rows = run.transactions(alert["subject_id"])
    edges = run.network(alert["alert_id"], hops=2)
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from engine import schema
from engine.config import RunConfig, load_config
from engine.db import cursor
from engine.errors import InputError
from engine.validate import account_staging_params, transaction_staging_params

if TYPE_CHECKING:
    import duckdb

RUN_TABLES: Final = ("alerts", "hits", "evidence", "rejects")
ACCOUNT_SCORES_FILE: Final = "account_scores.parquet"

TRANSACTION_FRAME_COLUMNS: Final[tuple[str, ...]] = (
    *(c.name for c in schema.TRANSACTION_COLUMNS),
    "amount_rep",
    "source_file",
    "source_row",
)
"""Columns of :meth:`Run.transactions`: the canonical contract, the amount in the
run's reporting currency (same FX table and SQL as the scan) and the row's origin."""

NETWORK_COLUMNS: Final = (
    "src_account",
    "dst_account",
    "tx_count",
    "amount_total",
    "first_timestamp",
    "last_timestamp",
    "on_evidence",
    "hop",
)

MAX_EDGES: Final = 200
"""Edges :meth:`Run.network` keeps by default (evidence first, then the largest)."""

KEEP_ROWS: Final = 20_000_000
"""Runs with at most this many accepted rows keep them staged in DuckDB after the first
read of the inputs, spilling past the memory limit; larger runs read the inputs again,
filtered while reading, on each call. A report reads them four times (subjects, evidence
and two network hops): on the 10M benchmark run staging once took the report from 76 s to
60 s wall (2 shared cores), its peak resident memory from 0.6 to 3.0 GB."""

_RECENT_QUERIES: Final = 4
"""Results of :meth:`Run.transactions` kept for an identical next call."""

MAX_FRONTIER: Final = 100
"""Counterparties expanded per hop (evidence counterparties first, then by amount)."""


class UnknownAlertError(InputError, KeyError):
    """An alert id that the run does not hold (exit code 2 on the command line; also a
    ``KeyError`` for Python callers)."""

    def __str__(self) -> str:
        return InputError.__str__(self)


def scan(
    inputs: str | Path | Sequence[str | Path],
    *,
    out: str | Path,
    accounts: str | Path | None = None,
    config: str | Path | RunConfig | None = None,
    input_format: str = "canonical",
    mapping: str | Path | None = None,
    force: bool = False,
) -> Run:
    """Scan transaction files and return the finished run (same as ``iff scan``).

    Args:
        inputs: files, globs or folders (CSV, CSV.GZ or Parquet).
        out: output folder; must not exist unless ``force``.
        accounts: optional accounts file.
        config: a :class:`~engine.config.RunConfig`, a TOML file, or ``None`` for defaults.
        input_format: ``"canonical"`` or ``"amlworld"``.
        mapping: TOML mapping file for other export layouts.
        force: replace an existing output folder.

    Raises:
        InputError: bad inputs, options or config (the CLI's exit code 2).
    """
    from engine.pipeline import ScanRequest
    from engine.pipeline import scan as run_scan

    if input_format not in ("canonical", "amlworld"):
        raise InputError(f"input_format must be 'canonical' or 'amlworld', got {input_format!r}")
    patterns = (inputs,) if isinstance(inputs, str | Path) else tuple(inputs)
    run_config = config if isinstance(config, RunConfig) else load_config(_path(config))
    out_dir = Path(out)
    request = ScanRequest(
        inputs=tuple(str(p) for p in patterns),
        out_dir=out_dir,
        config=run_config,
        input_format=input_format,  # type: ignore[arg-type]
        # absolute, so the manifest lets the run be read back from any folder
        mapping_file=_path(mapping, resolve=True),
        accounts_file=_path(accounts, resolve=True),
        force=force,
    )
    run_scan(request)
    return open_run(out_dir)


def open_run(run_dir: str | Path) -> Run:
    """Open a finished run folder.

    Raises:
        InputError: the folder does not exist or holds no ``manifest.json``.
    """
    folder = Path(run_dir)
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        raise InputError("run folder not found", str(folder))
    if not manifest_path.is_file():
        raise InputError(
            "not a run folder (no manifest.json); pass the --out folder of `iff scan`",
            str(folder),
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read manifest.json ({exc})", str(folder)) from exc
    missing = [
        f"{name}.parquet" for name in RUN_TABLES if not (folder / f"{name}.parquet").is_file()
    ]
    if missing:
        raise InputError(f"run folder lacks {', '.join(missing)}", str(folder))
    return Run(dir=folder, manifest=manifest)


@dataclass(frozen=True)
class Run:
    """A finished scan: its manifest, its output tables and its inputs read back.

    The tables are lazy frames over the Parquet files, so filters and column choices
    reach the Parquet reader. :meth:`transactions` and :meth:`network` open a DuckDB
    connection over the run's inputs on first use and keep it; :meth:`close` (or a
    ``with`` block) releases it.
    """

    dir: Path
    manifest: dict[str, Any] = field(repr=False)
    _holder: dict[str, _InputReader] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection over the inputs, if one was opened."""
        reader = self._holder.pop("reader", None)
        if reader is not None:
            reader.close()

    # ------------------------------------------------------------------ outputs

    @property
    def alerts(self) -> pl.LazyFrame:
        """``alerts.parquet``: one row per alerted subject, in rank order."""
        return pl.scan_parquet(self.dir / "alerts.parquet")

    @property
    def hits(self) -> pl.LazyFrame:
        """``hits.parquet``: one row per typology hit of an alerted subject."""
        return pl.scan_parquet(self.dir / "hits.parquet")

    @property
    def evidence(self) -> pl.LazyFrame:
        """``evidence.parquet``: the transactions each hit cites, with why."""
        return pl.scan_parquet(self.dir / "evidence.parquet")

    @property
    def rejects(self) -> pl.LazyFrame:
        """``rejects.parquet``: every rejected input row with file, row and reason."""
        return pl.scan_parquet(self.dir / "rejects.parquet")

    @property
    def account_scores(self) -> pl.LazyFrame | None:
        """``account_scores.parquet`` (one row per account) when the run wrote it."""
        path = self.dir / ACCOUNT_SCORES_FILE
        return pl.scan_parquet(path) if path.is_file() else None

    @property
    def reporting_currency(self) -> str:
        return str(self.manifest.get("config", {}).get("reporting_currency") or "USD")

    def alert(self, alert_id: str) -> dict[str, Any]:
        """One alert row as a dict.

        Raises:
            UnknownAlertError: no alert has this id (an ``InputError`` and a ``KeyError``).
        """
        rows = self.alerts.filter(pl.col("alert_id") == alert_id).collect()
        if rows.height == 0:
            raise UnknownAlertError(f"unknown alert id {alert_id!r}", str(self.dir))
        return rows.row(0, named=True)

    def alert_hits(self, alert_id: str) -> pl.DataFrame:
        """The alert's hits in date order (window start, typology, hit id)."""
        self.alert(alert_id)
        return (
            self.hits.filter(pl.col("alert_id") == alert_id)
            .sort("window_start", "typology_id", "hit_id")
            .collect()
        )

    def alert_evidence(self, alert_id: str) -> pl.DataFrame:
        """The alert's evidence rows (hit, typology, tx_id, why)."""
        self.alert(alert_id)
        return (
            self.evidence.filter(pl.col("alert_id") == alert_id)
            .sort("typology_id", "hit_id", "tx_id")
            .collect()
        )

    # ------------------------------------------------------------------ inputs

    def transactions(
        self, account_id: str | Sequence[str], *, tx_ids: Sequence[str] = ()
    ) -> pl.DataFrame:
        """Accepted input transactions with the account(s) as source or destination
        (and, when given, those with one of ``tx_ids``).

        Reads the run's input files back through the mapping and staging SQL the scan
        used, in one query for all the accounts given; rows the scan rejected are left
        out. Runs of at most :data:`KEEP_ROWS` accepted rows are staged once and kept in
        DuckDB; larger runs stream their Parquet inputs with the filter applied while
        reading (CSV inputs are loaded into DuckDB once, spilling past its memory limit).
        Nothing is loaded into Python but the result. Columns:
        :data:`TRANSACTION_FRAME_COLUMNS`, including ``amount_rep`` in the run's
        reporting currency. Sorted by timestamp, tx_id.

        Raises:
            InputError: an input file recorded in the manifest is missing or changed.
        """
        ids = [account_id] if isinstance(account_id, str) else list(account_id)
        return self._inputs().rows(accounts=ids, tx_ids=list(tx_ids))

    def transactions_by_id(self, tx_ids: Sequence[str]) -> pl.DataFrame:
        """Accepted input transactions with the given tx ids (same columns and order as
        :meth:`transactions`)."""
        return self._inputs().rows(tx_ids=list(tx_ids))

    def evidence_transactions(self, alert_id: str) -> pl.DataFrame:
        """The input transactions the alert's evidence cites, in time order."""
        tx_ids = self.alert_evidence(alert_id)["tx_id"].unique().sort().to_list()
        return self.transactions_by_id(tx_ids)

    def accounts(self, account_ids: Sequence[str] | None = None) -> pl.DataFrame | None:
        """Accepted rows of the accounts file the run used (``None`` without one).

        Columns: ``engine.schema.ACCOUNT_COLUMNS``; ``account_ids`` narrows the rows.
        """
        return self._inputs().accounts(None if account_ids is None else list(account_ids))

    def network(self, alert_id: str, hops: int = 2, max_edges: int = MAX_EDGES) -> pl.DataFrame:
        """Money between accounts around the alert's subject, as an edge list.

        Hop 1 holds the subject's own transfers; hop ``k`` the transfers of the
        counterparties first reached at hop ``k - 1`` (at most :data:`MAX_FRONTIER` of
        them per hop: evidence counterparties first, then by amount; CASH is a node but
        never expanded). Every transaction the alert's evidence cites is kept: one not
        reached by the walk is labelled with the outermost hop. Edges aggregate the
        transactions of one (src_account, dst_account) pair.

        Bounded: at most ``max_edges`` edges are returned (default 200), evidence edges
        first, then nearer hops, then the largest amounts.

        Columns: src_account, dst_account, tx_count, amount_total (float, reporting
        currency), first_timestamp, last_timestamp, on_evidence, hop (1..hops).
        :meth:`networks` gives the same for many alerts in one pass over the inputs.

        Raises:
            UnknownAlertError: no alert has this id.
            InputError: ``hops`` below 1, or the inputs cannot be read back.
        """
        return self.networks([alert_id], hops, max_edges).drop("alert_id")

    def networks(
        self, alert_ids: Sequence[str], hops: int = 2, max_edges: int = MAX_EDGES
    ) -> pl.DataFrame:
        """:meth:`network` of several alerts at once, with an ``alert_id`` column first.

        Reads the inputs ``hops`` times in all, however many alerts are asked for (the
        report draws 200 networks this way).
        """
        if hops < 1:
            raise InputError(f"hops must be at least 1, got {hops}")
        ids = list(dict.fromkeys(alert_ids))
        subjects = (
            self.alerts.filter(pl.col("alert_id").is_in(ids))
            .select("alert_id", "subject_id")
            .collect()
        )
        if unknown := sorted(set(ids) - set(subjects["alert_id"].to_list())):
            raise UnknownAlertError(f"unknown alert id(s) {unknown}", str(self.dir))
        evidence = (
            self.evidence.filter(pl.col("alert_id").is_in(ids))
            .select("alert_id", "tx_id")
            .unique()
            .sort("alert_id", "tx_id")
            .collect()
        )
        return self._inputs().networks(subjects, evidence, hops, max(0, max_edges))

    def _inputs(self) -> _InputReader:
        reader = self._holder.get("reader")
        if reader is None:
            reader = _InputReader(self.dir, self.manifest)
            self._holder["reader"] = reader
        return reader


def _close(con: duckdb.DuckDBPyConnection, scratch: Path) -> None:
    con.close()
    shutil.rmtree(scratch, ignore_errors=True)


def _path(value: str | Path | None, resolve: bool = False) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path.resolve() if resolve else path


class _InputReader:
    """A DuckDB connection over a run's inputs, staged like the scan staged them."""

    def __init__(self, run_dir: Path, manifest: dict[str, Any]) -> None:
        from engine.db import connect
        from engine.load import (
            InputFile,
            _kind_of,
            drop_raw,
            load_accounts_file,
            load_files,
            mapping_for,
        )
        from engine.reference import load_reference

        self._recent: dict[tuple[tuple[str, ...], tuple[str, ...]], pl.DataFrame] = {}
        accepted = manifest.get("row_accounting", {}).get("rows_accepted")
        self.keep_all = isinstance(accepted, int) and accepted <= KEEP_ROWS
        self._kept = False
        record = manifest.get("config", {})
        config = RunConfig(
            reporting_currency=str(record.get("reporting_currency") or "USD"),
            reference_dir=_path(record.get("reference_dir")),
            fx_rates_file=_path(record.get("fx_rates_file")),
            memory_limit=record.get("memory_limit"),
            threads=record.get("threads"),
        )
        input_format = manifest.get("input_format", "canonical")
        mapping_file = _path(manifest.get("mapping_file"))
        mapping_name = manifest.get("mapping")
        if (
            mapping_file is None
            and input_format == "canonical"
            and mapping_name not in (None, "canonical")
        ):
            raise InputError(
                f"the run used the mapping {mapping_name!r} but its manifest does not record "
                "the mapping file, so its inputs cannot be read back",
                str(run_dir),
            )
        self.mapping = mapping_for(input_format, mapping_file)
        self.latest = datetime.fromisoformat(str(manifest["latest_allowed_timestamp"]))

        files: list[InputFile] = []
        accounts_file: InputFile | None = None
        problems: list[str] = []
        for entry in manifest.get("inputs", []):
            path = Path(str(entry["path"]))
            kind = _kind_of(path)
            if not path.is_file() or kind is None:
                problems.append(f"{path}: input file not found")
                continue
            if path.stat().st_size != int(entry.get("size_bytes", -1)):
                problems.append(f"{path}: input file changed since the run (size differs)")
                continue
            described = InputFile(
                path=path,
                kind=kind,
                sha256=str(entry["sha256"]),
                size_bytes=int(entry["size_bytes"]),
            )
            if entry.get("content", "transactions") == "accounts":
                accounts_file = described
            else:
                files.append(described)
        if problems:
            raise InputError(
                "cannot read the run's inputs back: " + "; ".join(problems), str(run_dir)
            )

        # spill files of this connection live in a scratch folder of its own
        self._scratch = Path(tempfile.mkdtemp(prefix="iff-run-"))
        self.con: duckdb.DuckDBPyConnection = connect(config, self._scratch)
        self._finalizer = weakref.finalize(self, _close, self.con, self._scratch)
        try:
            load_reference(self.con, config)
            self.loaded = load_files(self.con, files, self.mapping)
            self.con.execute(
                "create or replace table input_files (file_index integer, source_file varchar)"
            )
            self.con.executemany(
                "insert into input_files values (?, ?)",
                [(f.index, str(f.file.path)) for f in self.loaded],
            )
            self.con.execute(
                "create or replace table run_rejects as select distinct source_file, source_row "
                "from read_parquet($path)",
                {"path": str(run_dir / "rejects.parquet")},
            )
            self.has_accounts = accounts_file is not None
            if accounts_file is not None:
                raw_accounts = load_accounts_file(self.con, accounts_file, index=len(self.loaded))
                self._stage_accounts(raw_accounts.index)
                drop_raw(self.con, raw_accounts)
        except BaseException:
            self._finalizer()
            raise

    def close(self) -> None:
        self._finalizer()

    def _stage_accounts(self, file_index: int) -> None:
        from engine.resources import sql_text

        self.con.execute(
            "create or replace table run_accounts as select account_id, customer_type, "
            "opened_at, country, segment, bank from ("
            + sql_text("staging/accounts.sql")
            + ") where reject_reason is null",
            account_staging_params(file_index),
        )

    def accounts(self, ids: list[str] | None) -> pl.DataFrame | None:
        if not self.has_accounts:
            return None
        columns = ", ".join(c.name for c in schema.ACCOUNT_COLUMNS)
        query = f"select {columns} from run_accounts"
        params: dict[str, object] = {}
        if ids is not None:
            query += " where account_id in (select unnest($ids::varchar[]))"
            params["ids"] = ids
        return self._frame(query + " order by account_id", params)

    def _select(self, table: str, accounts: list[str], tx_ids: list[str]) -> None:
        """Put the accepted input rows touching ``accounts`` or with ``tx_ids`` into the
        table ``table``, typed by the scan's staging SQL.

        Runs of at most :data:`KEEP_ROWS` accepted rows are staged whole on first use and
        kept in DuckDB, so each later call filters that table; larger runs read the input
        files again on every call with the filter applied while reading.
        """
        self.con.execute(
            "create or replace table wanted_accounts as "
            "select distinct unnest($ids::varchar[]) as id",
            {"ids": accounts},
        )
        self.con.execute(
            "create or replace table wanted_tx as select distinct unnest($ids::varchar[]) as id",
            {"ids": tx_ids},
        )
        wanted = (
            "where src_account in (select id from wanted_accounts) "
            "or dst_account in (select id from wanted_accounts) "
            "or tx_id in (select id from wanted_tx)"
        )
        if not self.keep_all:
            self._stage(table, wanted)
            return
        if not self._kept:
            self._stage("kept_rows", "")
            self._kept = True
        # three equi-joins beat one filter with OR-ed IN lists by a factor of two or more
        self.con.execute(
            f"""
            create or replace table {table} as
            select * from kept_rows where rowid in (
                select k.rowid from kept_rows k join wanted_accounts w on k.src_account = w.id
                union
                select k.rowid from kept_rows k join wanted_accounts w on k.dst_account = w.id
                union
                select k.rowid from kept_rows k join wanted_tx w on k.tx_id = w.id
            )
            order by file_index, source_row
            """
        )

    def _stage(self, table: str, where: str) -> None:
        """Stage the raw rows matching ``where`` (SQL over the canonical text columns) and
        keep the accepted ones that the run did not reject."""
        from engine.resources import sql_text

        union = " union all ".join(
            f"select {f.index} as file_index, * from {f.raw_table} {where}" for f in self.loaded
        )
        self.con.execute(f"create or replace view raw_union as {union}")
        columns = ", ".join(
            f"s.{c}" if c != "source_file" else "i.source_file" for c in TRANSACTION_FRAME_COLUMNS
        )
        self.con.execute(
            f"""
            create or replace table {table} as
            with staged as ({sql_text("staging/transactions.sql")})
            select {columns}, s.file_index
            from staged s join input_files i using (file_index)
            where s.reject_reason is null
              and not exists (
                  select 1 from run_rejects r
                  where r.source_file = i.source_file and r.source_row = s.source_row
              )
            """,
            transaction_staging_params(self.mapping, self.latest),
        )

    def rows(
        self, accounts: list[str] | None = None, tx_ids: list[str] | None = None
    ) -> pl.DataFrame:
        # the narrative and the goAML export ask for the same rows one after the other
        key = (tuple(sorted(set(accounts or []))), tuple(sorted(set(tx_ids or []))))
        if key in self._recent:
            return self._recent[key]
        self._select("picked", list(key[0]), list(key[1]))
        columns = ", ".join(TRANSACTION_FRAME_COLUMNS)
        frame = self._frame(
            f"select {columns} from picked order by timestamp, tx_id, file_index, source_row"
        )
        self._recent[key] = frame
        while len(self._recent) > _RECENT_QUERIES:
            del self._recent[next(iter(self._recent))]
        return frame

    def networks(
        self, subjects: pl.DataFrame, evidence: pl.DataFrame, hops: int, max_edges: int
    ) -> pl.DataFrame:
        """Edge lists around many subjects; ``subjects`` (alert_id, subject_id) and
        ``evidence`` (alert_id, tx_id) are small frames from the run's outputs."""
        con = self.con
        con.register("subjects_frame", subjects.to_arrow())
        con.register("evidence_frame", evidence.to_arrow())
        con.execute(
            "create or replace table net_alerts as select alert_id, subject_id from subjects_frame"
        )
        con.execute(
            "create or replace table net_evidence as select alert_id, tx_id from evidence_frame"
        )
        con.unregister("subjects_frame")
        con.unregister("evidence_frame")
        # level 1: the subjects' transfers and every evidence transaction, in one read
        self._select(
            "picked",
            subjects["subject_id"].unique().sort().to_list(),
            evidence["tx_id"].unique().sort().to_list(),
        )
        con.execute(
            """
            create or replace table net_rows as
            select a.alert_id, p.*, 1 as hop
            from picked p join net_alerts a on p.src_account = a.subject_id
            union all
            select a.alert_id, p.*, 1 as hop
            from picked p join net_alerts a on p.dst_account = a.subject_id
            union all
            select e.alert_id, p.*, $hops as hop
            from picked p join net_evidence e using (tx_id)
            join net_alerts a using (alert_id)
            where p.src_account <> a.subject_id and p.dst_account <> a.subject_id
            """,
            {"hops": hops},
        )
        con.execute(
            "create or replace table net_nodes as "
            "select alert_id, subject_id as account_id, 0 as dist from net_alerts"
        )
        for level in range(1, hops):
            # per alert, the counterparties first reached at this level: evidence first,
            # then by amount
            con.execute(
                f"""
                create or replace table frontier as
                with inner_nodes as (
                    select alert_id, account_id from net_nodes where dist = {level - 1}
                ),
                legs as (
                    select r.alert_id,
                           case when r.src_account = n.account_id then r.dst_account
                                else r.src_account end as account_id,
                           r.amount_rep,
                           e.tx_id is not null as on_evidence
                    from net_rows r
                    join inner_nodes n
                      on n.alert_id = r.alert_id
                     and (r.src_account = n.account_id or r.dst_account = n.account_id)
                    left join net_evidence e on e.alert_id = r.alert_id and e.tx_id = r.tx_id
                    where r.hop = {level}
                ),
                ranked as (
                    select alert_id, account_id, bool_or(on_evidence) as on_evidence,
                           sum(amount_rep) as amount
                    from legs
                    where account_id <> cash_account()
                      and not exists (
                          select 1 from net_nodes n
                          where n.alert_id = legs.alert_id and n.account_id = legs.account_id
                      )
                    group by alert_id, account_id
                )
                select alert_id, account_id from ranked
                qualify row_number() over (
                    partition by alert_id order by on_evidence desc, amount desc, account_id
                ) <= {MAX_FRONTIER}
                """
            )
            frontier = [
                str(r[0])
                for r in con.execute(
                    "select distinct account_id from frontier order by 1"
                ).fetchall()
            ]
            if not frontier:
                break
            con.execute(f"insert into net_nodes select alert_id, account_id, {level} from frontier")
            self._select("picked", frontier, [])
            con.execute(
                f"""
                insert into net_rows
                with reached as (
                    -- two equi-joins: a join on "src or dst" would compare every pair
                    select f.alert_id, p.* from picked p
                    join frontier f on p.src_account = f.account_id
                    union all
                    select f.alert_id, p.* from picked p
                    join frontier f on p.dst_account = f.account_id
                ),
                fresh as (
                    select distinct on (alert_id, file_index, source_row) * from reached
                )
                select r.*, {level + 1} from fresh r
                anti join net_rows n
                  on n.alert_id = r.alert_id and n.file_index = r.file_index
                 and n.source_row = r.source_row
                """
            )
            # evidence rows first labelled with the outermost hop get their hop when reached
            con.execute(
                f"""
                update net_rows set hop = {level + 1}
                where hop > {level + 1}
                  and (exists (select 1 from frontier f
                               where f.alert_id = net_rows.alert_id
                                 and f.account_id = net_rows.src_account)
                       or exists (select 1 from frontier f
                                  where f.alert_id = net_rows.alert_id
                                    and f.account_id = net_rows.dst_account))
                """
            )
        return self._frame(
            """
            with edges as (
                select r.alert_id, r.src_account, r.dst_account,
                       count(*) as tx_count,
                       sum(r.amount_rep)::double as amount_total,
                       min(r.timestamp) as first_timestamp,
                       max(r.timestamp) as last_timestamp,
                       bool_or(e.tx_id is not null) as on_evidence,
                       min(r.hop)::integer as hop
                from net_rows r
                left join net_evidence e on e.alert_id = r.alert_id and e.tx_id = r.tx_id
                group by r.alert_id, r.src_account, r.dst_account
            )
            select * from edges
            qualify row_number() over (
                partition by alert_id
                order by on_evidence desc, hop, amount_total desc, src_account, dst_account
            ) <= $max_edges
            order by alert_id, on_evidence desc, hop, amount_total desc, src_account, dst_account
            """,
            {"max_edges": max_edges},
        )

    def _frame(self, query: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        cur = cursor(self.con)
        try:
            table = cur.sql(query, params=params or {}).to_arrow_table()
        finally:
            cur.close()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
