"""The exponential distribution."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..statistics import CountStats
from ._univariate import _Univariate, estimate_error, require


class Exponential(_Univariate):
    r"""The exponential distribution with rate :math:`\lambda`.

    Parameters
    ----------
    rate : float, optional
        Rate (> 0), the inverse of the mean; learned from data when None.
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.expon : The same density with ``scale=1/rate``.

    Notes
    -----
    .. math:: \log p(x) = \log\lambda - \lambda x, \quad x \ge 0

    Statistics :math:`(\sum w, \sum w x)`; the MLE is :math:`\sum w / \sum w x`.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> x = np.random.default_rng(0).exponential(2.0, size=1000)
    >>> bool(abs(ss.Exponential().fit(x).rate - 1 / x.mean()) < 1e-12)
    True
    """

    _param_names = ("rate",)
    _constraints = {"rate": {"low": 0.0, "low_open": True}}
    _stats_type = CountStats

    def __init__(self, rate: float | None = None, *, inertia: float = 0.0, frozen: bool = False):
        super().__init__(rate=rate, inertia=inertia, frozen=frozen)

    def _check_support(self, X: np.ndarray) -> None:
        require(X < 0, X, "non-negative for Exponential")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CountStats:
        w_sum, xw_sum = self._sums(w, X)
        return CountStats(w_sum=w_sum, xw_sum=xw_sum)

    def _estimate(self, stats: CountStats) -> dict[str, Any]:
        if not stats.xw_sum > 0:
            raise estimate_error(
                "Exponential", "every value with positive weight is 0", "The rate would be infinite"
            )
        return {"rate": float(stats.w_sum / stats.xw_sum)}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.log(self.rate) - self.rate * X
        out[X < 0] = -np.inf
        return out

    def _expected_log_probability(self, stats: CountStats) -> float:
        return float(stats.w_sum) * math.log(self.rate) - self.rate * float(stats.xw_sum)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.exponential(1.0 / self.rate, size=n)
