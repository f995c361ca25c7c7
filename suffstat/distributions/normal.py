"""The univariate normal and log-normal distributions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_scalar
from ..kernels.gaussian import LOG_2PI, moments_1d, nearest_values, normal_logpdf
from ..statistics import NormalStats
from ._fused import FusedEStep, normal_estep
from ._univariate import _Univariate, estimate_error, require


#: A batch whose variance about its mean is below this fraction of its mean square
#: about the reference point K (its mean more than 1e3 standard deviations from K, as
#: with a start far from the data, or constant data) is summarized again about its
#: value nearest its mean: a stale K then costs no precision, and constant data has
#: exactly zero scatter whatever K was.
RECENTRE_RATIO = 1e-6


def far_from_reference(w_sum, s1, s2) -> np.ndarray:
    """Which features of shifted moments are too far from their reference point.

    ``s1`` and ``s2`` are the first moments and the diagonal second moments about K
    (scalars or (d,) arrays) of a record of weight ``w_sum > 0``. A feature is far
    when its moments overflowed or its variance is at most ``RECENTRE_RATIO`` times
    its mean square about K (while that is positive).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        m2 = np.asarray(s2, dtype=np.float64) / w_sum
        d = np.asarray(s1, dtype=np.float64) / w_sum
        var = m2 - d * d
        return ~(np.isfinite(m2) & np.isfinite(var)) | ((m2 > 0) & (var <= RECENTRE_RATIO * m2))


def recentred_shift(X: np.ndarray, w: np.ndarray, shift, w_sum, s1, s2) -> np.ndarray | None:
    """The reference point to summarize ``X`` (n, d) about again, or None if ``shift`` is fine.

    Each far feature (see :func:`far_from_reference`) moves to its value nearest the
    batch's mean (to its first row of positive weight when the moments overflowed).
    """
    if not w_sum > 0:
        return None
    far = np.atleast_1d(far_from_reference(w_sum, s1, s2))
    if not far.any():
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        target = np.atleast_1d(np.asarray(shift, dtype=np.float64) + np.asarray(s1) / w_sum)
    rows = np.empty(X.shape[1], dtype=np.int64)
    nearest_values(X, w, np.ascontiguousarray(target), rows)
    new = np.array(shift, dtype=np.float64, ndmin=1)
    cols = np.flatnonzero(far)
    new[cols] = X[rows[cols], cols]
    return new


def _shifted_stats(x: np.ndarray, w: np.ndarray, shift: float | None) -> NormalStats:
    if shift is None:
        # The first row is as good a reference point as any for precision, and a
        # constant sample then gives exactly zero scatter.
        shift = float(x[0]) if x.shape[0] else 0.0
    w_sum, s1, s2 = moments_1d(x, w, shift)
    moved = recentred_shift(x.reshape(-1, 1), w, shift, w_sum, s1, s2)
    if moved is not None:
        shift = float(moved[0])
        w_sum, s1, s2 = moments_1d(x, w, shift)
    return NormalStats(w_sum=w_sum, xw_sum=s1, xxw_sum=s2, shift=shift)


def _normal_estimate(
    stats: NormalStats, min_std: float, family: str, floor: str = "min_std"
) -> tuple[float, float]:
    mean = float(stats.mean())
    var = max(float(stats.scatter()), 0.0)
    std = max(math.sqrt(var), min_std)
    if std == 0.0:
        raise estimate_error(
            family,
            "the data has zero variance (all values with positive weight are equal)",
            f"Set {floor} to a positive floor",
        )
    return mean, std


