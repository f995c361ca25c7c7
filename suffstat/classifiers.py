"""Bayes classifiers: one distribution per class, fitted through additive statistics.

The labels ride with the rows: ``y`` (and ``sample_weight``) are read over the same
row ranges as ``X`` through the sources layer (:func:`suffstat.sources.as_source`
and the ``extras`` of :func:`suffstat.parallel.ordered_map`), so an array, a memory
map and a ``.npy`` path are streamed alike, and every batch's record
(:class:`~suffstat.statistics.ClassifierStats`) is added in batch order: the fit is
bitwise identical for every ``n_jobs`` at a fixed ``batch_size``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ._estimator import EstimatorParams
from ._registry import register
from ._validation import check_count, check_probs, check_scalar, check_weights, check_X
from .distributions._base import Distribution
from .distributions.independent import IndependentComponents
from .exceptions import (
    ConvergenceWarning,
    DataError,
    NotFittedError,
    ParameterError,
    warn_at_caller,
)
from .io import save as _save
from .mixtures.general import GeneralMixtureModel
from .parallel import effective_n_jobs, ordered_map
from .prediction import StreamedPrediction
from .sources import BatchSource, as_source
from .statistics import ClassifierStats, MixtureStats

__all__ = ["BayesClassifier", "NaiveBayes"]

#: Settings of a fit: constructor values that ``fit(**settings)`` may override.
FIT_SETTINGS = ("max_iter", "tol", "batch_size", "n_jobs")
#: Integer labels are read from files as float64: beyond this they would collide.
_EXACT_INT = 2**53


def _streamed(obj: Any) -> bool:
    """Whether labels are read from a file (a path or a memory map) rather than memory."""
    return isinstance(obj, (str, os.PathLike, np.memmap, BatchSource))


def _has_mixture(d: Distribution) -> bool:
    """Whether a distribution's record depends on its parameters (a mixture inside)."""
    if isinstance(d, GeneralMixtureModel):
        return True
    return isinstance(d, IndependentComponents) and any(_has_mixture(c) for c in d.distributions)


def _label_array(y: Any) -> np.ndarray:
    """``y`` held in memory as a 1-D array of numbers, booleans or strings."""
    arr = np.asarray(y)
    if arr.dtype == object:
        if all(isinstance(v, str) for v in arr.ravel()):
            arr = arr.astype(str)
        else:
            raise DataError("y must hold numbers, booleans or strings; got Python objects")
    if arr.ndim != 1:
        raise DataError(f"y must be 1-dimensional of shape (n_samples,); got shape {arr.shape}",
                        hint="Pass y.ravel()" if arr.ndim == 2 and arr.shape[1] == 1 else None)
    if arr.dtype.kind not in "biufUS":
        raise DataError(f"y must hold numbers, booleans or strings; got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = np.isnan(arr)
        if bad.any():
            raise DataError("y contains NaN", row=int(np.argmax(bad)))
    return arr


class _Lookup:
    """Maps labels to class indices: ``classes`` in order, searched in sorted order."""

    def __init__(self, classes: np.ndarray) -> None:
        self.classes = classes
        self.order = np.argsort(classes, kind="stable")
        self.sorted = classes[self.order]

    def codes(self, values: np.ndarray) -> np.ndarray:
        """The class index of each label; a DataError names the first unknown one."""
        values = np.asarray(values)
        if values.shape[0] == 0:
            return np.zeros(0, dtype=np.intp)
        if values.dtype.kind in "US" and self.sorted.dtype.kind not in "US" or (
                values.dtype.kind not in "US" and self.sorted.dtype.kind in "US"):
            raise DataError(f"y holds the label {values[0].item()!r}, which is not one of the "
                            f"classes {self.classes.tolist()}", row=0)
        idx = np.minimum(np.searchsorted(self.sorted, values), len(self.sorted) - 1)
        bad = self.sorted[idx] != values
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"y holds the label {values[row].item()!r}, which is not one of the classes "
                f"{self.classes.tolist()}", row=row,
            )
        return self.order[idx]


