"""The Distribution protocol: summarize / from_summaries over additive statistics."""

from __future__ import annotations

import json
import threading
import types
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from .._estimator import param_names
from .._nested import blend
from .._registry import model_class, register, registry_name
from .._validation import (
    check_count,
    check_fraction,
    check_random_state,
    check_weights,
    check_X,
    first_failing_prefix,
)
from ..exceptions import DataError, NotFittedError, ParameterError
from ..io import save as _save
from ..statistics import Statistic


#: Deepest nesting of a model's JSON (a mixture of IndependentComponents is about 8).
MAX_JSON_DEPTH = 64


def _read_only(value: Any) -> Any:
    if isinstance(value, dict):
        return types.MappingProxyType({k: _read_only(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_read_only(v) for v in value)
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    return value


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_json_ready(value: Any, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        if "__ndarray__" in value:
            dtype = np.dtype(value.get("dtype", "<f8"))
            if dtype.kind not in "fiub":
                raise ValueError(f"unsupported array dtype {dtype} in the JSON")
            arr = np.array(value["__ndarray__"], dtype=dtype)
            shape = value.get("shape", arr.shape)
            if arr.size == 0 and 0 in shape:  # tolist() of an empty (0, d) array is []
                arr = arr.reshape(shape)
            if list(arr.shape) != list(shape):
                raise ValueError(f"an array's shape {list(arr.shape)} differs from its declared "
                                 f"{value['shape']}")
            return arr
        return {k: _from_json_ready(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json_ready(v, depth + 1) for v in value]
    return value


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
        ``new = inertia * old + (1 - inertia) * estimate``. Each parameter is
        blended once, with one inertia: the fit-wide ``inertia`` given to a
        mixture's ``fit`` when there is one; else its owner's own ``inertia``; else,
        when that is 0, the enclosing model's (a mixture's or
        :class:`IndependentComponents`'). Inertias never compound.
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
    #: Whether a parameter estimated at 0 from a start's rows stays 0 under EM (a
    #: Categorical category, a Bernoulli p): a mixture's start then gives each such
    #: component a small share of every row.
    _zeros_absorb: ClassVar[bool] = False

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
            If ``X`` or ``sample_weight`` is invalid, or if the batch's statistics
            overflow float64 (alone, or added to the pending ones); the message names
            the row where it can. Nothing is accumulated then.
        """
        stats = self._validated_stats(X, sample_weight)
        if accumulate:
            with self._lock:
                with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                    total = stats if self._pending is None else self._pending + stats
                field = total.nonfinite_field()
                if field is not None:  # each record is finite; their sum overflowed
                    raise DataError(
                        f"adding the batch's statistics to the pending ones overflows float64 "
                        f"({field} is not finite); the pending statistics are unchanged",
                        hint="Rescale the data so that its sums stay below 1.8e308",
                    )
                self._pending = total
        return stats

    def _validated_stats(self, X: Any, sample_weight: Any, allow_empty: bool = True) -> Statistic:
        X = self._check_data(X, allow_empty=allow_empty)
        self._check_support(X)
        w = check_weights(sample_weight, X.shape[0])
        return self._check_stats(self._summarize(X, w), X, w)

    def _check_stats(self, stats: Statistic, X: np.ndarray, w: np.ndarray) -> Statistic:
        """Return ``stats`` of the finite rows ``X``, or raise if a sum is not finite.

        Finite rows can still overflow float64 (squares of 1e200); a record holding
        infinity or NaN would poison every record it is added to. The DataError names
        the first row at which the batch's statistics stop being finite.
        """
        field = stats.nonfinite_field()
        if field is None:
            return stats
        row = first_failing_prefix(
            X.shape[0], lambda m: self._summarize(X[:m], w[:m]).nonfinite_field() is not None
        )
        if field == "log_likelihood":  # a mixture: the row has density 0 under every component
            raise DataError(
                "X has zero density under every component (log-likelihood -inf)", row=row,
                hint="The row lies outside every component's support, or so far from them "
                "that its squared distance overflows float64",
            )
        raise DataError(
            f"the statistics of X overflow float64 ({field} is not finite)", row=row,
            hint="Rescale the data (e.g. divide it by a constant) so that squares and sums "
            "of its values stay below 1.8e308",
        )

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

    def _effective_inertia(self, inertia: float | None, inherited: float) -> float:
        """The one inertia that blends this object's own parameters in an update.

        ``inertia`` (the fit-wide value, when given) overrides every other; else the
        object's own ``inertia``; else, when that is 0, the enclosing model's
        (``inherited``). A parameter is blended exactly once: inertias never compound.
        """
        if inertia is not None:
            return inertia
        return self.inertia if self.inertia > 0 else inherited

    def _propose(self, stats: Statistic, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        """Compute and validate the updated parameters without changing anything.

        Returns None when nothing changes (frozen, or no weight on a fitted model).
        ``inertia`` and ``inherited`` are as in :meth:`_effective_inertia`.
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
        eff = self._effective_inertia(inertia, inherited)
        if eff > 0 and self._fitted:
            new = blend(self._get_params(), new, eff)
        return self._check_params(new)

    def _mixture_estep(self) -> Any:
        """This component's share of a fused mixture E-step, or None (the default).

        A family with a fused kernel returns a
        :class:`~suffstat.distributions._fused.FusedEStep`; a mixture whose
        components all give the same key runs that kernel instead of composing
        the components' ``summarize``.
        """
        return None

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
            If ``X`` is empty or invalid (the message names the row), or if
            ``sample_weight`` sums to 0 (there is nothing to fit). The model is then
            unchanged.
        """
        stats = self._validated_stats(X, sample_weight, allow_empty=False)
        if not stats.weight > 0:
            raise DataError(
                f"sample_weight sums to 0: {type(self).__name__}.fit has no data to fit",
                hint="Give some row a positive weight",
            )
        return self.from_summaries(stats)

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

    def _n_parameters(self) -> int:
        """Number of free parameters (for BIC / AIC): every parameter value counts."""
        return int(sum(np.size(v) for v in self._get_params().values() if v is not None))

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
            "class": registry_name(type(self)),
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

    # -- scikit-learn's estimator API ---------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor's arguments: the parameters and options as they are now.

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn compatibility (components are values here).

        Returns
        -------
        dict
            Argument names mapped to their current values.
        """
        return {name: getattr(self, name) for name in param_names(type(self))}

    def set_params(self, **params: Any):
        """Change constructor arguments, validated as the constructor does, all or nothing.

        Parameters
        ----------
        **params
            Argument names and their new values.

        Returns
        -------
        self
            The distribution.

        Raises
        ------
        ValueError
            For an unknown name; ParameterError for an invalid value (nothing changes).
        """
        current = self.get_params(deep=False)
        unknown = sorted(set(params) - set(current))
        if unknown:
            raise ValueError(f"invalid parameter(s) {unknown} for {type(self).__name__}; valid "
                             f"parameters are {sorted(current)}")
        rebuilt = type(self)(**{**current, **params})
        pending = self._pending
        self.__dict__.update(rebuilt.__dict__)
        self._pending = pending
        return self

    def __sklearn_clone__(self):
        """Return an independent copy (``sklearn.base.clone``; the parameters are values here).

        Returns
        -------
        Distribution
            :meth:`copy`.
        """
        return self.copy()

    # -- pomegranate's names -----------------------------------------------------------------
    @classmethod
    def from_samples(cls, X: Any, sample_weight: Any = None, **kwargs: Any):
        """Build a distribution of this class and fit it to ``X`` (pomegranate's name).

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            The data.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.
        **kwargs
            Constructor options (e.g. ``covariance_type='diag'``, ``min_std=0.1``).

        Returns
        -------
        Distribution
            The fitted distribution.

        Examples
        --------
        >>> import suffstat as ss
        >>> ss.Poisson.from_samples([1, 2, 3]).rate
        2.0
        """
        return cls(**kwargs).fit(X, sample_weight)

    def freeze(self):
        """Freeze the parameters: later updates leave them unchanged.

        Returns
        -------
        self
            The distribution, with ``frozen=True``.
        """
        self.frozen = True
        return self

    def thaw(self):
        """Let updates change the parameters again (undo :meth:`freeze`).

        Returns
        -------
        self
            The distribution, with ``frozen=False``.
        """
        self.frozen = False
        return self

    @property
    def parameters(self) -> Any:
        """A read-only view of the parameters (pomegranate's name).

        Arrays are read-only views, dicts are read-only mappings and lists are tuples,
        so the view cannot change the model; use the constructor, ``fit`` or
        ``from_summaries`` for that.
        """
        return _read_only(self._get_params())

    def to_json(self) -> str:
        """Return the model as JSON text: arrays as lists, no code, no pickle.

        Returns
        -------
        str
            JSON that :meth:`from_json` turns back into an equal model (exactly: floats
            are written with all their digits).
        """
        return json.dumps(_json_ready(self.to_dict()))

    @classmethod
    def from_json(cls, text: str) -> Distribution:
        """Rebuild a model from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            The JSON text.

        Returns
        -------
        Distribution
            The model.

        Raises
        ------
        ValueError
            If the text is not a model's JSON (bad JSON, unknown class, invalid values).
        """
        try:
            d = _from_json_ready(json.loads(text), 0)
        except RecursionError:
            raise ValueError("the JSON nests too deeply to be a model") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"not JSON: {e}") from None
        if not isinstance(d, dict) or not isinstance(d.get("class"), str) or "params" not in d:
            raise ValueError("the JSON does not describe a model (no 'class' and 'params')")
        return cls.from_dict(d)

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
