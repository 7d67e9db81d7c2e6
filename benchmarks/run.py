"""Benchmark harness: generate (or reuse) a dataset, scan it, score it, record the cost.

    python -m benchmarks.run --size 1M                  # fused, rules-only, detectors-only
    python -m benchmarks.run --size 1M --population b   # the second normal population
    python -m benchmarks.run --size 10M --modes fused
    python -m benchmarks.run --amlworld data/HI-Small   # *_Trans.csv + *_Patterns.txt
    python -m benchmarks.run --dataset ../shared/datasets/amlgentex-20k --modes fused
                                                        # any canonical dataset with a truth file

Writes ``benchmarks/results/<name>.json`` and ``<name>.md``. The headline cost figure is
the ratio of the scan's wall time to the *floor*: a bare DuckDB query that reads every
column of the same files once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from benchmarks.ordinary import POPULATIONS
from benchmarks.scoring import score_alerts, score_transactions

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / ".cache" / "datasets"
MODES = {
    "fused": ["--config", "{fused}"],
    "rules": ["--config", "{rules}"],
    "detectors": ["--config", "{detectors}"],
}
_MODE_CONFIG = {
    "fused": "",
    "rules": "[detectors]\nenabled = false\n",
    "detectors": "rules_enabled = false\n",
}


@dataclass(frozen=True)
class ProcessCost:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    peak_spill_mb: float = 0.0


SPILL_SAMPLE_SECONDS: Final = 0.5
"""How often the harness sums the scan's spill files (DuckDB creates and deletes them as
it goes, so the peak is sampled, not read afterwards)."""


def spill_bytes(workdir: Path) -> int:
    """Bytes in DuckDB's spill files of the scans under ``workdir`` now: the files of every
    ``.scratch/spill`` folder (the scan's staging folder, engine/pipeline.py) below it."""
    total = 0
    for folder in workdir.glob("**/.scratch/spill"):
        for path in folder.rglob("*"):
            try:
                status = path.stat()
            except FileNotFoundError:  # deleted between the listing and the stat
                continue
            total += status.st_size if stat.S_ISREG(status.st_mode) else 0
    return total


def run_measured(args: list[str], spill_dir: Path | None = None) -> ProcessCost:
    """Run a command; wall time and the peak resident memory of that process alone, and,
    with ``spill_dir``, the most spill it held at once (sampled, ``spill_bytes``)."""
    started = time.perf_counter()
    peak_spill = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_spill
        while spill_dir is not None and not done.wait(SPILL_SAMPLE_SECONDS):
            peak_spill = max(peak_spill, spill_bytes(spill_dir))

    sampler = threading.Thread(target=sample, daemon=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return ProcessCost(
            round(seconds, 2),
            round(usage.ru_maxrss / 1024, 1),
            proc.returncode,
            out.read().decode(),
            err.read().decode(),
            round(peak_spill / 1e6, 1),
        )


def floor_cost(files: list[Path], fmt: str) -> ProcessCost:
    """A bare DuckDB aggregate that reads every column of the inputs once."""
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    code = (
        "import duckdb, sys\n"
        "files = sys.argv[1:]\n"
        f"rel = duckdb.sql(\"select * from {reader}($f)\", params={{'f': files}})\n"
        "cols = ', '.join(f'count(\"{c}\")' for c in rel.columns)\n"
        f'query = f"select {{cols}} from {reader}($f)"\n'
        "print(duckdb.execute(query, {'f': files}).fetchall())\n"
    )
    return run_measured([sys.executable, "-c", code, *map(str, files)])


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size like 10k, 1M or 250000, got {text!r}")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * factor)


def scan(
    files: list[Path], out: Path, mode: str, extra: list[str], workdir: Path
) -> tuple[ProcessCost, dict[str, Any]]:
    config = workdir / f"{mode}.toml"
    config.write_text(_MODE_CONFIG[mode], encoding="utf-8")
    args = [
        sys.executable,
        "-m",
        "engine",
        "scan",
        *map(str, files),
        "--out",
        str(out),
        "--force",
        "--json",
        "--as-of",
        "2099-12-31",
        "--config",
        str(config),
        *extra,
    ]
    cost = run_measured(args, spill_dir=workdir)
    if cost.returncode != 0:
        raise SystemExit(f"scan failed ({mode}): {cost.stderr.strip()[-2000:]}")
    return cost, json.loads(cost.stdout)


def output_sizes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}


def run_modes(
    args: argparse.Namespace,
    files: list[Path],
    fmt: str,
    accounts: Path | None,
    truth: Path,
) -> dict[str, Any]:
    """Scan ``files`` once per mode and score each run against ``truth``."""
    floor = floor_cost(files, fmt)
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        for mode in args.modes:
            out = Path(tmp) / mode
            extra = ["--accounts", str(accounts)] if accounts is not None else []
            if args.memory_limit:
                extra += ["--memory-limit", args.memory_limit]
            cost, summary = scan(files, out, mode, extra, Path(tmp))
            detection = score_alerts(
                out / "alerts.parquet",
                truth,
                int(summary["accounts"]),
                out / "account_scores.parquet",
            )
            manifest = json.loads((out / "manifest.json").read_text())
            runs[mode] = {
                "typology_seconds": {t["id"]: t["seconds"] for t in manifest["typologies"]},
                "hits_per_typology": summary["hits_per_typology"],
                "wall_seconds": cost.seconds,
                "peak_rss_mb": cost.peak_rss_mb,
                "peak_spill_mb": cost.peak_spill_mb,
                "tx_per_second": round(summary["rows_read"] / cost.seconds),
                "floor_ratio": round(cost.seconds / floor.seconds, 1) if floor.seconds else None,
                "stage_seconds": summary["timings_seconds"],
                "rows": {k: summary[k] for k in ("rows_read", "rows_accepted", "rows_rejected")},
                "output_bytes": output_sizes(out),
                "detection": detection.to_record(),
            }
    return {
        "floor": {"wall_seconds": floor.seconds, "peak_rss_mb": floor.peak_rss_mb},
        "runs": runs,
    }


_TRUTH_NAMES = ("truth_accounts.parquet", "truth_accounts.csv", "truth.parquet", "truth.csv")
_ACCOUNTS_NAMES = ("accounts.parquet", "accounts.csv", "accounts.csv.gz")


def dataset(args: argparse.Namespace) -> dict[str, Any]:
    """A canonical dataset folder: transaction files, an optional accounts file and a truth
    file (``truth_accounts.*``: account_id and role, or account_id and a 0/1 label)."""
    folder = Path(args.dataset)
    truth = (
        Path(args.truth)
        if args.truth
        else next((folder / n for n in _TRUTH_NAMES if (folder / n).exists()), None)
    )
    if truth is None:
        raise SystemExit(f"{folder}: no truth file ({', '.join(_TRUTH_NAMES)}); pass --truth")
    accounts = next((folder / n for n in _ACCOUNTS_NAMES if (folder / n).exists()), None)
    skip = {truth.name, *(_ACCOUNTS_NAMES)}
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.name not in skip
        and not p.name.startswith(("truth", "."))
        and p.name.endswith((".parquet", ".csv", ".csv.gz"))
    )
    if not files:
        raise SystemExit(f"{folder}: no transaction files (*.parquet, *.csv, *.csv.gz)")
    fmt = "parquet" if all(p.suffix == ".parquet" for p in files) else "csv"
    result = run_modes(args, files, fmt, accounts, truth)
    return {
        "dataset": {
            "folder": str(folder),
            "files": [str(f) for f in files],
            "accounts_file": str(accounts) if accounts else None,
            "truth_file": str(truth),
        },
        **result,
    }


