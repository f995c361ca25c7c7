"""Initialization of mixtures from the whole stream.

Seeds are drawn by row index from the whole data (never just the first batch), so
an in-memory array and the same data in a ``.npy`` file give the same seeds for the
same ``random_state``. The components are then fitted by one streamed pass that
assigns every row to its nearest seed (hard responsibilities).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..parallel import ordered_map
from ..sources import BatchSource
from ..statistics import MixtureStats

INITS = ("first-k", "random", "kmeans++")
#: Rows drawn from the stream for k-means++ seeding.
KMEANSPP_SAMPLE = 20_000


def _as_2d(X: np.ndarray) -> np.ndarray:
    return X.reshape(X.shape[0], -1)


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


def initial_centers(source: BatchSource, k: int, init: str, rng: np.random.Generator) -> np.ndarray:
    """Return (k, d) seeds drawn from the whole source."""
    n = source.n_rows
    if init not in INITS:
        raise ParameterError(f"init must be one of {INITS}; got {init!r}")
    if n < k:
        raise ParameterError(f"cannot initialize {k} components from {n} rows")
    if init == "first-k":
        return _as_2d(source.read(0, k))
    if init == "random":
        return _as_2d(source.take(np.sort(rng.choice(n, size=k, replace=False))))
    m = min(n, max(KMEANSPP_SAMPLE, 50 * k))
    rows = np.arange(n) if m == n else np.sort(rng.choice(n, size=m, replace=False))
    return kmeans_plusplus(_as_2d(source.take(rows)), k, rng)


def assign_batch(X: np.ndarray, w: np.ndarray | None, centers: np.ndarray, components: list) -> MixtureStats:
    """Work item: statistics of each component over the rows nearest its seed."""
    X2 = _as_2d(X)
    w = np.ones(X.shape[0]) if w is None else w
    d2 = (X2 * X2).sum(1)[:, None] - 2.0 * X2 @ centers.T + (centers * centers).sum(1)[None, :]
    labels = np.argmin(d2, axis=1) if X.shape[0] else np.zeros(0, dtype=int)
    parts, resp_sum = [], np.zeros(len(components))
    for c, comp in enumerate(components):
        wc = np.ascontiguousarray(w * (labels == c))
        resp_sum[c] = wc.sum()
        parts.append(comp.summarize(X, wc, accumulate=False))
    return MixtureStats(w_sum=float(w.sum()), resp_sum=resp_sum, log_likelihood=0.0, parts=parts)


def hard_assignment_stats(
    source: BatchSource,
    weights: BatchSource | None,
    centers: np.ndarray,
    components: list,
    ranges: list[tuple[int, int]],
    n_jobs: int,
) -> MixtureStats:
    """Sum :func:`assign_batch` over the stream, in batch order."""
    total = None
    for s in ordered_map(assign_batch, source, ranges, weights=weights, n_jobs=n_jobs,
                         args=(centers, components)):
        total = s if total is None else total + s
    return total