class _Labels:
    """The labels of a stream: a source read alongside X, and how to turn it into codes.

    In-memory labels (of any dtype, strings too) are encoded once into integer codes;
    labels in a file (numeric) are read batch by batch and looked up in each batch.
    """

    def __init__(self, y: Any, n_rows: int, classes: np.ndarray | None,
                 batch_size: int) -> None:
        if _streamed(y):
            try:
                src = as_source(y)
            except DataError as e:
                raise DataError(f"y: {e.problem.replace('X must', 'labels read from a file must')}",
                                hint="Pass string labels as an in-memory array") from None
            if len(src.shape) != 1:
                raise DataError("y must be 1-dimensional of shape (n_samples,); got shape "
                                f"{src.shape}")
            self._check_length(src.n_rows, n_rows)
            if classes is not None and classes.dtype.kind in "US":
                raise DataError(f"y read from a file holds numbers, but the classes are "
                                f"{classes.tolist()}")
            if classes is None:
                classes = self._streamed_classes(src, batch_size)
            self.classes = classes
            self.source = src
            self.lookup: _Lookup | None = _Lookup(classes.astype(np.float64))
        else:
            arr = _label_array(y)
            self._check_length(arr.shape[0], n_rows)
            if classes is None:
                classes = np.unique(arr)
            self.classes = classes
            self.source = as_source(_Lookup(classes).codes(arr).astype(np.int64))
            self.lookup = None

    @staticmethod
    def _check_length(m: int, n: int) -> None:
        if m != n:
            raise DataError(f"y has {m} labels but X has {n} rows: give one label per row")

    @staticmethod
    def _streamed_classes(src: BatchSource, batch_size: int) -> np.ndarray:
        """The sorted distinct labels of a file, read one batch at a time."""
        found = np.zeros(0)
        for a, b in src.ranges(batch_size):
            block = src.read(a, b)
            bad = np.isnan(block)
            if bad.any():
                raise DataError("y contains NaN", row=a + int(np.argmax(bad)))
            found = np.union1d(found, block)
        if src.dtype.kind in "iub":
            if found.size and np.abs(found).max() >= _EXACT_INT:
                raise DataError("y holds integer labels beyond 2**53, which a stream reads as "
                                "float64 inexactly; relabel the classes 0..k-1")
            return found.astype(src.dtype)
        return found


def _codes(y: np.ndarray, lookup: _Lookup | None) -> np.ndarray:
    """Class indices of one batch of a label source (as read, float64)."""
    return y.astype(np.intp) if lookup is None else lookup.codes(y)


def _batch_stats(X: np.ndarray, w: np.ndarray | None, y: np.ndarray, clf: BayesClassifier,
                 models: list, lookup: _Lookup | None, classes: np.ndarray) -> ClassifierStats:
    """Work item of a pass: the record of one batch (module level, so it pickles)."""
    return clf._stats_of(models, X, w, _codes(y, lookup), classes)


def _batch_hits(X: np.ndarray, w: np.ndarray | None, y: np.ndarray, clf: BayesClassifier,
                lookup: _Lookup | None) -> np.ndarray:
    """Work item of ``score``: (weight of the correct predictions, total weight)."""
    codes = _codes(y, lookup)
    X = clf._check_data(X)
    w = check_weights(w, X.shape[0])
    hit = clf._predict_labels(X) == codes
    return np.array([float(np.dot(w, hit)), float(w.sum())])


