"""The ``iff`` command line. Heavy imports happen inside commands so ``--help`` is instant.

Exit codes: 0 success (with or without alerts), 2 bad input, usage, a full disk or a
--memory-limit the run cannot fit in,
1 internal error, 130 / 143 stopped by SIGINT / SIGTERM (nothing published).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from engine.pipeline import ScanRequest, ScanResult
    from engine.validate import ValidationResult


class _Group(click.Group):
    """Turns engine errors into one clear line and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from engine.errors import IffError, RunInterrupted

        try:
            return super().invoke(ctx)
        except IffError as exc:
            click.echo(f"iff: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except RunInterrupted as exc:
            click.echo(f"iff: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("iff: interrupted; no output was published", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit):
            raise
        except Exception as exc:
            from engine.runguard import resource_problem

            if (problem := resource_problem(exc)) is not None:
                click.echo(f"iff: error: {problem}", err=True)
                sys.exit(problem.exit_code)
            if os.environ.get("IFF_DEBUG"):
                raise
            click.echo(
                f"iff: internal error: {type(exc).__name__}: {exc}\n"
                "Set IFF_DEBUG=1 to see the traceback, and please report it.",
                err=True,
            )
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="iff-engine", prog_name="iff")
def cli() -> None:
    """iff-engine: find illicit financial flows linked to human trafficking in
    transaction exports and write ranked, explained alerts as Parquet."""


_input_options = [
    click.argument("inputs", nargs=-1, required=True),
    click.option(
        "--format",
        "input_format",
        type=click.Choice(["canonical", "amlworld"]),
        default="canonical",
        show_default=True,
        help="Layout of the input files.",
    ),
    click.option(
        "--mapping",
        "mapping_file",
        type=click.Path(path_type=Path),
        help="TOML file mapping a bank export onto the canonical columns.",
    ),
    click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path),
        help="TOML file with run settings and typology parameters.",
    ),
    click.option(
        "--memory-limit",
        help="Memory limit of the whole run, e.g. 8GB: DuckDB gets what the rest of the "
        "process leaves and spills beyond it; a run that cannot fit stops with exit code 2.",
    ),
    click.option("--threads", type=int, help="DuckDB worker threads (default: all cores)."),
    click.option("--as-of", help="Reference date YYYY-MM-DD for the future-timestamp check."),
    click.option("--quiet", is_flag=True, help="No progress bars or summary table."),
    click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout."),
]


def _with_input_options(func: Any) -> Any:
    for option in reversed(_input_options):
        func = option(func)
    return func


def _request(
    inputs: tuple[str, ...],
    out: Path | None,
    input_format: str,
    mapping_file: Path | None,
    config_file: Path | None,
    memory_limit: str | None,
    threads: int | None,
    as_of: str | None,
    typology: tuple[str, ...] = (),
    force: bool = False,
    accounts_file: Path | None = None,
) -> ScanRequest:
    from datetime import date

    from engine.config import load_config
    from engine.errors import InputError
    from engine.pipeline import ScanRequest

    config = load_config(config_file)
    as_of_date = None
    if as_of is not None:
        try:
            as_of_date = date.fromisoformat(as_of)
        except ValueError as exc:
            raise InputError(f"--as-of must be a date YYYY-MM-DD, got {as_of!r}") from exc
    config = config.with_overrides(
        memory_limit=memory_limit,
        threads=threads,
        as_of=as_of_date,
        typology_ids=tuple(typology) or None,
    )
    return ScanRequest(
        inputs=inputs,
        out_dir=out,
        config=config,
        input_format=input_format,  # type: ignore[arg-type]
        mapping_file=mapping_file,
        # absolute in the manifest, so the run's inputs can be read back from anywhere
        accounts_file=accounts_file.resolve() if accounts_file is not None else None,
        force=force,
    )


