"""Shared plumbing of the univariate families: declarative scalar parameters."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_scalar, check_support
from ..exceptions import ParameterError
from ..kernels.univariate import compensated_sums, weighted_sums
from ._base import Distribution


class _Univariate(Distribution):
    """A distribution of scalars whose parameters are real numbers.

    ``_constraints`` maps each parameter to keyword arguments of
    :func:`suffstat._validation.check_scalar` (e.g. ``{"low": 0, "low_open": True}``).
    """

    _constraints: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, *, inertia: float = 0.0, frozen: bool = False, **params: Any) -> None:
        super().__init__(inertia=inertia, frozen=frozen)
        self._set_params(self._check_params(params))

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name in self._param_names:
            value = params.get(name)
            out[name] = None if value is None else check_scalar(
                name, value, **self._constraints.get(name, {})
            )
        self._check_joint(out)
        return out

    def _check_joint(self, params: dict[str, Any]) -> None:
        """Checks that involve several parameters (none by default)."""

    @staticmethod
    def _sums(w: np.ndarray, *cols: np.ndarray, compensated: bool = False) -> np.ndarray:
        """Return ``[sum w, sum w * c for c in cols]`` through the numba kernel.

        ``compensated`` sums accurately to a few roundings whatever the number of rows
        (for estimates that take differences of nearly equal means).
        """
        out = np.zeros(len(cols) + 1)
        if not cols:
            out[0] = np.sum(w)
            return out
        kernel = compensated_sums if compensated else weighted_sums
        kernel(w, tuple(np.ascontiguousarray(c, dtype=np.float64).reshape(-1) for c in cols), out)
        return out


def require(bad: np.ndarray, x: np.ndarray, what: str) -> None:
    """Raise a DataError naming the first row of ``x`` where ``bad`` holds."""
    check_support(bad, x, what)


def estimate_error(family: str, reason: str, hint: str) -> ParameterError:
    """A ParameterError for an estimate that cannot be made from the data."""
    return ParameterError(f"cannot estimate {family} parameters: {reason}. {hint}")