class BayesClassifier(StreamedPrediction, EstimatorParams):
    r"""A Bayes classifier: one distribution per class and the class priors.

    Parameters
    ----------
    distributions : sequence of Distribution, or a Distribution (class or instance)
        One distribution per class, in the order of :attr:`classes_` (used, not
        copied, as :class:`GeneralMixtureModel` uses its components). Any suffstat
        distribution works: :class:`MultivariateNormal`, :class:`IndependentComponents`,
        a :class:`GeneralMixtureModel` (see Notes), or a univariate family for 1-D
        ``X``. A single distribution class or instance is a template copied once per
        class when the classes are known.
    priors : array-like of shape (k,), optional
        Fixed class priors (non-negative, summing to 1). When None, the priors are
        learned: the weighted class frequencies.
    classes : array-like of shape (k,), optional
        The class labels, in the order of ``distributions``. By default they are the
        sorted distinct labels of ``y`` (as in scikit-learn) when fitting, and
        ``0, ..., k-1`` (pomegranate's convention) for :meth:`summarize` before any fit.
    max_iter : int, default=1
        Passes over the data in :meth:`fit`. One pass gives the exact maximum-likelihood
        estimate of every class distribution that is not a mixture; a mixture class
        gets one EM step per pass (see Notes).
    tol : float or None, default=1e-3
        With mixtures, stop when their log-likelihood per unit weight (of all the
        rows) changes by at most ``tol`` between two passes (a :class:`~suffstat.ConvergenceWarning` says
        when ``max_iter`` passes end first); None runs exactly ``max_iter`` passes.
    batch_size : int, optional
        Rows per batch when fitting (about 8 MiB of float64 rows by default). The fit
        does not depend on it, up to rounding.
    n_jobs : int, default=1
        Batches summarized concurrently by threads (-1: all cores); the records are
        added in batch order, so the fit is bitwise identical for every ``n_jobs``.

    Attributes
    ----------
    classes_ : ndarray of shape (k,)
        The class labels; column ``j`` of :meth:`predict_proba` is ``classes_[j]``.
    distributions_ : list of Distribution
        The class distributions (for a list given to the constructor, the same
        objects).
    priors_ : ndarray of shape (k,)
        The class priors used by the predictions (fixed or learned).
    class_count_ : ndarray of shape (k,)
        Summed sample weight of each class in the last fit (the unit weight count
        for unweighted data, as scikit-learn's ``class_count_``).
    n_iter_ : int
        Passes made by the last :meth:`fit`.
    converged_ : bool
        Whether the last :meth:`fit` met ``tol`` (always True without mixtures).

    Notes
    -----
    .. math:: p(c \mid x) = \frac{\pi_c \, p_c(x)}{\sum_{c'} \pi_{c'} \, p_{c'}(x)}

    :meth:`summarize` returns a :class:`~suffstat.statistics.ClassifierStats`: the
    summed weight of each class's rows and each class distribution's record of its own
    rows. Records add up, so batches, threads and Dask workers give the fit of all the
    rows at once; :meth:`from_summaries` sets the priors to the weighted class
    frequencies (unless fixed) and updates every class distribution from its record.

    A :class:`GeneralMixtureModel` as a class distribution needs starting parameters
    (fit it, or build it with fitted components, first): its record is an E-step under
    its current parameters, so each pass of :meth:`fit` is one EM step of each class's
    mixture on that class's rows, as pomegranate's ``BayesClassifier`` does.
    ``max_iter`` passes (with ``tol``) give what fitting each mixture alone on its
    class's rows with ``max_iter`` iterations gives.

    A model built from fitted distributions can predict before any fit: its priors
    are then ``priors`` or uniform, its classes ``classes`` or ``0, ..., k-1``.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(3, 1, (100, 2))])
    >>> y = np.array(["a"] * 200 + ["b"] * 100)
    >>> clf = ss.BayesClassifier([ss.MultivariateNormal(), ss.MultivariateNormal()]).fit(X, y)
    >>> clf.classes_.tolist(), clf.priors_.round(3).tolist()
    (['a', 'b'], [0.667, 0.333])
    >>> clf.predict([[0.0, 0.0], [3.0, 3.0]]).tolist()
    ['a', 'b']
    """

    def __init__(
        self,
        distributions: Any,
        *,
        priors: Any = None,
        classes: Any = None,
        max_iter: int = 1,
        tol: float | None = 1e-3,
        batch_size: int | None = None,
        n_jobs: int = 1,
    ) -> None:
        self.distributions = distributions
        self.priors = priors
        self.classes = classes
        self.max_iter, self.tol, self.batch_size, self.n_jobs = max_iter, tol, batch_size, n_jobs
        self._lock = threading.Lock()
        self._init_structure()

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle (Dask, joblib)
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state["_pending"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- structure -----------------------------------------------------------------------
    def _init_structure(self) -> None:
        """Check the constructor's values; set what is known without data."""
        self._pending: ClassifierStats | None = None
        for name in ("classes_", "distributions_", "priors_", "class_count_", "n_iter_",
                     "converged_"):
            self.__dict__.pop(name, None)
        dists = self.distributions
        if isinstance(dists, type) or isinstance(dists, Distribution):
            self._entries = None  # one template for every class
            self._template = self._entry(dists, "distributions")
        else:
            if isinstance(dists, (str, bytes)) or not hasattr(dists, "__iter__"):
                raise ParameterError(f"distributions must be a sequence of distributions (one per "
                                     f"class) or one distribution; got {dists!r}")
            self._entries = [self._entry(d, f"distributions[{j}]") for j, d in enumerate(dists)]
            self._template = None
            if not self._entries:
                raise ParameterError("distributions must hold at least one distribution per class")
        k = None if self._entries is None else len(self._entries)
        self._classes = None
        if self.classes is not None:
            classes = _label_array(self.classes)
            if np.unique(classes).shape[0] != classes.shape[0]:
                raise ParameterError(f"classes must be distinct; got {classes.tolist()}")
            if k is not None and classes.shape[0] != k:
                raise ParameterError(f"classes has {classes.shape[0]} labels but {k} distributions "
                                     "were given: give one distribution per class")
            self._classes = classes
            k = classes.shape[0]
        self._fixed_priors = None
        if self.priors is not None:
            p = check_probs("priors", self.priors)
            if k is not None and p.shape[0] != k:
                raise ParameterError(f"priors must have one entry per class ({k}); got "
                                     f"{p.shape[0]}")
            self._fixed_priors = p
        if self._entries is not None:
            models = self._resolve(len(self._entries), None)
            if models is not None:
                self._check_models(models)
                self.distributions_ = models
                self.classes_ = (self._classes if self._classes is not None
                                 else np.arange(len(models)))
                self.priors_ = (self._fixed_priors if self._fixed_priors is not None
                                else np.full(len(models), 1.0 / len(models)))

    def _entry(self, d: Any, what: str) -> Any:
        """Validate one constructor entry (a class is instantiated)."""
        if isinstance(d, type) and issubclass(d, Distribution):
            return d()
        if isinstance(d, Distribution):
            return d
        raise ParameterError(f"{what} must be a Distribution; got {d!r}")

    def _resolve(self, k: int, n_features: int | None) -> list | None:
        """The class distributions for ``k`` classes (None while data is needed)."""
        if self._entries is not None:
            if len(self._entries) != k:
                raise DataError(f"y has {k} classes but {len(self._entries)} distributions were "
                                "given: give one distribution per class")
            return list(self._entries)
        return [self._template.copy() for _ in range(k)]

    @staticmethod
    def _check_models(models: list) -> None:
        seen: dict[int, int] = {}
        for c, d in enumerate(models):
            for part in _leaves(d):
                if seen.setdefault(id(part), c) != c:
                    raise ParameterError(
                        f"the distributions of classes {seen[id(part)]} and {c} share the object "
                        f"{part!r}: each class needs its own distributions (they are used, not "
                        "copied)"
                    )
        if len({d._ndim for d in models}) > 1:
            raise ParameterError("the class distributions mix univariate and multivariate ones")
        dims = {d.n_features for d in models} - {None}
        if len(dims) > 1:
            raise ParameterError(f"the class distributions have different numbers of features: "
                                 f"{sorted(dims)}")

    def _models_for(self, k: int, n_features: int) -> list:
        """The fitted structure if it matches ``k`` classes, else a new one."""
        current = getattr(self, "distributions_", None)
        if current is not None and len(current) == k and (
                self._entries is not None or _n_features(current) == n_features):
            return current
        models = self._resolve(k, n_features)
        self._check_models(models)
        return models

    # -- parameters --------------------------------------------------------------------------
    def _set_param_value(self, name: str, value: Any) -> None:
        setattr(self, name, value)
        if name in ("distributions", "priors", "classes"):
            self._init_structure()

    @property
    def n_classes(self) -> int | None:
        """Number of classes (None while unknown)."""
        if getattr(self, "distributions_", None) is not None:
            return len(self.distributions_)
        if self._entries is not None:
            return len(self._entries)
        return None if self._classes is None else len(self._classes)

    @property
    def n_features_in_(self) -> int | None:
        """Number of columns of ``X`` (None while unknown; 1 for univariate classes)."""
        models = getattr(self, "distributions_", None)
        return None if models is None else _n_features(models)

    @property
    def class_prior_(self) -> np.ndarray:
        """scikit-learn's name for :attr:`priors_`."""
        self._require_fitted()
        return self.priors_

    @property
    def _ndim(self) -> int:
        return self.distributions_[0]._ndim

    def _require_fitted(self) -> None:
        models = getattr(self, "distributions_", None)
        if models is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")
        for c, d in enumerate(models):
            if not d._fitted:
                raise NotFittedError(
                    f"the distribution of class {self.classes_[c].item()!r} ({type(d).__name__}) "
                    "has no parameters yet: call fit (or from_summaries) first"
                )

    def _check_data(self, X: Any, allow_empty: bool = True) -> np.ndarray:
        return check_X(X, ndim=self._ndim, n_features=_n_features(self.distributions_),
                       allow_empty=allow_empty)

    # -- the narrow waist -----------------------------------------------------------------------
    def _stats_of(self, models: list, X: Any, w: Any, codes: np.ndarray,
                  classes: np.ndarray) -> ClassifierStats:
        """The record of one validated batch (pure: nothing is changed)."""
        first = models[0]
        X = check_X(X, ndim=first._ndim, n_features=_n_features(models), allow_empty=True)
        w = check_weights(w, X.shape[0])
        k = len(models)
        parts = []
        for c, d in enumerate(models):
            rows = np.flatnonzero(codes == c)
            try:
                parts.append(d._validated_stats(X[rows], w[rows]))
            except DataError as e:
                row = None if e.row is None else int(rows[e.row])
                raise DataError(f"class {classes[c].item()!r}: {e.problem}", row=row,
                                hint=e.hint) from None
        return ClassifierStats(w_sum=np.bincount(codes, weights=w, minlength=k), parts=parts)

    def _summary_classes(self) -> np.ndarray:
        """The classes :meth:`summarize` uses before the data says otherwise."""
        if self._classes is not None:
            return self._classes
        if getattr(self, "classes_", None) is not None:
            return self.classes_
        if self._entries is not None:
            return np.arange(len(self._entries))
        raise NotFittedError(
            f"{type(self).__name__} does not know the classes yet: pass classes= to the "
            "constructor, give one distribution per class, or call fit first"
        )

    def _open(self, X: Any, y: Any, sample_weight: Any, batch_size: int | None,
              classes: np.ndarray | None) -> tuple:
        """Sources of X, labels and weights, checked against each other."""
        source = as_source(X)
        if source.n_rows == 0:
            raise DataError("X is empty: it must have at least one row")
        size = source.default_batch_size() if batch_size is None else check_count(
            "batch_size", batch_size, minimum=1)
        labels = _Labels(y, source.n_rows, classes, size)
        weights = None
        if sample_weight is not None:
            weights = as_source(sample_weight)
            if weights.shape not in ((source.n_rows,), (source.n_rows, 1)):
                raise DataError(f"sample_weight must have shape ({source.n_rows},) to match X; got "
                                f"{weights.shape}")
        return source, labels, weights, source.ranges(size)

    def _pass(self, models: list, source: BatchSource, labels: _Labels, weights: Any,
              ranges: list, n_jobs: int) -> ClassifierStats:
        """One streamed pass: the batches' records added in batch order."""
        for c, d in enumerate(models):
            if _has_mixture(d) and not d._fitted:
                raise NotFittedError(
                    f"the mixture of class {labels.classes[c].item()!r} has no starting "
                    "parameters: its record is an E-step under its current parameters. Fit it "
                    "first (e.g. GeneralMixtureModel.from_samples on that class's rows) or build "
                    "it from fitted components"
                )
        total = None
        for part in ordered_map(_batch_stats, source, ranges, weights=weights,
                                n_jobs=effective_n_jobs(n_jobs),
                                args=(self, models, labels.lookup, labels.classes),
                                additive=True, extras=(labels.source,)):
            total = part if total is None else total + part
        return total

    def summarize(self, X: Any, y: Any, sample_weight: Any = None, *, accumulate: bool = True,
                  batch_size: int | None = None, n_jobs: int | None = None) -> ClassifierStats:
        """Return the additive record of labelled rows.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows (streamed in batches when a memory map or a ``.npy`` path).
        y : array-like, numpy.memmap, str or os.PathLike of shape (n_samples,)
            One label per row, each one of the classes (see ``classes``). Labels
            in a file must be numeric; strings are given as an in-memory array.
        sample_weight : array-like, numpy.memmap, str or os.PathLike, default=None
            Non-negative weights; an integer weight is the row repeated.
        accumulate : bool, default=True
            Also add the record to the pending statistics that :meth:`from_summaries`
            uses when called without a record (thread-safe).
        batch_size : int, optional
            Rows per batch (the constructor's by default).
        n_jobs : int, optional
            Batches summarized concurrently (the constructor's by default).

        Returns
        -------
        ClassifierStats
            The summed weight of each class and each class distribution's record of
            its rows: ``summarize(A) + summarize(B)`` equals ``summarize(concat(A, B))``
            up to rounding.

        Raises
        ------
        DataError
            For invalid rows, weights or labels (an unknown label, a length mismatch),
            naming the row. Nothing is accumulated then.
        """
        classes = self._summary_classes()
        batch_size = self.batch_size if batch_size is None else batch_size
        source, labels, weights, ranges = self._open(X, y, sample_weight, batch_size, classes)
        models = self._models_for(len(classes), source.n_features)
        stats = self._pass(models, source, labels, weights, ranges,
                           self.n_jobs if n_jobs is None else n_jobs)
        if getattr(self, "distributions_", None) is not models:  # templates expanded
            self.distributions_ = models
            self.classes_ = classes
        if accumulate:
            with self._lock:
                self._pending = stats if self._pending is None else self._pending + stats
        return stats

    @property
    def pending(self) -> ClassifierStats | None:
        """The records accumulated by :meth:`summarize` since the last update (or None)."""
        return self._pending

    def clear_summaries(self) -> None:
        """Forget the pending records accumulated by :meth:`summarize`."""
        with self._lock:
            self._pending = None

    def _propose(self, models: list, classes: np.ndarray, stats: ClassifierStats) -> tuple:
        """Validated priors and class updates for ``stats``, changing nothing."""
        if not isinstance(stats, ClassifierStats) or len(stats.parts) != len(models):
            raise TypeError(f"{type(self).__name__} needs ClassifierStats with {len(models)} "
                            f"parts; got {stats!r}")
        w_sum = np.asarray(stats.w_sum, dtype=np.float64)
        if not np.all(np.isfinite(w_sum)) or np.any(w_sum < 0):
            raise ParameterError(f"the statistics give invalid class weights {w_sum.tolist()}: "
                                 "they are not the record of any data")
        empty = [classes[c].item() for c in range(len(models)) if not w_sum[c] > 0]
        if empty:
            raise DataError(
                f"class(es) {empty} have no rows (summed sample weight 0): every class needs "
                "data to fit its distribution",
                hint="Drop the class's distribution, or give rows of that class",
            )
        proposals = []
        for c, (d, part) in enumerate(zip(models, stats.parts, strict=True)):
            try:
                proposals.append(d._propose(part))
            except ParameterError as e:
                label = classes[c].item()
                raise ParameterError(f"class {label!r} ({type(d).__name__}): {e}") from None
        priors = self._fixed_priors if self._fixed_priors is not None else w_sum / w_sum.sum()
        if priors.shape[0] != len(models):
            raise ParameterError(f"priors must have one entry per class ({len(models)}); got "
                                 f"{priors.shape[0]}")
        return proposals, priors, w_sum

    def _commit(self, models: list, classes: np.ndarray, proposal: tuple) -> None:
        """Apply a proposal from :meth:`_propose` (never raises)."""
        proposals, priors, w_sum = proposal
        for d, p in zip(models, proposals, strict=True):
            if p is not None:
                d._set_params(p)
        self.distributions_ = models
        self.classes_ = classes
        self.priors_ = np.array(priors, dtype=np.float64)
        self.class_count_ = np.array(w_sum)

    def from_summaries(self, stats: ClassifierStats | None = None):
        """Update the priors (unless fixed) and every class distribution from a record.

        Parameters
        ----------
        stats : ClassifierStats, optional
            The record to estimate from (then the pending records stay as they are);
            when None, the pending records of :meth:`summarize`, which are then cleared.

        Returns
        -------
        self
            The updated classifier.

        Raises
        ------
        DataError
            If a class has no rows in the record.
        ParameterError
            If a class distribution's update is invalid. Nothing changes then.
        """
        use_pending = stats is None
        if use_pending:
            with self._lock:
                stats = self._pending
            if stats is None:
                raise ValueError(f"{type(self).__name__}.from_summaries has no statistics: call "
                                 "summarize first or pass a record")
        models = getattr(self, "distributions_", None)
        if models is None:
            raise NotFittedError(f"{type(self).__name__} has no class distributions yet: call "
                                 "summarize first")
        classes = self.classes_
        self._commit(models, classes, self._propose(models, classes, stats))
        if use_pending:
            with self._lock:
                if self._pending is stats:
                    self._pending = None
        return self

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None, **settings: Any):
        """Fit the priors and every class distribution to labelled rows, streaming them.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows: an array of shape (n_samples, n_features) (or (n_samples,) for
            univariate classes), a memory map, or a path to a ``.npy`` file read in
            place, batch by batch.
        y : array-like, numpy.memmap, str or os.PathLike of shape (n_samples,)
            One label per row (numbers, booleans or strings; in a file, numbers). The
            classes are the sorted distinct labels unless ``classes`` was given.
        sample_weight : array-like, numpy.memmap, str or os.PathLike, default=None
            Non-negative weights; an integer weight is the row repeated.
        **settings
            ``max_iter``, ``tol``, ``batch_size``, ``n_jobs``: overrides of the
            constructor's values for this call.

        Returns
        -------
        self
            The fitted classifier.

        Raises
        ------
        DataError
            For invalid rows (NaN, wrong shape), weights or labels (a length mismatch,
            a label outside ``classes``), a class with no rows, or a number of classes
            that differs from the number of distributions. The classifier keeps its
            previous state (with mixtures, that of its last completed pass).
        """
        unknown = set(settings) - set(FIT_SETTINGS)
        if unknown:
            raise TypeError(f"fit() got unexpected keyword argument(s) {sorted(unknown)}")
        s = {name: settings.get(name, getattr(self, name)) for name in FIT_SETTINGS}
        max_iter = check_count("max_iter", s["max_iter"], minimum=1)
        tol = None if s["tol"] is None else check_scalar("tol", s["tol"], low=0.0)
        n_jobs = effective_n_jobs(s["n_jobs"])
        source, labels, weights, ranges = self._open(X, y, sample_weight, s["batch_size"],
                                                     self._classes)
        classes = labels.classes
        models = self._models_for(len(classes), source.n_features)
        if self._fixed_priors is not None and self._fixed_priors.shape[0] != len(classes):
            raise DataError(f"y has {len(classes)} classes but priors has "
                            f"{self._fixed_priors.shape[0]} entries")
        iterative = any(_has_mixture(d) for d in models)
        previous, converged, n_iter = None, not iterative, 0
        for _ in range(max_iter):
            stats = self._pass(models, source, labels, weights, ranges, n_jobs)
            self._commit(models, classes, self._propose(models, classes, stats))
            n_iter += 1
            if not iterative:
                break
            value = sum(float(p.log_likelihood) for p in _mixture_parts(stats)) / stats.weight
            if previous is not None and tol is not None and abs(value - previous) <= tol:
                converged = True
                break
            previous = value
        self.n_iter_, self.converged_ = n_iter, converged
        if not converged and tol is not None:
            warn_at_caller(
                f"EM of the mixture classes did not converge in {n_iter} passes (tol={tol:g}): "
                "increase max_iter or tol, or check the mixtures' starting parameters",
                ConvergenceWarning,
            )
        return self

    @classmethod
    def from_samples(cls, distributions: Any, X: Any, y: Any, sample_weight: Any = None,
                     **kwargs: Any) -> BayesClassifier:
        """Build a classifier and fit it to labelled rows (pomegranate's name).

        Parameters
        ----------
        distributions : Distribution class or instance, or sequence
            For :class:`BayesClassifier`, a family (class or unfitted instance) copied
            once per class, or one distribution per class. For :class:`NaiveBayes`, a
            univariate family applied to every column, or a sequence of univariate
            families, one per column, shared by every class (as pomegranate's
            ``NaiveBayes.from_samples``).
        X : array-like, numpy.memmap, str or os.PathLike
            The rows (see :meth:`fit`).
        y : array-like, numpy.memmap, str or os.PathLike of shape (n_samples,)
            One label per row.
        sample_weight : array-like, numpy.memmap, str or os.PathLike, default=None
            Non-negative weights.
        **kwargs
            Constructor settings (``priors``, ``classes``, ``max_iter``, ``tol``,
            ``batch_size``, ``n_jobs``).

        Returns
        -------
        BayesClassifier
            The fitted classifier.
        """
        return cls(cls._family(distributions), **kwargs).fit(X, y, sample_weight)

    @classmethod
    def _family(cls, distributions: Any) -> Any:
        return distributions

    # -- predictions ------------------------------------------------------------------------
    def _joint_log_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, k) array of ``log pi_c + log p_c(x)``."""
        out = np.empty((X.shape[0], len(self.distributions_)))
        for c, d in enumerate(self.distributions_):
            out[:, c] = d._log_probability(X)
        with np.errstate(divide="ignore"):
            return out + np.log(self.priors_)

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        return logsumexp(self._joint_log_proba(X), axis=1)

    def _predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        joint = self._joint_log_proba(X)
        lse = logsumexp(joint, axis=1)
        bad = ~np.isfinite(lse)
        if bad.any():
            raise DataError("X has zero density under every class", row=int(np.argmax(bad)),
                            hint="The row lies outside the support of every class distribution")
        return joint - lse[:, None]

    def predict(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the most probable class of each row (the Bayes rule).

        Streamed input keeps only each batch's labels, never the ``n x k`` posterior.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from :attr:`classes_`.
        """
        index = super().predict(X, batch_size=batch_size, n_jobs=n_jobs)
        return self.classes_[index]

    def predict_log_proba(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1
                          ) -> np.ndarray:
        """Return the log-posterior of each class, ``log p(c | x)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows (streamed in batches when a memory map or a path).
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Column ``j`` is class ``classes_[j]``.

        Raises
        ------
        DataError
            For a row with density 0 under every class (named).
        """
        return super().predict_log_proba(X, batch_size=batch_size, n_jobs=n_jobs)

    def predict_proba(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1
                      ) -> np.ndarray:
        """Return the posterior of each class, ``p(c | x)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows (streamed in batches when a memory map or a path).
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; column ``j`` is class ``classes_[j]``.
        """
        return super().predict_proba(X, batch_size=batch_size, n_jobs=n_jobs)

    def score(self, X: Any, y: Any, sample_weight: Any = None, *, batch_size: int | None = None,
              n_jobs: int = 1) -> float:
        """Return the accuracy on labelled rows, as scikit-learn classifiers do.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows.
        y : array-like, numpy.memmap, str or os.PathLike of shape (n_samples,)
            Their true labels, each one of :attr:`classes_`.
        sample_weight : array-like, numpy.memmap, str or os.PathLike, default=None
            Non-negative weights (the weighted accuracy).
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        float
            The (weighted) fraction of rows whose predicted class is their label.

        Raises
        ------
        DataError
            For a label that is not one of :attr:`classes_` (named with its row), a
            length mismatch, or empty input.
        """
        self._require_fitted()
        source, labels, weights, ranges = self._open(X, y, sample_weight, batch_size, self.classes_)
        total = np.zeros(2)
        for part in ordered_map(_batch_hits, source, ranges, weights=weights,
                                n_jobs=effective_n_jobs(n_jobs), args=(self, labels.lookup),
                                extras=(labels.source,)):
            total = total + part
        if not total[1] > 0:
            raise DataError("sample_weight sums to 0: score has no rows to count")
        return float(total[0] / total[1])

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the classifier as a dict of plain values and arrays.

        Returns
        -------
        dict
            ``{"class": name, "params": {...}, "options": {...}}``, read back by
            :meth:`from_dict` (and :func:`suffstat.load` after :meth:`save`).
        """
        self._require_fitted()
        count = getattr(self, "class_count_", None)
        return {
            "class": type(self).__name__,
            "params": {
                "distributions": [d.to_dict() for d in self.distributions_],
                "classes": np.array(self.classes_),
                "priors": self.priors_.copy(),
                "class_count": None if count is None else np.array(count),
            },
            "options": {
                "fixed_priors": self._fixed_priors is not None,
                "max_iter": self.max_iter, "tol": self.tol, "batch_size": self.batch_size,
                "n_jobs": self.n_jobs,
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BayesClassifier:
        """Rebuild a classifier from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict
            The output of :meth:`to_dict`.

        Returns
        -------
        BayesClassifier
            The classifier, with exactly the saved parameters.
        """
        from ._registry import model_class

        target = model_class(d["class"])
        if not (isinstance(target, type) and issubclass(target, cls)):
            raise ValueError(f"the dict describes a {d['class']}, not a {cls.__name__}")
        params, options = dict(d["params"]), dict(d.get("options", {}))
        fixed = bool(options.pop("fixed_priors", False))
        dists = [Distribution.from_dict(x) for x in params["distributions"]]
        model = target(dists, priors=params["priors"] if fixed else None,
                       classes=np.asarray(params["classes"]), **options)
        model.priors_ = check_probs("priors", params["priors"])
        if model.priors_.shape[0] != len(dists):
            raise ValueError(f"priors has {model.priors_.shape[0]} entries for {len(dists)} "
                             "classes")
        if params.get("class_count") is not None:
            model.class_count_ = np.asarray(params["class_count"], dtype=np.float64)
        return model

    def save(self, path: Any) -> None:
        """Save the classifier to a ``.npz`` file (atomically; loaded without pickle).

        Parameters
        ----------
        path : str or os.PathLike
            Destination file; :func:`suffstat.load` reads it back.
        """
        _save(self, path)

    def copy(self) -> BayesClassifier:
        """Return an independent copy (parameters, priors and classes).

        Returns
        -------
        BayesClassifier
            A deep copy.
        """
        return type(self).from_dict(self.to_dict())

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags: a classifier, ``y`` required.

        Returns
        -------
        sklearn.utils.Tags
            The tags; only called by scikit-learn, so it is imported here.
        """
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    def __repr__(self) -> str:
        models = getattr(self, "distributions_", None)
        if models is None:
            return f"{type(self).__name__}({self.distributions!r})"
        inner = ",\n  ".join(f"{c.item()!r}: {d!r}" for c, d in zip(self.classes_, models,
                                                                    strict=True))
        p = np.array2string(self.priors_, precision=4, separator=", ")
        return f"{type(self).__name__}({{\n  {inner}\n}}, priors={p})"


