"""The scan, top to bottom: load -> validate -> features -> typologies -> detectors ->
score -> export.

``STAGES`` declares the order; ``scan`` runs them, timing each, and ``check_inputs``
runs only the first two for ``iff validate``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb

from engine import __version__
from engine.catalog import Catalog, check_overrides, load_catalog
from engine.config import RunConfig
from engine.db import connect
from engine.detectors import AnomalyRun, score_accounts
from engine.export import check_output_dir, publish, staging_dir, write_manifest, write_tables
from engine.features import build_account_features
from engine.load import (
    ExportMapping,
    InputFormat,
    LoadedFile,
    describe_file,
    load_accounts_file,
    load_files,
    mapping_for,
    resolve_inputs,
)
from engine.reference import ReferenceFile, load_reference
from engine.rules import TypologyRun, run_typologies
from engine.score import build_alerts
from engine.validate import ValidationResult, expectation_report, stage_transactions

STAGES = ("load", "validate", "features", "typologies", "detectors", "score", "export")


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


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)

    def record(self, stage: str, started: float) -> None:
        self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - started, 3)


def scan(request: ScanRequest, progress: Progress | None = None) -> ScanResult:
    """Run a full scan and publish its output folder."""
    assert request.out_dir is not None
    progress = progress or SilentProgress()
    config = request.config
    catalog = _catalog_for(config)
    check_output_dir(request.out_dir, request.force)
    with staging_dir(request.out_dir) as tmp:
        scratch = tmp / ".scratch"
        con = connect(config, scratch)
        try:
            result, manifest = _run(con, request, catalog, progress, tmp)
        finally:
            con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        write_manifest(tmp, manifest)
        publish(tmp, request.out_dir)
    return result


def check_inputs(
    request: ScanRequest, progress: Progress | None = None
) -> tuple[ValidationResult, tuple[dict[str, Any], ...]]:
    """Load and validate only (``iff validate``); writes nothing."""
    progress = progress or SilentProgress()
    con = connect(request.config)
    try:
        timer = _Timer()
        mapping, loaded, accounts, _refs = _load_stage(con, request, progress, timer)
        return _validate_stage(con, request, mapping, loaded, accounts, progress, timer)
    finally:
        con.close()


def _catalog_for(config: RunConfig) -> Catalog:
    catalog = load_catalog()
    check_overrides(catalog, config.typology_params)
    if not config.rules_enabled:
        return Catalog(())
    return catalog.select(config.typology_ids)


def _run(
    con: duckdb.DuckDBPyConnection,
    request: ScanRequest,
    catalog: Catalog,
    progress: Progress,
    out_tmp: Path,
) -> tuple[ScanResult, dict[str, Any]]:
    timer = _Timer()
    config = request.config
    mapping, loaded, accounts, refs = _load_stage(con, request, progress, timer)
    validation, expectations = _validate_stage(
        con, request, mapping, loaded, accounts, progress, timer
    )

    started = time.perf_counter()
    progress.start("features")
    account_count = build_account_features(con)
    progress.finish("features")
    timer.record("features", started)

    started = time.perf_counter()
    progress.start("typologies", len(catalog.typologies))
    runs = run_typologies(
        con, catalog, config.typology_params, on_done=lambda _r: progress.advance("typologies")
    )
    progress.finish("typologies")
    timer.record("typologies", started)

    anomaly = None
    if config.detectors.enabled:
        started = time.perf_counter()
        progress.start("detectors")
        anomaly = score_accounts(con, config.detectors)
        progress.finish("detectors")
        timer.record("detectors", started)

    started = time.perf_counter()
    progress.start("score")
    alerts = build_alerts(con, catalog, config.scoring, config.reporting_currency)
    progress.finish("score")
    timer.record("score", started)

    started = time.perf_counter()
    progress.start("export")
    outputs = write_tables(con, out_tmp)
    progress.finish("export")
    timer.record("export", started)

    result = ScanResult(
        validation=validation,
        typology_runs=runs,
        alerts=alerts,
        outputs=outputs,
        out_dir=request.out_dir,
        timings=timer.timings,
        expectations=expectations,
        accounts=account_count,
        anomaly=anomaly,
    )
    manifest = build_manifest(request, mapping, refs, catalog, result)
    return result, manifest


def _load_stage(
    con: duckdb.DuckDBPyConnection, request: ScanRequest, progress: Progress, timer: _Timer
) -> tuple[ExportMapping, tuple[LoadedFile, ...], LoadedFile | None, tuple[ReferenceFile, ...]]:
    started = time.perf_counter()
    paths = resolve_inputs(request.inputs)
    progress.start("load", len(paths))
    mapping = mapping_for(request.input_format, request.mapping_file)
    refs = load_reference(con, request.config)
    files = tuple(describe_file(path) for path in paths)
    loaded = load_files(con, files, mapping, on_file=lambda: progress.advance("load"))
    accounts = None
    if request.accounts_file is not None:
        accounts_input = describe_file(request.accounts_file)
        accounts = load_accounts_file(con, accounts_input, index=len(loaded))
    progress.finish("load")
    timer.record("load", started)
    return mapping, loaded, accounts, refs


def _validate_stage(
    con: duckdb.DuckDBPyConnection,
    request: ScanRequest,
    mapping: ExportMapping,
    loaded: Sequence[LoadedFile],
    accounts: LoadedFile | None,
    progress: Progress,
    timer: _Timer,
) -> tuple[ValidationResult, tuple[dict[str, Any], ...]]:
    started = time.perf_counter()
    progress.start("validate", len(loaded))
    expectations = tuple(
        expectation_report(con, f, mapping, request.config.gx_sample_rows) for f in loaded
    )
    validation = stage_transactions(con, loaded, mapping, request.config, accounts)
    progress.finish("validate")
    timer.record("validate", started)
    return validation, expectations


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
