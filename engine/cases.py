"""Typology fixture cases: tiny tables of transactions with the hits they must (not) give.

A case file ``fixtures/typologies/<id>/pos_*.yaml`` (must fire) or ``neg_*.yaml`` (must
not fire)::

    description: three cash deposits just under 10,000 USD within a day
    params: {min_count_short: 2}          # optional overrides of the typology defaults
    accounts:                              # optional rows of the accounts file
      - {account_id: A1, customer_type: business, opened_at: "2023-05-01"}
    given:                                 # rows; omitted columns get schema defaults
      - {timestamp: "2024-01-01 10:00", src_account: CASH, dst_account: A1,
         amount: 9500, channel: cash_deposit}
    expect:
      hits:                                # or a number: `hits: 0`
        - {subject_id: A1, tx_count: 3, likely_role: mule, evidence: [t1, t2, t3]}
      not_subjects: [EMPLOYER]             # optional: accounts that must not be hit

Each case runs the scan's own stages, load to typologies, on an in-memory DuckDB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from engine import schema
from engine.catalog import Catalog, Typology
from engine.config import RunConfig
from engine.db import connect
from engine.errors import IffError
from engine.pipeline import InlineRows, ScanContext, ScanRequest, run_stages

CASE_CONFIG = RunConfig(as_of=date(2099, 12, 31))
_CASE_KEYS = {"description", "params", "accounts", "given", "expect"}
_EXPECT_KEYS = {"hits", "not_subjects"}
_HIT_KEYS = {
    "subject_id",
    "tx_count",
    "likely_role",
    "evidence",
    "amount_total",
    "window_start",
    "window_end",
    "reason_contains",
}


@dataclass(frozen=True)
class CaseResult:
    typology_id: str
    path: Path
    passed: bool
    problems: tuple[str, ...]
    hits: tuple[dict[str, Any], ...]


def case_files(root: Path, typology_id: str) -> tuple[Path, ...]:
    folder = root / typology_id
    return tuple(sorted(folder.glob("pos_*.yaml")) + sorted(folder.glob("neg_*.yaml")))


def run_case(path: Path, typology: Typology, config: RunConfig = CASE_CONFIG) -> CaseResult:
    """Run one case file against one typology."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    problems = _check_shape(raw, path)
    if problems:
        return CaseResult(typology.id, path, False, tuple(problems), ())
    account_rows = _text_table(raw["accounts"]) if raw.get("accounts") else None
    ctx = ScanContext(
        request=ScanRequest(
            inputs=(),
            out_dir=None,
            config=config.with_overrides(typology_params={typology.id: raw.get("params") or {}}),
        ),
        catalog=Catalog((typology,)),
        rows=InlineRows(fixture_rows(raw["given"]), str(path), account_rows),
    )
    con = connect(config)
    try:
        try:
            run_stages(con, ctx, until="validate")
            if ctx.validation is not None and ctx.validation.rows_rejected:
                rejects = con.execute(
                    'select source_row, reason_code, "column", raw_value from rejects'
                ).fetchall()
                return CaseResult(
                    typology.id, path, False, (f"given rows were rejected: {rejects}",), ()
                )
            run_stages(con, ctx, start="features", until="typologies")
        except IffError as exc:
            return CaseResult(typology.id, path, False, (str(exc),), ())
        hits = tuple(
            {
                "subject_id": r[0],
                "window_start": r[1],
                "window_end": r[2],
                "tx_count": r[3],
                "amount_total": r[4],
                "evidence": sorted(r[5]),
                "reason": r[6],
                "likely_role": r[7],
            }
            for r in con.execute(
                "select subject_id, window_start, window_end, tx_count, amount_total, "
                "list_transform(evidence, lambda e: e.tx_id), reason, likely_role "
                "from hits order by subject_id, window_start"
            ).fetchall()
        )
    finally:
        con.close()
    problems = compare(raw["expect"], hits)
    return CaseResult(typology.id, path, not problems, tuple(problems), hits)


def run_cases(
    catalog: Catalog, root: Path, config: RunConfig = CASE_CONFIG
) -> tuple[CaseResult, ...]:
    """Every case of every typology in ``catalog``; a typology without both a positive
    and a negative case is reported as a failure."""
    results = []
    for typology in catalog.typologies:
        files = case_files(root, typology.id)
        kinds = {p.name.split("_", 1)[0] for p in files}
        if kinds != {"pos", "neg"}:
            results.append(
                CaseResult(
                    typology.id,
                    root / typology.id,
                    False,
                    ("needs at least one pos_*.yaml and one neg_*.yaml case",),
                    (),
                )
            )
        results.extend(run_case(p, typology, config) for p in files)
    return tuple(results)