class NaiveBayes(BayesClassifier):
    """A naive Bayes classifier: per class, independent univariate distributions per column.

    Parameters
    ----------
    distributions : sequence, or a univariate Distribution (class or instance)
        One entry per class, in the order of :attr:`classes_`. An entry is a univariate
        distribution applied to every column (a template: copied once per column at
        the first fit), a list of univariate distributions (one per column), or an
        :class:`IndependentComponents`. A single entry (``ss.NaiveBayes(ss.Normal)``)
        is the template of every class, as scikit-learn's ``GaussianNB``.
    priors, classes, max_iter, tol, batch_size, n_jobs
        As in :class:`BayesClassifier`.

    Notes
    -----
    Each class distribution is an :class:`IndependentComponents`:
    :math:`p_c(x) = \\prod_j p_{cj}(x_j)`, as pomegranate's ``NaiveBayes`` combines its
    univariate distributions. With :class:`Normal` templates this is scikit-learn's
    ``GaussianNB(var_smoothing=0)``: the means, the (maximum-likelihood) variances, the
    priors and the posteriors agree. A univariate template's own parameters are
    copied into every column's distribution and then re-estimated by the fit.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> X = np.array([[0.0, 1.0], [0.2, 1.4], [0.1, 0.8], [3.0, 5.0], [3.4, 5.2], [2.9, 4.6]])
    >>> nb = ss.NaiveBayes(ss.Normal).fit(X, [0, 0, 0, 1, 1, 1])
    >>> [round(d.mean, 2) for d in nb.distributions_[1].distributions]
    [3.1, 4.93]
    >>> nb.predict([[0.1, 1.0], [3.1, 5.0]]).tolist()
    [0, 1]
    """

    @classmethod
    def _family(cls, distributions: Any) -> Any:
        if isinstance(distributions, (list, tuple)):  # one family per column, for every class
            columns = [d() if isinstance(d, type) else d for d in distributions]
            return IndependentComponents([d.copy() if isinstance(d, Distribution) else d
                                          for d in columns])
        return distributions

    def _entry(self, d: Any, what: str) -> Any:
        if isinstance(d, type) and issubclass(d, Distribution):
            d = d()
        if isinstance(d, IndependentComponents):
            return d
        if isinstance(d, Distribution):
            if d._ndim != 1:
                raise ParameterError(f"{what} must be a univariate distribution (applied to every "
                                     f"column), a list of them or IndependentComponents; got {d!r}")
            return d
        if isinstance(d, (list, tuple)):
            try:
                return IndependentComponents(list(d))
            except ParameterError as e:
                raise ParameterError(f"{what}: {e}") from None
        raise ParameterError(f"{what} must be a univariate distribution, a list of them or "
                             f"IndependentComponents; got {d!r}")

    def _resolve(self, k: int, n_features: int | None) -> list | None:
        if self._entries is not None:
            if len(self._entries) != k:
                raise DataError(f"y has {k} classes but {len(self._entries)} distributions were "
                                "given: give one distribution per class")
            entries = self._entries
        else:
            entries = [self._template] * k
        out = []
        for e in entries:
            if isinstance(e, IndependentComponents):
                if self._entries is None:
                    e = e.copy()
                out.append(e)
            elif n_features is None:
                return None
            else:
                out.append(IndependentComponents([e.copy() for _ in range(n_features)]))
        return out

    def _models_for(self, k: int, n_features: int) -> list:
        current = getattr(self, "distributions_", None)
        if current is not None and len(current) == k and _n_features(current) == n_features:
            return current
        models = self._resolve(k, n_features)
        self._check_models(models)
        if _n_features(models) != n_features:
            raise DataError(f"X has {n_features} columns but the class distributions take "
                            f"{_n_features(models)}")
        return models


def _leaves(d: Distribution) -> list:
    """``d`` and every distribution nested in it."""
    out = [d]
    for inner in getattr(d, "distributions", None) or ():
        out.extend(_leaves(inner))
    return out


def _n_features(models: list) -> int | None:
    dims = {d.n_features for d in models} - {None}
    return dims.pop() if dims else None


def _mixture_parts(stats: ClassifierStats) -> list:
    """The mixture records among a record's parts (and inside IndependentStats parts)."""
    out, stack = [], list(stats.parts)
    while stack:
        p = stack.pop(0)
        if isinstance(p, MixtureStats):
            out.append(p)
        elif getattr(p, "parts", None) is not None:
            stack.extend(p.parts)
    return out


register(BayesClassifier)
register(NaiveBayes)
