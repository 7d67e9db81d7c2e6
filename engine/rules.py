"""Typologies stage: run each typology's SQL with its bound parameters into ``hits``.

Every typology returns the columns of ``schema.HIT_SQL_COLUMNS``; this module adds the
typology id, version and a deterministic ``hit_id`` (the ``hit_id`` macro of
``sql/macros/hit_id.sql``) and checks the contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import duckdb

from engine import schema
from engine.catalog import Catalog, Typology, resolve_params
from engine.config import ParamValue
from engine.errors import StageError


@dataclass(frozen=True)
class TypologyRun:
    """What one typology did in a scan."""

    typology_id: str
    version: int
    content_hash: str
    params: Mapping[str, ParamValue]
    hits: int
    seconds: float


HIT_TABLES: Final = ("hits", "anomaly_hits")
"""The tables of hits: typology hits (this stage) and anomaly hits (the detectors stage).
Both have the columns ``hit_id``, ``typology_id``, ``typology_version`` and then
``schema.HIT_SQL_COLUMNS``; the score stage reads their union."""


def create_hits_table(con: duckdb.DuckDBPyConnection, table: str = "hits") -> None:
    """Create an empty table of hits (one of ``HIT_TABLES``)."""
    if table not in HIT_TABLES:
        raise ValueError(f"{table!r} is not one of {HIT_TABLES}")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in schema.HIT_SQL_COLUMNS)
    con.execute(
        f"create or replace table {table} (hit_id varchar, typology_id varchar, "
        f"typology_version integer, {columns})"
    )


def run_typologies(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    overrides: Mapping[str, Mapping[str, ParamValue]],
    on_done: Callable[[TypologyRun], None] | None = None,
) -> tuple[TypologyRun, ...]:
    """Run every typology of ``catalog`` over the ``transactions`` view into ``hits``."""
    create_hits_table(con)
    runs = []
    for typology in catalog.typologies:
        params = resolve_params(typology, overrides.get(typology.id))
        started = time.perf_counter()
        count = run_typology(con, typology, params)
        run = TypologyRun(
            typology_id=typology.id,
            version=typology.version,
            content_hash=typology.content_hash,
            params=params,
            hits=count,
            seconds=round(time.perf_counter() - started, 3),
        )
        runs.append(run)
        if on_done is not None:
            on_done(run)
    return tuple(runs)


def run_typology(
    con: duckdb.DuckDBPyConnection, typology: Typology, params: Mapping[str, ParamValue]
) -> int:
    """Insert one typology's hits; returns how many it found."""
    try:
        con.execute(f"create or replace temp table typology_output as {typology.sql}", dict(params))
    except duckdb.Error as exc:
        # DuckDB appends long candidate lists to binder errors: keep the gist
        detail = "\n".join(str(exc).splitlines()[:3])
        raise StageError("typologies", f"{typology.id} ({typology.sql_path}): {detail}") from exc
    described = [(str(r[0]), str(r[1])) for r in con.execute("describe typology_output").fetchall()]
    names = [d[0] for d in described]
    expected = [name for name, _ in schema.HIT_SQL_COLUMNS]
    if names != expected:
        raise StageError(
            "typologies",
            f"{typology.id} returns columns {names}, expected {expected} in that order",
        )
    casts = ", ".join(f"cast({n} as {t}) as {n}" for n, t in schema.HIT_SQL_COLUMNS)
    con.execute(
        f"""
        insert into hits
        select hit_id($typology_id, $version, subject_id, window_start, window_end),
               $typology_id, $version, *
        from (select {casts} from typology_output)
        """,
        {"typology_id": typology.id, "version": typology.version},
    )
    bad = con.execute(
        """
        select count(*) filter (where subject_id is null or window_start is null
                                or window_end is null or reason is null),
               count(*) filter (where likely_role not in (select unnest($roles))),
               count(*)
        from typology_output
        """,
        {"roles": list(schema.ROLES)},
    ).fetchall()[0]
    if bad[0] or bad[1]:
        raise StageError(
            "typologies",
            f"{typology.id}: {bad[0]} hits with empty subject/window/reason, "
            f"{bad[1]} with a likely_role outside {schema.ROLES}",
        )
    con.execute("drop table typology_output")
    return int(bad[2])
