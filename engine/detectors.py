"""Detectors stage: unsupervised anomaly scores per account with PyOD, fitted per peer group.

Each peer group (``customer_type``/``segment`` from the accounts file, else one group;
groups smaller than ``min_group_size`` are pooled) is scaled robustly and scored by every
configured detector. A detector's raw scores are turned into percentile ranks inside the
group (0 = most normal, 1 = most anomalous), which makes detectors and groups comparable;
the account's anomaly score is the mean of those ranks. Explanations are the features with
the largest robust z-scores, each shown with the account's value and the group median.

Memory is bounded whatever the number of accounts: a group is fitted (scaling and
detectors) on at most ``SAMPLE_SIZE`` of its accounts, drawn with the configured seed, and
every account is then scored against that fit in chunks of ``CHUNK_ROWS``. Every detector's
score of an account depends only on the account and the fit, so chunking changes nothing;
a group no larger than the sample is fitted on all its accounts, exactly as without one.
``working_set_bytes`` is what the stage holds at most, which ``--memory-limit`` keeps
outside DuckDB's share.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from engine.config import DetectorConfig
from engine.db import arrow_batches, scalar
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


SAMPLE_SIZE: Final = 50_000
"""Accounts of one peer group a fit reads at most (drawn with the configured seed; a
smaller group is fitted on all its accounts). The largest group of the 1M benchmark
dataset (about 24,000 retail individuals) fits whole, so its scores are those of a fit on
every account. Beyond that the fit costs the same whatever the group's size, and the
sample still has far more accounts than the detectors resolve: HBOS's 10 bins per feature,
IForest's trees of 256 accounts each, and ECOD/COPOD tail probabilities down to 1/50,000,
well below the 0.5% of accounts an ANOMALY hit goes to. On the 10M benchmark dataset (two
groups of 184,000 and 237,000 accounts sampled) 2,087 of 2,234 ANOMALY hits stayed the
same and recall moved from 0.378 to 0.377 at equal precision."""

CHUNK_ROWS: Final = 16_384
"""Accounts read from DuckDB and scored at a time."""

FIT_COPIES: Final = 12
"""Float matrices of the sample's size alive at once while a group is fitted (the
sample, its scaled copy, the detectors' training copies and HBOS's bin scores)."""

CHUNK_COPIES: Final = 16
"""Float matrices of a chunk's size alive at once while it is scored (the Arrow batch,
the matrix, its scaled copy, ECOD/COPOD's tail probabilities and logarithms)."""

BYTES_PER_ACCOUNT: Final = 128
"""Held per account for the whole stage: its peer group (4 bytes), each detector's raw
score and the mean (8 bytes each), and the temporaries of ranking the largest group
(sort order, ranks, tie groups: about 60 bytes)."""


def working_set_bytes(accounts: int, features: int = len(DETECTOR_FEATURES)) -> int:
    """Upper bound of what the detectors stage holds outside DuckDB, in bytes, for
    ``accounts`` accounts."""
    fixed = min(SAMPLE_SIZE, accounts) * FIT_COPIES + min(CHUNK_ROWS, accounts) * CHUNK_COPIES
    return fixed * features * 8 + BYTES_PER_ACCOUNT * accounts