@cli.command()
@_with_input_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output folder (must not exist unless --force).",
)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(path_type=Path),
    help="Optional accounts file (account_id, customer_type, opened_at, ...).",
)
@click.option("--typology", multiple=True, help="Run only this typology (repeatable).")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
def scan(
    inputs: tuple[str, ...],
    out: Path,
    input_format: str,
    mapping_file: Path | None,
    config_file: Path | None,
    memory_limit: str | None,
    threads: int | None,
    as_of: str | None,
    quiet: bool,
    as_json: bool,
    accounts_file: Path | None,
    typology: tuple[str, ...],
    force: bool,
) -> None:
    """Scan transaction exports (CSV, CSV.GZ or Parquet files, globs or folders) and
    write alerts.parquet, account_scores.parquet, hits.parquet, evidence.parquet,
    rejects.parquet and manifest.json into --out."""
    from engine.pipeline import scan as run_scan

    request = _request(
        inputs,
        out,
        input_format,
        mapping_file,
        config_file,
        memory_limit,
        threads,
        as_of,
        typology,
        force,
        accounts_file,
    )
    from engine.runguard import interruptible

    with (
        interruptible(),
        _progress(enabled=not quiet and not as_json, batch_lines=not quiet) as progress,
    ):
        result = run_scan(request, progress)
    _warn_if_no_rows(result.validation, outputs=True)
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2, sort_keys=True, default=str))
    elif not quiet:
        _print_scan_summary(result)


@cli.command()
@_with_input_options
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(path_type=Path),
    help="Optional accounts file to check as well.",
)
def validate(
    inputs: tuple[str, ...],
    input_format: str,
    mapping_file: Path | None,
    config_file: Path | None,
    memory_limit: str | None,
    threads: int | None,
    as_of: str | None,
    quiet: bool,
    as_json: bool,
    accounts_file: Path | None,
) -> None:
    """Check input files against the contract and report; writes nothing."""
    from engine.pipeline import check_inputs

    request = _request(
        inputs,
        None,
        input_format,
        mapping_file,
        config_file,
        memory_limit,
        threads,
        as_of,
        accounts_file=accounts_file,
    )
    from engine.runguard import interruptible

    with (
        interruptible(),
        _progress(enabled=not quiet and not as_json, batch_lines=not quiet) as progress,
    ):
        validation, expectations = check_inputs(request, progress)
    _warn_if_no_rows(validation, outputs=False)
    if as_json:
        payload = {
            "rows_read": validation.rows_read,
            "rows_accepted": validation.rows_accepted,
            "rows_rejected": validation.rows_rejected,
            "rejects_by_reason": dict(validation.rejects_by_reason),
            "files": [f.__dict__ for f in validation.files],
            "expectations": list(expectations),
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
    elif not quiet:
        _print_validation(validation, expectations)


@cli.group()
def typologies() -> None:
    """Inspect the typology catalog."""


@typologies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def typologies_list(as_json: bool) -> None:
    """List every typology with family, severity, status and sources."""
    from engine.catalog import load_catalog

    catalog = load_catalog()
    if as_json:
        click.echo(json.dumps([_typology_record(t) for t in catalog.typologies], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(catalog.typologies)} typologies")
    for col in ("id", "family", "severity", "score", "status", "v", "title", "sources"):
        table.add_column(col)
    for t in catalog.typologies:
        sources = "; ".join(
            r.document + ("" if r.verified else " (unverified)") for r in t.references
        )
        table.add_row(
            t.id,
            t.family,
            t.severity,
            str(t.risk_score),
            t.status,
            str(t.version),
            t.title,
            sources,
        )
    Console().print(table)


@typologies.command("show")
@click.argument("typology_id")
def typologies_show(typology_id: str) -> None:
    """Show one typology: metadata, parameters with their reasoning, and its SQL."""
    import yaml

    from engine.catalog import load_catalog

    t = load_catalog().get(typology_id)
    record = _typology_record(t)
    record["sql_file"] = str(t.sql_path)
    click.echo(yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100))
    click.echo("--- SQL ---")
    click.echo(t.sql)


@typologies.command("test")
@click.argument("typology_ids", nargs=-1)
@click.option(
    "--cases",
    "cases_root",
    type=click.Path(path_type=Path),
    help="Folder of <ID>/pos_*.yaml and neg_*.yaml cases (default: the shipped ones).",
)
def typologies_test(typology_ids: tuple[str, ...], cases_root: Path | None) -> None:
    """Run the must-fire / must-not-fire cases of the given typologies (default: all)."""
    from engine.cases import run_cases
    from engine.catalog import load_catalog
    from engine.resources import cases_dir

    root = cases_root or cases_dir()
    results = run_cases(load_catalog().select(typology_ids), root)
    failed = [r for r in results if not r.passed]
    for r in results:
        click.echo(f"{'PASS' if r.passed else 'FAIL'}  {r.typology_id}  {r.path.name}")
        for problem in r.problems:
            click.echo(f"      {problem}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


@typologies.command("new")
@click.argument("typology_id")
@click.option("--title", help="One-line title (default: a reminder to write one).")
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Project folder holding typologies/, sql/typologies/ and fixtures/typologies/.",
)
def typologies_new(typology_id: str, title: str | None, root: Path) -> None:
    """Start a new typology from the template: typologies/ID.yaml, sql/typologies/ID.sql
    and a must-fire and a must-not-fire case in fixtures/typologies/ID/."""
    from engine.scaffold import scaffold_typology

    for path in scaffold_typology(root, typology_id, title):
        click.echo(f"wrote {path}")
    click.echo(f"next: make them the real typology, then `iff typologies test {typology_id}`")


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Folder of the HTML report (default: RUN_DIR/report).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Alerts that get a page of their own, by rank.",
)
def report(run_dir: Path, out_dir: Path | None, top: int) -> None:
    """Write an HTML report of a finished run (offline, one folder) and print the path
    of its index.html."""
    from engine.api import open_run
    from engine.report import write_report

    open_run(run_dir)  # a clear error when RUN_DIR is not a run folder
    index = write_report(run_dir, out_dir or run_dir / "report", top)
    click.echo(str(index))


