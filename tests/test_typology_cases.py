"""Every typology's must-fire and must-not-fire fixture cases, run through the real path."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cases import CaseResult, case_files, run_case, run_cases
from engine.catalog import load_catalog

CASES_ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "typologies"
CATALOG = load_catalog()
CASES = [(t, p) for t in CATALOG.typologies for p in case_files(CASES_ROOT, t.id)]


@pytest.mark.parametrize(("typology", "path"), CASES, ids=[f"{t.id}/{p.stem}" for t, p in CASES])
def test_case(typology: object, path: Path) -> None:
    result: CaseResult = run_case(path, typology)  # type: ignore[arg-type]
    assert result.passed, "\n".join(result.problems)


def test_every_typology_has_positive_and_negative_cases() -> None:
    for typology in CATALOG.typologies:
        kinds = {p.name.split("_", 1)[0] for p in case_files(CASES_ROOT, typology.id)}
        assert kinds == {"pos", "neg"}, f"{typology.id} has cases {sorted(kinds)}"


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    case = tmp_path / "STR-01" / "pos_wrong.yaml"
    case.parent.mkdir()
    source = (CASES_ROOT / "STR-01" / "pos_three_deposits_in_a_day.yaml").read_text()
    case.write_text(source.replace("tx_count: 3", "tx_count: 4"))
    neg = tmp_path / "STR-01" / "neg_wrong.yaml"
    neg.write_text(
        source.replace("hits:\n    - {subject_id: A1", "hits: 0\n    # - {subject_id: A1")
    )
    results = run_cases(CATALOG.select(["STR-01"]), tmp_path)
    assert [r.passed for r in results] == [False, False]
    assert "no hit matches" in results[0].problems[0] or "expected" in results[0].problems[0]
