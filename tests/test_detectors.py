"""Detectors: planted anomalies rank high, runs repeat exactly, peer groups fit apart,
explanations name the right feature with value and peer median."""

from __future__ import annotations

import numpy as np
import pytest

from engine.detectors import (
    AccountAnomalyScorer,
    DetectorSpec,
    percentile_ranks,
    robust_transform,
)
from engine.features import FEATURES, Feature


def _population(n: int, planted: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.abs(rng.normal(1.0, 0.3, size=(n, len(FEATURES))))
    labels = np.zeros(n, dtype=bool)
    idx = rng.choice(n, size=planted, replace=False)
    # planted accounts are extreme on a few features each
    for i in idx:
        cols = rng.choice(len(FEATURES), size=3, replace=False)
        X[i, cols] *= rng.uniform(6, 12, size=3)
    labels[idx] = True
    return X, labels


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    ranks = percentile_ranks(scores) * (len(scores) - 1) + 1
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


@pytest.mark.parametrize("detector", ["HBOS", "IForest", "ECOD", "COPOD"])
def test_each_detector_ranks_planted_anomalies_high(detector: str) -> None:
    X, labels = _population(3000, 30, seed=1)
    scorer = AccountAnomalyScorer((DetectorSpec(detector),), min_group_size=100).fit(X)
    assert _auc(scorer.decision_scores_, labels) > 0.9


def test_ensemble_is_deterministic_and_bounded() -> None:
    X, labels = _population(2000, 20, seed=2)
    first = AccountAnomalyScorer(min_group_size=100, random_state=7).fit(X).decision_scores_
    second = AccountAnomalyScorer(min_group_size=100, random_state=7).fit(X).decision_scores_
    assert np.array_equal(first, second)
    assert first.min() >= 0 and first.max() <= 1
    assert _auc(first, labels) > 0.95


def test_groups_are_fitted_apart_and_small_groups_pooled() -> None:
    rng = np.random.default_rng(3)
    individuals = np.abs(rng.normal(1, 0.2, size=(1000, len(FEATURES))))
    businesses = np.abs(rng.normal(50, 5, size=(1000, len(FEATURES))))
    X = np.vstack([individuals, businesses, businesses[:5]])
    groups = ["individual"] * 1000 + ["business"] * 1000 + ["tiny"] * 5
    scorer = AccountAnomalyScorer(min_group_size=100).fit(X, groups)
    # a business is normal among businesses although it would be extreme among individuals
    assert scorer.decision_scores_[1000:2000].mean() == pytest.approx(0.5, abs=0.1)
    assert set(scorer.groups_[-5:]) == {"pooled"}


def test_percentile_ranks_average_ties() -> None:
    assert percentile_ranks(np.array([5.0, 1.0, 5.0, 3.0])).tolist() == [
        pytest.approx(2.5 / 3),
        0.0,
        pytest.approx(2.5 / 3),
        pytest.approx(1 / 3),
    ]


def test_explanation_names_the_driving_feature() -> None:
    features = (
        Feature("night_cash_share", "night-time share of cash transactions"),
        Feature("in_count", "incoming transactions", True),
    )
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.uniform(0, 0.04, 999), rng.integers(5, 15, 999)]).astype(float)
    X = np.vstack([X, [0.71, 10.0]])
    scorer = AccountAnomalyScorer(
        (DetectorSpec("HBOS"),), min_group_size=10, features=features
    ).fit(X)
    top = scorer.explain(X, 999, top=1)[0]
    assert top.feature == "night_cash_share"
    median = float(np.median(X[:, 0]))
    assert top.text() == f"night-time share of cash transactions 0.71 vs peer median {median:.2f}"


def test_robust_transform_handles_constant_and_missing_columns() -> None:
    X = np.array([[0.0, np.nan], [0.0, 1.0], [0.0, 2.0], [0.0, 100.0]])
    Z, _median, scale = robust_transform(X, (Feature("a", "a"), Feature("b", "b", True)))
    assert np.isfinite(Z).all()
    assert scale[0] == 1.0


def test_detectors_and_their_parameters_come_from_the_config() -> None:
    from engine.config import config_from_mapping
    from engine.errors import InputError

    config = config_from_mapping(
        {"detectors": {"names": ["IForest"], "params": {"IForest": {"n_estimators": 20}}}}
    )
    assert config.detectors.names == ("IForest",)
    assert dict(config.detectors.params["IForest"]) == {"n_estimators": 20}
    with pytest.raises(InputError, match="unknown detectors"):
        config_from_mapping({"detectors": {"names": ["LOF-ish"]}})


