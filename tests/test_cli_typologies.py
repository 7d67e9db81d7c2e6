"""The ``iff typologies`` commands: list, show, test and new."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from engine.cases import run_cases
from engine.catalog import load_catalog
from engine.cli import cli
from engine.resources import cases_dir

CATALOG = load_catalog()


def _wide(*args: str) -> Result:
    """Run with a wide terminal so the rich table does not wrap its cells."""
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "400"}, catch_exceptions=False)


def test_list_shows_every_typology_with_its_metadata() -> None:
    result = _wide("typologies", "list")
    assert result.exit_code == 0, result.output
    assert f"{len(CATALOG.typologies)} typologies" in result.output
    assert len(CATALOG.typologies) == 45
    rows = {
        cells[0]: cells
        for line in result.output.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) > 6
    }
    for t in CATALOG.typologies:
        assert rows[t.id][1:6] == [
            t.family,
            t.severity,
            str(t.risk_score),
            t.status,
            str(t.version),
        ]


def test_list_as_json(run_cli: Callable[..., Result]) -> None:
    result = run_cli("typologies", "list", "--json")
    assert result.exit_code == 0
    records = json.loads(result.output)
    assert [r["id"] for r in records] == list(CATALOG.ids())
    str01 = next(r for r in records if r["id"] == "STR-01")
    assert str01["family"] == "STR" and str01["content_hash"] == CATALOG.get("STR-01").content_hash


def test_show_prints_metadata_params_and_sql(run_cli: Callable[..., Result]) -> None:
    typology = CATALOG.get("STR-01")
    result = run_cli("typologies", "show", "STR-01")
    assert result.exit_code == 0
    metadata, sql = result.output.split("--- SQL ---\n")
    record = yaml.safe_load(metadata)
    assert record["id"] == "STR-01" and record["version"] == typology.version
    assert record["severity"] == typology.severity and record["status"] == typology.status
    assert set(record["params"]) == {p.name for p in typology.params}
    for p in typology.params:
        assert record["params"][p.name] == {"default": p.default, "description": p.description}
    assert record["sql_file"].endswith("STR-01.sql")
    assert sql.strip() == typology.sql.strip()


def test_unknown_typology_exits_2(run_cli: Callable[..., Result]) -> None:
    for command in ("show", "test"):
        result = run_cli("typologies", command, "NOPE-01")
        assert result.exit_code == 2
        assert "unknown typology 'NOPE-01'" in result.output


def test_test_passes_on_shipped_cases(run_cli: Callable[..., Result]) -> None:
    result = run_cli("typologies", "test", "STR-01", "SEX-01")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    expected = sum(len(list((cases_dir() / i).glob("*.yaml"))) for i in ("STR-01", "SEX-01"))
    assert lines[-1] == f"{expected} passed, 0 failed"
    assert all(line.startswith("PASS") for line in lines[:-1])


def test_test_fails_on_a_broken_case(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    shutil.copytree(cases_dir() / "STR-01", tmp_path / "STR-01")
    positive = sorted((tmp_path / "STR-01").glob("pos_*.yaml"))[0]
    case = yaml.safe_load(positive.read_text())
    case["expect"] = {"hits": [{"subject_id": "NOBODY"}]}
    positive.write_text(yaml.safe_dump(case))
    result = run_cli("typologies", "test", "STR-01", "--cases", str(tmp_path))
    assert result.exit_code == 1
    assert f"FAIL  STR-01  {positive.name}" in result.output
    assert "no hit matches {'subject_id': 'NOBODY'}" in result.output
    assert result.output.splitlines()[-1].endswith(" passed, 1 failed")


def test_test_fails_without_cases(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    result = run_cli("typologies", "test", "STR-01", "--cases", str(tmp_path))
    assert result.exit_code == 1
    assert "needs at least one pos_*.yaml and one neg_*.yaml case" in result.output


def test_new_scaffolds_a_typology_that_loads_and_passes_its_cases(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    (tmp_path / "typologies").mkdir()
    result = run_cli(
        "typologies",
        "new",
        "LAB-99",
        "--title",
        "Wages: collected by one account",
        "--root",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    written = {
        "typologies/LAB-99.yaml",
        "sql/typologies/LAB-99.sql",
        "fixtures/typologies/LAB-99/pos_1.yaml",
        "fixtures/typologies/LAB-99/neg_1.yaml",
    }
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*")} == written
    catalog = load_catalog(tmp_path / "typologies", tmp_path / "sql" / "typologies")
    typology = catalog.get("LAB-99")
    assert typology.family == "LAB" and typology.title == "Wages: collected by one account"
    assert typology.version == 1 and typology.status == "experimental"
    results = run_cases(catalog, tmp_path / "fixtures" / "typologies")
    assert [(r.path.name, r.passed) for r in results] == [
        ("pos_1.yaml", True),
        ("neg_1.yaml", True),
    ]
    assert [h["subject_id"] for h in results[0].hits] == ["R1"] and not results[1].hits

    again = run_cli("typologies", "new", "LAB-99", "--root", str(tmp_path))
    assert again.exit_code == 2 and "exists already" in again.output


def test_new_refuses_bad_ids_and_folders(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    for bad in ("lab-1", "NOPE-01"):
        result = run_cli("typologies", "new", bad, "--root", str(tmp_path))
        assert result.exit_code == 2
        assert bad in result.output
    result = run_cli("typologies", "new", "LAB-99", "--root", str(tmp_path))
    assert result.exit_code == 2 and "no typologies/ folder" in result.output
    assert not any(tmp_path.iterdir())