@cli.group()
def export() -> None:
    """Export alerts of a finished run for filing."""


@export.command("goaml")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--alert", "alert_ids", multiple=True, help="Alert id to export (repeatable).")
@click.option("--top", type=int, help="Export the N highest-ranked alerts.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the XML files (one <alert_id>.xml per alert).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="TOML file with a [goaml] table (rentity_id, submission_code, report_code, "
    "currency_code_local, [goaml.reporting_person] first_name and last_name, ...).",
)
def export_goaml(
    run_dir: Path,
    alert_ids: tuple[str, ...],
    top: int | None,
    out_dir: Path,
    config_file: Path | None,
) -> None:
    """Write one goAML STR XML file per alert, checked against the shipped XSD subset,
    and print their paths."""
    from engine.api import open_run
    from engine.errors import InputError
    from engine.goaml import export_goaml as write_goaml
    from engine.goaml import load_goaml_config, select_alerts

    if bool(alert_ids) == (top is not None):
        raise InputError("give either --alert ID (repeatable) or --top N")
    config = load_goaml_config(config_file)
    with open_run(run_dir) as run:
        chosen, skipped = select_alerts(run, alert_ids, top)
        paths = write_goaml(run, chosen, out_dir, config)
    for alert_id in skipped:
        click.echo(
            f"iff: skipped alert {alert_id}: it cites no evidence transaction "
            "(anomaly detectors only)",
            err=True,
        )
    for path in paths:
        click.echo(str(path))


def _typology_record(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "family": t.family,
        "status": t.status,
        "version": t.version,
        "severity": t.severity,
        "risk_score": t.risk_score,
        "likely_role": t.likely_role,
        "description": t.description,
        "references": [r.__dict__ for r in t.references],
        "tags": list(t.tags),
        "requires": list(t.requires),
        "params": {p.name: {"default": p.default, "description": p.description} for p in t.params},
        "falsepositives": list(t.falsepositives),
        "runbook": t.runbook,
        "bounds": t.bounds,
        "content_hash": t.content_hash,
    }


class _RichProgress:
    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<11}"),
            BarColumn(),
            TextColumn("{task.completed}"),
            TimeElapsedColumn(),
            transient=False,
            redirect_stdout=False,
        )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, stage: str, total: int | None = None) -> None:
        self._tasks[stage] = self._progress.add_task(stage, total=total)

    def advance(self, stage: str, step: int = 1) -> None:
        if stage in self._tasks:
            self._progress.advance(self._tasks[stage], step)

    def finish(self, stage: str) -> None:
        if stage in self._tasks:
            task = self._tasks[stage]
            total = self._progress.tasks[task].total
            self._progress.update(task, total=total or 1, completed=total or 1)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, stage: str, total: int | None = None) -> None:
        pass

    def advance(self, stage: str, step: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


class _LineProgress(_NoProgress):
    """Stage lines on stderr for batch runs (no terminal, or --json)."""

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._started: dict[str, float] = {}

    def start(self, stage: str, total: int | None = None) -> None:
        self._started[stage] = self._clock()
        click.echo(f"iff: {stage} started", err=True)

    def finish(self, stage: str) -> None:
        seconds = self._clock() - self._started.get(stage, self._clock())
        click.echo(f"iff: {stage} finished in {seconds:.1f} s", err=True)


def _progress(enabled: bool, batch_lines: bool = True) -> Any:
    """Bars on a terminal; one line per stage on stderr otherwise; nothing with --quiet."""
    if enabled and sys.stderr.isatty():
        return _RichProgress()
    if batch_lines:
        return _LineProgress()
    return _NoProgress()


def _warn_if_no_rows(validation: ValidationResult, outputs: bool) -> None:
    """A run over inputs without a single row succeeds, but says so on stderr."""
    if validation.rows_read == 0:
        click.echo(
            f"iff: warning: the {len(validation.files)} input file(s) hold no data rows "
            "(header only)" + ("; the outputs are empty" if outputs else ""),
            err=True,
        )


def _print_validation(validation: ValidationResult, expectations: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Input files")
    for col in ("file", "rows read", "accepted", "rejected"):
        table.add_column(col, justify="right" if col != "file" else "left")
    for f in validation.files:
        table.add_row(f.path, f"{f.rows_read:,}", f"{f.rows_accepted:,}", f"{f.rows_rejected:,}")
    table.add_row(
        "total",
        f"{validation.rows_read:,}",
        f"{validation.rows_accepted:,}",
        f"{validation.rows_rejected:,}",
        style="bold",
    )
    console.print(table)
    if validation.rejects_by_reason:
        reasons = Table(title="Rejected rows by reason")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for code, count in validation.rejects_by_reason:
            reasons.add_row(code, f"{count:,}")
        console.print(reasons)
    for report in expectations:
        failed = [o for o in report.get("outcomes", []) if not o["success"]]
        status = "passed" if not failed else f"{len(failed)} expectation(s) failed"
        console.print(
            f"Great Expectations on {report['rows_checked']:,} sampled rows of "
            f"{report['file']}: {status}"
        )
        for o in failed:
            console.print(
                f"  {o['column']}: {o['expectation']} ({o['unexpected_count']:,} unexpected)"
            )


def _print_scan_summary(result: ScanResult) -> None:
    from rich.console import Console
    from rich.table import Table

    _print_validation(result.validation, result.expectations)
    console = Console()
    hits = Table(title="Typology hits")
    hits.add_column("typology")
    hits.add_column("hits", justify="right")
    hits.add_column("seconds", justify="right")
    for run in result.typology_runs:
        hits.add_row(f"{run.typology_id} v{run.version}", f"{run.hits:,}", f"{run.seconds:.2f}")
    console.print(hits)
    console.print(f"[bold]{result.alerts:,} alerts[/bold] written to {result.out_dir}/")
    for name, rows in result.outputs.items():
        console.print(f"  {name}: {rows:,} rows")
    console.print(f"  manifest.json; stage seconds: {result.timings}")


def main() -> None:
    """Console-script entry point."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("iff: interrupted; no output was published", err=True)
        sys.exit(130)