def test_anomaly_hits_table_with_and_without_detectors() -> None:
    """On: one ANOMALY hit per flagged account, id from the hit_id macro, explained.
    Off: the same three tables, empty, with the same columns."""
    from engine.cases import fixture_rows
    from engine.catalog import Catalog
    from engine.config import DetectorConfig, RunConfig
    from engine.db import connect
    from engine.detectors import ANOMALY_TABLES, create_empty_anomaly_tables, score_accounts
    from engine.pipeline import InlineRows, ScanContext, ScanRequest, run_stages

    rng = np.random.default_rng(3)
    given = [
        {
            "timestamp": f"2024-01-{1 + i % 28:02d} {i % 24:02d}:00",
            "src_account": f"S{rng.integers(60):02d}",
            "dst_account": f"D{rng.integers(60):02d}",
            "amount": float(np.round(rng.lognormal(4, 1), 2)),
            "channel": "p2p",
        }
        for i in range(600)
    ]
    # one account sends cash at night, far more than anyone else
    given += [
        {
            "timestamp": f"2024-01-{1 + i:02d} 03:00",
            "src_account": "ODD",
            "dst_account": "CASH",
            "amount": 9000,
            "channel": "cash_withdrawal",
        }
        for i in range(20)
    ]
    columns = {}
    for enabled in (True, False):
        config = RunConfig(
            detectors=DetectorConfig(enabled=enabled, min_group_size=20, contamination=0.02)
        )
        ctx = ScanContext(
            request=ScanRequest((), None, config),
            catalog=Catalog(()),
            rows=InlineRows(fixture_rows(given), "rows"),
        )
        con = connect(config)
        try:
            run_stages(con, ctx, until="typologies")
            if enabled:
                run = score_accounts(con, config.detectors, explain_from=0.9)
                hits = con.execute(
                    "select subject_id, typology_id, typology_version, "
                    "hit_id = hit_id('ANOMALY', 1, subject_id, window_start, window_end) "
                    "from anomaly_hits"
                ).fetchall()
                assert len(hits) == run.anomaly_hits > 0
                assert ("ODD", "ANOMALY", 1, True) in hits
                assert all(h[1:] == ("ANOMALY", 1, True) for h in hits)
                explained = con.execute(
                    "select count(*) from anomaly_explanations "
                    "where account_id in (select subject_id from anomaly_hits)"
                ).fetchall()
                assert explained == [(len(hits),)]
                # every account from explain_from up is explained, hit or not; below it
                # only accounts with a hit
                unexplained = con.execute(
                    "select count(*) filter (where s.anomaly_score >= 0.9), "
                    "count(*) filter (where s.anomaly_score < 0.9 and x.account_id is not null) "
                    "from anomaly_scores s left join anomaly_explanations x using (account_id)"
                ).fetchall()
                assert unexplained[0][1] == 0
                assert con.execute(
                    "select count(*) from anomaly_scores s anti join anomaly_explanations x "
                    "using (account_id) where s.anomaly_score >= 0.9"
                ).fetchall() == [(0,)]
                assert unexplained[0][0] > len(hits)
            else:
                create_empty_anomaly_tables(con)
                for table in ANOMALY_TABLES:
                    assert con.execute(f"select count(*) from {table}").fetchall() == [(0,)]
            columns[enabled] = [con.execute(f"describe {t}").fetchall() for t in ANOMALY_TABLES]
        finally:
            con.close()
    assert columns[True] == columns[False]


def _awkward_matrix(seed: int) -> np.ndarray:
    """Columns of ties, a constant, a heavy tail and a skewed count, as account features
    have them."""
    rng = np.random.default_rng(seed)
    n = 600
    return np.column_stack(
        [
            rng.integers(0, 4, n).astype(float),
            np.full(n, 2.5),
            rng.lognormal(3, 2, n),
            rng.poisson(0.3, n).astype(float),
            rng.normal(0, 1, n),
        ]
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histograms_score_as_pyods_hbos_bit_for_bit(seed: int) -> None:
    from pyod.models.hbos import HBOS

    from engine.detectors import Histograms

    fit_rows = _awkward_matrix(seed)
    # new rows reach below and above the fitted bins, near and far
    new_rows = _awkward_matrix(seed + 100) * np.random.default_rng(seed).uniform(0.5, 1.6, 5)
    new_rows[:5] = fit_rows.min(axis=0) - np.array([[1e-9], [0.01], [1], [10], [1e6]])
    new_rows[5:10] = fit_rows.max(axis=0) + np.array([[1e-9], [0.01], [1], [10], [1e6]])
    pyod = HBOS(n_bins=10).fit(fit_rows)
    ours = Histograms(10, pyod.alpha, pyod.tol).fit(fit_rows)
    assert np.array_equal(ours.decision_function(new_rows), pyod.decision_function(new_rows))
    assert np.array_equal(ours.decision_function(fit_rows), pyod.decision_scores_)


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # the constant column
@pytest.mark.parametrize("kind", ["ECOD", "COPOD"])
def test_empirical_tails_give_pyods_scores_on_the_fitted_rows(kind: str) -> None:
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD

    from engine.detectors import EmpiricalTails

    rows = _awkward_matrix(7)
    pyod = (ECOD() if kind == "ECOD" else COPOD()).fit(rows)
    ours = EmpiricalTails(kind).fit(rows)
    assert np.array_equal(ours.decision_function(rows), pyod.decision_scores_)


def test_explanation_columns_match_explain_rows() -> None:
    X, _ = _population(400, 8, seed=5)
    groups = np.array(["a" if i % 3 else "b" for i in range(len(X))], dtype=object)
    scorer = AccountAnomalyScorer((DetectorSpec("HBOS"),), min_group_size=10).fit(
        X, list(groups)
    )
    texts, names = scorer.explanation_columns(X, groups)
    expected = scorer.explain_rows(X, list(groups))
    assert texts.to_pylist() == ["; ".join(e.text() for e in parts) for parts in expected]
    assert names.to_pylist() == [[e.feature for e in parts] for parts in expected]
