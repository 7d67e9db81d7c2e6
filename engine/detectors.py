"""Detectors stage: unsupervised anomaly scores per account with PyOD, fitted per peer group.

Each peer group (``customer_type``/``segment`` from the accounts file, else one group;
groups smaller than ``min_group_size`` are pooled) is scaled robustly and scored by every
configured detector. A detector's raw scores are turned into percentile ranks inside the
group (0 = most normal, 1 = most anomalous), which makes detectors and groups comparable;
the account's anomaly score is the mean of those ranks. Explanations are the features with
the largest robust z-scores, each shown with the account's value and the group median.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.config import DetectorConfig
from engine.db import arrow_table, scalar
from engine.features import DETECTOR_FEATURES, FEATURES, Feature
from engine.resources import sql_text
from engine.rules import create_hits_table

FloatArray = npt.NDArray[np.float64]

KNOWN_DETECTORS: Final = ("HBOS", "IForest", "ECOD", "COPOD")


@dataclass(frozen=True)
class DetectorSpec:
    """A PyOD detector by class name with its keyword arguments."""

    name: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


DEFAULT_DETECTORS: Final = (DetectorSpec("HBOS"), DetectorSpec("IForest"), DetectorSpec("ECOD"))
"""Fast detectors that scale linearly with the number of accounts (LOF/KNN do not)."""


def make_detector(spec: DetectorSpec, random_state: int) -> Any:
    """Instantiate one PyOD detector (imported lazily: PyOD pulls in numba and sklearn)."""
    if spec.name == "HBOS":
        from pyod.models.hbos import HBOS

        return HBOS(**spec.params)
    if spec.name == "IForest":
        from pyod.models.iforest import IForest

        return IForest(**{"random_state": random_state, **spec.params})
    if spec.name == "ECOD":
        from pyod.models.ecod import ECOD

        return ECOD(**spec.params)
    if spec.name == "COPOD":
        from pyod.models.copod import COPOD

        return COPOD(**spec.params)
    raise ValueError(f"unknown detector {spec.name!r}; known: {KNOWN_DETECTORS}")


@dataclass(frozen=True)
class Explanation:
    feature: str
    label: str
    value: float
    peer_median: float
    z: float

    def text(self) -> str:
        return f"{self.label} {_fmt(self.value)} vs peer median {_fmt(self.peer_median)}"


def _fmt(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}"


def robust_transform(
    X: FloatArray, features: Sequence[Feature]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log-compress heavy-tailed columns, then centre on the median and divide by the IQR.

    Returns the scaled matrix, the medians and the scales (of the log-compressed values).
    """
    Z = np.nan_to_num(X.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    heavy = np.array([f.heavy_tailed for f in features])
    Z[:, heavy] = np.log1p(np.clip(Z[:, heavy], 0, None))
    median = np.median(Z, axis=0)
    q75, q25 = np.percentile(Z, [75, 25], axis=0)
    scale = q75 - q25
    # a feature that is constant in most of the group (e.g. a share that is 0 for 90% of
    # accounts) has IQR 0; fall back to the standard deviation, then to 1
    std = Z.std(axis=0)
    scale = np.where(scale > 1e-9, scale, np.where(std > 1e-9, std, 1.0))
    return (Z - median) / scale, median, scale


def percentile_ranks(scores: FloatArray) -> FloatArray:
    """Map raw detector scores to [0, 1] by rank (ties share their mean rank)."""
    n = len(scores)
    if n == 1:
        return np.zeros(1)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.arange(n, dtype=np.float64)
    # average the ranks of tied values so that the result does not depend on row order
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse] / (n - 1)


