"""Initialization of mixtures from the whole stream.

Seeds are drawn by row index from the whole data (never just the first batch), so
an in-memory array and the same data in a ``.npy`` file give the same seeds for the
same ``random_state``. The components are then fitted by one streamed pass that
assigns every row to its nearest seed (hard responsibilities).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataError, ParameterError
from ..parallel import ordered_map
from ..sources import BatchSource
from ..statistics import Statistic

INITS = ("first-k", "random", "kmeans++", "kmeans", "refined", "randexamples", "randexamplesbydist")
#: bnpy's starts: the seeds are rows (uniform, or by k-means++'s D^2 sampling) and each
#: component's start record is its seed row alone, with weight 1 (no pass over the data).
SEED_ROW_STARTS = {"randexamples": "random", "randexamplesbydist": "kmeans++"}
#: Rows drawn from the stream for k-means++ seeding.
KMEANSPP_SAMPLE = 20_000


def _as_2d(X: np.ndarray) -> np.ndarray:
    return X.reshape(X.shape[0], -1)


def _checked(block: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The seed candidates as (m, d), refusing a row that is not finite or too large to seed.

    Squared distances of rows beyond ~1e154 overflow, which would make k-means++'s
    probabilities NaN; such a row gets a DataError naming it (its global index).
    """
    X = _as_2d(block)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "NaN" if np.isnan(X[i]).any() else "infinity"  # check_X's words
        raise DataError(f"X contains {kind}", row=int(rows[i]))
    with np.errstate(over="ignore"):
        huge = ~np.isfinite((X * X).sum(axis=1) * 4.0)
    if huge.any():
        i = int(np.flatnonzero(huge)[0])
        raise DataError("X has a row too large to seed from (its squared norm overflows)",
                        row=int(rows[i]), hint="rescale the data")
    return X


