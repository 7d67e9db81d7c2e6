"""--memory-limit bounds the whole process: sizes parse as DuckDB reads them, a run that
cannot fit stops with exit code 2 naming what it needs, one that can gives the same
outputs as without a limit, and the detectors' chunked scoring equals unchunked scoring."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import Result

from engine.detectors import (
    AccountAnomalyScorer,
    DetectorSpec,
    EmpiricalTails,
    working_set_bytes,
)
from engine.errors import InputError, ResourceError
from engine.features import FEATURES
from engine.runguard import (
    DUCKDB_SHARE,
    PROCESS_BYTES,
    MemoryBudget,
    building,
    parse_size,
    resource_problem,
    size_text,
)
from tests.conftest import write_csv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1GB", 10**9),
        ("1GiB", 2**30),
        ("512MB", 512 * 10**6),
        ("1.5GB", 15 * 10**8),
        ("100 MiB", 100 * 2**20),
        ("2048", 2048),
    ],
)
def test_sizes_parse_as_duckdb_reads_them(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "1 GBs", "-1GB", "GB"])
def test_a_size_that_is_not_one_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="--memory-limit must be a size"):
        parse_size(text)


def test_budget_leaves_duckdb_what_the_rest_of_the_process_does_not_need() -> None:
    accounts = 2_000_000
    budget = MemoryBudget("8GB", 8 * 10**9, 2, working_set_bytes(accounts))
    rest = 8 * 10**9 - PROCESS_BYTES - working_set_bytes(accounts)
    assert budget.duckdb_bytes == int(rest * DUCKDB_SHARE)
    # the detectors' working set is DuckDB's in every other stage
    between = budget.duckdb_bytes_between_detectors
    assert between == int((8 * 10**9 - PROCESS_BYTES) * DUCKDB_SHARE)
    assert between - budget.duckdb_bytes == pytest.approx(
        working_set_bytes(accounts) * DUCKDB_SHARE, abs=1
    )
    budget.check("100,000,000 transactions")
    # the detectors' share grows with the accounts: 2M accounts do not fit in 900 MB
    tight = MemoryBudget("900MB", 9 * 10**8, 2, working_set_bytes(accounts))
    with pytest.raises(ResourceError, match=r"the detectors [\d.,]+ MiB") as caught:
        tight.check("50,000,000 transactions and 2,000,000 accounts")
    assert f"--memory-limit {size_text(tight.needed)} or more" in str(caught.value)
    assert parse_size(size_text(tight.needed)) >= tight.needed


def _ledger(path: Path, accounts: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(accounts * 4):
        src, dst = rng.choice(accounts, size=2, replace=False)
        channel = ("p2p", "wire", "cash_deposit")[i % 3]
        rows.append(
            (
                f"t{i}",
                f"2024-02-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00",
                "CASH" if channel == "cash_deposit" else f"A{src:04d}",
                f"A{dst:04d}",
                f"{rng.lognormal(5, 1.2):.2f}",
                "EUR",
                channel,
            )
        )
    return write_csv(path, rows)


def test_a_scan_under_a_limit_gives_the_outputs_of_a_scan_without_one(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    ledger = _ledger(tmp_path / "ledger.csv", 400, seed=5)
    config = tmp_path / "iff.toml"
    config.write_text("[detectors]\nmin_group_size = 50\n", encoding="utf-8")
    outputs = {}
    for name, limit in (("free", ()), ("bounded", ("--memory-limit", "3GB"))):
        out = tmp_path / name
        args = ("scan", str(ledger), "--config", str(config), "--out", str(out), "--quiet")
        result = run_cli(*args, *limit)
        assert result.exit_code == 0, result.output
        outputs[name] = {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}
    assert outputs["bounded"] == outputs["free"]
    assert len(outputs["free"]) == 5


def test_a_limit_too_small_stops_with_exit_code_2_and_the_size_needed(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    ledger = _ledger(tmp_path / "ledger.csv", 50, seed=6)
    out = tmp_path / "out"
    result = run_cli("scan", str(ledger), "--out", str(out), "--memory-limit", "64MB", "--quiet")
    assert result.exit_code == 2
    message = result.output
    assert "--memory-limit 64MB is too small: for 200 transactions" in message
    needed = re.search(r"give --memory-limit (\S+) or more", message)
    assert needed is not None and parse_size(needed.group(1)) > PROCESS_BYTES
    assert not out.exists()


def _population(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.abs(rng.lognormal(0, 1, size=(n, len(FEATURES))))
    X[:, 3] = np.round(X[:, 3])  # ties
    X[:, 8] = 0.0  # a constant column
    X[::97, 5] = np.nan
    return X


@pytest.mark.parametrize("detector", ["HBOS", "IForest", "ECOD", "COPOD"])
def test_chunked_scoring_equals_unchunked(detector: str) -> None:
    X = _population(2500, seed=11)
    groups = ["a"] * 1200 + ["b"] * 1250 + ["tiny"] * 50
    specs = (DetectorSpec(detector),)
    whole = AccountAnomalyScorer(specs, min_group_size=100, chunk_rows=10**6).fit(X, groups)
    chunked = AccountAnomalyScorer(specs, min_group_size=100, chunk_rows=97).fit(X, groups)
    assert np.array_equal(whole.decision_scores_, chunked.decision_scores_)
    assert np.array_equal(whole.detector_scores_[detector], chunked.detector_scores_[detector])
    assert whole.explain(X, 7) == chunked.explain(X, 7)


@pytest.mark.parametrize("kind", ["ECOD", "COPOD"])
def test_empirical_tails_score_the_training_rows_as_pyod_does(kind: str) -> None:
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD

    X = np.nan_to_num(_population(800, seed=12))
    pyod = (ECOD() if kind == "ECOD" else COPOD()).fit(X)
    ours = EmpiricalTails(kind).fit(X)
    assert np.array_equal(ours.decision_function(X), pyod.decision_scores_)
    # a row's score does not depend on the rows scored with it
    assert np.array_equal(ours.decision_function(X[:5]), ours.decision_function(X)[:5])


def test_a_group_larger_than_the_sample_is_fitted_on_a_seeded_sample() -> None:
    X = _population(3000, seed=13)
    full = AccountAnomalyScorer(min_group_size=100, sample_size=3000).fit(X)
    first = AccountAnomalyScorer(min_group_size=100, sample_size=1000).fit(X)
    second = AccountAnomalyScorer(min_group_size=100, sample_size=1000).fit(X)
    assert np.array_equal(first.decision_scores_, second.decision_scores_)
    assert not np.array_equal(first.decision_scores_, full.decision_scores_)
    # the sample changes little: the accounts the full fit ranks in its top 1% stay high
    top = np.argsort(-full.decision_scores_)[:30]
    assert np.median(first.decision_scores_[top]) > 0.9


def test_running_out_of_memory_names_the_table_being_built() -> None:
    con = duckdb.connect()
    con.execute("set memory_limit = '8MB'")
    con.execute("set temp_directory = ''")  # nowhere to spill: the limit holds
    with pytest.raises(duckdb.OutOfMemoryException) as raised, building("pair_totals"):
        con.execute(
            "create table pair_totals as select i % 300000 as pair, list(i) as members "
            "from range(3000000) t(i) group by pair"
        )
    problem = resource_problem(raised.value)
    assert problem is not None
    assert str(problem).startswith("DuckDB ran out of memory while building pair_totals")
    assert str(problem).endswith("raise --memory-limit or use fewer --threads")