def fixture_rows(given: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Turn case rows into a text table with schema defaults filled in."""
    names = [c.name for c in schema.TRANSACTION_COLUMNS]
    columns: dict[str, list[str | None]] = {n: [] for n in names}
    for i, row in enumerate(given, start=1):
        for name in names:
            if name in row:
                value = row[name]
                columns[name].append(None if value is None else str(value))
            elif name == "tx_id":
                columns[name].append(f"t{i}")
            else:
                columns[name].append(schema.FIXTURE_DEFAULTS.get(name))
    return pa.table({n: pa.array(v, type=pa.string()) for n, v in columns.items()})


def _text_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    names = sorted({k for row in rows for k in row})
    return pa.table(
        {
            n: pa.array([None if r.get(n) is None else str(r[n]) for r in rows], pa.string())
            for n in names
        }
    )


def _check_shape(raw: Any, path: Path) -> list[str]:
    if not isinstance(raw, dict):
        return [f"{path}: a case must be a mapping"]
    problems = []
    if unknown := sorted(set(raw) - _CASE_KEYS):
        problems.append(f"unknown keys {unknown}")
    if not isinstance(raw.get("given"), list) or not raw["given"]:
        problems.append("'given' must be a non-empty list of rows")
    else:
        for i, row in enumerate(raw["given"], start=1):
            if not isinstance(row, dict):
                problems.append(f"given row {i} must be a mapping")
            elif bad := sorted(set(row) - set(schema.COLUMNS_BY_NAME)):
                problems.append(f"given row {i} has unknown columns {bad}")
    expect = raw.get("expect")
    if not isinstance(expect, dict) or "hits" not in expect:
        problems.append("'expect' must be a mapping with 'hits'")
    elif unknown := sorted(set(expect) - _EXPECT_KEYS):
        problems.append(f"unknown expect keys {unknown}")
    elif isinstance(expect["hits"], list):
        for i, hit in enumerate(expect["hits"]):
            if not isinstance(hit, dict) or (bad := sorted(set(hit) - _HIT_KEYS)):
                problems.append(f"expected hit {i} must be a mapping of {sorted(_HIT_KEYS)}")
    is_positive = path.name.startswith("pos_")
    if isinstance(expect, dict) and is_positive and expect.get("hits") in (0, []):
        problems.append("a pos_ case must expect at least one hit")
    if (
        isinstance(expect, dict)
        and not is_positive
        and expect.get("hits") not in (0, [])
        and not expect.get("not_subjects")
    ):
        problems.append("a neg_ case must expect 'hits: 0' or list 'not_subjects'")
    return problems


def compare(expect: Mapping[str, Any], hits: Sequence[Mapping[str, Any]]) -> list[str]:
    """Differences between the expected and the actual hits (empty list = pass)."""
    problems = []
    expected = expect["hits"]
    if isinstance(expected, int):
        if len(hits) != expected:
            problems.append(f"expected {expected} hit(s), got {len(hits)}: {_brief(hits)}")
    else:
        if len(hits) != len(expected):
            problems.append(f"expected {len(expected)} hit(s), got {len(hits)}: {_brief(hits)}")
        unmatched = list(hits)
        for want in expected:
            match = next((h for h in unmatched if _matches(want, h)), None)
            if match is None:
                problems.append(f"no hit matches {want}; got {_brief(hits)}")
            else:
                unmatched.remove(match)
    for subject in expect.get("not_subjects", []) or []:
        if any(h["subject_id"] == subject for h in hits):
            problems.append(f"{subject} must not be hit; got {_brief(hits)}")
    return problems


def _matches(want: Mapping[str, Any], hit: Mapping[str, Any]) -> bool:
    for key, value in want.items():
        if key == "evidence":
            if sorted(str(v) for v in value) != hit["evidence"]:
                return False
        elif key == "reason_contains":
            if str(value) not in hit["reason"]:
                return False
        elif key in ("window_start", "window_end"):
            if str(hit[key]) != str(value).replace("T", " "):
                return False
        elif key == "amount_total":
            if float(hit[key]) != float(value):
                return False
        elif hit.get(key) != value:
            return False
    return True


def _brief(hits: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"{h['subject_id']} x{h['tx_count']} ({h['reason']})" for h in hits]