def kmeans_plusplus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Pick k rows of X by k-means++ (Arthur and Vassilvitskii, 2007)."""
    n = X.shape[0]
    centers = np.empty((k, X.shape[1]))
    centers[0] = X[rng.integers(n)]
    d2 = ((X - centers[0]) ** 2).sum(axis=1)
    for c in range(1, k):
        total = d2.sum()
        i = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centers[c] = X[i]
        d2 = np.minimum(d2, ((X - centers[c]) ** 2).sum(axis=1))
    return centers


def _sq_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d2 = (X * X).sum(1)[:, None] - 2.0 * X @ centers.T + (centers * centers).sum(1)[None, :]
    return np.maximum(d2, 0.0)


def lloyd(X: np.ndarray, centers: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, float]:
    """In-memory k-means from ``centers``; return the centres and the distortion."""
    centers = centers.copy()
    for _ in range(max_iter):
        labels = np.argmin(_sq_distances(X, centers), axis=1)
        new = centers.copy()
        for c in range(centers.shape[0]):
            members = X[labels == c]
            if len(members):  # an empty cluster keeps its centre
                new[c] = members.mean(axis=0)
        if np.array_equal(new, centers):
            break
        centers = new
    return centers, float(_sq_distances(X, centers).min(axis=1).sum())


class LloydStats(Statistic):
    """Per-cluster weight, weighted sum of rows, and total squared distance (k-means)."""

    _fields = ("w_sum", "sums", "sse")


def lloyd_batch(X: np.ndarray, w: np.ndarray | None, centers: np.ndarray) -> LloydStats:
    """Work item: k-means statistics of one batch."""
    X2 = _as_2d(X)
    w = np.ones(X2.shape[0]) if w is None else w
    d2 = _sq_distances(X2, centers)
    labels = np.argmin(d2, axis=1)
    k = centers.shape[0]
    counts = np.bincount(labels, weights=w, minlength=k)
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, X2 * w[:, None])
    sse = float(np.dot(w, d2[np.arange(len(labels)), labels])) if len(labels) else 0.0
    return LloydStats(w_sum=counts, sums=sums, sse=sse)


def kmeans_stream(source, weights, centers, ranges, n_jobs, max_iter) -> np.ndarray:
    """Lloyd iterations over the stream with additive count / sum statistics."""
    for _ in range(max_iter):
        total = None
        for s in ordered_map(lloyd_batch, source, ranges, weights=weights, n_jobs=n_jobs,
                             args=(centers,), additive=True):
            total = s if total is None else total + s
        counts = np.asarray(total.w_sum)
        new = centers.copy()
        nonempty = counts > 0
        new[nonempty] = total.sums[nonempty] / counts[nonempty, None]
        if np.array_equal(new, centers):
            break
        centers = new
    return centers


def refined_start(source: BatchSource, k: int, rng: np.random.Generator, samplings: int,
                  percentage: float) -> np.ndarray:
    """Bradley and Fayyad's refined start (1998), as in mlpack's ``RefinedStart``.

    Run k-means (seeded by k-means++) on ``samplings`` random subsamples of
    ``percentage`` of the rows;
    cluster the pooled centroids with k-means started from each subsample's
    centroids, and keep the solution of least distortion over the pool.
    """
    n = source.n_rows
    m = min(n, max(k, int(round(percentage * n))))
    found = []
    for _ in range(samplings):
        rows = np.sort(rng.choice(n, size=m, replace=False))
        sample = _checked(source.take(rows), rows)
        # k-means++ seeding of each subsample (mlpack starts from a random partition);
        # better subsample solutions make a better pool of centroids.
        found.append(lloyd(sample, kmeans_plusplus(sample, k, rng))[0])
    pool = np.concatenate(found)
    best, best_cost = None, np.inf
    for start in found:
        centers, cost = lloyd(pool, start)
        if cost < best_cost:
            best, best_cost = centers, cost
    return best


def initial_centers(
    source: BatchSource,
    k: int,
    init: str,
    rng: np.random.Generator,
    *,
    weights: BatchSource | None = None,
    ranges: list[tuple[int, int]] | None = None,
    n_jobs: int = 1,
    max_kmeans_iter: int = 10,
    samplings: int = 100,
    percentage: float = 0.02,
) -> np.ndarray:
    """Return (k, d) seeds drawn from the whole source."""
    n = source.n_rows
    if init not in INITS:
        raise ParameterError(f"init must be one of {INITS}; got {init!r}")
    if n < k:
        raise ParameterError(f"cannot initialize {k} components from {n} rows")
    if init == "first-k":
        return _checked(source.read(0, k), np.arange(k))
    if init == "random":
        rows = np.sort(rng.choice(n, size=k, replace=False))
        return _checked(source.take(rows), rows)
    if init == "refined":
        return refined_start(source, k, rng, samplings, percentage)
    m = min(n, max(KMEANSPP_SAMPLE, 50 * k))
    rows = np.arange(n) if m == n else np.sort(rng.choice(n, size=m, replace=False))
    centers = kmeans_plusplus(_checked(source.take(rows), rows), k, rng)
    if init == "kmeans":
        centers = kmeans_stream(source, weights, centers, ranges or source.ranges(n),
                                n_jobs, max_kmeans_iter)
    return centers


def seed_batch(X: np.ndarray, w: np.ndarray | None, learner: Any, centers: np.ndarray) -> Statistic:
    """Work item: the learner's statistics with each row given wholly to its nearest seed.

    A finite row whose squared distances overflow gets a DataError naming it; a row
    that is not finite is left to the learner's own data check, which names it.
    """
    X2 = _as_2d(X)
    with np.errstate(over="ignore", invalid="ignore"):
        d2 = _sq_distances(X2, centers)
    huge = ~np.isfinite(d2).all(axis=1) & np.isfinite(X2).all(axis=1)
    if huge.any():
        raise DataError("X has a row too large to seed from (its squared norm overflows)",
                        row=int(np.flatnonzero(huge)[0]), hint="rescale the data")
    labels = np.argmin(d2, axis=1) if X2.shape[0] else np.zeros(0, dtype=np.intp)
    return learner.seed_statistics(X, w, labels)


def _seed_stats(learner: Any, source: BatchSource, weights: BatchSource | None, centers: np.ndarray,
                ranges: list[tuple[int, int]], n_jobs: int) -> Statistic:
    total = None
    for s in ordered_map(seed_batch, source, ranges, weights=weights, n_jobs=n_jobs,
                         args=(learner, centers), additive=True):
        total = s if total is None else total + s
    return total


def start_from_rows(learner: Any, rows: np.ndarray) -> None:
    """Start a learner with each component fitted to one row alone (weight 1), no pass.

    ``rows`` (already checked, in the data's row shape) holds one row per component,
    in component order: bnpy's ``randexamples`` starts.
    """
    blank = learner.blank()
    proposal = blank.propose(blank.seed_statistics(rows, None, np.arange(rows.shape[0])))
    learner.commit(learner.seeded(blank.get_parameters() if proposal is None else proposal))


def start_from_seeds(learner: Any, source: BatchSource, weights: BatchSource | None, *, init: str,
                     rng: np.random.Generator, ranges: list[tuple[int, int]], n_jobs: int,
                     options: dict[str, Any]) -> None:
    """Start a learner from seeds drawn from the whole stream (one streamed pass).

    Every seed's component is fitted from scratch (on a parameter-free copy of the
    learner, so older parameters play no part) to the rows nearest that seed. A seed
    nearest to no row (a centroid between clusters) is replaced by a random row, up
    to five times. The learner changes only once the whole start is valid.

    bnpy's ``'randexamples'`` and ``'randexamplesbydist'`` (:data:`SEED_ROW_STARTS`)
    make no pass: each component starts from its seed row alone, with weight 1 (a
    variational learner's prior keeps that valid).
    """
    blank = learner.blank()
    k = blank.seed_count()
    if init in SEED_ROW_STARTS:
        rows = initial_centers(source, k, SEED_ROW_STARTS[init], rng, **options)
        start_from_rows(learner, rows.reshape((k,) + source.shape[1:]))
        return
    centers = initial_centers(source, k, init, rng, weights=weights, ranges=ranges, n_jobs=n_jobs,
                              **options)
    stats = _seed_stats(blank, source, weights, centers, ranges, n_jobs)
    for _ in range(5):
        empty = blank.empty_seeds(stats)
        if not empty:
            break
        rows = np.sort(rng.choice(source.n_rows, size=len(empty), replace=False))
        centers = centers.copy()
        centers[empty] = source.take(rows).reshape(len(empty), -1)
        stats = _seed_stats(blank, source, weights, centers, ranges, n_jobs)
    empty = blank.empty_seeds(stats)
    if empty:
        raise ParameterError(
            f"cannot initialize {k} components: seeds of components {list(empty)} are nearest "
            "to no row even after reseeding (does the data have fewer distinct rows than "
            "components?)"
        )
    proposal = blank.propose(stats)
    learner.commit(learner.seeded(blank.get_parameters() if proposal is None else proposal))
