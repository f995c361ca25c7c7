"""The gamma distribution, fitted by Newton iterations on its sufficient statistics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from ..exceptions import ConvergenceWarning, warn_at_caller
from ..statistics import GammaStats
from ._univariate import _Univariate, estimate_error, require


#: Newton iterations of the shape solver before it stops with a ConvergenceWarning.
MAX_ITER = 100
#: Relative step of the shape below which the solver stops.
TOL = 1e-15
#: The data count as constant (the shape would be infinite) when the Jensen gap
#: ``log mean(x) - mean(log x)`` is at most this: the geometric mean is then within a
#: relative 1e-12 of the arithmetic mean (a coefficient of variation below ~1.4e-6),
#: which the rounding of the statistics cannot tell from equality.
CONSTANT_TOL = 1e-12

_EPS = float(np.finfo(np.float64).eps)


def log_minus_digamma(a: float) -> tuple[float, float, float]:
    r"""Return :math:`h(a) = \log a - \psi(a)`, :math:`h'(a)` and the rounding error of h.

    For ``a >= 10`` the asymptotic series
    :math:`h(a) = \frac{1}{2a} + \sum_k \frac{B_{2k}}{2k\,a^{2k}}` (to :math:`a^{-14}`,
    relative error below 1e-15) keeps full relative precision, where
    ``log(a) - digamma(a)`` loses it to cancellation (a relative error of ``1e-4`` in
    the shape at ``a = 1e10``).
    """
    if a >= 10.0:
        inv = 1.0 / a
        i2 = inv * inv
        h = 0.5 * inv + i2 * (1 / 12 + i2 * (-1 / 120 + i2 * (1 / 252 + i2 * (
            -1 / 240 + i2 * (1 / 132 + i2 * (-691 / 32760 + i2 / 12))))))
        dh = -0.5 * i2 - inv * i2 * (1 / 6 + i2 * (-1 / 30 + i2 * (1 / 42 + i2 * (
            -1 / 30 + i2 * (5 / 66 + i2 * (-691 / 2730 + i2 * 7 / 6))))))
        return h, dh, 4.0 * _EPS * h
    psi = float(special.digamma(a))
    h = math.log(a) - psi
    dh = 1.0 / a - float(special.polygamma(1, a))
    return h, dh, 4.0 * _EPS * (abs(math.log(a)) + abs(psi))


def gamma_shape_mle(s: float, tol: float | None = None, max_iter: int | None = None
                    ) -> tuple[float, bool]:
    r"""Solve :math:`\log a - \psi(a) = s` for the shape ``a`` (``s > 0``).

    Uses Minka's generalised Newton step on ``1/a`` from his closed-form start; it
    converges in a handful of iterations for every ``s > 0``. Returns the shape and
    whether it converged: the step fell below ``tol`` (relative, default ``TOL``) or
    the equation holds to the rounding of its terms, within ``max_iter`` iterations
    (default ``MAX_ITER``).
    """
    tol = TOL if tol is None else tol
    max_iter = MAX_ITER if max_iter is None else max_iter
    a = (3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    for _ in range(max_iter):
        h, g, noise = log_minus_digamma(a)
        f = h - s
        if abs(f) <= noise + 4.0 * _EPS * s:  # a root to the precision of the terms
            return a, True
        a_new = 1.0 / (1.0 / a + f / (a * a * g))
        if not a_new > 0:  # should not happen; fall back to a damped step
            a_new = a / 2.0
        done = abs(a_new - a) <= tol * a
        a = a_new
        if done:
            return a, True
    return a, False


class Gamma(_Univariate):
    r"""The gamma distribution with shape :math:`\alpha` and rate :math:`\beta`.

    Parameters
    ----------
    shape : float, optional
        Shape (> 0).
    rate : float, optional
        Rate (> 0), the inverse of scipy's ``scale``.
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.gamma : The same density with ``a=shape, scale=1/rate``.

    Notes
    -----
    .. math:: \log p(x) = \alpha\log\beta - \log\Gamma(\alpha) + (\alpha-1)\log x - \beta x

    Statistics :math:`(\sum w, \sum w x, \sum w \log x)`, in compensated sums. The MLE
    of the shape solves :math:`\log\alpha - \psi(\alpha) = s` with
    :math:`s = \log\bar x - \overline{\log x}` (Newton iterations, Minka 2002); then
    :math:`\beta = \alpha / \bar x`. The solver warns a
    :class:`~suffstat.ConvergenceWarning` if it has not converged after ``MAX_ITER``
    iterations.

    Constant data (:math:`s \le` ``CONSTANT_TOL`` = 1e-12, a geometric mean within a
    relative 1e-12 of the arithmetic mean) raises :class:`~suffstat.ParameterError`:
    the shape would be infinite.

    References
    ----------
    T. Minka, "Estimating a Gamma distribution", 2002.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> x = np.random.default_rng(0).gamma(3.0, 0.5, size=5000)
    >>> d = ss.Gamma().fit(x)
    >>> bool(abs(d.shape - 3.0) < 0.2 and abs(d.rate - 2.0) < 0.2)
    True
    """

    _param_names = ("shape", "rate")
    _constraints = {"shape": {"low": 0.0, "low_open": True}, "rate": {"low": 0.0, "low_open": True}}
    _stats_type = GammaStats

    def __init__(
        self,
        shape: float | None = None,
        rate: float | None = None,
        *,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        super().__init__(shape=shape, rate=rate, inertia=inertia, frozen=frozen)

    def _check_support(self, X: np.ndarray) -> None:
        require(X <= 0, X, "positive for Gamma")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> GammaStats:
        w_sum, xw, logxw = self._sums(w, X, np.log(X), compensated=True)
        return GammaStats(w_sum=w_sum, xw_sum=xw, logxw_sum=logxw)

    def _estimate(self, stats: GammaStats) -> dict[str, Any]:
        mean = float(stats.xw_sum / stats.w_sum)
        s = math.log(mean) - float(stats.logxw_sum / stats.w_sum)
        if not s > CONSTANT_TOL:
            raise estimate_error(
                "Gamma",
                "all values with positive weight are equal",
                "The shape would be infinite; use more varied data",
            )
        shape, converged = gamma_shape_mle(s)
        if not converged:
            warn_at_caller(
                f"the Gamma shape solver stopped after {MAX_ITER} Newton iterations without "
                f"converging (shape {shape:.6g}, log mean(x) - mean(log x) = {s:.6g}); the "
                "estimate may be inaccurate",
                ConvergenceWarning,
            )
        return {"shape": shape, "rate": shape / mean}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        a, b = self.shape, self.rate
        out = np.full(X.shape[0], -np.inf)
        pos = X > 0
        x = X[pos]
        out[pos] = a * math.log(b) - special.gammaln(a) + special.xlogy(a - 1.0, x) - b * x
        return out

    def _expected_log_probability(self, stats: GammaStats) -> float:
        a, b = self.shape, self.rate
        return (float(stats.w_sum) * (a * math.log(b) - special.gammaln(a))
                + (a - 1.0) * float(stats.logxw_sum) - b * float(stats.xw_sum))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.gamma(self.shape, 1.0 / self.rate, size=n)