class Normal(_Univariate):
    r"""The univariate normal distribution.

    Parameters
    ----------
    mean : float, optional
        Location; learned from data when None.
    std : float, optional
        Standard deviation (> 0); learned from data when None.
    min_std : float, default=0.0
        Floor applied to the estimated standard deviation.
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.norm : The same density.

    Notes
    -----
    .. math:: \log p(x) = -\tfrac12 \log(2\pi\sigma^2) - \frac{(x-\mu)^2}{2\sigma^2}

    The statistics are shifted moments about :math:`K` (the current mean):
    :math:`\sum w`, :math:`\sum w (x-K)`, :math:`\sum w (x-K)^2`, which keep full
    precision on data far from zero. A batch whose mean lies more than about
    :math:`10^3` standard deviations from :math:`K` (a start far from the data, or
    constant data) is summarized again about its value nearest its mean
    (``RECENTRE_RATIO``), so the estimate does not depend on the starting parameters.

    Zero variance (all values of positive weight equal) raises
    :class:`~suffstat.ParameterError` whatever the starting parameters, unless
    ``min_std`` is positive: the standard deviation is then ``min_std``.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> x = np.random.default_rng(0).normal(3.0, 2.0, size=1000)
    >>> d = ss.Normal().fit(x)
    >>> bool(abs(d.mean - x.mean()) < 1e-12)
    True
    """

    _param_names = ("mean", "std")
    _option_names = ("min_std", "inertia", "frozen")
    _constraints = {"std": {"low": 0.0, "low_open": True}}
    _stats_type = NormalStats

    def __init__(
        self,
        mean: float | None = None,
        std: float | None = None,
        *,
        min_std: float = 0.0,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        self.min_std = check_scalar("min_std", min_std, low=0.0)
        super().__init__(mean=mean, std=std, inertia=inertia, frozen=frozen)

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> NormalStats:
        return _shifted_stats(X, w, self.mean)

    def _estimate(self, stats: NormalStats) -> dict[str, Any]:
        mean, std = _normal_estimate(stats, self.min_std, "Normal")
        return {"mean": mean, "std": std}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape[0])
        normal_logpdf(X, self.mean, self.std, out)
        return out

    def _expected_log_probability(self, stats: NormalStats) -> float:
        moved = stats.recentered(self.mean)
        w = float(moved.w_sum)
        return w * (-0.5 * LOG_2PI - math.log(self.std)) - 0.5 * float(moved.xxw_sum) / self.std**2

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.std, size=n)

    def _mixture_estep(self) -> FusedEStep | None:
        if type(self) is not Normal or not self._fitted:  # a subclass may change the density
            return None
        arrays = {"mean": [self.mean], "inv_var": [1.0 / self.std**2],
                  "log_norm": -0.5 * LOG_2PI - math.log(self.std)}
        return FusedEStep(("Normal",), normal_estep, arrays)


class LogNormal(_Univariate):
    r"""The log-normal distribution: ``log x`` is normal with mean ``mu`` and std ``sigma``.

    Parameters
    ----------
    mu : float, optional
        Mean of ``log x``.
    sigma : float, optional
        Standard deviation of ``log x`` (> 0).
    min_sigma : float, default=0.0
        Floor applied to the estimated ``sigma``.
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.lognorm : The same density with ``s=sigma, scale=exp(mu)``.

    Notes
    -----
    .. math:: \log p(x) = -\log x - \tfrac12 \log(2\pi\sigma^2) - \frac{(\log x-\mu)^2}{2\sigma^2},
              \quad x > 0

    The statistics are those of :class:`Normal` on :math:`\log x`. Zero variance of
    :math:`\log x` raises :class:`~suffstat.ParameterError` whatever the starting
    parameters, unless ``min_sigma`` is positive: ``sigma`` is then ``min_sigma``.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> x = np.random.default_rng(0).lognormal(1.0, 0.5, size=1000)
    >>> d = ss.LogNormal().fit(x)
    >>> bool(abs(d.mu - np.log(x).mean()) < 1e-12)
    True
    """

    _param_names = ("mu", "sigma")
    _option_names = ("min_sigma", "inertia", "frozen")
    _constraints = {"sigma": {"low": 0.0, "low_open": True}}
    _stats_type = NormalStats

    def __init__(
        self,
        mu: float | None = None,
        sigma: float | None = None,
        *,
        min_sigma: float = 0.0,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        self.min_sigma = check_scalar("min_sigma", min_sigma, low=0.0)
        super().__init__(mu=mu, sigma=sigma, inertia=inertia, frozen=frozen)

    def _check_support(self, X: np.ndarray) -> None:
        require(X <= 0, X, "positive for LogNormal")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> NormalStats:
        return _shifted_stats(np.log(X), w, self.mu)

    def _estimate(self, stats: NormalStats) -> dict[str, Any]:
        mu, sigma = _normal_estimate(stats, self.min_sigma, "LogNormal", "min_sigma")
        return {"mu": mu, "sigma": sigma}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.full(X.shape[0], -np.inf)
        pos = X > 0
        logx = np.log(X[pos])
        lp = np.empty(logx.shape[0])
        normal_logpdf(logx, self.mu, self.sigma, lp)
        out[pos] = lp - logx
        return out

    def _expected_log_probability(self, stats: NormalStats) -> float:
        moved = stats.recentered(self.mu)
        w = float(moved.w_sum)
        sum_log_x = float(moved.xw_sum) + w * self.mu  # the statistics are those of log x
        return (w * (-0.5 * LOG_2PI - math.log(self.sigma)) - 0.5 * float(moved.xxw_sum) / self.sigma**2
                - sum_log_x)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size=n)
