"""The Distribution protocol: summarize / from_summaries over additive statistics."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from .._validation import check_count, check_fraction, check_random_state, check_weights, check_X
from .._registry import model_class, register
from ..exceptions import NotFittedError, ParameterError
from ..io import save as _save
from ..statistics import Statistic


def blend(old: Any, new: Any, inertia: float) -> Any:
    """Return ``inertia * old + (1 - inertia) * new``, recursing into dicts and lists."""
    if isinstance(new, dict):  # private entries (caches) are recomputed by _check_params
        return {k: blend(old[k], v, inertia) for k, v in new.items() if not k.startswith("_")}
    if isinstance(new, (list, tuple)):
        return [blend(o, v, inertia) for o, v in zip(old, new, strict=True)]
    if old is None or new is None or isinstance(new, str):
        return new
    return inertia * np.asarray(old, dtype=np.float64) + (1.0 - inertia) * np.asarray(new)


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else value.copy()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Distribution(ABC):
    """Base class of every model fitted through additive statistics.

    Subclasses implement ``_summarize`` (pure statistics of validated data),
    ``_estimate`` (closed-form or iterative estimate from a record),
    ``_check_params`` (validate and canonicalise parameters), ``_set_params``
    (commit), ``_log_probability`` and ``_sample``.

    Parameters
    ----------
    inertia : float, default=0.0
        Weight of the old parameters in each update:
        ``new = inertia * old + (1 - inertia) * estimate``.
    frozen : bool, default=False
        If True, :meth:`from_summaries` leaves the parameters unchanged.
    """

    #: Names of the parameters, in constructor order.
    _param_names: ClassVar[tuple[str, ...]] = ()
    #: Names of keyword options that are saved with the model.
    _option_names: ClassVar[tuple[str, ...]] = ("inertia", "frozen")
    #: Dimensions of one batch: 1 for univariate data (n,), 2 for (n, d).
    _ndim: ClassVar[int] = 1
    _stats_type: ClassVar[type[Statistic]] = Statistic

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            register(cls)

    def __init__(self, *, inertia: float = 0.0, frozen: bool = False) -> None:
        self.inertia = check_fraction("inertia", inertia)
        if not isinstance(frozen, (bool, np.bool_)):
            raise ParameterError(f"frozen must be True or False; got {frozen!r}")
        self.frozen = bool(frozen)
        self._pending: Statistic | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle (Dask, joblib)
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state["_pending"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- parameters -------------------------------------------------------------------
    def _get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names}

    def _set_params(self, params: dict[str, Any]) -> None:
        """Commit already validated parameters (never raises)."""
        for name, value in params.items():
            object.__setattr__(self, name, value)

    @abstractmethod
    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate and canonicalise parameters; None values stay None."""

    @property
    def _fitted(self) -> bool:
        return all(v is not None for v in self._get_params().values())

    def _require_fitted(self) -> None:
        if not self._fitted:
            missing = [k for k, v in self._get_params().items() if v is None]
            raise NotFittedError(
                f"{type(self).__name__} has no value for {', '.join(missing)}; "
                "pass it to the constructor or call fit / from_summaries first"
            )

    @property
    def n_features(self) -> int | None:
        """Number of columns of the data (1 for univariate distributions)."""
        return 1

    # -- data -------------------------------------------------------------------------
    def _check_data(self, X: Any, allow_empty: bool = True, finite: bool = True) -> np.ndarray:
        return check_X(X, ndim=self._ndim, n_features=self.n_features, allow_empty=allow_empty,
                       finite=finite)

    def _check_support(self, X: np.ndarray) -> None:
        """Raise a DataError for values outside the support (used by summarize)."""

    # -- the narrow waist ---------------------------------------------------------------
    def summarize(self, X: Any, sample_weight: Any = None, *, accumulate: bool = True) -> Statistic:
        """Compute the sufficient statistics of a batch.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            Batch of observations. Must be finite and inside the support. An empty
            batch gives the zero record (the identity of ``+``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` means all ones. An integer weight is
            equivalent to repeating the row, a zero weight to removing it.
        accumulate : bool, default=True
            Also add the result to the pending statistics used by
            :meth:`from_summaries` (thread-safe).

        Returns
        -------
        Statistic
            Additive statistics: ``summarize(A) + summarize(B)`` equals
            ``summarize(concat(A, B))`` up to rounding.

        Raises
        ------
        DataError
            If ``X`` or ``sample_weight`` is invalid; the message names the row.
        """
        stats = self._validated_stats(X, sample_weight)
        if accumulate:
            with self._lock:
                self._pending = stats if self._pending is None else self._pending + stats
        return stats

    def _validated_stats(self, X: Any, sample_weight: Any, allow_empty: bool = True) -> Statistic:
        X = self._check_data(X, allow_empty=allow_empty)
        self._check_support(X)
        return self._summarize(X, check_weights(sample_weight, X.shape[0]))

    @abstractmethod
    def _summarize(self, X: np.ndarray, w: np.ndarray) -> Statistic:
        """Statistics of validated float64 data and weights."""

    def clear_summaries(self) -> None:
        """Forget the pending statistics accumulated by :meth:`summarize`."""
        with self._lock:
            self._pending = None

    @property
    def pending(self) -> Statistic | None:
        """The statistics accumulated since the last update (None if there are none)."""
        return self._pending

    def from_summaries(self, stats: Statistic | None = None):
        """Update the parameters from statistics.

        Parameters
        ----------
        stats : Statistic, optional
            Statistics to estimate from; the pending summary is then left as it is.
            When None, the pending summary is used and then cleared.

        Returns
        -------
        self
            The updated distribution.

        Raises
        ------
        ParameterError
            If the estimate is invalid (e.g. zero variance); nothing is changed.
        """
        use_pending = stats is None
        if use_pending:
            with self._lock:
                stats = self._pending
            if stats is None:
                raise ValueError(
                    f"{type(self).__name__}.from_summaries has no statistics: call summarize "
                    "first or pass a statistics record"
                )
        new = self._propose(stats)
        if new is not None:
            self._set_params(new)
        if use_pending:
            with self._lock:
                if self._pending is stats:
                    self._pending = None
        return self

    def _propose(self, stats: Statistic) -> dict[str, Any] | None:
        """Compute and validate the updated parameters without changing anything.

        Returns None when nothing changes (frozen, or no weight on a fitted model).
        """
        if not isinstance(stats, self._stats_type):
            raise TypeError(
                f"{type(self).__name__} needs {self._stats_type.__name__} statistics; "
                f"got {type(stats).__name__}"
            )
        if self.frozen:
            return None
        if not stats.weight > 0:
            if self._fitted:
                return None
            raise ParameterError(
                f"cannot estimate the parameters of {type(self).__name__} from data of total "
                "weight 0"
            )
        new = self._estimate(stats)
        if self.inertia > 0 and self._fitted:
            new = blend(self._get_params(), new, self.inertia)
        return self._check_params(new)

    def _expected_log_probability(self, stats: Statistic) -> float:
        """``sum_i w_i log p(x_i)`` computed from the statistics alone (where possible)."""
        raise NotImplementedError(f"{type(self).__name__} cannot score from its statistics")

    @abstractmethod
    def _estimate(self, stats: Statistic) -> dict[str, Any]:
        """The maximum-likelihood parameters for ``stats`` (weight > 0)."""

    def fit(self, X: Any, sample_weight: Any = None):
        """Fit the parameters to data by maximum likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            The data.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self
            The fitted distribution. Pending statistics are left as they were.

        Raises
        ------
        DataError
            If ``X`` is empty or invalid (the message names the row).
        """
        return self.from_summaries(self._validated_stats(X, sample_weight, allow_empty=False))

    # -- densities and sampling ---------------------------------------------------------
    def log_probability(self, X: Any) -> np.ndarray:
        """Return the log-density (or log-mass) of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            Finite observations; values outside the support get ``-inf``.

        Returns
        -------
        ndarray of shape (n_samples,)
            Log-probabilities.
        """
        self._require_fitted()
        return self._log_probability(self._check_data(X))

    @abstractmethod
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        """Log-density of validated data."""

    def probability(self, X: Any) -> np.ndarray:
        """Return the density (or mass) of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            Finite observations.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``exp(log_probability(X))``.
        """
        return np.exp(self.log_probability(X))

    def sample(self, n: int, random_state: Any = None) -> np.ndarray:
        """Draw random samples.

        Parameters
        ----------
        n : int
            Number of samples.
        random_state : None, int or numpy.random.Generator, default=None
            Seed or generator.

        Returns
        -------
        ndarray of shape (n,) or (n, n_features)
            The samples.
        """
        n = check_count("n", n)
        self._require_fitted()
        return self._sample(n, check_random_state(random_state))

    @abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw n samples."""

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the model as a dict of plain values and arrays.

        Returns
        -------
        dict
            ``{"class": name, "params": {...}, "options": {...}}``; :meth:`from_dict`
            rebuilds the model from it.
        """
        return self._dict_with(_to_plain(self._get_params()))

    def _dict_with(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "params": params,
            "options": {name: _to_plain(getattr(self, name)) for name in self._option_names},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Distribution:
        """Rebuild a model from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict
            The output of :meth:`to_dict`.

        Returns
        -------
        Distribution
            A model of the class named in ``d["class"]``.
        """
        target = model_class(d["class"])
        if cls is not Distribution and not issubclass(target, cls):
            raise ValueError(f"the dict describes a {target.__name__}, not a {cls.__name__}")
        return target._from_parts(dict(d["params"]), dict(d.get("options", {})))

    @classmethod
    def _from_parts(cls, params: dict[str, Any], options: dict[str, Any]) -> Distribution:
        return cls(**params, **options)

    def copy(self):
        """Return an independent copy (parameters and options; no pending statistics).

        Returns
        -------
        Distribution
            A deep copy.
        """
        return type(self).from_dict(self.to_dict())

    def save(self, path: Any) -> None:
        """Save the model to a ``.npz`` file (atomically; loaded without pickle).

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        """
        _save(self, path)

    def __repr__(self) -> str:
        def fmt(v: Any) -> str:
            v = _to_plain(v)
            if isinstance(v, np.ndarray):
                return np.array2string(v, precision=4, separator=", ", threshold=20)
            if isinstance(v, float):
                return f"{v:.6g}"
            return repr(v)

        args = [f"{k}={fmt(v)}" for k, v in self._get_params().items()]
        return f"{type(self).__name__}({', '.join(args)})"
