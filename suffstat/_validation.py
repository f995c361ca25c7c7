"""The one validator: data, weights and parameters, with messages that say where."""

from __future__ import annotations

import numbers

import numpy as np

from .exceptions import DataError, ParameterError


def _first_true(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def check_X(
    X,
    *,
    ndim: int,
    n_features: int | None = None,
    name: str = "X",
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Return ``X`` as a C-contiguous float64 array of ``ndim`` dimensions, or raise.

    ``ndim=1`` accepts shape (n,) or (n, 1); ``ndim=2`` accepts (n, d) and, when the
    model has one feature, (n,). Raises :class:`DataError` for a non-numeric dtype, a
    wrong shape, empty input (unless ``allow_empty``) and, unless ``finite=False`` (for
    callers that detect them on the fly), non-finite values (naming the first bad row).
    """
    if isinstance(X, (str, bytes)):
        raise DataError(f"{name} must be a numeric array; got a string")
    arr = np.asarray(X)
    if arr.dtype != np.float64:  # float64 (the common case) is numeric and real
        if arr.dtype == object or not (
            np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
        ):
            raise DataError(f"{name} must have a numeric dtype; got {arr.dtype}")
        if np.iscomplexobj(arr):
            raise DataError(f"{name} must be real; got complex dtype {arr.dtype}")
    if ndim == 1:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise DataError(
                f"{name} must have shape (n_samples,) or (n_samples, 1) for a univariate "
                f"distribution; got shape {arr.shape}"
            )
    else:
        if arr.ndim == 1 and n_features == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(
                f"{name} must be 2-dimensional of shape (n_samples, n_features); "
                f"got {arr.ndim} dimension(s), shape {arr.shape}"
            )
        if n_features is not None and arr.shape[1] != n_features:
            raise DataError(
                f"{name} must have {n_features} features (the model has {n_features}); "
                f"got {arr.shape[1]}"
            )
    if arr.shape[0] == 0 and not allow_empty:
        raise DataError(f"{name} is empty: it must have at least one row")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not finite:
        return arr
    ok = np.isfinite(arr)
    if not ok.all():
        bad = ~ok if arr.ndim == 1 else ~ok.all(axis=1)
        row = _first_true(bad)
        value = arr[row] if arr.ndim == 1 else arr[row][~ok[row]][0]
        kind = "NaN" if np.isnan(value) else "infinity"
        raise DataError(f"{name} contains {kind}", row=row)
    return arr


def check_weights(sample_weight, n: int) -> np.ndarray:
    """Return non-negative finite float64 weights of shape (n,), ones when None."""
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(sample_weight)
    if w.dtype == object or not (np.issubdtype(w.dtype, np.number) or w.dtype == np.bool_):
        raise DataError(f"sample_weight must have a numeric dtype; got {w.dtype}")
    if np.iscomplexobj(w):
        raise DataError(f"sample_weight must be real; got complex dtype {w.dtype}")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},) to match X; got {w.shape}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    bad = ~np.isfinite(w)
    if bad.any():
        row = _first_true(bad)
        raise DataError(f"sample_weight must be finite; got {w[row]}", row=row)
    neg = w < 0
    if neg.any():
        row = _first_true(neg)
        raise DataError(f"sample_weight must be non-negative; got {w[row]}", row=row)
    return w


def first_failing_prefix(n: int, fails) -> int:
    """Return the row ``i`` such that ``fails(i + 1)`` but not ``fails(i)``, by bisection.

    ``fails(m)`` tells whether the first ``m`` rows of a batch fail (e.g. their
    statistics overflow); ``fails(0)`` is taken as False and ``fails(n)`` as True, and
    the predicate is assumed monotone (a sum that overflowed stays non-finite). Costs
    about ``log2(n)`` calls: meant for error paths.
    """
    lo, hi = 0, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid
    return hi - 1


def support_error(value: float, row: int, what: str, name: str = "X") -> DataError:
    """The :class:`DataError` for ``value``, at ``row``, outside the support ``what``."""
    return DataError(f"{name} must be {what}; got {float(value):g}", row=row)


def check_support(bad: np.ndarray, x: np.ndarray, what: str, name: str = "X") -> None:
    """Raise a :class:`DataError` naming the first row where ``bad`` is true."""
    if bad.any():
        row = _first_true(bad if bad.ndim == 1 else bad.any(axis=1))
        value = x[row]
        if np.ndim(value):
            value = value[bad[row]][0]
        raise support_error(value, row, what, name)


# --- parameters -------------------------------------------------------------------------


def _describe(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value.item() if isinstance(value, np.generic) else value)
    return f"an array of shape {arr.shape}"


def check_scalar(name: str, value, *, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a float, checking it is finite and in range."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        raise ParameterError(f"{name} must be a real number; got {value!r}")
    if np.iscomplexobj(value):
        raise ParameterError(f"{name} must be a real number; got {value!r}")
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 0:
        raise ParameterError(f"{name} must be a scalar; got {_describe(value)}")
    # a Python float is returned as the same object (scikit-learn's clone checks identity)
    v = value if type(value) is float else float(arr)
    if not np.isfinite(v):
        raise ParameterError(f"{name} must be finite; got {v}")
    _check_range(name, v, low, high, low_open, high_open)
    return v


def _check_range(name, v, low, high, low_open, high_open, where=""):
    if low is not None and (v <= low if low_open else v < low):
        op = ">" if low_open else ">="
        raise ParameterError(f"{name} must be {op} {low}; got {v:g}{where}")
    if high is not None and (v >= high if high_open else v > high):
        op = "<" if high_open else "<="
        raise ParameterError(f"{name} must be {op} {high}; got {v:g}{where}")


def check_vector(name: str, value, *, length: int | None = None, low=None, low_open=False,
                 high=None, high_open=False) -> np.ndarray:
    """Return ``value`` as a finite float64 vector, checking its length and range."""
    try:
        if np.iscomplexobj(value):
            raise TypeError("complex")
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a vector of real numbers; got {value!r}") from None
    if arr.ndim != 1:
        raise ParameterError(f"{name} must be 1-dimensional; got shape {arr.shape}")
    if arr.size == 0:
        raise ParameterError(f"{name} must not be empty")
    if length is not None and arr.shape[0] != length:
        raise ParameterError(f"{name} must have length {length}; got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        i = _first_true(~np.isfinite(arr))
        raise ParameterError(f"{name} must be finite; got {arr[i]} at index {i}")
    for i, v in enumerate(arr):
        _check_range(name, v, low, high, low_open, high_open, where=f" at index {i}")
    return arr


def check_probs(name: str, value, *, atol: float = 1e-8) -> np.ndarray:
    """Return a probability vector, checking non-negativity and that it sums to 1."""
    p = check_vector(name, value, low=0.0, high=1.0)
    total = float(p.sum())
    if abs(total - 1.0) > atol:
        raise ParameterError(f"{name} must sum to 1; got a sum of {total:.10g}")
    return p


def check_fraction(name: str, value) -> float:
    """Return a float in [0, 1] (inertia and similar blending factors)."""
    return check_scalar(name, value, low=0.0, high=1.0)


def check_random_state(random_state) -> np.random.Generator:
    """Return a numpy Generator from None, an int seed, a Generator or a SeedSequence."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ParameterError(f"random_state must be a non-negative integer; got {random_state}")
        return np.random.default_rng(random_state)
    raise ParameterError(
        f"random_state must be None, an integer or a numpy Generator; got {random_state!r}"
    )


def check_count(name: str, value, *, minimum: int = 0) -> int:
    """Return ``value`` as an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}; got {value}")
    return int(value)