class EmpiricalTails:
    """ECOD or COPOD with PyOD's formulas, fitted on a sample and scoring rows one by one.

    On the rows it was fitted on it returns what PyOD's ``decision_scores_`` holds, bit
    for bit; another row's tail probabilities are read off the sample's empirical
    distribution (at least 1/n). PyOD's own ``decision_function`` ranks new rows together
    with the training rows, so a row's score would depend on the other rows scored with it.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def fit(self, X: FloatArray) -> EmpiricalTails:
        from scipy.stats import skew  # type: ignore[import-untyped]

        X = np.asarray(X, dtype=np.float64)
        n, d = X.shape
        self.n_ = n
        # per feature, the sample's distinct values in order and how many sample values lie
        # below each of them: a row's counts are read off that table, which is searched in
        # far fewer steps than the whole sorted column (most features repeat a few values)
        # and is never larger than 1.5 times it (counts below 2**31: int32)
        self.values_: list[FloatArray] = []
        self.fewer_: list[npt.NDArray[np.int32]] = []
        for j in range(d):
            values, counts = np.unique(X[:, j], return_counts=True)
            self.values_.append(values)
            self.fewer_.append(np.concatenate(([0], np.cumsum(counts))).astype(np.int32))
        # the probabilities PyOD's column_ecdf hands out (k/n for k = 1..n), computed the
        # same way so that they round the same
        self.probabilities_ = np.linspace(np.ones(d) / n, np.ones(d), n)[:, 0].copy()
        # PyOD's skew: SciPy's with NaN (a constant column) read as 0
        self.skewness_ = np.sign(np.nan_to_num(skew(X, axis=0)))
        return self

    def decision_function(self, X: FloatArray) -> FloatArray:
        X = np.asarray(X, dtype=np.float64)
        n = self.n_
        below = np.empty(X.shape, dtype=np.float64)
        above = np.empty(X.shape, dtype=np.float64)
        # each feature's values contiguous for the searches
        for j, x in enumerate(np.ascontiguousarray(X.T)):
            values, fewer = self.values_[j], self.fewer_[j]
            # k: distinct sample values below x; x equal to the k-th adds its count to
            # the values at most x (NaN counts as equal to NaN, as in NumPy's sort order)
            k = np.searchsorted(values, x, side="left")
            found = values[np.minimum(k, len(values) - 1)]
            equal = (found == x) | (np.isnan(found) & np.isnan(x))
            at_most = fewer[k + equal]
            at_least = n - fewer[k]
            below[:, j] = self.probabilities_[np.maximum(at_most, 1) - 1]
            above[:, j] = self.probabilities_[np.maximum(at_least, 1) - 1]
        # from here on PyOD's arithmetic, operation for operation
        u_l = -1 * np.log(below)
        u_r = -1 * np.log(above)
        skewness = self.skewness_
        u_skew = u_l * -1 * np.sign(skewness - 1) + u_r * np.sign(skewness + 1)
        if self.kind == "ECOD":
            o = np.maximum(u_skew, np.maximum(u_l, u_r))
        else:
            o = np.maximum(u_skew, np.add(u_l, u_r) / 2)
        return np.asarray(o.sum(axis=1).ravel(), dtype=np.float64)


def _check_array(X: FloatArray) -> FloatArray:
    """scikit-learn's input check, as PyOD applies it (a finite float matrix)."""
    from sklearn.utils import check_array  # type: ignore[import-untyped]

    checked: FloatArray = check_array(X)
    return checked


class Histograms:
    """PyOD's HBOS with a fixed number of bins, its formulas in NumPy.

    PyOD scores rows with a numba function compiled at its first call in every process,
    seconds of CPU; this takes the same histograms, looks each value up in the same bins
    (``np.digitize(right=True)`` is a left-sided search of the increasing edges), takes
    the log2 of the same densities with the same C library function and treats values
    outside the bins by the same rule, then sums and negates as PyOD does: the scores are
    PyOD's bit for bit. The rows it is fitted on are not scored (nothing reads them).
    """

    def __init__(self, n_bins: int, alpha: float, tol: float) -> None:
        self.n_bins = n_bins
        self.alpha = alpha
        self.tol = tol

    def fit(self, X: FloatArray) -> Histograms:
        from pyod.utils.utility import check_parameter

        X = _check_array(X)
        check_parameter(self.n_bins, low=2, high=np.inf)
        d = X.shape[1]
        self.hist_ = np.zeros([self.n_bins, d])
        self.bin_edges_ = np.zeros([self.n_bins + 1, d])
        for i in range(d):
            self.hist_[:, i], self.bin_edges_[:, i] = np.histogram(
                X[:, i], bins=self.n_bins, density=True
            )
            # PyOD's check: the densities integrate to 1 (not so when the edges overflow)
            assert np.isclose(
                1, np.sum(self.hist_[:, i] * np.diff(self.bin_edges_[:, i])), atol=0.1
            )
        # math.log2 is the C library's log2, which PyOD's compiled loop calls
        self.log_density_ = np.array(
            [[math.log2(h + self.alpha) for h in row] for row in self.hist_.tolist()],
            dtype=np.float64,
        ).reshape(self.hist_.shape)
        return self

    def decision_function(self, X: FloatArray) -> FloatArray:
        X = _check_array(X)
        n_bins, tol = self.n_bins, self.tol
        # C order, as PyOD's per-feature scores, so that the row sums add up the same way
        scores = np.zeros(X.shape, dtype=np.float64)
        # each feature's values contiguous for the searches
        for i, x in enumerate(np.ascontiguousarray(X.T)):
            edges = self.bin_edges_[:, i]
            density = self.log_density_[:, i]
            lowest = np.min(density)
            k = np.searchsorted(edges, x, side="left")
            # bin k (1..n_bins) scores its density; below the first edge (k = 0) or above
            # the last (k = n_bins + 1) the outer bin's when within tol of a bin width of
            # it, else the lowest density
            column = np.concatenate(([density[0]], density, [density[n_bins - 1]]))[k]
            under = np.flatnonzero(k == 0)
            column[under] = np.where(
                edges[0] - x[under] <= (edges[1] - edges[0]) * tol, density[0], lowest
            )
            over = np.flatnonzero(k == n_bins + 1)
            column[over] = np.where(
                x[over] - edges[-1] <= (edges[-1] - edges[-2]) * tol, density[n_bins - 1], lowest
            )
            scores[:, i] = column
        return np.asarray(np.sum(scores, axis=1).ravel() * -1, dtype=np.float64)


