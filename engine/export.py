"""Export stage: alerts, hits, evidence and rejects as Parquet with explicit Arrow schemas,
plus ``manifest.json``, written to a temporary folder and renamed into place."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine import schema
from engine.db import cursor
from engine.errors import InputError
from engine.runguard import out_of_space

OUTPUT_FILES = (
    "alerts.parquet",
    "account_scores.parquet",
    "hits.parquet",
    "evidence.parquet",
    "rejects.parquet",
    "manifest.json",
)

_QUERIES = {
    "alerts.parquet": (schema.ALERTS_SCHEMA, "select * from alerts order by rank"),
    "account_scores.parquet": (
        schema.ACCOUNT_SCORES_SCHEMA,
        "select * from account_scores order by rank",
    ),
    "hits.parquet": (
        schema.HITS_SCHEMA,
        """
        select h.hit_id, k.alert_id, h.typology_id, h.typology_version, h.family, h.severity,
               h.risk_score, h.subject_id, h.window_start, h.window_end, h.tx_count,
               h.amount_total, len(h.evidence) as evidence_count, h.reason, h.likely_role
        from scored_hits h join alert_keys k using (subject_id)
        order by k.alert_id, h.typology_id, h.window_start, h.hit_id
        """,
    ),
    "evidence.parquet": (
        schema.EVIDENCE_SCHEMA,
        """
        select * from evidence where alert_id in (select alert_id from alerts)
        order by alert_id, typology_id, hit_id, tx_id
        """,
    ),
    "rejects.parquet": (schema.REJECTS_SCHEMA, "select * from rejects"),
}

_BATCH_ROWS = 256_000


def write_tables(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Write the Parquet outputs; returns rows written per file."""
    written = {}
    for name, (arrow_schema, query) in _QUERIES.items():
        written[name] = write_parquet(con, query, arrow_schema, out_dir / name)
    return written


def write_parquet(
    con: duckdb.DuckDBPyConnection, query: str, arrow_schema: pa.Schema, path: Path
) -> int:
    """Stream a query into one Parquet file cast to ``arrow_schema`` (bounded memory)."""
    # a cursor of its own: relations stream batches without copying the result
    cur = cursor(con)
    reader: pa.RecordBatchReader = cur.sql(query).to_arrow_reader(_BATCH_ROWS)
    rows = 0
    with pq.ParquetWriter(path, arrow_schema, compression="zstd") as writer:
        for batch in reader:
            table = pa.Table.from_batches([batch]).select(arrow_schema.names)
            writer.write_table(table.cast(arrow_schema))
            rows += batch.num_rows
    cur.close()
    return rows


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def check_output_dir(out_dir: Path, force: bool) -> None:
    """Refuse to overwrite an existing output folder unless ``force``."""
    if out_dir.exists() and not force:
        raise InputError("output folder exists; pass --force to replace it", str(out_dir))
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output path exists and is not a folder", str(out_dir))


@contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``out_dir``; removed if the run fails or is
    interrupted. A full disk (spill files in its ``.scratch/spill`` or the outputs)
    becomes ``ResourceError``; a previous ``out_dir`` is never touched."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException as exc:
        # measured before the folder goes: the message says how much was written
        full = out_of_space(exc, out_dir, tmp, tmp / ".scratch" / "spill")
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from exc
        raise


def publish(tmp: Path, out_dir: Path) -> None:
    """Move the finished temporary folder into place (replacing an old one atomically
    enough: the old folder is renamed aside first, then removed)."""
    old = out_dir.parent / f".{out_dir.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old.exists():
        shutil.rmtree(old)