@dataclass
class AccountAnomalyScorer:
    """Fits the detector ensemble per peer group; higher ``decision_scores_`` = stranger.

    Follows the PyOD/scikit-learn convention: ``__init__`` stores parameters, ``fit``
    returns ``self`` and sets attributes ending in ``_``.
    """

    detectors: Sequence[DetectorSpec] = DEFAULT_DETECTORS
    min_group_size: int = 500
    random_state: int = 42
    features: Sequence[Feature] = FEATURES

    decision_scores_: FloatArray = field(init=False, repr=False)
    detector_scores_: dict[str, FloatArray] = field(init=False, repr=False)
    groups_: npt.NDArray[np.str_] = field(init=False, repr=False)
    z_: FloatArray = field(init=False, repr=False)
    medians_: dict[str, FloatArray] = field(init=False, repr=False)

    def fit(self, X: FloatArray, groups: Sequence[str] | None = None) -> AccountAnomalyScorer:
        n = X.shape[0]
        labels = np.asarray(groups if groups is not None else ["all"] * n, dtype=str)
        names, counts = np.unique(labels, return_counts=True)
        small = set(names[counts < self.min_group_size])
        if small:
            labels = np.where(np.isin(labels, list(small)), "pooled", labels)
        self.groups_ = labels
        self.decision_scores_ = np.zeros(n)
        self.detector_scores_ = {d.name: np.zeros(n) for d in self.detectors}
        self.z_ = np.zeros((n, len(self.features)))
        self.medians_ = {}
        raw = np.nan_to_num(X.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        for group in sorted(set(labels.tolist())):
            rows = np.flatnonzero(labels == group)
            Z, _, _ = robust_transform(X[rows], self.features)
            self.z_[rows] = Z
            self.medians_[group] = np.median(raw[rows], axis=0)
            if len(rows) < 3:
                continue
            ranks = []
            for spec in self.detectors:
                detector = make_detector(spec, self.random_state)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    detector.fit(Z)
                scores = np.asarray(detector.decision_scores_, dtype=np.float64)
                rank = percentile_ranks(np.nan_to_num(scores, nan=0.0))
                self.detector_scores_[spec.name][rows] = rank
                ranks.append(rank)
            self.decision_scores_[rows] = np.mean(ranks, axis=0)
        return self

    def explain(self, X: FloatArray, row: int, top: int = 3) -> tuple[Explanation, ...]:
        """The ``top`` features that push one account furthest from its peers."""
        z = self.z_[row]
        order = np.argsort(-np.abs(z), kind="stable")[:top]
        medians = self.medians_[str(self.groups_[row])]
        raw = np.nan_to_num(X[row].astype(np.float64), nan=0.0)
        return tuple(
            Explanation(
                feature=self.features[i].name,
                label=self.features[i].label,
                value=float(raw[i]),
                peer_median=float(medians[i]),
                z=float(z[i]),
            )
            for i in order
            if abs(z[i]) > 0
        )


@dataclass(frozen=True)
class AnomalyRun:
    accounts: int
    groups: tuple[tuple[str, int], ...]
    anomaly_hits: int
    threshold: float
    seconds_per_detector: tuple[tuple[str, float], ...]


ANOMALY_TABLES: Final = ("anomaly_scores", "anomaly_explanations", "anomaly_hits")
"""What the detectors stage creates, whether or not the detectors run."""


def score_accounts(
    con: Any, config: DetectorConfig, contamination: float | None = None
) -> AnomalyRun:
    """Score every row of ``account_features``: create ``anomaly_scores``, the
    ``anomaly_explanations`` of accounts with any hit, and ``anomaly_hits`` with one
    ``ANOMALY`` hit per account in the most anomalous ``contamination`` share.

    Explanations are written only for accounts that have any hit (rule or anomaly), so
    the Python work is bounded by the number of alerts, not of accounts.
    """
    import time

    share = config.contamination if contamination is None else contamination
    names = [f.name for f in DETECTOR_FEATURES]
    table = arrow_table(
        con,
        "select account_id, coalesce(customer_type, '') || '/' || coalesce(segment, '') "
        f"as peer_group, {', '.join(names)} from account_features "
        "left join account_graph using (account_id) order by account_id",
    )
    n = table.num_rows
    X = (
        np.column_stack(
            [table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in names]
        )
        if n
        else np.zeros((0, len(names)))
    )
    groups = table.column("peer_group").to_numpy(zero_copy_only=False).astype(str)
    specs = tuple(DetectorSpec(name, config.params.get(name, {})) for name in config.names)
    timings: dict[str, float] = {}
    scorer = AccountAnomalyScorer(
        specs, config.min_group_size, config.random_state, DETECTOR_FEATURES
    )
    # below one peer group's worth of accounts, percentiles and densities mean nothing:
    # every account scores 0 and no ANOMALY hit is raised
    if n >= config.min_group_size:
        started = time.perf_counter()
        scorer.fit(X, groups)
        timings["ensemble"] = round(time.perf_counter() - started, 3)
        scores = scorer.decision_scores_
    else:
        scores = np.zeros(n)
        scorer.groups_ = np.full(n, "too-few-accounts")
        share = 0.0
    threshold = float(np.quantile(scores, 1 - share)) if n else 1.0
    _write_scores(con, table.column("account_id"), scorer.groups_, scores)
    flagged = scalar(
        con,
        "select count(*) from anomaly_scores where anomaly_score >= $t and $share > 0",
        {"t": threshold, "share": share},
    )
    _write_explanations(con, scorer, X, table, threshold, share)
    _write_anomaly_hits(con, threshold, share)
    group_sizes = con.execute(
        "select peer_group, count(*) from anomaly_scores group by 1 order by 1"
    ).fetchall()
    return AnomalyRun(
        accounts=n,
        groups=tuple((str(g), int(c)) for g, c in group_sizes),
        anomaly_hits=int(flagged),
        threshold=round(threshold, 6),
        seconds_per_detector=tuple(timings.items()),
    )


def create_empty_anomaly_tables(con: Any) -> None:
    """Detectors off: create the ``ANOMALY_TABLES`` empty, with the columns
    ``score_accounts`` gives them."""
    import pyarrow as pa

    _write_scores(con, pa.array([], pa.string()), np.array([], dtype=str), np.zeros(0))
    _write_explanation_rows(con, [], [], [])
    create_hits_table(con, "anomaly_hits")


def _write_scores(
    con: Any, accounts: Any, groups: npt.NDArray[np.str_], scores: FloatArray
) -> None:
    import pyarrow as pa

    con.register(
        "anomaly_scores_arrow",
        pa.table(
            {
                "account_id": accounts,
                "peer_group": pa.array(groups, type=pa.string()),
                "anomaly_score": pa.array(np.round(scores, 6), type=pa.float64()),
            }
        ),
    )
    con.execute("create or replace table anomaly_scores as select * from anomaly_scores_arrow")
    con.unregister("anomaly_scores_arrow")


def _write_anomaly_hits(con: Any, threshold: float, share: float) -> None:
    create_hits_table(con, "anomaly_hits")
    con.execute(
        "insert into anomaly_hits " + sql_text("detectors/anomaly_hits.sql"),
        {"t": threshold, "share": share},
    )


def _write_explanations(
    con: Any,
    scorer: AccountAnomalyScorer,
    X: FloatArray,
    table: Any,
    threshold: float,
    share: float,
) -> None:
    accounts = table.column("account_id").to_pylist() if table.num_rows else []
    position = {a: i for i, a in enumerate(accounts)}
    wanted = con.execute(
        "select distinct subject_id from hits union "
        "select account_id from anomaly_scores where anomaly_score >= $t and $share > 0 "
        "order by 1",
        {"t": threshold, "share": share},
    ).fetchall()
    rows = [position[a] for (a,) in wanted if a in position]
    fitted = hasattr(scorer, "z_")
    explained = [scorer.explain(X, r) if fitted else () for r in rows]
    _write_explanation_rows(
        con,
        [accounts[r] for r in rows],
        ["; ".join(e.text() for e in parts) for parts in explained],
        [[e.feature for e in parts] for parts in explained],
    )


def _write_explanation_rows(
    con: Any, accounts: list[str], texts: list[str], features: list[list[str]]
) -> None:
    import pyarrow as pa

    con.register(
        "explanations_arrow",
        pa.table(
            {
                "account_id": pa.array(accounts, type=pa.string()),
                "explanation": pa.array(texts, type=pa.string()),
                "top_features": pa.array(features, type=pa.list_(pa.string())),
            }
        ),
    )
    con.execute("create or replace table anomaly_explanations as select * from explanations_arrow")
    con.unregister("explanations_arrow")
