"""Every typology on seeded normal populations with nothing planted (Sigma's "goodlog").

Both population configurations of the generator (benchmarks.ordinary.POPULATIONS: mix,
scale, channels, countries and the ordinary behaviours that look like typologies) are
scanned. Prints the share of normal accounts each typology hits in each; typologies of
severity medium or above must stay under 0.5% in every population, apart from the known
false positives listed with their reasons in fixtures/clean_population_known_fp.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import yaml

from benchmarks.generate import generate
from benchmarks.ordinary import POPULATIONS
from engine.catalog import load_catalog
from engine.config import DetectorConfig, RunConfig
from engine.pipeline import ScanRequest, scan

ROOT = Path(__file__).resolve().parent.parent
KNOWN_FP = ROOT / "fixtures" / "clean_population_known_fp.yaml"
MAX_SHARE = 0.005
SEVERE = {"medium", "high", "critical"}
ROWS = 120_000


@pytest.fixture(scope="module", params=sorted(POPULATIONS))
def clean_hits(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pl.DataFrame, int]:
    root = tmp_path_factory.mktemp(f"clean-{request.param}")
    data = generate(
        ROWS, seed=21, out_dir=root / "data", patterns=(), population_name=request.param
    )
    out = root / "out"
    config = RunConfig(detectors=DetectorConfig(enabled=False))
    scan(
        ScanRequest(
            inputs=tuple(str(p) for p in data.transaction_files),
            out_dir=out,
            config=config,
            accounts_file=data.accounts_file,
        )
    )
    accounts = pl.read_parquet(data.accounts_file).height
    return pl.read_parquet(out / "hits.parquet"), accounts


def test_medium_and_higher_typologies_stay_rare(
    clean_hits: tuple[pl.DataFrame, int], request: pytest.FixtureRequest
) -> None:
    hits, accounts = clean_hits
    population = request.node.callspec.params["clean_hits"]
    known = yaml.safe_load(KNOWN_FP.read_text()) or []
    catalog = load_catalog()
    lines, failures = [], []
    for typology in catalog.typologies:
        subjects = set(hits.filter(pl.col("typology_id") == typology.id)["subject_id"])
        excused = {
            s
            for s in subjects
            for entry in known
            if entry["typology"] == typology.id and re.fullmatch(entry["accounts"], s)
        }
        share = len(subjects - excused) / accounts
        lines.append(
            f"{typology.id:9} {typology.severity:8} {len(subjects):5} accounts "
            f"({share:.3%} after {len(excused)} known false positives)"
        )
        if typology.severity in SEVERE and share >= MAX_SHARE:
            failures.append(
                f"{typology.id} hits {share:.2%} of normal accounts: "
                f"{sorted(subjects - excused)[:5]}"
            )
    print(
        "\n".join(
            [f"clean population {population}: share of {accounts} normal accounts hit", *lines]
        )
    )
    assert not failures, "\n".join(failures)


def test_known_false_positives_are_documented() -> None:
    known = yaml.safe_load(KNOWN_FP.read_text()) or []
    ids = set(load_catalog().ids())
    for entry in known:
        assert set(entry) == {"typology", "accounts", "reason"}, entry
        assert entry["typology"] in ids and entry["reason"].strip()
