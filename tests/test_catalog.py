"""The catalog loads, and a broken typology is refused with every problem listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.catalog import load_catalog, resolve_params
from engine.errors import CatalogError, InputError
from engine.resources import sql_dir, typologies_dir

SPINE_TYPOLOGIES = {"STR-01", "GRAPH-01", "GRAPH-02", "FLOW-01", "XB-01", "SEX-01"}


def test_shipped_catalog_loads_with_the_spine_typologies() -> None:
    catalog = load_catalog()
    assert set(catalog.ids()) >= SPINE_TYPOLOGIES
    for t in catalog.typologies:
        assert t.references and t.falsepositives and t.runbook
        assert all(p.description for p in t.params)


def _copy_catalog(tmp_path: Path) -> tuple[Path, Path]:
    yaml_dir, sql_root = tmp_path / "typologies", tmp_path / "sql"
    yaml_dir.mkdir()
    sql_root.mkdir()
    shutil.copy(typologies_dir() / "STR-01.yaml", yaml_dir)
    shutil.copy(sql_dir() / "typologies" / "STR-01.sql", sql_root)
    return yaml_dir, sql_root


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    yaml_dir, sql_root = _copy_catalog(tmp_path)
    text = (yaml_dir / "STR-01.yaml").read_text()
    broken = text.replace("risk_score: 75", "risk_score: 10").replace(
        "status: test", "status: test\ncolour: red"
    )
    (yaml_dir / "STR-02.yaml").write_text(broken)  # id != stem, and no SQL file
    (yaml_dir / "STR-01.yaml").write_text(broken)
    (sql_root / "ORPHAN-01.sql").write_text("select 1")
    with pytest.raises(CatalogError) as caught:
        load_catalog(yaml_dir, sql_root)
    problems = "\n".join(caught.value.problems)
    assert "unknown keys ['colour']" in problems
    assert "risk_score 10 inconsistent with severity 'high'" in problems
    assert "id 'STR-01' differs from the file name 'STR-02'" in problems
    assert "STR-02.sql not found" in problems
    assert "ORPHAN-01.sql: SQL file without a typology YAML" in problems


def test_sql_parameters_must_match_declared_params(tmp_path: Path) -> None:
    yaml_dir, sql_root = _copy_catalog(tmp_path)
    sql = (sql_root / "STR-01.sql").read_text().replace("$band_ratio", "$band_share")
    (sql_root / "STR-01.sql").write_text(sql)
    with pytest.raises(CatalogError) as caught:
        load_catalog(yaml_dir, sql_root)
    problems = "\n".join(caught.value.problems)
    assert "not declared in params: ['band_share']" in problems
    assert "declared but not used by the SQL: ['band_ratio']" in problems


def test_param_overrides_are_type_checked() -> None:
    typology = load_catalog().get("STR-01")
    assert resolve_params(typology, {"min_count_short": 3})["min_count_short"] == 3
    assert resolve_params(typology, {"band_ratio": 1})["band_ratio"] == 1.0
    with pytest.raises(InputError, match="must be int"):
        resolve_params(typology, {"min_count_short": "three"})