def synthetic(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.generate import cached_dataset

    started = time.perf_counter()
    dataset = cached_dataset(args.size, args.seed, "parquet", CACHE, args.population)
    generate_seconds = round(time.perf_counter() - started, 2)
    files = sorted(dataset.transaction_files)
    result = run_modes(args, files, "parquet", dataset.accounts_file, dataset.truth_file)
    return {
        "dataset": {
            "size": args.size,
            "seed": args.seed,
            "population": args.population,
            "generate_seconds": generate_seconds,
            "files": [str(f) for f in files],
        },
        **result,
    }


def amlworld(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    folder = Path(args.amlworld)
    trans = sorted(folder.glob("*_Trans.csv"))
    if not trans:
        raise SystemExit(f"{folder}: no *_Trans.csv file")
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        work = Path(tmp)
        labels = work / "labels.parquet"
        truth = work / "truth.parquet"
        con = duckdb.connect()
        for i, path in enumerate(trans):
            rel = con.read_csv(str(path), header=True, all_varchar=True)
            numbered = rel.query("t", "select row_number() over () as row, * from t")
            assert numbered is not None
            numbered.to_view(f"t{i}")
        union = " union all ".join(
            f"select '{p.name.replace(chr(39), '')}:' || row as tx_id, "
            f'cast("Is Laundering" as int) as is_laundering, "Account" as src, '
            f'"Account_1" as dst from t{i}'
            for i, p in enumerate(trans)
        )
        con.execute(f"create table labelled as {union}")
        con.execute(f"copy (select tx_id, is_laundering from labelled) to '{labels}'")
        con.execute(
            f"copy (select account_id, 'LAUNDERING' as pattern, 'mule' as role, "
            f"'aml' as instance_id from (select src as account_id from labelled "
            f"where is_laundering = 1 union select dst from labelled where is_laundering = 1)"
            f") to '{truth}'"
        )
        for mode in args.modes:
            out = work / mode
            cost, summary = scan(trans, out, mode, ["--format", "amlworld"], work)
            detection = score_alerts(out / "alerts.parquet", truth, int(summary["accounts"]))
            tx = score_transactions(out / "evidence.parquet", labels)
            runs[mode] = {
                "wall_seconds": cost.seconds,
                "peak_rss_mb": cost.peak_rss_mb,
                "peak_spill_mb": cost.peak_spill_mb,
                "detection": detection.to_record(),
                "transactions": asdict(tx),
            }
    return {
        "dataset": {"amlworld": [str(p) for p in trans]},
        "note": "iff-engine is unsupervised: no labels are used for fitting or tuning. "
        "Published supervised baselines on HI-Small (minority-class F1): "
        "GFP+XGBoost 63.23, Multi-PNA+EU 68.16.",
        "runs": runs,
    }


def markdown(name: str, result: dict[str, Any]) -> str:
    lines = [
        f"## {name}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "",
    ]
    if "floor" in result:
        lines.append(f"Floor (DuckDB reads every column once): {result['floor']['wall_seconds']} s")
        lines.append("")
    lines.append(
        "| mode | wall s | peak RSS MB | peak spill MB | tx/s | x floor | recall | precision | "
        "precision@k (alerts) | precision@k (ranking) | alerts/10k accts | "
        "false alerts/10k normal | recall in 2x budget | victim recall |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, run in result["runs"].items():
        d = run["detection"]
        budget = f"{d.get('budget_recall', '')} ({d.get('ranking_source', '')})"
        lines.append(
            f"| {mode} | {run['wall_seconds']} | {run['peak_rss_mb']} | "
            f"{run.get('peak_spill_mb', '')} | {run.get('tx_per_second', '')} | "
            f"{run.get('floor_ratio', '')} | {d['recall']} | "
            f"{d['precision']} | {d['precision_at_k']} | "
            f"{d.get('ranking_precision_at_k', '')} | {d['alerts_per_10k_accounts']} | "
            f"{d.get('false_alerts_per_10k_normal', '')} | {budget} | {d['victim_recall']} |"
        )
    for mode, run in result["runs"].items():
        d = run["detection"]
        if d.get("third_parties"):
            lines += [
                "",
                f"Third parties ({mode}): {d['third_parties']} planted employers and payers "
                "whose wage payments a pattern uses (unflagged businesses), neither controlling "
                f"nor normal; {d['third_parties_alerted']} alerted.",
            ]
    for mode, run in result["runs"].items():
        sweep = run["detection"].get("threshold_sweep") or []
        if sweep:
            lines += [
                "",
                f"Alert policy trade-off ({mode}): alerts if opening_score >= threshold "
                "(`[scoring] alert_threshold`), read from account_scores.parquet:",
                "",
                "| threshold | alerts | false alerts/10k normal | recall |",
                "|---|---|---|---|",
            ]
            for p in sweep:
                lines.append(
                    f"| {p['threshold']:g} | {p['alerts']} | "
                    f"{p['false_alerts_per_10k_normal']} | {p['recall']} |"
                )
    first = next(iter(result["runs"].values()))
    seconds = first.get("typology_seconds") or {}
    if seconds:
        total = sum(seconds.values()) or 1.0
        lines += [
            "",
            "Typology time (first mode):",
            "",
            "| typology | seconds | share | hits |",
            "|---|---|---|---|",
        ]
        for tid, sec in sorted(seconds.items(), key=lambda kv: -kv[1]):
            hits = first.get("hits_per_typology", {}).get(tid, "")
            lines.append(f"| {tid} | {sec} | {sec / total:.0%} | {hits} |")
    if "per_pattern" in first["detection"]:
        lines += [
            "",
            "Recall per planted pattern, controlling accounts, victims and third parties apart "
            "(first mode):",
            "",
            "| pattern | planted | caught | recall | victims | victims alerted |",
            "|---|---|---|---|---|---|",
        ]
        for p in first["detection"]["per_pattern"]:
            lines.append(
                f"| {p['pattern']} | {p['planted_accounts']} | "
                f"{p['caught_accounts']} | {p['recall']} | {p.get('victims', '')} | "
                f"{p.get('victims_caught', '')} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=parse_size("1M"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--population",
        choices=sorted(POPULATIONS),
        default="a",
        help="normal population configuration of the generated dataset",
    )
    parser.add_argument(
        "--modes", default="fused,rules,detectors", type=lambda s: [m for m in s.split(",") if m]
    )
    parser.add_argument("--amlworld", help="folder with *_Trans.csv (and *_Patterns.txt)")
    parser.add_argument(
        "--dataset", help="folder of canonical transaction files with a truth_accounts file"
    )
    parser.add_argument("--truth", help="truth file for --dataset (default: in the folder)")
    parser.add_argument("--memory-limit")
    parser.add_argument("--name")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        parser.error(f"unknown modes {unknown}; choose from {list(MODES)}")
    (ROOT / ".cache").mkdir(exist_ok=True)
    if args.amlworld:
        name = args.name or f"amlworld-{Path(args.amlworld).name}"
        result = amlworld(args)
    elif args.dataset:
        name = args.name or f"dataset-{Path(args.dataset).resolve().name}"
        result = dataset(args)
    else:
        suffix = "" if args.population == "a" else f"-p{args.population}"
        name = args.name or f"synthetic-{args.size}-s{args.seed}{suffix}"
        result = synthetic(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    table = markdown(name, result)
    (RESULTS / f"{name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
