"""The synthetic generator: seeded, labelled consistently, every pattern planted, and the
planted patterns are what the engine finds."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks.generate import AMLWORLD_HEADER, cached_dataset, generate
from benchmarks.plants import PATTERNS
from engine import schema
from engine.catalog import load_catalog
from engine.config import RunConfig
from engine.pipeline import ScanRequest, scan


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(20_000, seed=3, out_dir=out)
    return out


def test_same_seed_same_bytes_other_seed_other_data(dataset: Path, tmp_path: Path) -> None:
    generate(20_000, seed=3, out_dir=tmp_path / "again")
    generate(20_000, seed=4, out_dir=tmp_path / "other")
    for f in sorted(dataset.glob("*.parquet")):
        assert f.read_bytes() == (tmp_path / "again" / f.name).read_bytes(), f.name
    assert (dataset / "transactions-00000.parquet").read_bytes() != (
        tmp_path / "other" / "transactions-00000.parquet"
    ).read_bytes()


def test_rows_follow_the_contract_and_labels_agree(dataset: Path) -> None:
    tx = pl.read_parquet(dataset / "transactions-*.parquet")
    truth = pl.read_parquet(dataset / "truth_accounts.parquet")
    assert tx["tx_id"].n_unique() == tx.height
    assert (tx["amount"] > 0).all()
    assert set(tx["channel"].unique()) <= set(schema.CHANNELS)
    assert set(tx.columns) == {c.name for c in schema.TRANSACTION_COLUMNS}
    laundering = tx.filter(pl.col("is_laundering") == 1)
    assert laundering["pattern"].null_count() == 0
    assert tx.filter(pl.col("is_laundering") == 0)["pattern"].null_count() == tx.height - (
        laundering.height
    )
    labelled_accounts = set(laundering["src_account"]) | set(laundering["dst_account"])
    assert set(truth["account_id"]) <= labelled_accounts
    counts = truth.group_by("pattern").agg(pl.col("instance_id").n_unique())
    assert dict(counts.iter_rows()) == {p: 2 for p in PATTERNS}
    assert set(truth["role"]) <= {"controller", "collector", "mule", "victim", "business"}


def test_clean_population_has_no_planted_rows(tmp_path: Path) -> None:
    data = generate(10_000, seed=5, out_dir=tmp_path, patterns=())
    tx = pl.read_parquet(list(data.transaction_files))
    assert tx["is_laundering"].sum() == 0
    assert pl.read_parquet(data.truth_file).height == 0


def test_amlworld_writer(tmp_path: Path) -> None:
    data = generate(10_000, seed=3, out_dir=tmp_path, fmt="amlworld")
    text = data.transaction_files[0].read_text()
    assert text.startswith(AMLWORLD_HEADER)
    first = text.splitlines()[1].split(",")
    assert len(first) == 11 and first[0][4] == "/" and first[6] in {"US Dollar"}
    blocks = data.patterns_file.read_text().splitlines() if data.patterns_file else []
    begins = [line for line in blocks if line.startswith("BEGIN LAUNDERING ATTEMPT - ")]
    ends = [line for line in blocks if line.startswith("END LAUNDERING ATTEMPT - ")]
    assert len(begins) == len(ends) >= 6
    assert any("FAN-IN: Max" in b for b in begins) and any("CYCLE: Max" in b for b in begins)


def test_cached_dataset_is_reused(tmp_path: Path) -> None:
    first = cached_dataset(10_000, 9, "parquet", tmp_path)
    stamp = first.transaction_files[0].stat().st_mtime_ns
    second = cached_dataset(10_000, 9, "parquet", tmp_path)
    assert second.transaction_files == first.transaction_files
    assert second.transaction_files[0].stat().st_mtime_ns == stamp
    assert not list(tmp_path.glob(".*partial"))


def test_every_typology_of_the_catalog_is_planted() -> None:
    missing = sorted(set(load_catalog().ids()) - set(PATTERNS))
    assert not missing, f"typologies without a plant in benchmarks/plants/: {missing}"


def test_every_instance_has_an_account_the_typology_must_hit(dataset: Path) -> None:
    truth = pl.read_parquet(dataset / "truth_accounts.parquet")
    flagged = (
        truth.filter(pl.col("flagged")).group_by("pattern").agg(pl.col("instance_id").n_unique())
    )
    assert dict(flagged.iter_rows()) == {p: 2 for p in PATTERNS}


def test_scan_hits_every_planted_instance(dataset: Path, tmp_path: Path) -> None:
    """Each typology that has a plant hits the accounts its plant flagged."""
    out = tmp_path / "out"
    files = tuple(str(p) for p in sorted(dataset.glob("transactions-*.parquet")))
    scan(
        ScanRequest(
            inputs=files,
            out_dir=out,
            config=RunConfig(),
            accounts_file=dataset / "accounts.parquet",
        )
    )
    hits = pl.read_parquet(out / "hits.parquet").select("typology_id", "subject_id")
    truth = pl.read_parquet(dataset / "truth_accounts.parquet").filter(pl.col("flagged"))
    implemented = set(load_catalog().ids())
    missed = (
        truth.filter(pl.col("pattern").is_in(sorted(implemented)))
        .join(
            hits,
            left_on=["pattern", "account_id"],
            right_on=["typology_id", "subject_id"],
            how="anti",
        )
        .sort("pattern", "account_id")
    )
    assert missed.is_empty(), missed.to_dicts()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["row_accounting"]["rows_rejected"] == 0
