"""The synthetic generator: seeded, labelled consistently, every pattern planted, and the
planted patterns are what the engine finds, in both population configurations; the
ordinary look-alike behaviours are there, and the populations differ in shape."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from benchmarks.generate import AMLWORLD_HEADER, NORMAL_SEGMENTS, cached_dataset, generate
from benchmarks.ordinary import POPULATIONS
from benchmarks.plants import PATTERNS
from engine import schema
from engine.catalog import load_catalog
from engine.config import RunConfig
from engine.pipeline import ScanRequest, scan

BEHAVIOURS = {
    "household_earner",
    "family_account",
    "bill_splitter",
    "traveller",
    "gig_worker_side",
    "gig_worker_only",
    "marketplace_seller",
    "large_purchase",
    "church_member",
    "club_member",
    "church",
    "club",
    "cash_rent_tenant",
    "foreign_resident",
    "large_invoice",
    "employer_via_processor",
    "payroll_processor",
    "owner_run_business",
    "flatmate",
    "flat_lead_tenant",
    "savings_sweeper",
}


@pytest.fixture(scope="module", params=sorted(POPULATIONS))
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"synth-{request.param}")
    generate(20_000, seed=3, out_dir=out, population_name=request.param)
    return out


def _population(dataset: Path) -> str:
    return dataset.name.split("-")[1].rstrip("0123456789")


def test_same_seed_same_bytes_other_seed_other_data(dataset: Path, tmp_path: Path) -> None:
    population = _population(dataset)
    generate(20_000, seed=3, out_dir=tmp_path / "again", population_name=population)
    generate(20_000, seed=4, out_dir=tmp_path / "other", population_name=population)
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


def test_every_ordinary_behaviour_is_present(dataset: Path) -> None:
    """Each look-alike behaviour has accounts, and their transactions are there."""
    segments = pl.read_parquet(dataset / NORMAL_SEGMENTS)
    assert set(segments["behaviour"]) >= BEHAVIOURS
    truth = set(pl.read_parquet(dataset / "truth_accounts.parquet")["account_id"])
    assert not truth & set(segments["account_id"])
    tx = pl.read_parquet(dataset / "transactions-0*.parquet")
    assert tx["is_laundering"].sum() == 0

    def of(behaviour: str) -> list[str]:
        return segments.filter(pl.col("behaviour") == behaviour)["account_id"].to_list()

    families = tx.filter(pl.col("dst_account").is_in(of("family_account")))
    assert set(families["src_account"]) <= set(of("household_earner"))
    assert families["src_account"].n_unique() >= 2 * families["dst_account"].n_unique() * 0.9
    gig = tx.filter(pl.col("dst_account").is_in(of("gig_worker_only")))
    assert gig.filter(pl.col("src_account").str.starts_with("GIG-"))["src_account"].n_unique() >= 2
    churches = tx.filter(pl.col("dst_account").is_in(of("church")))
    assert churches.filter(pl.col("channel") == "cash_deposit").height > 0
    assert churches["src_account"].n_unique() > 10
    stays = tx.filter(pl.col("src_account").is_in(of("traveller")) & (pl.col("mcc") == "7011"))
    assert stays["merchant_city"].n_unique() >= 3
    rent_in_cash = tx.filter(
        (pl.col("channel") == "cash_deposit") & (pl.col("description") == "RENT")
    )
    assert rent_in_cash["dst_account"].str.starts_with("LAND").all()
    invoices = tx.filter(pl.col("dst_account").str.starts_with("VENDOR"))
    assert set(invoices["src_account"]) == set(of("large_invoice"))
    flats = tx.filter(
        pl.col("src_account").is_in(of("flatmate"))
        & pl.col("description").is_in(["RENT", "RENT SHARE", "UTILITIES", "BILLS"])
    )
    shares = flats.filter(~pl.col("dst_account").is_in(of("landlord")))
    assert set(shares["dst_account"]) <= set(of("flat_lead_tenant"))
    assert (shares["channel"] == "p2p").all() and shares.height > 0
    draws = tx.filter(pl.col("src_account").is_in(of("owner_run_business")))
    assert draws.filter(pl.col("dst_account").str.starts_with("C")).height > 0
    assert not draws["dst_account"].str.starts_with("PAYPROC").any()
    sweeps = tx.filter(pl.col("description") == "AUTO SAVE")
    assert set(sweeps["src_account"]) <= set(of("savings_sweeper")) and sweeps.height > 0
    purchases = tx.filter(
        pl.col("src_account").is_in(of("large_purchase")) & (pl.col("amount") > 5_000)
    )
    assert purchases.height >= len(of("large_purchase"))


def test_populations_differ_in_shape(tmp_path: Path) -> None:
    """Channel mix, amounts, account counts and countries differ between populations."""
    shapes = {}
    for name in ("a", "b"):
        data = generate(40_000, seed=11, out_dir=tmp_path / name, patterns=(), population_name=name)
        tx = pl.read_parquet(list(data.transaction_files))
        accounts = pl.read_parquet(data.accounts_file)
        share = tx["channel"].value_counts(normalize=True)
        channel = dict(zip(share["channel"], share["proportion"], strict=True))
        wages = tx.filter(
            pl.col("description").str.contains("PAYROLL$") & (pl.col("channel") == "ach")
        )
        shapes[name] = {
            "card": channel["card"],
            "cash_p2p": channel["p2p"] + channel["cash_withdrawal"],
            "accounts": accounts.height,
            "wage": float(wages["amount"].median() or 0),
            "foreign": accounts.filter(pl.col("country") != "US").height / accounts.height,
        }
    a, b = shapes["a"], shapes["b"]
    assert a["card"] > b["card"] + 0.05
    assert b["cash_p2p"] > a["cash_p2p"]
    assert b["accounts"] > a["accounts"] * 1.2
    assert b["wage"] < a["wage"] * 0.9
    assert b["foreign"] > a["foreign"] * 2


def test_cached_dataset_names_the_population(tmp_path: Path) -> None:
    data = cached_dataset(10_000, 9, "parquet", tmp_path, population="b")
    assert data.folder.name.endswith("-pb")
    assert (data.folder / NORMAL_SEGMENTS).exists()
