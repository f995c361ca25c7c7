"""The beta distribution, fitted by Newton iterations on its sufficient statistics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from ..exceptions import ConvergenceWarning, warn_at_caller
from ..statistics import BetaStats
from ._univariate import _Univariate, estimate_error, require


#: Newton iterations of the solver before it stops with a ConvergenceWarning.
MAX_ITER = 200
#: Relative step of both parameters below which the solver stops.
TOL = 1e-14
#: The data count as constant when the Jensen gap ``1 - G(x) - G(1 - x)`` (G the
#: weighted geometric mean) is at most this.
CONSTANT_TOL = 1e-12

_EPS = float(np.finfo(np.float64).eps)


def beta_mle(mlx: float, ml1mx: float, tol: float | None = None, max_iter: int | None = None
             ) -> tuple[float, float, bool]:
    r"""Solve :math:`\psi(a) - \psi(a+b) = m_1`, :math:`\psi(b) - \psi(a+b) = m_2`.

    ``m1`` and ``m2`` are the mean of ``log x`` and of ``log(1 - x)``. Newton's method
    in two dimensions with step halving to stay in the positive quadrant, started
    from the geometric-mean approximation of Johnson and Kotz. Returns ``a``, ``b`` and
    whether the solver converged within ``max_iter`` iterations (default
    ``MAX_ITER``): both steps fell below ``tol`` (relative, default ``TOL``), or both
    equations hold to the rounding of their terms (the digamma differences lose
    digits to cancellation when ``a`` and ``b`` are far apart).
    """
    tol = TOL if tol is None else tol
    max_iter = MAX_ITER if max_iter is None else max_iter
    g1, g2 = math.exp(mlx), math.exp(ml1mx)
    denom = max(1.0 - g1 - g2, 1e-12)
    a, b = 0.5 + g1 / (2.0 * denom), 0.5 + g2 / (2.0 * denom)
    for _ in range(max_iter):
        psa, psb, psab = special.digamma(a), special.digamma(b), special.digamma(a + b)
        f1 = psa - psab - mlx
        f2 = psb - psab - ml1mx
        if (abs(f1) <= 4.0 * _EPS * (abs(psa) + abs(psab) + abs(mlx))
                and abs(f2) <= 4.0 * _EPS * (abs(psb) + abs(psab) + abs(ml1mx))):
            return a, b, True
        tab = special.polygamma(1, a + b)
        j11 = special.polygamma(1, a) - tab
        j22 = special.polygamma(1, b) - tab
        det = j11 * j22 - tab * tab
        da = (j22 * f1 + tab * f2) / det
        db = (tab * f1 + j11 * f2) / det
        step = 1.0
        while not (a - step * da > 0 and b - step * db > 0):
            step /= 2.0
        a_new, b_new = a - step * da, b - step * db
        done = abs(a_new - a) <= tol * a and abs(b_new - b) <= tol * b
        a, b = a_new, b_new
        if done:
            return a, b, True
    return a, b, False


class Beta(_Univariate):
    r"""The beta distribution on (0, 1).

    Parameters
    ----------
    alpha : float, optional
        First shape parameter (> 0).
    beta : float, optional
        Second shape parameter (> 0).
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.beta : The same density.

    Notes
    -----
    .. math:: \log p(x) = (\alpha-1)\log x + (\beta-1)\log(1-x) - \log B(\alpha, \beta)

    Statistics :math:`(\sum w, \sum w\log x, \sum w \log(1-x))`, in compensated
    sums; the MLE solves :math:`\psi(\alpha)-\psi(\alpha+\beta) = \overline{\log x}`
    and :math:`\psi(\beta)-\psi(\alpha+\beta) = \overline{\log(1-x)}` by Newton's
    method, which warns a :class:`~suffstat.ConvergenceWarning` if it has not converged
    after ``MAX_ITER`` iterations.

    Constant data (the Jensen gap :math:`1 - G(x) - G(1-x)` of the geometric means at
    most ``CONSTANT_TOL`` = 1e-12) raises :class:`~suffstat.ParameterError`.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> x = np.random.default_rng(0).beta(2.0, 5.0, size=5000)
    >>> d = ss.Beta().fit(x)
    >>> bool(abs(d.alpha - 2.0) < 0.2 and abs(d.beta - 5.0) < 0.5)
    True
    """

    _param_names = ("alpha", "beta")
    _constraints = {"alpha": {"low": 0.0, "low_open": True}, "beta": {"low": 0.0, "low_open": True}}
    _stats_type = BetaStats

    def __init__(
        self,
        alpha: float | None = None,
        beta: float | None = None,
        *,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        super().__init__(alpha=alpha, beta=beta, inertia=inertia, frozen=frozen)

    def _check_support(self, X: np.ndarray) -> None:
        require((X <= 0) | (X >= 1), X, "strictly between 0 and 1 for Beta")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> BetaStats:
        w_sum, lx, l1mx = self._sums(w, np.log(X), np.log1p(-X), compensated=True)
        return BetaStats(w_sum=w_sum, logxw_sum=lx, log1mxw_sum=l1mx)

    def _estimate(self, stats: BetaStats) -> dict[str, Any]:
        mlx = float(stats.logxw_sum / stats.w_sum)
        ml1mx = float(stats.log1mxw_sum / stats.w_sum)
        # Jensen: exp(mlx) + exp(ml1mx) <= 1, with equality only for a point mass.
        if not math.exp(mlx) + math.exp(ml1mx) < 1.0 - CONSTANT_TOL:
            raise estimate_error(
                "Beta", "all values with positive weight are equal", "Use more varied data"
            )
        a, b, converged = beta_mle(mlx, ml1mx)
        if not converged:
            warn_at_caller(
                f"the Beta solver stopped after {MAX_ITER} Newton iterations without "
                f"converging (alpha {a:.6g}, beta {b:.6g}); the estimate may be inaccurate",
                ConvergenceWarning,
            )
        return {"alpha": a, "beta": b}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        a, b = self.alpha, self.beta
        out = np.full(X.shape[0], -np.inf)
        inside = (X > 0) & (X < 1)
        x = X[inside]
        out[inside] = special.xlogy(a - 1.0, x) + special.xlog1py(b - 1.0, -x) - special.betaln(a, b)
        return out

    def _expected_log_probability(self, stats: BetaStats) -> float:
        a, b = self.alpha, self.beta
        return ((a - 1.0) * float(stats.logxw_sum) + (b - 1.0) * float(stats.log1mxw_sum)
                - float(stats.w_sum) * special.betaln(a, b))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.beta(self.alpha, self.beta, size=n)
