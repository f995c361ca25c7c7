"""The continuous uniform distribution."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..kernels.univariate import weighted_min_max
from ..statistics import UniformStats
from ._univariate import _Univariate, estimate_error


class Uniform(_Univariate):
    r"""The uniform distribution on [low, high].

    Parameters
    ----------
    low : float, optional
        Lower bound.
    high : float, optional
        Upper bound (> low).
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.uniform : The same density with ``loc=low, scale=high-low``.

    Notes
    -----
    Statistics: the weight, minimum and maximum of the rows with positive weight
    (they combine by ``min`` and ``max``). The MLE is ``[min, max]``.

    Examples
    --------
    >>> import suffstat as ss
    >>> d = ss.Uniform().fit([0.5, 2.0, 1.0])
    >>> (d.low, d.high)
    (0.5, 2.0)
    """

    _param_names = ("low", "high")
    _stats_type = UniformStats

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        super().__init__(low=low, high=high, inertia=inertia, frozen=frozen)

    def _check_joint(self, params: dict[str, Any]) -> None:
        low, high = params["low"], params["high"]
        if low is not None and high is not None and not high > low:
            raise ParameterError(f"high must be > low; got low={low:g}, high={high:g}")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> UniformStats:
        low, high = weighted_min_max(X, w)
        return UniformStats(w_sum=float(w.sum()), low=low, high=high)

    def _estimate(self, stats: UniformStats) -> dict[str, Any]:
        if not stats.high > stats.low:
            raise estimate_error(
                "Uniform", "all values with positive weight are equal", "The width would be 0"
            )
        return {"low": float(stats.low), "high": float(stats.high)}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.full(X.shape[0], -math.log(self.high - self.low))
        out[(X < self.low) | (X > self.high)] = -np.inf
        return out

    def _expected_log_probability(self, stats: UniformStats) -> float:
        w = float(stats.w_sum)
        if not w > 0:
            return 0.0
        if float(stats.low) < self.low or float(stats.high) > self.high:
            return -math.inf  # some row lies outside the support
        return -w * math.log(self.high - self.low)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=n)