def make_detector(spec: DetectorSpec, random_state: int) -> Any:
    """Instantiate one detector: PyOD's IForest (imported lazily: PyOD pulls in numba and
    sklearn), ``Histograms`` for HBOS with PyOD's parameters (PyOD's own HBOS for
    ``n_bins="auto"``), ``EmpiricalTails`` for ECOD and COPOD (their parameters only
    change PyOD's thresholds and parallelism, not the scores)."""
    if spec.name == "HBOS":
        from pyod.models.hbos import HBOS

        # PyOD's object checks the parameters and holds the defaults; "auto" bins are
        # scored by PyOD itself (that path compiles nothing)
        model = HBOS(**spec.params)
        if isinstance(model.n_bins, str):
            return model
        return Histograms(model.n_bins, model.alpha, model.tol)
    if spec.name == "IForest":
        from pyod.models.iforest import IForest

        return IForest(**{"random_state": random_state, **spec.params})
    if spec.name in ("ECOD", "COPOD"):
        return EmpiricalTails(spec.name)
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


def _compress(X: FloatArray, features: Sequence[Feature]) -> FloatArray:
    """Missing and infinite values as 0, heavy-tailed columns log-compressed."""
    Z = np.nan_to_num(X.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    heavy = np.array([f.heavy_tailed for f in features])
    Z[:, heavy] = np.log1p(np.clip(Z[:, heavy], 0, None))
    return Z


def robust_transform(
    X: FloatArray, features: Sequence[Feature]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log-compress heavy-tailed columns, then centre on the median and divide by the IQR.

    Returns the scaled matrix, the medians and the scales (of the log-compressed values).
    """
    Z = _compress(X, features)
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


@dataclass(frozen=True)
class GroupFit:
    """One peer group's fit: the robust scaling, the group's medians as read and the
    fitted detectors (none below 3 accounts)."""

    median: FloatArray
    scale: FloatArray
    raw_median: FloatArray
    detectors: tuple[Any, ...]

    def z(self, X: FloatArray, features: Sequence[Feature]) -> FloatArray:
        return (_compress(X, features) - self.median) / self.scale


@dataclass
class AccountAnomalyScorer:
    """Fits the detector ensemble per peer group; higher ``decision_scores_`` = stranger.

    Follows the PyOD/scikit-learn convention: ``__init__`` stores parameters, ``fit``
    returns ``self`` and sets attributes ending in ``_``. ``fit`` works on a matrix in
    memory; ``score_accounts`` drives the same steps over DuckDB record batches:
    ``assign_groups``, ``sample_rows``, ``fit_groups``, ``score_chunks``.
    """

    detectors: Sequence[DetectorSpec] = DEFAULT_DETECTORS
    min_group_size: int = 500
    random_state: int = 42
    features: Sequence[Feature] = FEATURES
    sample_size: int = SAMPLE_SIZE
    chunk_rows: int = CHUNK_ROWS

    decision_scores_: FloatArray = field(init=False, repr=False)
    detector_scores_: dict[str, FloatArray] = field(init=False, repr=False)
    group_codes_: npt.NDArray[np.int32] = field(init=False, repr=False)
    group_names_: tuple[str, ...] = field(init=False, repr=False)
    fits_: dict[str, GroupFit] = field(init=False, repr=False)

    @property
    def groups_(self) -> npt.NDArray[np.str_]:
        """Each account's peer group after pooling."""
        return np.asarray(self.group_names_ or ("",), dtype=str)[self.group_codes_]

    def fit(self, X: FloatArray, groups: Sequence[str] | None = None) -> AccountAnomalyScorer:
        n = X.shape[0]
        labels = np.asarray(groups if groups is not None else ["all"] * n, dtype=str)
        names, codes = np.unique(labels, return_inverse=True)
        self.assign_groups(codes.astype(np.int32), [str(x) for x in names])
        self.fit_groups({g: X[rows] for g, rows in self.sample_rows().items()})
        self.score_chunks(
            (start, X[start : start + self.chunk_rows]) for start in range(0, n, self.chunk_rows)
        )
        return self

    def assign_groups(self, codes: npt.NDArray[np.int32], names: Sequence[str]) -> None:
        """Each account's peer group as an index into ``names``; groups smaller than
        ``min_group_size`` are pooled into one group ``pooled``."""
        counts = np.bincount(codes, minlength=len(names))
        small = counts < self.min_group_size
        kept = sorted(
            {str(x) for x, c, s in zip(names, counts, small, strict=True) if c and not s}
            | ({"pooled"} if (small & (counts > 0)).any() else set())
        )
        position = {name: i for i, name in enumerate(kept)}
        remap = np.array(
            [
                position["pooled" if s else str(x)] if c else -1
                for x, c, s in zip(names, counts, small, strict=True)
            ]
            or [0],
            dtype=np.int32,
        )
        self.group_codes_ = remap[codes] if len(codes) else np.zeros(0, dtype=np.int32)
        self.group_names_ = tuple(kept)

    def sample_rows(self) -> dict[str, npt.NDArray[np.intp]]:
        """Per group, the rows its fit reads: all of them up to ``sample_size``, else
        ``sample_size`` rows drawn without replacement with ``random_state``, in row order."""
        samples = {}
        for code, name in enumerate(self.group_names_):
            rows = np.flatnonzero(self.group_codes_ == code)
            if len(rows) > self.sample_size:
                rng = np.random.default_rng(self.random_state)
                rows = np.sort(rng.choice(rows, self.sample_size, replace=False))
            samples[name] = rows
        return samples

    def fit_groups(self, samples: Mapping[str, FloatArray]) -> None:
        """Fit the scaling and the detectors of each group on its sample."""
        self.fits_ = {}
        for name, X in samples.items():
            Z, median, scale = robust_transform(X, self.features)
            raw = np.nan_to_num(X.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
            fitted: list[Any] = []
            if len(X) >= 3:
                for spec in self.detectors:
                    detector = make_detector(spec, self.random_state)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        detector.fit(Z)
                    fitted.append(detector)
            self.fits_[name] = GroupFit(median, scale, np.median(raw, axis=0), tuple(fitted))

    def score_chunks(self, chunks: Iterable[tuple[int, FloatArray]]) -> None:
        """Score every account, given as ``(first row, matrix)`` chunks in row order,
        then rank the raw scores within each group."""
        n = len(self.group_codes_)
        raw = {d.name: np.zeros(n) for d in self.detectors}
        for start, X in chunks:
            codes = self.group_codes_[start : start + len(X)]
            for code in np.unique(codes):
                fit = self.fits_[self.group_names_[code]]
                if not fit.detectors:
                    continue
                rows = np.flatnonzero(codes == code)
                Z = fit.z(X[rows], self.features)
                for spec, detector in zip(self.detectors, fit.detectors, strict=True):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        scores = detector.decision_function(Z)
                    raw[spec.name][start + rows] = np.asarray(scores, dtype=np.float64)
        self.decision_scores_ = np.zeros(n)
        self.detector_scores_ = {d.name: np.zeros(n) for d in self.detectors}
        for code, name in enumerate(self.group_names_):
            if not self.fits_[name].detectors:
                continue
            rows = np.flatnonzero(self.group_codes_ == code)
            ranks = []
            for spec in self.detectors:
                rank = percentile_ranks(np.nan_to_num(raw[spec.name][rows], nan=0.0))
                self.detector_scores_[spec.name][rows] = rank
                ranks.append(rank)
            self.decision_scores_[rows] = np.mean(ranks, axis=0)

    def explain(self, X: FloatArray, row: int, top: int = 3) -> tuple[Explanation, ...]:
        """The ``top`` features that push one account furthest from its peers."""
        return self.explain_values(X[row], str(self.groups_[row]), top)

    def explain_values(
        self, values: FloatArray, group: str, top: int = 3
    ) -> tuple[Explanation, ...]:
        """``explain`` for an account given by its feature values and its peer group."""
        return self.explain_rows(values[np.newaxis, :], [group], top)[0]

    def explain_rows(
        self, X: FloatArray, groups: Sequence[str], top: int = 3
    ) -> list[tuple[Explanation, ...]]:
        """``explain`` for each row of ``X`` (its peer group in ``groups``): the scaling
        and the ordering of the features run once per peer group of the rows."""
        explained: list[tuple[Explanation, ...]] = [() for _ in range(len(groups))]
        raw = np.nan_to_num(X.astype(np.float64), nan=0.0)
        for fit, rows, z, order in self._ordered_features(X, np.asarray(groups, dtype=object), top):
            for position, row in enumerate(rows):
                zr = z[position]
                explained[row] = tuple(
                    Explanation(
                        feature=self.features[i].name,
                        label=self.features[i].label,
                        value=float(raw[row, i]),
                        peer_median=float(fit.raw_median[i]),
                        z=float(zr[i]),
                    )
                    for i in order[position]
                    if abs(zr[i]) > 0
                )
        return explained

    def _ordered_features(
        self, X: FloatArray, groups: npt.NDArray[Any], top: int
    ) -> Iterator[tuple[GroupFit, npt.NDArray[np.intp], FloatArray, npt.NDArray[np.intp]]]:
        """Per fitted peer group of the rows (``groups``: each row's group), in order of
        first appearance: its fit, its rows, their z-scores and each row's ``top``
        features by absolute z (ties in feature order)."""
        for group in dict.fromkeys(groups.tolist()):
            fit = self.fits_.get(group)
            if fit is None:
                continue
            members = np.flatnonzero(groups == group)
            z = fit.z(X[members], self.features)
            yield fit, members, z, np.argsort(-np.abs(z), axis=1, kind="stable")[:, :top]

    def explanation_columns(
        self, X: FloatArray, groups: npt.NDArray[Any], top: int = 3
    ) -> tuple[Any, Any]:
        """``explain_rows`` as two Arrow columns, built feature-wise rather than per
        account: each row's explanation texts joined by ``"; "`` and its feature names."""
        import pyarrow as pa
        import pyarrow.compute as pc

        raw = np.nan_to_num(X.astype(np.float64), nan=0.0)
        rows: list[npt.NDArray[np.intp]] = []
        picked: list[npt.NDArray[np.intp]] = []
        medians: list[npt.NDArray[np.object_]] = []
        for fit, members, z, order in self._ordered_features(X, groups, top):
            # row-major positions of the kept features: each row's in explain_rows' order
            row, position = np.nonzero(np.abs(np.take_along_axis(z, order, axis=1)) > 0)
            feature = order[row, position]
            rows.append(members[row])
            picked.append(feature)
            median_text = np.array([_fmt(m) for m in fit.raw_median.tolist()], dtype=object)
            medians.append(median_text[feature])
        every = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
        # the groups' pieces in row order, each row's own order kept (a stable sort)
        by_row = np.argsort(every, kind="stable")
        every = every[by_row]
        feature = np.concatenate(picked)[by_row] if picked else every
        median = np.concatenate(medians)[by_row] if medians else np.zeros(0, dtype=object)
        labels = np.array([f.label for f in self.features], dtype=object)
        feature_names = np.array([f.name for f in self.features], dtype=object)
        values = [_fmt(v) for v in raw[every, feature].tolist()]
        pieces = pc.binary_join_element_wise(
            pa.array(labels[feature], type=pa.string()),
            pa.array(values, type=pa.string()),
            "vs peer median",
            pa.array(median, type=pa.string()),
            " ",
        )
        offsets = pa.array(
            np.concatenate(([0], np.cumsum(np.bincount(every, minlength=len(groups))))),
            type=pa.int32(),
        )
        texts = pc.binary_join(pa.ListArray.from_arrays(offsets, pieces), "; ")
        names = pa.ListArray.from_arrays(
            offsets, pa.array(feature_names[feature], type=pa.string())
        )
        return texts, names


@dataclass(frozen=True)
class AnomalyRun:
    accounts: int
    groups: tuple[tuple[str, int], ...]
    anomaly_hits: int
    threshold: float
    seconds_per_detector: tuple[tuple[str, float], ...]


ANOMALY_TABLES: Final = ("anomaly_scores", "anomaly_explanations", "anomaly_hits")
"""What the detectors stage creates, whether or not the detectors run."""


def create_detector_rows(con: Any) -> None:
    """The scratch table ``detector_rows``: one row per account (in id order) with its
    peer group and every detector input (``DETECTOR_FEATURES``) as a double, a NULL
    read as the feature's ``missing`` value."""
    columns = ", ".join(
        f"coalesce({f.name}::double, {f.missing}::double) as {f.name}" for f in DETECTOR_FEATURES
    )
    con.execute(
        "create or replace table detector_rows as "
        "select account_id, coalesce(customer_type, '') || '/' || coalesce(segment, '') "
        f"as peer_group, {columns} from account_features "
        "left join account_graph using (account_id) order by account_id"
    )


def score_accounts(
    con: Any,
    config: DetectorConfig,
    contamination: float | None = None,
    explain_from: float | None = None,
) -> AnomalyRun:
    """Score every row of ``account_features``: create ``anomaly_scores``, the
    ``anomaly_explanations`` of accounts with any hit or an anomaly score of at least
    ``explain_from`` (the accounts an anomaly alone can bring to the top of the ranking;
    None: hits only), and ``anomaly_hits`` with one ``ANOMALY`` hit per account in the
    most anomalous ``contamination`` share.

    The features are copied once into the scratch table ``detector_rows`` (DuckDB
    spills it past its memory limit) and read from there in record batches: once for
    each group's sample, once to score every account, once to explain the accounts with
    any hit; Python never holds more than a sample and a chunk of the matrix. The table
    is dropped at the end.
    """
    import time

    share = config.contamination if contamination is None else contamination
    names = [f.name for f in DETECTOR_FEATURES]
    create_detector_rows(con)
    try:
        n = int(scalar(con, "select count(*) from detector_rows"))
        specs = tuple(DetectorSpec(name, config.params.get(name, {})) for name in config.names)
        timings: dict[str, float] = {}
        scorer = AccountAnomalyScorer(
            specs, config.min_group_size, config.random_state, DETECTOR_FEATURES
        )
        # below one peer group's worth of accounts, percentiles and densities mean
        # nothing: every account scores 0 and no ANOMALY hit is raised
        if n >= config.min_group_size:
            started = time.perf_counter()
            _fit_and_score(con, scorer, names, n)
            timings["ensemble"] = round(time.perf_counter() - started, 3)
            scores = scorer.decision_scores_
        else:
            scores = np.zeros(n)
            scorer.group_codes_ = np.zeros(n, dtype=np.int32)
            scorer.group_names_ = ("too-few-accounts",)
            scorer.fits_ = {}
            share = 0.0
        threshold = float(np.quantile(scores, 1 - share)) if n else 1.0
        _write_scores(con, scorer, scores)
        flagged = scalar(
            con,
            "select count(*) from anomaly_scores where anomaly_score >= $t and $share > 0",
            {"t": threshold, "share": share},
        )
        _write_explanations(con, scorer, names, threshold, share, explain_from)
    finally:
        con.execute("drop table if exists detector_rows")
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


def _batches(
    con: Any, query: str, params: dict[str, object] | None = None
) -> Iterator[tuple[int, Any]]:
    """``(first row, record batch)`` of a query's result, ``CHUNK_ROWS`` rows at a time."""
    start = 0
    with arrow_batches(con, query, CHUNK_ROWS, params) as reader:
        for batch in reader:
            yield start, batch
            start += batch.num_rows


def _matrix(batch: Any, names: Sequence[str]) -> FloatArray:
    if batch.num_rows == 0:
        return np.zeros((0, len(names)))
    return np.column_stack(
        [batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in names]
    )


def _fit_and_score(con: Any, scorer: AccountAnomalyScorer, names: Sequence[str], n: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    groups = [
        str(g)
        for (g,) in con.execute(
            "select distinct peer_group from detector_rows order by 1"
        ).fetchall()
    ]
    value_set = pa.array(groups, type=pa.string())
    codes = np.empty(n, dtype=np.int32)
    for start, batch in _batches(con, "select peer_group from detector_rows"):
        index = pc.index_in(batch.column(0), value_set=value_set)
        codes[start : start + batch.num_rows] = index.to_numpy(zero_copy_only=False)
    scorer.assign_groups(codes, groups)
    del codes

    samples = scorer.sample_rows()
    in_sample = np.zeros(n, dtype=bool)
    for rows in samples.values():
        in_sample[rows] = True
    pieces: dict[str, list[FloatArray]] = {name: [] for name in samples}
    select = f"select {', '.join(names)} from detector_rows"
    for start, batch in _batches(con, select):
        picked = np.flatnonzero(in_sample[start : start + batch.num_rows])
        if len(picked) == 0:
            continue
        X = _matrix(batch.take(pa.array(picked)), names)
        batch_codes = scorer.group_codes_[start + picked]
        for code in np.unique(batch_codes):
            pieces[scorer.group_names_[code]].append(X[batch_codes == code])
    del in_sample, samples
    empty = np.zeros((0, len(names)))
    scorer.fit_groups(
        {name: np.vstack(parts) if parts else empty for name, parts in pieces.items()}
    )
    del pieces
    scorer.score_chunks((start, _matrix(batch, names)) for start, batch in _batches(con, select))


def create_empty_anomaly_tables(con: Any) -> None:
    """Detectors off: create the ``ANOMALY_TABLES`` empty, with the columns
    ``score_accounts`` gives them."""
    _write_empty_scores(con)
    _write_explanation_rows(con, [], [], [])
    create_hits_table(con, "anomaly_hits")


def _write_scores(con: Any, scorer: AccountAnomalyScorer, scores: FloatArray) -> None:
    """``anomaly_scores`` in the row order of ``detector_rows`` (a positional join)."""
    import pyarrow as pa

    names = pa.array(scorer.group_names_ or ("",), type=pa.string())
    groups = pa.DictionaryArray.from_arrays(pa.array(scorer.group_codes_, pa.int32()), names)
    con.register(
        "anomaly_scores_arrow",
        pa.table(
            {
                "peer_group": groups,
                "anomaly_score": pa.array(np.round(scores, 6), type=pa.float64()),
            }
        ),
    )
    con.execute(
        "create or replace table anomaly_scores as select d.account_id, "
        "s.peer_group::varchar as peer_group, s.anomaly_score "
        "from detector_rows d positional join anomaly_scores_arrow s"
    )
    con.unregister("anomaly_scores_arrow")


def _write_empty_scores(con: Any) -> None:
    import pyarrow as pa

    con.register(
        "anomaly_scores_arrow",
        pa.table(
            {
                "account_id": pa.array([], pa.string()),
                "peer_group": pa.array([], type=pa.string()),
                "anomaly_score": pa.array([], type=pa.float64()),
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
    names: Sequence[str],
    threshold: float,
    share: float,
    explain_from: float | None,
) -> None:
    """Explain the accounts with any hit (rule or anomaly) or an anomaly score of at
    least ``explain_from``, in account order."""
    query = (
        f"select s.peer_group as fitted_group, d.account_id, "
        f"{', '.join('d.' + c for c in names)} "
        "from detector_rows d join anomaly_scores s using (account_id) "
        "where d.account_id in (select subject_id from hits) "
        "or (s.anomaly_score >= $t and $share > 0) "
        "or ($explain_from is not null and s.anomaly_score >= $explain_from) "
        "order by d.account_id"
    )
    accounts: list[Any] = []
    texts: list[Any] = []
    features: list[Any] = []
    params: dict[str, object] = {"t": threshold, "share": share, "explain_from": explain_from}
    for _start, batch in _batches(con, query, params):
        groups = batch.column("fitted_group").to_numpy(zero_copy_only=False)
        text, names_of = scorer.explanation_columns(_matrix(batch, names), groups)
        accounts.append(batch.column("account_id"))
        texts.append(text)
        features.append(names_of)
    _write_explanation_rows(con, accounts, texts, features)


def _write_explanation_rows(
    con: Any, accounts: list[Any], texts: list[Any], features: list[Any]
) -> None:
    """``anomaly_explanations`` from its columns, each given as a list of Arrow arrays."""
    import pyarrow as pa

    con.register(
        "explanations_arrow",
        pa.table(
            {
                "account_id": pa.chunked_array(accounts, type=pa.string()),
                "explanation": pa.chunked_array(texts, type=pa.string()),
                "top_features": pa.chunked_array(features, type=pa.list_(pa.string())),
            }
        ),
    )
    con.execute("create or replace table anomaly_explanations as select * from explanations_arrow")
    con.unregister("explanations_arrow")
