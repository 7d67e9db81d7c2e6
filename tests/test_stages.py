"""The stage list keeps its word: each stage, given a database that holds only the tables
it declares to read, runs and creates exactly the tables it declares to write."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from benchmarks.generate import generate
from engine import detectors, pipeline
from engine.catalog import load_catalog
from engine.config import DetectorConfig, RunConfig
from engine.db import connect, cursor, scalar
from engine.pipeline import (
    STAGE_NAMES,
    STAGES,
    ScanContext,
    ScanRequest,
    declares,
    run_stages,
    stage_range,
)
from engine.rules import create_hits_table
from engine.runguard import DUCKDB_SHARE, parse_size

CONFIG = RunConfig(
    detectors=DetectorConfig(min_group_size=50, contamination=0.02),
    gx_sample_rows=500,
)


def _objects(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every table and view of the database, temporary ones included."""
    rows = con.execute(
        "select table_name from duckdb_tables() "
        "union all select view_name from duckdb_views() where not internal"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _copy(source: duckdb.DuckDBPyConnection, name: str, target: duckdb.DuckDBPyConnection) -> None:
    rows = cursor(source).sql(f"select * from {name}").to_arrow_table()
    target.register("copied_rows", rows)
    target.execute(f"create table {name} as select * from copied_rows")
    target.unregister("copied_rows")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanRequest, Path]:
    root = tmp_path_factory.mktemp("stages")
    # CSV, so that every raw table is a table (a Parquet file is a view over the file)
    data = generate(20_000, seed=5, out_dir=root / "data", fmt="csv")
    request = ScanRequest(
        inputs=tuple(str(p) for p in data.transaction_files),
        out_dir=root / "out",
        config=CONFIG,
        accounts_file=data.accounts_file,
    )
    return request, root


def test_each_stage_reads_and_writes_what_it_declares(
    dataset: tuple[ScanRequest, Path],
) -> None:
    request, root = dataset
    (root / "out").mkdir()
    ctx = ScanContext.for_request(request, load_catalog())
    holder: dict[str, duckdb.DuckDBPyConnection] = {}  # table -> the database that made it
    databases = []
    problems = []
    try:
        for stage in STAGES:
            # a fresh database with the macros and only the declared inputs
            con = connect(CONFIG)
            databases.append(con)
            for name, source in sorted(holder.items()):
                if declares(stage.reads, name):
                    _copy(source, name, con)
            before = _objects(con)
            stage.run(con, ctx)
            created = _objects(con) - before
            if undeclared := sorted(n for n in created if not declares(stage.writes, n)):
                problems.append(f"{stage.name} creates undeclared {undeclared}")
            if missing := [w for w in stage.writes if not any(declares([w], n) for n in created)]:
                problems.append(f"{stage.name} does not create declared {missing}")
            holder.update(dict.fromkeys(created, con))
    finally:
        for con in databases:
            con.close()
    assert not problems, "\n".join(problems)
    # the run was real: rules and detectors both raised hits and alerts were written
    assert ctx.typology_runs and sum(r.hits for r in ctx.typology_runs) > 0
    assert ctx.anomaly is not None and ctx.anomaly.anomaly_hits > 0
    assert ctx.alerts > 0 and ctx.outputs["alerts.parquet"] == ctx.alerts


def test_disabled_detectors_leave_empty_anomaly_tables(
    dataset: tuple[ScanRequest, Path],
) -> None:
    request, _ = dataset
    config = RunConfig(detectors=DetectorConfig(enabled=False))
    ctx = ScanContext.for_request(
        ScanRequest(request.inputs, None, config, accounts_file=request.accounts_file),
        load_catalog().select(["STR-01"]),
    )
    con = connect(config)
    try:
        run_stages(con, ctx, until="score")
        assert set(ctx.timings) == set(STAGE_NAMES[:-1])
        assert ctx.anomaly is None
        for table in ("anomaly_scores", "anomaly_explanations", "anomaly_hits"):
            assert con.execute(f"select count(*) from {table}").fetchall() == [(0,)]
        hit_columns = con.execute("describe hits").fetchall()
        assert con.execute("describe anomaly_hits").fetchall() == hit_columns
        scored = con.execute("select count(*) from alerts where anomaly_score <> 0").fetchall()
        assert scored == [(0,)]
    finally:
        con.close()


def test_stage_range() -> None:
    assert [s.name for s in stage_range(until="validate")] == ["load", "validate"]
    assert [s.name for s in stage_range("features", "typologies")] == ["features", "typologies"]
    assert stage_range() == STAGES
    assert STAGE_NAMES == (
        "load",
        "validate",
        "features",
        "typologies",
        "detectors",
        "score",
        "export",
    )
    with pytest.raises(ValueError, match="unknown stage 'scoring'"):
        stage_range(until="scoring")


def test_declared_families() -> None:
    assert declares(("raw_*", "hits"), "raw_3")
    assert declares(("raw_*", "hits"), "hits")
    assert not declares(("raw_*", "hits"), "anomaly_hits")


def test_hit_id_macro_hashes_typology_version_subject_and_window() -> None:
    """Hit ids stay what they were: sha256 of 'id|version|subject|start|end', 32 hex."""
    con = connect(RunConfig())
    start, end = datetime(2024, 1, 1, 10), datetime(2024, 1, 3, 9, 30, 15)
    try:
        got = con.execute(
            "select hit_id('STR-01', 2, 'A1', $s, $e), hit_id('ANOMALY', 1, 'B', $s, $e)",
            {"s": start, "e": end},
        ).fetchall()[0]
    finally:
        con.close()
    window = "2024-01-01 10:00:00|2024-01-03 09:30:15"
    expected = tuple(
        hashlib.sha256(f"{key}|{window}".encode()).hexdigest()[:32]
        for key in ("STR-01|2|A1", "ANOMALY|1|B")
    )
    assert got == expected


def test_only_tables_of_hits_are_created_as_such() -> None:
    con = connect(RunConfig())
    try:
        with pytest.raises(ValueError, match="not one of"):
            create_hits_table(con, "alerts")
    finally:
        con.close()


def test_duckdb_lends_the_detectors_share_only_while_they_run(
    dataset: tuple[ScanRequest, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under --memory-limit DuckDB's limit leaves out the detectors' working set during the
    detectors stage only: before and after it, DuckDB has that memory too."""
    request, _ = dataset
    config = RunConfig(memory_limit="3GB", threads=1)
    ctx = ScanContext.for_request(
        ScanRequest(request.inputs, None, config, accounts_file=request.accounts_file),
        load_catalog().select(["STR-01"]),
    )
    con = connect(config)

    def duckdb_limit() -> int:
        return parse_size(scalar(con, "select current_setting('memory_limit')"))

    seen: dict[str, int] = {}
    score_accounts = pipeline.score_accounts

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen["detectors"] = duckdb_limit()
        return score_accounts(*args, **kwargs)

    monkeypatch.setattr(pipeline, "score_accounts", spy)
    # a working set large enough to show in DuckDB's setting (it reports a tenth of a GiB)
    monkeypatch.setattr(detectors, "working_set_bytes", lambda accounts: 500 * 2**20)
    try:
        run_stages(con, ctx, until="typologies")
        seen["typologies"] = duckdb_limit()
        run_stages(con, ctx, start="detectors", until="detectors")
        seen["after"] = duckdb_limit()
    finally:
        con.close()
    assert seen["typologies"] == seen["after"]
    lent = seen["typologies"] - seen["detectors"]
    assert lent == pytest.approx(500 * 2**20 * DUCKDB_SHARE, rel=0.25)
