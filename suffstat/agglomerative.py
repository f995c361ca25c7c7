"""Streaming agglomerative clustering with mergeable summaries (issue 16).

:class:`StreamingAgglomerative` keeps ``n_clusters`` slots, each an additive summary
(count, mean, scatter) of the points merged into it, and feeds the points one at a
time to an online agglomerative rule (``'faddc'``, after Guedalia, London and Werman
1999, or ``'insert-merge'``). The rule runs in one numba kernel per batch with
nearest-neighbour bookkeeping (:mod:`suffstat.kernels.agglomerative`), O(k d) work per
point amortised instead of the published O(k^2 d).

What is exact and what depends on order:

- the sequential rule (``batch_size=None``) depends on the order of the points by
  nature; ``partial_fit`` on consecutive chunks gives bitwise the same slots as
  ``fit`` on the whole, whatever the chunks;
- with ``batch_size=b`` each batch of ``b`` rows is agglomerated on its own (on a
  worker thread or Dask worker) and the batch summaries are merged into the model in
  batch order: bitwise the same for every ``n_jobs``, but not the same slots as the
  sequential rule;
- merging two clusterers (:meth:`StreamingAgglomerative.merge`) is a merge of
  records: the union of their summaries, reduced back to ``n_clusters`` by the same
  linkage. Each merged summary is the exact count, mean and scatter of the union of
  its points (up to rounding), whatever the order of the merges;
- a row of ``sample_weight`` ``w`` arrives as one summary of count ``w``: ``w``
  copies of the row for the records, but one arrival (one merge, one slot) for the
  sequential rule, not ``w``; a row of weight 0 is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._estimator import EstimatorParams
from ._validation import check_count, check_random_state, check_weights
from .distributions import MultivariateNormal
from .exceptions import DataError, NotFittedError, ParameterError
from .fitting.driver import weight_source
from .kernels import agglomerative as _k
from .mixtures import GeneralMixtureModel
from .parallel import effective_n_jobs, ordered_map
from .sources import as_source, prefetched
from .statistics import MultivariateNormalStats

__all__ = ["StreamingAgglomerative", "PhaseTransitions", "phase_transitions", "distortion"]

RULES = ("faddc", "insert-merge")
LINKAGES = ("centroid", "ward")


class _State:
    """Slot summaries with room for ``k + 1`` slots, and their nearest-neighbour bookkeeping."""

    def __init__(self, k: int, d: int, capacity: int | None = None) -> None:
        cap = k + 1 if capacity is None else capacity
        self.k, self.d, self.m = k, d, 0
        self.counts = np.zeros(cap)
        self.means = np.zeros((cap, d))
        self.scatter = np.zeros((cap, d, d))
        self.cols = np.zeros((d, cap))  # the means transposed, for the kernel's cost loops
        self.D = np.zeros((cap, cap))  # the merge costs of the slots in use (upper triangle kept)
        self.nn = np.full(cap, -1, dtype=np.int64)
        self.nnd = np.full(cap, np.inf)

    _ARRAYS = ("counts", "means", "scatter", "cols", "D", "nn", "nnd")

    def copy(self) -> _State:
        new = _State(self.k, self.d, self.counts.shape[0])
        new.m = self.m
        for name in self._ARRAYS:
            getattr(new, name)[...] = getattr(self, name)
        return new

    def feed(self, X: np.ndarray, w: np.ndarray | None, insert_first: bool, ward: bool) -> int:
        """Feed the rows of ``X`` (weights ``w``, checked, or None); return the first non-finite row or -1."""
        self.m, bad = _k.agglomerate(X, _NO_WEIGHTS if w is None else w, self.counts, self.means,
                                     self.scatter, self.cols, self.D, self.nn, self.nnd, self.m,
                                     self.k, insert_first, ward)
        return int(bad)

    def union(self, other: _State, ward: bool) -> _State:
        """The slots of ``self`` then of ``other``, reduced to ``k`` by the closest pairs."""
        m1, m2 = self.m, other.m
        out = _State(self.k, self.d, max(self.k + 1, m1 + m2))
        for name in ("counts", "means", "scatter"):
            a = getattr(out, name)
            a[:m1] = getattr(self, name)[:m1]
            a[m1 : m1 + m2] = getattr(other, name)[:m2]
        _k.init_neighbours(out.counts, out.means, out.cols, m1 + m2, ward, out.D, out.nn, out.nnd)
        out.m = int(_k.reduce_to(out.counts, out.means, out.scatter, out.cols, out.D, out.nn,
                                 out.nnd, m1 + m2, self.k, ward))
        if out.counts.shape[0] > self.k + 1:  # back to k + 1 slots (every nn[r] < m <= k)
            small = _State(self.k, self.d)
            small.m = out.m
            cap = self.k + 1
            for name in ("counts", "means", "scatter", "nn", "nnd"):
                getattr(small, name)[...] = getattr(out, name)[:cap]
            small.cols[...] = out.cols[:, :cap]
            small.D[...] = out.D[:cap, :cap]
            out = small
        return out


_NO_WEIGHTS = np.empty(0)


def _batch_summaries(X: np.ndarray, w: Any, k: int, insert_first: bool, ward: bool) -> _State:
    """One batch agglomerated from empty slots (a work item of :func:`ordered_map`; ``w`` checked)."""
    state = _State(k, X.shape[1])
    bad = state.feed(np.ascontiguousarray(X, dtype=np.float64), w, insert_first, ward)
    if bad >= 0:
        raise DataError(f"X contains {_kind(X[bad])}", row=bad)
    return state


def _kind(row: np.ndarray) -> str:
    return "NaN" if np.isnan(row).any() else "infinity"


class StreamingAgglomerative(EstimatorParams):
    """Online agglomerative clustering into ``n_clusters`` mergeable summaries.

    Each point is fed once, in order. While a slot is free the point takes the lowest
    free slot. Afterwards:

    - ``rule='faddc'``: the closest pair ``(i, j)``, ``i < j``, of the ``k`` existing
      slots merges (ties go to the first pair in row-major order); the merged summary
      stays in slot ``i`` and the point takes slot ``j`` as a summary of count 1, so
      the newest point always has a centroid of its own;
    - ``rule='insert-merge'``: the point is inserted first, as slot ``k``, then the
      closest pair among the ``k + 1`` slots merges (same tie rule) into its first
      slot ``i``; if the second slot ``j`` is not slot ``k``, the point moves into
      ``j``. A point can so join a cluster at once.

    The published faddc code starts with ``k`` slots at the origin of count 0, so early
    points near the origin merge into empty slots; here the first ``k`` points fill the
    slots and no slot is ever empty.

    Parameters
    ----------
    n_clusters : int
        Number of slots ``k`` (at least 2 for ``'faddc'``, 1 for ``'insert-merge'``).
    rule : {'faddc', 'insert-merge'}, default='faddc'
        The slot rule above.
    linkage : {'centroid', 'ward'}, default='centroid'
        The merge cost of two summaries: ``'centroid'`` is the squared distance of
        their means (the published distance); ``'ward'`` is
        ``n_a n_b / (n_a + n_b) |mu_a - mu_b|^2``, the rise of the within-cluster
        scatter, which stops large clusters from absorbing small ones.
    batch_size : int or None, default=None
        None runs the sequential rule over the whole stream (files are still read a
        batch at a time). An integer agglomerates each batch of that many rows on its
        own, on ``n_jobs`` workers, and merges the batch summaries into the model in
        batch order (see :meth:`merge`): bitwise the same for every ``n_jobs``.
    n_jobs : int, default=1
        Workers of the batched mode (threads, or any ``joblib.parallel_config``
        backend such as Dask); the sequential rule runs on one thread.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (m, n_features)
        The slots' centroids (``m = min(n_clusters, points seen)``).
    counts_ : ndarray of shape (m,)
        The number of points in each slot (float64: their total weight when
        ``sample_weight`` is given).
    covariances_ : ndarray of shape (m, n_features, n_features)
        The slots' covariances (scatter divided by count; 0 for a singleton).
    summaries_ : list of MultivariateNormalStats
        The slots' additive records: count, sum and scatter about the centroid.
    n_features_in_ : int
        Number of features.
    n_samples_seen_ : int
        Number of rows fed so far (rows of weight 0 included).

    See Also
    --------
    sklearn.cluster.Birch : Another summarising streaming clusterer.

    Examples
    --------
    >>> import numpy as np
    >>> import suffstat as ss
    >>> X = np.array([[0.0, 0.0], [10.0, 0.0], [0.1, 0.0], [10.1, 0.0], [0.2, 0.0]])
    >>> model = ss.StreamingAgglomerative(2, rule="insert-merge").fit(X)
    >>> model.counts_
    array([3., 2.])
    >>> model.predict([[9.0, 0.0]])
    array([1])
    """

    def __init__(self, n_clusters: int, *, rule: str = "faddc", linkage: str = "centroid",
                 batch_size: int | None = None, n_jobs: int = 1) -> None:
        self.n_clusters = n_clusters
        self.rule = rule
        self.linkage = linkage
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    # -- settings ---------------------------------------------------------------------------

    def _settings(self) -> tuple[int, bool, bool, int | None, int]:
        if self.rule not in RULES:
            raise ParameterError(f"rule must be one of {RULES}; got {self.rule!r}")
        if self.linkage not in LINKAGES:
            raise ParameterError(f"linkage must be one of {LINKAGES}; got {self.linkage!r}")
        k = check_count("n_clusters", self.n_clusters, minimum=2 if self.rule == "faddc" else 1)
        b = None if self.batch_size is None else check_count("batch_size", self.batch_size, minimum=1)
        return k, self.rule == "insert-merge", self.linkage == "ward", b, effective_n_jobs(self.n_jobs)

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StreamingAgglomerative:
        """Cluster the rows of ``X`` from empty slots.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or str
            The points, in order; a ``.npy`` path or memory map is streamed.
        y : None
            Ignored (scikit-learn's signature).
        sample_weight : array-like of shape (n_samples,), numpy.memmap or str, optional
            Non-negative finite weights, streamed alongside ``X`` (a ``.npy`` path or
            memory map is read over the same row ranges). A row of weight ``w``
            arrives as *one* summary of count ``w`` (the record of ``w`` copies of the
            row); a row of weight 0 is skipped. See :meth:`partial_fit`.

        Returns
        -------
        self
            The fitted clusterer.

        Raises
        ------
        DataError
            As :meth:`partial_fit`; also when every weight is 0 (no point to cluster).
        """
        return self._feed(X, sample_weight, continuing=False)

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StreamingAgglomerative:
        """Feed more points to the clusterer, continuing from its slots.

        With ``batch_size=None`` the sequential rule continues where it stopped, so
        ``partial_fit`` over consecutive chunks equals ``fit`` over their
        concatenation, bitwise. With a ``batch_size`` the chunk's batches are
        agglomerated on their own and merged into the model in order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or str
            The points, in order; a ``.npy`` path or memory map is streamed.
        y : None
            Ignored (scikit-learn's signature).
        sample_weight : array-like of shape (n_samples,), numpy.memmap or str, optional
            Non-negative finite weights, streamed alongside ``X``. A row of weight
            ``w`` arrives as one summary of count ``w``: for the records (counts,
            centroids, scatter, and so every merge of them) that is ``w`` copies of
            the row, but for the sequential rule it is one arrival, not ``w``: under
            ``'faddc'`` it causes one merge and takes one slot, where ``w`` copies
            would cause ``w`` merges and leave the last copy alone in its slot. With
            ``linkage='ward'`` the weight also enters the merge costs. A row of weight
            0 is skipped: no merge, no slot (it still counts in ``n_samples_seen_``,
            and NaN or infinity in it is still an error).

        Returns
        -------
        self
            The updated clusterer.

        Raises
        ------
        DataError
            For NaN or infinity in ``X``, a negative, NaN or infinite weight (each
            naming the row), an empty or wrongly shaped input, weights that do not
            match the rows, or a number of features that differs from the earlier
            calls; the clusterer is then left as it was.
        """
        return self._feed(X, sample_weight, continuing=True)

    def _feed(self, X: Any, sample_weight: Any, continuing: bool) -> StreamingAgglomerative:
        state = getattr(self, "_state", None) if continuing else None
        k, insert_first, ward, batch_size, n_jobs = self._settings()
        source = as_source(X)
        if len(source.shape) != 2:
            raise DataError(f"X must be 2-D (n_samples, n_features); got shape {tuple(source.shape)}")
        n, d = source.shape
        if n == 0:
            raise DataError("X is empty: it must have at least one row")
        if state is not None and d != state.d:
            raise DataError(f"X has {d} features, but the clusterer was fitted with {state.d}")
        if state is not None and state.k != k:
            raise ParameterError(
                f"n_clusters changed from {state.k} to {k} since the last fit; call fit to start over"
            )
        weights = weight_source(sample_weight, source)
        state = _State(k, d) if state is None else state.copy()  # the model changes only on success
        if batch_size is None:
            ranges = source.ranges(source.default_batch_size())
            for (start, stop), block in zip(ranges, prefetched(source, ranges), strict=True):
                w = None
                if weights is not None:
                    try:
                        w = check_weights(weights.read(start, stop), stop - start)
                    except DataError as e:
                        raise e.shifted(start) from None
                bad = state.feed(block, w, insert_first, ward)
                if bad >= 0:
                    raise DataError(f"X contains {_kind(block[bad])}", row=start + bad)
        else:
            parts = ordered_map(_batch_summaries, source, source.ranges(batch_size), weights=weights,
                                n_jobs=n_jobs, args=(k, insert_first, ward))
            for part in parts:
                state = state.union(part, ward)
        if state.m == 0:
            raise DataError("every sample_weight is 0: there is no point to cluster")
        self._state = state
        self.n_features_in_ = d
        self.n_samples_seen_ = (getattr(self, "n_samples_seen_", 0) if continuing else 0) + n
        return self

    # -- fitted attributes --------------------------------------------------------------------

    def _fitted(self) -> _State:
        state = getattr(self, "_state", None)
        if state is None:
            raise NotFittedError(
                "this StreamingAgglomerative is not fitted yet; call fit or partial_fit first"
            )
        return state

    @property
    def cluster_centers_(self) -> np.ndarray:
        """The slots' centroids, shape (m, n_features)."""
        s = self._fitted()
        return s.means[: s.m].copy()

    @property
    def counts_(self) -> np.ndarray:
        """The number of points in each slot (their total weight), float64 of shape (m,)."""
        s = self._fitted()
        return s.counts[: s.m].copy()

    @property
    def covariances_(self) -> np.ndarray:
        """The slots' covariances (scatter / count), shape (m, n_features, n_features)."""
        s = self._fitted()
        return s.scatter[: s.m] / s.counts[: s.m, None, None]

    @property
    def summaries_(self) -> list[MultivariateNormalStats]:
        """The slots' additive records (``w_sum`` count, ``shift`` centroid, ``xxw_sum`` scatter)."""
        s = self._fitted()
        return [MultivariateNormalStats(w_sum=s.counts[i], xw_sum=np.zeros(s.d),
                                        xxw_sum=s.scatter[i].copy(), shift=s.means[i].copy())
                for i in range(s.m)]

    # -- using the clusters -------------------------------------------------------------------

    def _squared_distances(self, X: Any) -> np.ndarray:
        s = self._fitted()
        source = as_source(X)
        if len(source.shape) != 2 or source.shape[1] != s.d:
            raise DataError(
                f"X must have shape (n_samples, {s.d}); got shape {tuple(source.shape)}"
            )
        centers = np.ascontiguousarray(s.means[: s.m])
        out = np.empty((source.n_rows, s.m))
        for start, stop in source.ranges(source.default_batch_size()):
            block = source.read(start, stop)
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                row = int(np.argmax(bad))
                raise DataError(f"X contains {_kind(block[row])}", row=start + row)
            _k.squared_distances(block, centers, out[start:stop])
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Return the slot of the nearest centroid of each row (the first one on ties).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or str
            The points.

        Returns
        -------
        ndarray of shape (n_samples,)
            The labels, indices into :attr:`cluster_centers_`.
        """
        return np.argmin(self._squared_distances(X), axis=1)

    def transform(self, X: Any) -> np.ndarray:
        """Return the Euclidean distance of each row to each centroid.

        The published ``predict`` returns labels and these distances (``y, y_err``);
        here they are :meth:`predict` and :meth:`transform`, as in scikit-learn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or str
            The points.

        Returns
        -------
        ndarray of shape (n_samples, m)
            The distances.
        """
        return np.sqrt(self._squared_distances(X))

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Return minus the distortion: minus the (weighted) sum of squared distances to the nearest centroid.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap or str
            The points.
        y : None
            Ignored (scikit-learn's signature).
        sample_weight : array-like of shape (n_samples,), numpy.memmap or str, optional
            Non-negative finite weights (1 when None).

        Returns
        -------
        float
            ``-sum_i w_i min_c |x_i - c|^2``.
        """
        nearest = self._squared_distances(X).min(axis=1)
        if sample_weight is None:
            return -float(nearest.sum())
        ws = weight_source(sample_weight, as_source(X))
        w = check_weights(ws.read(0, ws.n_rows), ws.n_rows)
        return -float((w * nearest).sum())

    def merge(self, other: StreamingAgglomerative) -> StreamingAgglomerative:
        """Return a clusterer of the union of two clusterers' summaries, reduced to ``n_clusters``.

        The summaries of ``self`` come first, then those of ``other``; the closest pair
        (by this clusterer's linkage, first in row-major order on ties) merges into its
        first slot and the last slot moves into the freed one, until ``n_clusters``
        remain. Neither clusterer is changed. Each resulting summary is the exact record
        of the union of its points (up to rounding); which summaries merge depends on
        the linkage and on the order of the union, as the sequential rule does.

        Parameters
        ----------
        other : StreamingAgglomerative
            A fitted clusterer with the same number of features.

        Returns
        -------
        StreamingAgglomerative
            A new fitted clusterer with this one's parameters.
        """
        k, _, ward, _, _ = self._settings()
        a = self._fitted()
        if not isinstance(other, StreamingAgglomerative):
            raise ParameterError(f"can only merge a StreamingAgglomerative; got {type(other).__name__}")
        b = other._fitted()
        if a.d != b.d:
            raise DataError(f"cannot merge clusterers of {a.d} and {b.d} features")
        if a.k != k:
            raise ParameterError(f"n_clusters changed from {a.k} to {k} since the last fit")
        if b.k != a.k:  # bring other's slots to this k (its records are kept whole)
            b2 = _State(a.k, b.d, max(a.k + 1, b.m))
            b2.m = b.m
            for name in ("counts", "means", "scatter"):
                getattr(b2, name)[: b.m] = getattr(b, name)[: b.m]
            b = b2
        new = type(self)(**self.get_params(deep=False))
        new._state = a.union(b, ward)
        new.n_features_in_ = a.d
        new.n_samples_seen_ = self.n_samples_seen_ + other.n_samples_seen_
        return new

    def to_mixture(self, *, reg_covar: float = 1e-6):
        """Return a Gaussian mixture of the summaries: a start for EM or VB (``init=``).

        Component ``c`` is ``MultivariateNormal(reg_covar=reg_covar).from_summaries(
        summaries_[c])`` (mean the centroid, covariance the scatter / count plus
        ``reg_covar`` on the diagonal), with weight ``counts_[c] / counts_.sum()``
        (``n_samples_seen_`` when unweighted).

        Parameters
        ----------
        reg_covar : float, default=1e-6
            Added to the covariances' diagonal (a singleton slot has scatter 0).

        Returns
        -------
        GeneralMixtureModel
            The mixture, fitted; pass it as ``init=`` to a mixture's ``fit``.
        """
        records = self.summaries_
        comps = [MultivariateNormal(reg_covar=reg_covar).from_summaries(r) for r in records]
        counts = np.array([r.w_sum for r in records], dtype=np.float64)
        return GeneralMixtureModel(comps, counts / counts.sum())


# -- phase transitions -----------------------------------------------------------------------------

#: The methods of :func:`phase_transitions`: the agglomerative rule and linkage, or k-means.
METHODS = {"faddc": ("faddc", "centroid"), "faddc-ward": ("faddc", "ward"),
           "insert-merge": ("insert-merge", "centroid"),
           "insert-merge-ward": ("insert-merge", "ward"), "kmeans": None}


def distortion(X: Any, centers: Any) -> float:
    """Return the sum over the rows of the squared distance to the nearest centre.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points.
    centers : array-like of shape (k, n_features)
        The centres.

    Returns
    -------
    float
        ``sum_i min_c |x_i - c|^2``, the squared distances summed over the features in
        order, the same way for every method.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    C = np.ascontiguousarray(centers, dtype=np.float64)
    out = np.empty((X.shape[0], C.shape[0]))
    _k.squared_distances(X, C, out)
    return float(out.min(axis=1).sum())


def kmeans(X: np.ndarray, k: int, rng: np.random.Generator, max_iter: int = 300) -> tuple:
    """Lloyd's k-means from k-means++ seeds, in memory: ``(centers, counts)``.

    An empty cluster keeps its centre. Stops when no label changes.
    """
    from .fitting.init import kmeans_plusplus  # the engine's seeding, one implementation

    n = X.shape[0]
    centers = kmeans_plusplus(X, k, rng)
    labels = None
    out = np.empty((n, k))
    for _ in range(max_iter):
        _k.squared_distances(X, centers, out)
        new = out.argmin(axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = X[labels == c]
            if len(members):
                centers[c] = members.mean(axis=0)
    _k.squared_distances(X, centers, out)
    counts = np.bincount(out.argmin(axis=1), minlength=k)
    return centers, counts


def fit_centers(X: np.ndarray, k: int, method: str, rng: np.random.Generator) -> tuple:
    """The ``(centers, counts)`` of one method of :func:`phase_transitions` with ``k`` clusters."""
    if method == "kmeans":
        return kmeans(X, k, rng)
    rule, linkage = METHODS[method]
    model = StreamingAgglomerative(k, rule=rule, linkage=linkage).fit(X)
    return model.cluster_centers_, model.counts_


@dataclass(frozen=True)
class PhaseTransitions:
    """The distortion of each method as a function of ``k`` (:func:`phase_transitions`).

    Parameters
    ----------
    k : ndarray of shape (n_k,)
        The numbers of clusters, increasing.
    distortion : dict of str to ndarray of shape (n_k,)
        Per method, the sum of squared distances to the nearest centroid.
    derivative : dict of str to ndarray of shape (n_k - 1,)
        Per method, ``(D_k - D_{k'}) / max`` for consecutive ``k < k'`` (the largest
        drop is 1), as the faddc paper plots it.
    jumps : dict of str to ndarray
        Per method, the ``k'`` at the end of each drop, largest drop first: where a
        real cluster gets its own centroid.
    centers : dict of str to list of ndarray
        Per method, the centroids found for each ``k``.
    counts : dict of str to list of ndarray
        Per method, the points of each centroid for each ``k``.
    """

    k: np.ndarray
    distortion: dict
    derivative: dict
    jumps: dict
    centers: dict
    counts: dict


def phase_transitions(X: Any, k_values: Any, methods: Any = ("faddc", "kmeans"),
                      random_state: Any = None) -> PhaseTransitions:
    """Fit each method for each ``k`` and record its distortion and the drops between ``k``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points, in the order the agglomerative rules read them.
    k_values : sequence of int
        At least two numbers of clusters (sorted here).
    methods : sequence of str, default=('faddc', 'kmeans')
        Among ``'faddc'``, ``'faddc-ward'``, ``'insert-merge'``, ``'insert-merge-ward'``
        (:class:`StreamingAgglomerative` with that rule and linkage) and ``'kmeans'``
        (Lloyd's algorithm from k-means++ seeds, in memory).
    random_state : None, int or numpy.random.Generator, default=None
        Seeds k-means.

    Returns
    -------
    PhaseTransitions
        The distortions (computed by :func:`distortion` for every method), their
        normalised discrete derivative and the ``k`` of the largest drops.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2 or not len(X):
        raise DataError(f"X must be a non-empty 2-D array; got shape {X.shape}")
    if not np.isfinite(X).all():
        row = int(np.argmax(~np.isfinite(X).all(axis=1)))
        raise DataError(f"X contains {_kind(X[row])}", row=row)
    ks = np.array(sorted({check_count("k", int(k) if isinstance(k, np.integer) else k, minimum=1)
                          for k in k_values}), dtype=np.int64)
    if len(ks) < 2:
        raise ParameterError(f"k_values needs at least two numbers of clusters; got {list(k_values)}")
    methods = tuple(methods)
    for m in methods:
        if m not in METHODS:
            raise ParameterError(f"methods must be among {tuple(METHODS)}; got {m!r}")
    rng = check_random_state(random_state)
    dist, deriv, jumps, centers, counts = {}, {}, {}, {}, {}
    for m in methods:
        fits = [fit_centers(X, int(k), m, rng) for k in ks]
        centers[m] = [c for c, _ in fits]
        counts[m] = [n for _, n in fits]
        dist[m] = np.array([distortion(X, c) for c in centers[m]])
        drop = dist[m][:-1] - dist[m][1:]
        top = np.max(np.abs(drop))
        deriv[m] = drop / top if top > 0 else np.zeros_like(drop)
        jumps[m] = ks[1:][np.argsort(-deriv[m], kind="stable")]
    return PhaseTransitions(ks, dist, deriv, jumps, centers, counts)
