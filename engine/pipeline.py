"""The scan, top to bottom: load -> validate -> features -> typologies -> detectors ->
score -> export.

``STAGES`` declares each stage as data: its name, the function that runs it, the tables it
reads and the tables it writes. ``run_stages`` runs them in that order, all or up to one of
them, with one timer and one progress path: ``scan`` runs all, ``check_inputs`` (``iff
validate``) runs up to ``validate`` and the fixture cases (``engine.cases``) up to
``typologies``. A stage creates every table it declares, also when it has nothing to do
(detectors off: empty anomaly tables), so the next stage never asks what ran before it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import duckdb
import pyarrow as pa

from engine import __version__
from engine.catalog import Catalog, check_overrides, load_catalog
from engine.config import RunConfig
from engine.db import compact, connect, fit_memory
from engine.detectors import (
    ANOMALY_TABLES,
    AnomalyRun,
    create_empty_anomaly_tables,
    score_accounts,
)
from engine.errors import StageError
from engine.export import check_output_dir, publish, staging_dir, write_manifest, write_tables
from engine.features import FEATURE_TABLES, build_account_features
from engine.load import (
    ACCOUNTS_MAPPING,
    CANONICAL_MAPPING,
    ExportMapping,
    InputFormat,
    LoadedFile,
    describe_file,
    load_accounts_file,
    load_arrow_rows,
    load_files,
    mapping_for,
    resolve_inputs,
)
from engine.reference import ReferenceFile, load_reference
from engine.rules import TypologyRun, run_typologies
from engine.runguard import raise_if_interrupted, watched
from engine.score import SCORE_TABLES, build_alerts
from engine.validate import (
    ValidationResult,
    expectation_record,
    expectation_sample,
    expectation_sample_sizes,
    stage_transactions,
)


class Progress(Protocol):
    """Receives stage progress; the CLI draws bars from it."""

    def start(self, stage: str, total: int | None = None) -> None: ...
    def advance(self, stage: str, step: int = 1) -> None: ...
    def finish(self, stage: str) -> None: ...


class SilentProgress:
    def start(self, stage: str, total: int | None = None) -> None:
        pass

    def advance(self, stage: str, step: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


@dataclass(frozen=True)
class ScanRequest:
    inputs: tuple[str, ...]
    out_dir: Path | None
    config: RunConfig = field(default_factory=RunConfig)
    input_format: InputFormat = "canonical"
    mapping_file: Path | None = None
    accounts_file: Path | None = None
    force: bool = False


@dataclass(frozen=True)
class InlineRows:
    """Transactions given as an in-memory text table instead of files (fixture cases):
    canonical columns, omitted ones ``NULL``; ``accounts`` optionally the same for the
    accounts file. ``source_name`` stands for the file name in rejects."""

    transactions: pa.Table
    source_name: str
    accounts: pa.Table | None = None


@dataclass
class ScanContext:
    """What the stages share: the run's inputs, then what each stage reports.

    The stages' tables live in the DuckDB connection; this holds the rest (the files read,
    row accounting, typology runs, ...). ``run_stages`` fills it in stage order.
    """

    request: ScanRequest
    catalog: Catalog
    progress: Progress = field(default_factory=SilentProgress)
    rows: InlineRows | None = None
    out_dir: Path | None = None
    paths: tuple[Path, ...] = ()
    mapping: ExportMapping = CANONICAL_MAPPING
    refs: tuple[ReferenceFile, ...] = ()
    loaded: tuple[LoadedFile, ...] = ()
    accounts: LoadedFile | None = None
    validation: ValidationResult | None = None
    # the Great Expectations reports, computed on a worker thread from the validate
    # stage on: read them through ``expectation_reports``
    expectation_jobs: tuple[Future[dict[str, Any]], ...] = ()
    account_count: int = 0
    typology_runs: tuple[TypologyRun, ...] = ()
    anomaly: AnomalyRun | None = None
    alerts: int = 0
    outputs: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def config(self) -> RunConfig:
        return self.request.config

    @property
    def rows_read(self) -> int:
        """Transaction rows read from every input file (what the memory check rests on)."""
        return sum(f.rows_read for f in self.loaded)

    def expectation_reports(self) -> tuple[dict[str, Any], ...]:
        """The Great Expectations report of each input file, waiting for the worker
        thread where it is still running (a failure of the suite is raised here)."""
        return tuple(job.result() for job in self.expectation_jobs)

    @classmethod
    def for_request(
        cls, request: ScanRequest, catalog: Catalog, progress: Progress | None = None
    ) -> ScanContext:
        """A context for files named by ``request`` (resolved here: a missing input
        fails before anything runs)."""
        return cls(
            request=request,
            catalog=catalog,
            progress=progress or SilentProgress(),
            out_dir=request.out_dir,
            paths=resolve_inputs(request.inputs),
        )


@dataclass(frozen=True)
class ScanResult:
    validation: ValidationResult
    typology_runs: tuple[TypologyRun, ...]
    alerts: int
    outputs: dict[str, int]
    out_dir: Path | None
    timings: dict[str, float]
    expectations: tuple[dict[str, Any], ...] = field(default=())
    accounts: int = 0
    anomaly: AnomalyRun | None = None

    def summary(self) -> dict[str, Any]:
        """Machine-readable summary (``--json``)."""
        v = self.validation
        return {
            "rows_read": v.rows_read,
            "rows_accepted": v.rows_accepted,
            "rows_rejected": v.rows_rejected,
            "rejects_by_reason": dict(v.rejects_by_reason),
            "files": [f.__dict__ for f in v.files],
            "hits_per_typology": {r.typology_id: r.hits for r in self.typology_runs},
            "accounts": self.accounts,
            "anomaly": asdict(self.anomaly) if self.anomaly else None,
            "alerts": self.alerts,
            "outputs": {k: v for k, v in self.outputs.items()},
            "out_dir": str(self.out_dir) if self.out_dir else None,
            "timings_seconds": self.timings,
        }


# --------------------------------------------------------------------------- the stages


def _load(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    ctx.refs = load_reference(con, ctx.config)
    if ctx.rows is not None:
        rows = ctx.rows
        ctx.loaded = (load_arrow_rows(con, rows.transactions, rows.source_name),)
        if rows.accounts is not None:
            ctx.accounts = load_arrow_rows(
                con, rows.accounts, rows.source_name, ACCOUNTS_MAPPING, index=1
            )
        ctx.progress.advance("load")
        return
    request = ctx.request
    ctx.mapping = mapping_for(request.input_format, request.mapping_file)
    files = tuple(describe_file(path) for path in ctx.paths)
    ctx.loaded = load_files(con, files, ctx.mapping, on_file=lambda: ctx.progress.advance("load"))
    if request.accounts_file is not None:
        accounts_input = describe_file(request.accounts_file)
        ctx.accounts = load_accounts_file(con, accounts_input, index=len(ctx.loaded))
    fit_memory(con, ctx.config, ctx.rows_read)


def _validate(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    # the Great Expectations report describes export files; in-memory rows have none.
    # The samples are read here (staging drops the raw tables); the suite, Python only
    # and a few seconds whatever the export's size (most of it importing the library),
    # runs on a worker thread while DuckDB stages the rows and goes on with the next
    # stages; the reports are gathered for the result
    if ctx.rows is None:
        sizes = expectation_sample_sizes(
            [f.rows_read for f in ctx.loaded], ctx.config.gx_sample_rows
        )
        samples = [
            expectation_sample(con, f, ctx.mapping, size)
            for f, size in zip(ctx.loaded, sizes, strict=True)
        ]
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="expectations")
        ctx.expectation_jobs = tuple(worker.submit(expectation_record, s) for s in samples)
        # the thread ends once the queued reports are done; nothing waits for it here
        worker.shutdown(wait=False)
    ctx.validation = stage_transactions(con, ctx.loaded, ctx.mapping, ctx.config, ctx.accounts)


def _features(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    ctx.account_count = build_account_features(con)
    fit_memory(con, ctx.config, ctx.rows_read, ctx.account_count)


def _typologies(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    ctx.typology_runs = run_typologies(
        con,
        ctx.catalog,
        ctx.config.typology_params,
        on_done=lambda _r: ctx.progress.advance("typologies"),
    )


def _detectors(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    if ctx.config.detectors.enabled:
        # DuckDB makes room for the detectors' working set while they run only
        fit_memory(con, ctx.config, ctx.rows_read, ctx.account_count, detectors_running=True)
        # the accounts whose anomaly counts as evidence are explained even without a
        # hit: an anomaly alone brings them to the top of account_scores
        ctx.anomaly = score_accounts(
            con, ctx.config.detectors, explain_from=ctx.config.scoring.anomaly_floor
        )
        fit_memory(con, ctx.config, ctx.rows_read, ctx.account_count)
    else:
        create_empty_anomaly_tables(con)


def _score(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    ctx.alerts = build_alerts(con, ctx.catalog, ctx.config.scoring, ctx.config.reporting_currency)


def _export(con: duckdb.DuckDBPyConnection, ctx: ScanContext) -> None:
    if ctx.out_dir is None:
        raise StageError("export", "no output folder to write to")
    ctx.outputs = write_tables(con, ctx.out_dir)


def _no_total(ctx: ScanContext) -> int | None:
    return None


@dataclass(frozen=True)
class Stage:
    """One stage of the scan.

    Attributes:
        name: the stage's name in progress lines, timings and ``run_stages(until=...)``.
        run: does the work on the connection and records its results in the context.
        reads: the tables and views it reads (besides the macros).
        writes: the tables and views it creates; every one of them, every time.
            A name ending in ``*`` stands for a family (``raw_*``: one raw table per file).
        total: how many steps its progress bar counts (``None``: no count).
    """

    name: str
    run: Callable[[duckdb.DuckDBPyConnection, ScanContext], None]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    total: Callable[[ScanContext], int | None] = _no_total


REFERENCE: Final = ("ref_*",)
"""The reference tables (``engine.reference``), read as a family by most stages."""
STAGED: Final = (
    "input_files",
    "reject_details",
    "staged",
    "staged_accounts",
    "transactions",
    "accounts",
    "rejects",
)

STAGES: Final[tuple[Stage, ...]] = (
    Stage(
        "load",
        _load,
        reads=(),
        writes=(*REFERENCE, "raw_*", "raw_structural_rejects", "value_map"),
        total=lambda ctx: max(1, len(ctx.paths)),
    ),
    Stage(
        "validate",
        _validate,
        reads=(*REFERENCE, "raw_*", "raw_structural_rejects", "value_map"),
        writes=STAGED,
        total=lambda ctx: len(ctx.loaded),
    ),
    Stage(
        "features",
        _features,
        reads=(*REFERENCE, "transactions", "accounts"),
        writes=FEATURE_TABLES,
    ),
    Stage(
        "typologies",
        _typologies,
        reads=(*REFERENCE, "transactions", "accounts", *FEATURE_TABLES),
        writes=("hits",),
        total=lambda ctx: len(ctx.catalog.typologies),
    ),
    Stage(
        "detectors",
        _detectors,
        reads=("account_features", "account_graph", "hits"),
        writes=ANOMALY_TABLES,
    ),
    Stage(
        "score",
        _score,
        reads=(
            "transactions",
            "account_legs",
            "account_keys",
            "pair_flows",
            "account_features",
            "wage_credits",
            "hits",
            *ANOMALY_TABLES,
        ),
        writes=SCORE_TABLES,
    ),
    Stage(
        "export",
        _export,
        reads=("alerts", "account_scores", "scored_hits", "alert_keys", "evidence", "rejects"),
        writes=(),
    ),
)

STAGE_NAMES: Final = tuple(stage.name for stage in STAGES)


def stage_range(start: str | None = None, until: str | None = None) -> tuple[Stage, ...]:
    """The stages from ``start`` (default: the first) up to and including ``until``
    (default: the last), in order."""
    for name in (start, until):
        if name is not None and name not in STAGE_NAMES:
            raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")
    first = STAGE_NAMES.index(start) if start is not None else 0
    last = STAGE_NAMES.index(until) if until is not None else len(STAGES) - 1
    return STAGES[first : last + 1]


def declares(names: Sequence[str], table: str) -> bool:
    """Whether ``table`` is one of ``names`` (a name ending in ``*`` matches a family)."""
    return any(fnmatch.fnmatchcase(table, name) for name in names)


def run_stages(
    con: duckdb.DuckDBPyConnection,
    ctx: ScanContext,
    until: str | None = None,
    start: str | None = None,
) -> ScanContext:
    """Run the stages in order from ``start`` up to and including ``until`` (default: all),
    timing each. A run that starts later continues one that stopped just before."""
    for stage in stage_range(start, until):
        started = time.perf_counter()
        ctx.progress.start(stage.name, stage.total(ctx))
        stage.run(con, ctx)
        compact(con)
        raise_if_interrupted()
        ctx.progress.finish(stage.name)
        ctx.timings[stage.name] = round(time.perf_counter() - started, 3)
    return ctx


# --------------------------------------------------------------------------- entry points


def scan(request: ScanRequest, progress: Progress | None = None) -> ScanResult:
    """Run a full scan and publish its output folder."""
    assert request.out_dir is not None
    config = request.config
    catalog = _catalog_for(config)
    check_output_dir(request.out_dir, request.force)
    ctx = ScanContext.for_request(request, catalog, progress)
    with staging_dir(request.out_dir) as tmp:
        ctx.out_dir = tmp
        scratch = tmp / ".scratch"
        con = watched(connect(config, scratch))
        try:
            run_stages(con, ctx)
        finally:
            con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        result = _result(ctx)
        write_manifest(tmp, build_manifest(request, ctx.mapping, ctx.refs, catalog, result))
        publish(tmp, request.out_dir)
    return result


def check_inputs(
    request: ScanRequest, progress: Progress | None = None
) -> tuple[ValidationResult, tuple[dict[str, Any], ...]]:
    """Load and validate only (``iff validate``); writes nothing."""
    ctx = ScanContext.for_request(request, Catalog(()), progress)
    con = watched(connect(request.config))
    try:
        run_stages(con, ctx, until="validate")
    finally:
        con.close()
    assert ctx.validation is not None
    return ctx.validation, ctx.expectation_reports()


def _catalog_for(config: RunConfig) -> Catalog:
    catalog = load_catalog()
    check_overrides(catalog, config.typology_params)
    if not config.rules_enabled:
        return Catalog(())
    return catalog.select(config.typology_ids)


def _result(ctx: ScanContext) -> ScanResult:
    assert ctx.validation is not None
    return ScanResult(
        validation=ctx.validation,
        typology_runs=ctx.typology_runs,
        alerts=ctx.alerts,
        outputs=ctx.outputs,
        out_dir=ctx.request.out_dir,
        timings=ctx.timings,
        expectations=ctx.expectation_reports(),
        accounts=ctx.account_count,
        anomaly=ctx.anomaly,
    )


def build_manifest(
    request: ScanRequest,
    mapping: ExportMapping,
    refs: Sequence[ReferenceFile],
    catalog: Catalog,
    result: ScanResult,
) -> dict[str, Any]:
    """Everything needed to reproduce and audit the run."""
    v = result.validation
    typologies = [
        {
            "id": run.typology_id,
            "version": run.version,
            "content_hash": run.content_hash,
            "params": dict(run.params),
            "hits": run.hits,
            "seconds": run.seconds,
        }
        for run in result.typology_runs
    ]
    inputs = [f.__dict__ for f in v.files]
    identity = {
        "inputs": [(f["sha256"], f["rows_read"]) for f in inputs],
        "typologies": [(t["id"], t["version"], t["content_hash"], t["params"]) for t in typologies],
        "config": request.config.to_record(),
        "mapping": mapping.name,
        "references": [(r.name, r.sha256) for r in refs],
    }
    run_id = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[
        :32
    ]
    return {
        "engine": {"name": "iff-engine", "version": __version__},
        "run_id": run_id,
        "input_format": request.input_format,
        "mapping": mapping.name,
        "mapping_file": str(request.mapping_file.resolve()) if request.mapping_file else None,
        "config": request.config.to_record(),
        "latest_allowed_timestamp": v.latest_allowed.isoformat(),
        "inputs": inputs,
        "reference_files": [
            {"name": r.name, "path": str(r.path), "sha256": r.sha256} for r in refs
        ],
        "typologies": typologies,
        "row_accounting": {
            "rows_read": v.rows_read,
            "rows_accepted": v.rows_accepted,
            "rows_rejected": v.rows_rejected,
            "balanced": v.rows_read == v.rows_accepted + v.rows_rejected,
            "rejects_by_reason": dict(v.rejects_by_reason),
        },
        "expectations": list(result.expectations),
        "accounts": result.accounts,
        "anomaly": asdict(result.anomaly) if result.anomaly else None,
        "alerts": result.alerts,
        "outputs": result.outputs,
        "timings_seconds": result.timings,
    }
