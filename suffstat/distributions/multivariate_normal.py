"""The multivariate normal distribution with full, diagonal or spherical covariance."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg

from .._validation import check_scalar, check_vector
from ..exceptions import ParameterError
from ..kernels.gaussian import (
    LOG_2PI,
    moments_diag,
    moments_full,
    mvn_diag_logpdf,
    mvn_full_logpdf,
)
from ..statistics import MultivariateNormalStats
from ._base import Distribution
from ._fused import FusedEStep, gaussian_diag_estep, gaussian_full_estep
from .normal import recentred_shift

COVARIANCE_TYPES = ("full", "diag", "spherical")
#: Relative conditional variance below which a covariance is treated as singular.
SINGULAR_RTOL = 1e-12


def _not_pd(reason: str, reg_covar: float) -> ParameterError:
    return ParameterError(
        f"the MultivariateNormal component's covariance is not positive definite ({reason}); "
        f"increase reg_covar (now {reg_covar:g}) or check for constant or duplicated columns"
    )


def precision_cholesky(cov: np.ndarray, reg_covar: float) -> np.ndarray:
    """Return the upper-triangular U with ``inv(cov) = U @ U.T``, or raise ParameterError."""
    diag = np.diag(cov)
    if not (diag > 0).all():
        j = int(np.argmax(~(diag > 0)))
        raise _not_pd(f"feature {j} has variance {diag[j]:g}", reg_covar)
    try:
        chol = linalg.cholesky(cov, lower=True)
    except linalg.LinAlgError:
        raise _not_pd("the Cholesky factorisation failed", reg_covar) from None
    # A pivot that is rounding noise relative to its variance means an exactly
    # singular matrix (e.g. a duplicated column) that Cholesky happened to pass.
    conditional = np.diag(chol) ** 2 / diag
    if not (conditional > SINGULAR_RTOL).all():
        j = int(np.argmin(conditional))
        raise _not_pd(f"feature {j} is a linear combination of the others", reg_covar)
    # LAPACK's trtri inverts the factor directly: scipy's solve_triangular woke OpenBLAS's
    # threads for a small matrix and cost milliseconds per call on a loaded machine (a
    # third of a GaussianHMM iteration, 8 states x d = 5)
    inv, info = linalg.lapack.dtrtri(chol, lower=1)
    if info != 0:
        raise _not_pd("the Cholesky factor is singular", reg_covar)
    return inv.T


def shifted_moments(X: np.ndarray, w: np.ndarray, shift: np.ndarray | None,
                    full: bool) -> MultivariateNormalStats:
    """The shifted moments of validated rows about ``shift`` (the first row when None).

    Features whose batch mean is far from the reference point (a stale start, or a
    constant column) are summarized again about their value nearest it.
    """
    d = X.shape[1]
    if shift is None:
        shift = X[0].copy() if X.shape[0] else np.zeros(d)
    moments = moments_full if full else moments_diag
    s1, s2 = np.zeros(d), np.zeros((d, d) if full else d)
    w_sum = moments(X, w, shift, s1, s2)
    moved = recentred_shift(X, w, shift, w_sum, s1, np.diag(s2) if full else s2)
    if moved is not None:
        shift = moved
        s1, s2 = np.zeros(d), np.zeros((d, d) if full else d)
        w_sum = moments(X, w, shift, s1, s2)
    return MultivariateNormalStats(w_sum=w_sum, xw_sum=s1, xxw_sum=s2, shift=shift)


class MultivariateNormal(Distribution):
    r"""The multivariate normal distribution.

    Parameters
    ----------
    mean : array-like of shape (d,), optional
        Mean vector; learned from data when None.
    cov : array-like, optional
        Covariance: a (d, d) symmetric positive-definite matrix (``'full'``), a (d,)
        vector of variances (``'diag'``) or a positive scalar (``'spherical'``), as in
        scikit-learn. Learned from data when None.
    covariance_type : {'full', 'diag', 'spherical'}, default='full'
        Form of the covariance.
    reg_covar : float, default=1e-6
        Non-negative value added to the diagonal of every estimated covariance, so that
        a constant column still gives a positive-definite matrix.
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    Attributes
    ----------
    n_features : int or None
        Dimension d (None until known).

    See Also
    --------
    scipy.stats.multivariate_normal : The same density.
    sklearn.mixture.GaussianMixture : Uses the same ``reg_covar`` and covariance forms.

    Notes
    -----
    .. math:: \log p(x) = -\tfrac12\left(d\log 2\pi + \log|\Sigma|
              + (x-\mu)^\top\Sigma^{-1}(x-\mu)\right)

    Statistics are shifted moments about :math:`K` (the current mean):
    :math:`\sum w`, :math:`\sum w(x-K)` and :math:`\sum w(x-K)(x-K)^\top` (only its
    diagonal for ``'diag'`` and ``'spherical'``). A feature whose batch mean lies more
    than about :math:`10^3` standard deviations from :math:`K_j` (a start far from the
    data, or a constant column) is summarized again about its value nearest its mean,
    so the estimate does not depend on the starting parameters. The update is the
    weighted mean and covariance plus ``reg_covar`` on the diagonal; a spherical
    variance is the mean of the diagonal variances.

    ``reg_covar`` is the floor of the variances: a constant column gets variance
    ``reg_covar`` (and zero covariances), whatever the starting parameters; with
    ``reg_covar=0`` it raises :class:`~suffstat.ParameterError`.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> d = ss.MultivariateNormal(covariance_type="diag").fit(X)
    >>> d.cov.shape
    (2,)
    """

    _param_names = ("mean", "cov")
    _option_names = ("covariance_type", "reg_covar", "inertia", "frozen")
    _ndim = 2
    _stats_type = MultivariateNormalStats

    def __init__(
        self,
        mean: Any = None,
        cov: Any = None,
        *,
        covariance_type: str = "full",
        reg_covar: float = 1e-6,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        super().__init__(inertia=inertia, frozen=frozen)
        if covariance_type not in COVARIANCE_TYPES:
            raise ParameterError(
                f"covariance_type must be one of {COVARIANCE_TYPES}; got {covariance_type!r}"
            )
        self.covariance_type = covariance_type
        self.reg_covar = check_scalar("reg_covar", reg_covar, low=0.0)
        self._d: int | None = None
        self._set_params(self._check_params({"mean": mean, "cov": cov}))

    @property
    def n_features(self) -> int | None:
        """Dimension d of the data (None until known)."""
        return self._d

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        mean, cov = params.get("mean"), params.get("cov")
        d = self._d
        if mean is not None:
            mean = check_vector("mean", mean, length=d)
            d = mean.shape[0]
        cache = None
        if cov is not None:
            cov, cache = self._check_cov(cov, d)
        return {"mean": mean, "cov": cov, "_cache": cache}

    def _check_cov(self, cov: Any, d: int | None) -> tuple[Any, Any]:
        ctype = self.covariance_type
        if ctype == "spherical":
            var = check_scalar("cov", cov, low=0.0, low_open=True)
            return var, None
        if ctype == "diag":
            var = check_vector("cov", cov, length=d, low=0.0, low_open=True)
            return var, None
        try:
            if np.iscomplexobj(cov):
                raise TypeError("complex")
            c = np.array(cov, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"cov must be a matrix of real numbers; got {cov!r}") from None
        if c.ndim != 2 or c.shape[0] != c.shape[1]:
            raise ParameterError(f"cov must be a square matrix for 'full'; got shape {c.shape}")
        if d is not None and c.shape[0] != d:
            raise ParameterError(f"cov must have shape ({d}, {d}) to match mean; got {c.shape}")
        if not np.isfinite(c).all():
            raise ParameterError("cov must be finite")
        if not np.allclose(c, c.T, rtol=1e-10, atol=0.0):
            raise ParameterError("cov must be symmetric")
        return c, precision_cholesky(c, self.reg_covar)

    def _get_params(self) -> dict[str, Any]:
        return {"mean": self.mean, "cov": self.cov}

    def _set_params(self, params: dict[str, Any]) -> None:
        self.mean, self.cov = params["mean"], params["cov"]
        if self.mean is not None:
            self._d = self.mean.shape[0]
        elif isinstance(self.cov, np.ndarray):
            self._d = self.cov.shape[0]
        self._prec_chol = params.get("_cache")
        self._log_norm = None
        if self.cov is None or self._d is None:
            return
        d = self._d
        if self.covariance_type == "full":
            log_det_u = float(np.sum(np.log(np.diag(self._prec_chol))))
            self._log_norm = -0.5 * d * LOG_2PI + log_det_u
        else:
            var = np.broadcast_to(np.asarray(self.cov, dtype=np.float64), (d,))
            self._inv_var = np.ascontiguousarray(1.0 / var)
            self._log_norm = -0.5 * (d * LOG_2PI + float(np.sum(np.log(var))))

    def _mixture_estep(self) -> FusedEStep | None:
        if type(self) is not MultivariateNormal or not self._fitted:  # a subclass may differ
            return None
        key = ("MultivariateNormal", self.covariance_type)
        if self.covariance_type == "full":
            arrays = {"mean": self.mean, "prec_chol": self._prec_chol, "log_norm": self._log_norm}
            return FusedEStep(key, gaussian_full_estep, arrays)
        arrays = {"mean": self.mean, "inv_var": self._inv_var, "log_norm": self._log_norm}
        return FusedEStep(key, gaussian_diag_estep, arrays)

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> MultivariateNormalStats:
        # The current mean as reference point keeps precision; before it is known the
        # first row serves (a constant column then has exactly zero scatter).
        return shifted_moments(X, w, self.mean, self.covariance_type == "full")

    def _estimate(self, stats: MultivariateNormalStats) -> dict[str, Any]:
        if self._d is not None and stats.xw_sum.shape[0] != self._d:
            raise ValueError(
                f"the statistics have {stats.xw_sum.shape[0]} features; the model has {self._d}"
            )
        full = stats.full
        if full != (self.covariance_type == "full"):
            raise ValueError(
                f"a {self.covariance_type!r} MultivariateNormal needs "
                f"{'full' if not full else 'diagonal'} scatter statistics"
            )
        mean = stats.mean()
        scatter = stats.scatter()
        if self.covariance_type == "full":
            cov = 0.5 * (scatter + scatter.T)
            cov[np.diag_indices_from(cov)] += self.reg_covar
        elif self.covariance_type == "diag":
            cov = np.maximum(scatter, 0.0) + self.reg_covar
        else:
            cov = float(np.mean(np.maximum(scatter, 0.0))) + self.reg_covar
        variances = np.diag(cov) if self.covariance_type == "full" else np.atleast_1d(cov)
        if not (variances > 0).all():
            j = int(np.argmax(~(variances > 0)))
            where = "every feature" if self.covariance_type == "spherical" else f"feature {j}"
            raise _not_pd(f"{where} has variance {variances[j]:g}", self.reg_covar)
        return {"mean": mean, "cov": cov}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape[0])
        if self.covariance_type == "full":
            mvn_full_logpdf(X, self.mean, self._prec_chol, self._log_norm, out)
        else:
            mvn_diag_logpdf(X, self.mean, self._inv_var, self._log_norm, out)
        return out

    def _expected_log_probability(self, stats: MultivariateNormalStats) -> float:
        moved = stats.recentered(self.mean)
        w = float(moved.w_sum)
        if self.covariance_type == "full":
            U = self._prec_chol
            quad = float(np.trace(U.T @ moved.xxw_sum @ U))
        else:
            quad = float(np.dot(moved.xxw_sum, self._inv_var))
        return w * self._log_norm - 0.5 * quad

    def _n_parameters(self) -> int:
        d = self.n_features
        cov = {"full": d * (d + 1) // 2, "diag": d, "spherical": 1}[self.covariance_type]
        return d + cov

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        d = self._d
        if self.covariance_type == "full":
            return rng.multivariate_normal(self.mean, self.cov, size=n, method="cholesky")
        std = np.sqrt(np.broadcast_to(self.cov, (d,)))
        return self.mean + rng.standard_normal((n, d)) * std
