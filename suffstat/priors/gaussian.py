r"""Conjugate priors of Gaussian components: Normal-Wishart (full) and Normal-Gamma (diagonal).

Both follow bnpy's ``GaussObsModel`` and ``DiagGaussObsModel`` (Hughes and Sudderth)
term by term. With ``m`` the mean, ``kappa`` the mean precision, ``nu`` the degrees
of freedom and ``B`` the inverse scale (``scale``), the posterior given a record
``(N, sum x, sum x x^T)`` is

.. math::

    \kappa = \kappa_0 + N,\quad \nu = \nu_0 + N,\quad
    m = (\kappa_0 m_0 + \textstyle\sum x) / \kappa,\quad
    B = B_0 + S + \tfrac{\kappa_0 N}{\kappa} (\bar x - m_0)(\bar x - m_0)^\top

with ``S`` the scatter about the mean ``\bar x`` (plus ``N reg_covar`` on its
diagonal, scikit-learn's ``reg_covar``). The records are the shifted moments EM uses,
so every computation runs about the record's reference point.
"""

from __future__ import annotations

import copy
import math
import threading
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from .._validation import check_scalar, check_vector
from ..distributions._fused import FusedEStep, gaussian_diag_estep, gaussian_full_estep, normal_estep
from ..distributions.multivariate_normal import MultivariateNormal, shifted_moments
from ..distributions.normal import Normal
from ..exceptions import ParameterError
from ..kernels.conjugate import (STEP_NONFINITE, STEP_OK, normal_wishart_elbo, normal_wishart_factors,
                                 normal_wishart_posterior, normal_wishart_step)
from ..kernels.gaussian import LOG_2PI, mvn_diag_logpdf, mvn_full_logpdf
from ..statistics import MultivariateNormalStats, NormalStats
from ._base import ConjugatePrior

LOG_2 = math.log(2.0)
LOG_PI = math.log(math.pi)


def _positive(name: str, value: Any) -> float:
    return check_scalar(name, value, low=0.0, low_open=True)


class NormalWishart(ConjugatePrior):
    r"""Normal-Wishart prior of a full-covariance Gaussian component.

    .. math:: \Lambda \sim \mathcal W(\nu_0, B_0^{-1}),\qquad
              \mu \mid \Lambda \sim \mathcal N(m_0, (\kappa_0 \Lambda)^{-1})

    so that :math:`E[\Lambda] = \nu B^{-1}` and, for :math:`\nu > D + 1`,
    :math:`E[\Lambda^{-1}] = B / (\nu - D - 1)`. ``scale_prior`` is scikit-learn's
    ``covariance_prior`` and bnpy's ``B``.

    Parameters
    ----------
    mean_prior : array-like of shape (d,)
        Prior mean :math:`m_0` of the component mean.
    scale_prior : array-like of shape (d, d)
        Inverse scale :math:`B_0` of the Wishart (symmetric positive definite).
    mean_precision_prior : float, default=1.0
        :math:`\kappa_0`, the prior's pseudo-count for the mean.
    degrees_of_freedom_prior : float, optional
        :math:`\nu_0 > d - 1`; ``d`` (scikit-learn's default) when None.
    reg_covar : float, default=0.0
        Added to the diagonal of each record's covariance (``N reg_covar`` to the
        scatter), as scikit-learn's ``reg_covar``.
    mean, mean_precision, degrees_of_freedom, scale : optional
        The posterior (None until a global step).
    frozen : bool, default=False
        If True, global steps leave the posterior unchanged.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> prior = ss.priors.NormalWishart(np.zeros(2), np.eye(2), mean_precision_prior=1.0,
    ...                                 degrees_of_freedom_prior=3.0)
    >>> X = np.random.default_rng(0).normal(3.0, 1.0, size=(1000, 2))
    >>> post = prior.from_summaries(prior.summarize(X, accumulate=False))
    >>> np.round(post.mean, 1)
    array([3., 3.])
    """

    _registry_name = "priors.NormalWishart"
    _param_names = ("mean", "mean_precision", "degrees_of_freedom", "scale")
    _option_names = ("mean_prior", "scale_prior", "mean_precision_prior",
                     "degrees_of_freedom_prior", "reg_covar", "frozen")
    _ndim = 2
    _stats_type = MultivariateNormalStats

    def __init__(self, mean_prior: Any, scale_prior: Any, *, mean_precision_prior: float = 1.0,
                 degrees_of_freedom_prior: float | None = None, reg_covar: float = 0.0,
                 mean: Any = None, mean_precision: Any = None, degrees_of_freedom: Any = None,
                 scale: Any = None, frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        self.mean_prior = check_vector("mean_prior", mean_prior)
        d = self.mean_prior.shape[0]
        self._d = d
        self.scale_prior = _spd("scale_prior", scale_prior, d)
        self.mean_precision_prior = _positive("mean_precision_prior", mean_precision_prior)
        nu0 = float(d) if degrees_of_freedom_prior is None else degrees_of_freedom_prior
        self.degrees_of_freedom_prior = check_scalar("degrees_of_freedom_prior", nu0, low=d - 1.0,
                                                     low_open=True)
        self.reg_covar = check_scalar("reg_covar", reg_covar, low=0.0)
        prior = {"mean": self.mean_prior[None], "mean_precision": np.array([self.mean_precision_prior]),
                 "degrees_of_freedom": np.array([self.degrees_of_freedom_prior]), "scale": self.scale_prior[None]}
        try:
            self._prior_cache = self._component(prior, self._batch_factors(prior), 0)["_cache"]
        except ParameterError:
            raise ParameterError("scale_prior must be positive definite") from None
        self._set_params(self._check_params({"mean": mean, "mean_precision": mean_precision,
                                             "degrees_of_freedom": degrees_of_freedom,
                                             "scale": scale}))

    @property
    def n_features(self) -> int:
        """Dimension d of the data."""
        return self._d

    def _fresh_copy(self) -> NormalWishart:
        return _shallow_unfitted(self)

    @property
    def covariance_type(self) -> str:
        """``'full'``: the covariance form of the component (as MultivariateNormal's)."""
        return "full"

    @property
    def cov(self) -> np.ndarray | None:
        """The inverse of the expected precision, ``B / nu`` (None before a global step)."""
        return None if self.scale is None else self.scale / self.degrees_of_freedom

    def prior_params(self) -> dict[str, Any]:
        """Return the prior as posterior parameters (the posterior of no data).

        Returns
        -------
        dict
            ``mean``, ``mean_precision``, ``degrees_of_freedom`` and ``scale``.
        """
        return {"mean": self.mean_prior.copy(), "mean_precision": self.mean_precision_prior,
                "degrees_of_freedom": self.degrees_of_freedom_prior, "scale": self.scale_prior.copy()}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        values = [params.get(n) for n in self._param_names]
        if all(v is None for v in values):
            return {n: None for n in self._param_names} | {"_cache": None}
        if any(v is None for v in values):
            raise ParameterError("the posterior needs all of mean, mean_precision, "
                                 "degrees_of_freedom and scale")
        d = self._d
        mean = check_vector("mean", params["mean"], length=d)
        kappa = _positive("mean_precision", params["mean_precision"])
        nu = check_scalar("degrees_of_freedom", params["degrees_of_freedom"], low=d - 1.0, low_open=True)
        scale = _spd("scale", params["scale"], d)
        return self._validated_estimate({"mean": mean, "mean_precision": kappa, "degrees_of_freedom": nu,
                                         "scale": scale})

    def _validated_estimate(self, params: dict[str, Any]) -> dict[str, Any]:
        # shapes and symmetry hold by construction; finiteness and definiteness are checked
        # (this runs at every global step: stochastic VB makes thousands)
        post = {"mean": params["mean"][None], "mean_precision": np.array([params["mean_precision"]]),
                "degrees_of_freedom": np.array([params["degrees_of_freedom"]]), "scale": params["scale"][None]}
        return self._component(post, self._batch_factors(post), 0)

    def _set_params(self, params: dict[str, Any]) -> None:
        self.mean, self.mean_precision = params["mean"], params["mean_precision"]
        self.degrees_of_freedom, self.scale = params["degrees_of_freedom"], params["scale"]
        self._cache = params.get("_cache")

    # -- the batched global step (k components sharing this prior) ---------------------------
    def _batch_posterior(self, n: np.ndarray, shift: np.ndarray, s1: np.ndarray,
                         s2: np.ndarray) -> dict[str, np.ndarray]:
        """Posteriors of k records: counts (k,), shifts and sums (k, d), scatters (k, d, d)."""
        if s2.ndim != 3 or s1.shape[1] != self._d:
            raise ValueError(f"NormalWishart needs full scatter statistics of {self._d} features")
        k, d = s1.shape
        post = {"mean": np.empty((k, d)), "mean_precision": np.empty(k), "degrees_of_freedom": np.empty(k),
                "scale": np.empty((k, d, d))}
        normal_wishart_posterior(_f64(n), _f64(shift), _f64(s1), _f64(s2), self.mean_prior, self.scale_prior,
                                 self.mean_precision_prior, self.degrees_of_freedom_prior, self.reg_covar,
                                 post["mean"], post["mean_precision"], post["degrees_of_freedom"], post["scale"])
        return post

    def _batch_factors(self, post: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Factor every B: L, log|B|, ``E[log|Lambda|]``, U (``U U^T = nu B^-1``), the log-normaliser."""
        B, nu, mean = _f64(post["scale"]), _f64(post["degrees_of_freedom"]), _f64(post["mean"])
        k, d = mean.shape
        # np.add.reduce: np.sum's own reduction without its wrapper (microseconds per stochastic step)
        psi_sum = np.add.reduce(digamma(0.5 * (nu[:, None] + 1.0 - np.arange(1, d + 1, dtype=np.float64))), axis=1)
        f = {"L": np.empty((k, d, d)), "logdet": np.empty(k), "E_logdet": np.empty(k), "U": np.empty((k, d, d)),
             "log_norm": np.empty(k)}
        status = normal_wishart_factors(mean, _f64(post["mean_precision"]), nu, B, psi_sum, LOG_2, LOG_2PI,
                                        f["L"], f["logdet"], f["E_logdet"], f["U"], f["log_norm"])
        if status == STEP_NONFINITE:
            raise ParameterError("the posterior is not finite (the record holds non-finite sums)")
        if status != STEP_OK:
            raise ParameterError(f"the scale of component {status} is not positive definite")
        return f

    def _batch_step(self, n: np.ndarray, shift: np.ndarray, s1: np.ndarray,
                    s2: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """:meth:`_batch_posterior` then :meth:`_batch_factors` (the same values), in one kernel call."""
        if s2.ndim != 3 or s1.shape[1] != self._d:
            raise ValueError(f"NormalWishart needs full scatter statistics of {self._d} features")
        k, d = s1.shape
        n = _f64(n)
        nu_post = self.degrees_of_freedom_prior + n  # the posterior's, as the kernel computes it
        psi_sum = np.add.reduce(digamma(0.5 * (nu_post[:, None] + 1.0 - np.arange(1, d + 1, dtype=np.float64))),
                                axis=1)
        post = {"mean": np.empty((k, d)), "mean_precision": np.empty(k), "degrees_of_freedom": np.empty(k),
                "scale": np.empty((k, d, d))}
        f = {"L": np.empty((k, d, d)), "logdet": np.empty(k), "E_logdet": np.empty(k), "U": np.empty((k, d, d)),
             "log_norm": np.empty(k)}
        status = normal_wishart_step(n, _f64(shift), _f64(s1), _f64(s2), self.mean_prior, self.scale_prior,
                                     self.mean_precision_prior, self.degrees_of_freedom_prior, self.reg_covar,
                                     psi_sum, LOG_2, LOG_2PI, post["mean"], post["mean_precision"],
                                     post["degrees_of_freedom"], post["scale"], f["L"], f["logdet"], f["E_logdet"],
                                     f["U"], f["log_norm"])
        if status == STEP_NONFINITE:
            raise ParameterError("the posterior is not finite (the record holds non-finite sums)")
        if status != STEP_OK:
            raise ParameterError(f"the scale of component {status} is not positive definite")
        return post, f

    @staticmethod
    def _component(post: dict[str, np.ndarray], factors: dict[str, np.ndarray], j: int) -> dict[str, Any]:
        """Component j's parameters (with its cache) from batched arrays."""
        return {"mean": post["mean"][j], "mean_precision": float(post["mean_precision"][j]),
                "degrees_of_freedom": float(post["degrees_of_freedom"][j]), "scale": post["scale"][j],
                "_cache": {"L": factors["L"][j], "logdet": float(factors["logdet"][j]),
                           "E_logdet": float(factors["E_logdet"][j]), "U": factors["U"][j],
                           "log_norm": float(factors["log_norm"][j])}}

    @staticmethod
    def _stacked(components: list[Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The current posteriors of components sharing a prior, as batched arrays."""
        post = {"mean": np.array([c.mean for c in components]),
                "mean_precision": np.array([c.mean_precision for c in components]),
                "degrees_of_freedom": np.array([c.degrees_of_freedom for c in components]),
                "scale": np.array([c.scale for c in components])}
        factors = {k: np.array([c._cache[k] for c in components])
                   for k in ("L", "logdet", "E_logdet", "U", "log_norm")}
        return post, factors

    def _batch_elbo(self, post: dict[str, np.ndarray], factors: dict[str, np.ndarray], n: np.ndarray,
                    shift: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
        """Each component's ELBO term (bnpy's ``GaussObsModel.calcELBO_Memoized``), shape (k,)."""
        d = self._d
        nu0, nu = self.degrees_of_freedom_prior, _f64(post["degrees_of_freedom"])
        dvec = np.arange(1, d + 1, dtype=np.float64)
        cached = self.__dict__.get("_gl_prior")
        if cached is None or cached[0] != nu0:  # a constant of the prior: once per value
            cached = self._gl_prior = (nu0, float(np.sum(gammaln(0.5 * (nu0 + 1.0 - dvec)))))
        gl_prior = cached[1]
        gl_post = np.add.reduce(gammaln(0.5 * (nu[:, None] + 1.0 - dvec)), axis=1)
        out = np.empty(len(nu))
        normal_wishart_elbo(_f64(n), _f64(shift), _f64(s1), _f64(s2), self.mean_prior, self.scale_prior,
                            self.mean_precision_prior, nu0, self.reg_covar, _f64(post["mean"]),
                            _f64(post["mean_precision"]), nu, _f64(post["scale"]), _f64(factors["logdet"]),
                            _f64(factors["E_logdet"]), _f64(factors["U"]), float(self._prior_cache["logdet"]),
                            gl_post, gl_prior, LOG_2, LOG_2PI, out)
        return out

    # -- the record and the global step ----------------------------------------------------
    def _summarize(self, X: np.ndarray, w: np.ndarray) -> MultivariateNormalStats:
        return shifted_moments(X, w, self.mean if self.mean is not None else self.mean_prior, True)

    def _estimate(self, stats: MultivariateNormalStats) -> dict[str, Any]:
        if not stats.full or stats.xw_sum.shape[0] != self._d:
            raise ValueError(f"NormalWishart needs full scatter statistics of {self._d} features")
        post = self._batch_posterior(np.array([float(stats.w_sum)]), stats.shift[None], stats.xw_sum[None],
                                     stats.xxw_sum[None])
        return {"mean": post["mean"][0], "mean_precision": float(post["mean_precision"][0]),
                "degrees_of_freedom": float(post["degrees_of_freedom"][0]), "scale": post["scale"][0]}

    def implied_statistics(self) -> MultivariateNormalStats:
        """Return the data record whose global step gives the current posterior.

        It inverts the conjugate update (``N = kappa - kappa_0``, about the
        posterior mean), so stochastic VB can blend from a posterior it did not
        compute. Exact for posteriors a global step made.

        Returns
        -------
        MultivariateNormalStats
            The record.
        """
        self._require_fitted()
        n = max(self.mean_precision - self.mean_precision_prior, 0.0)
        dm0 = self.mean_prior - self.mean
        s1 = -self.mean_precision_prior * dm0
        s2 = self.scale - self.scale_prior - self.mean_precision_prior * np.outer(dm0, dm0)
        s2[np.diag_indices_from(s2)] -= n * self.reg_covar
        return MultivariateNormalStats(w_sum=n, xw_sum=s1, xxw_sum=0.5 * (s2 + s2.T), shift=self.mean.copy())

    # -- the local step --------------------------------------------------------------------
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        self._require_fitted()
        out = np.empty(X.shape[0])
        mvn_full_logpdf(X, self.mean, self._cache["U"], self._log_norm(), out)
        return out

    def _log_norm(self) -> float:
        return self._cache["log_norm"]

    def _mixture_estep(self) -> FusedEStep | None:
        if not self._fitted:
            return None
        arrays = {"mean": self.mean, "prec_chol": self._cache["U"], "log_norm": self._log_norm()}
        return FusedEStep(("MultivariateNormal", "full"), gaussian_full_estep, arrays)

    # -- the objective -----------------------------------------------------------------------
    def elbo(self, stats: MultivariateNormalStats) -> float:
        """Return the component's ELBO term for ``stats`` under the current posterior.

        bnpy's ``GaussObsModel.calcELBO_Memoized``: the difference of the prior's and
        the posterior's cumulants, plus the linear terms that vanish right after a
        global step, minus ``N d / 2 log 2 pi``.

        Parameters
        ----------
        stats : MultivariateNormalStats
            The component's full-scatter record.

        Returns
        -------
        float
            ``E_q[log p(X | mu, Lambda)] + E_q[log p(mu, Lambda)] - E_q[log q(mu, Lambda)]``.
        """
        self._require_fitted()
        post, factors = self._stacked([self])
        return float(self._batch_elbo(post, factors, np.array([float(stats.w_sum)]), stats.shift[None],
                                      stats.xw_sum[None], stats.xxw_sum[None])[0])

    def point_estimate(self) -> dict[str, Any]:
        """Return the posterior mean and the inverse of the expected precision.

        Returns
        -------
        dict
            ``mean`` (``m``) and ``cov`` (``B / nu``: scikit-learn's ``covariances_``).
        """
        self._require_fitted()
        return {"mean": self.mean.copy(), "cov": self.scale / self.degrees_of_freedom}

    def _family(self, **params: Any) -> MultivariateNormal:
        return MultivariateNormal(params["mean"], params["cov"], covariance_type="full", reg_covar=0.0)


class NormalGamma(ConjugatePrior):
    r"""Normal-Gamma prior of a diagonal (or univariate) Gaussian component, per dimension.

    .. math:: \lambda_j \sim \mathrm{Gamma}(\nu_0 / 2, \beta_{0j} / 2),\qquad
              \mu_j \mid \lambda_j \sim \mathcal N(m_{0j}, (\kappa_0 \lambda_j)^{-1})

    (shape and rate), bnpy's ``DiagGaussObsModel``: :math:`E[\lambda_j] = \nu / \beta_j`
    and :math:`E[\log\lambda_j] = \psi(\nu/2) - \log(\beta_j / 2)`, one shared
    :math:`\nu` and :math:`\kappa` per component. scikit-learn's ``'diag'``
    ``BayesianGaussianMixture`` uses the full Wishart's expectation
    :math:`\sum_j \psi((\nu - j) / 2)` instead, an approximation for a diagonal precision.

    Parameters
    ----------
    mean_prior : float or array-like of shape (d,)
        Prior mean :math:`m_0`; a scalar makes the prior univariate (data of shape (n,)).
    scale_prior : float or array-like of shape (d,)
        Rates :math:`\beta_0` (positive), scikit-learn's diagonal ``covariance_prior``.
    mean_precision_prior : float, default=1.0
        :math:`\kappa_0`.
    degrees_of_freedom_prior : float, optional
        :math:`\nu_0 > 0`; ``d`` when None.
    reg_covar : float, default=0.0
        Added to each record's variances (``N reg_covar`` to the scatter).
    mean, mean_precision, degrees_of_freedom, scale : optional
        The posterior (None until a global step).
    frozen : bool, default=False
        If True, global steps leave the posterior unchanged.
    """

    _registry_name = "priors.NormalGamma"
    _param_names = ("mean", "mean_precision", "degrees_of_freedom", "scale")
    _option_names = ("mean_prior", "scale_prior", "mean_precision_prior",
                     "degrees_of_freedom_prior", "reg_covar", "frozen")

    def __init__(self, mean_prior: Any, scale_prior: Any, *, mean_precision_prior: float = 1.0,
                 degrees_of_freedom_prior: float | None = None, reg_covar: float = 0.0,
                 mean: Any = None, mean_precision: Any = None, degrees_of_freedom: Any = None,
                 scale: Any = None, frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        self.univariate = np.ndim(mean_prior) == 0
        self._ndim = 1 if self.univariate else 2
        self._stats_type = NormalStats if self.univariate else MultivariateNormalStats
        m0 = check_vector("mean_prior", [mean_prior] if np.ndim(mean_prior) == 0 else mean_prior)
        d = m0.shape[0]
        self._d = d
        self.mean_prior = float(m0[0]) if self.univariate else m0
        if np.ndim(scale_prior) == 0:  # one number for every feature, checked as given
            b0 = np.full(d, _positive("scale_prior", scale_prior))
        else:
            b0 = check_vector("scale_prior", scale_prior, length=d, low=0.0, low_open=True)
        self.scale_prior = float(b0[0]) if self.univariate else b0
        self.mean_precision_prior = _positive("mean_precision_prior", mean_precision_prior)
        nu0 = float(d) if degrees_of_freedom_prior is None else degrees_of_freedom_prior
        self.degrees_of_freedom_prior = _positive("degrees_of_freedom_prior", nu0)
        self.reg_covar = check_scalar("reg_covar", reg_covar, low=0.0)
        self._set_params(self._check_params({"mean": mean, "mean_precision": mean_precision,
                                             "degrees_of_freedom": degrees_of_freedom,
                                             "scale": scale}))

    @property
    def n_features(self) -> int:
        """Dimension d of the data (1 for a univariate prior)."""
        return self._d

    def _fresh_copy(self) -> NormalGamma:
        return _shallow_unfitted(self)

    @property
    def covariance_type(self) -> str:
        """``'diag'``: the covariance form of a multivariate component (none when univariate)."""
        if self.univariate:
            raise AttributeError("a univariate NormalGamma has no covariance_type")
        return "diag"

    @property
    def cov(self) -> Any:
        """The inverse expected precisions, ``beta / nu`` (None before a global step)."""
        return None if self.scale is None else self._out(self._vec(self.scale) / self.degrees_of_freedom)

    def _vec(self, value: Any) -> np.ndarray:
        return np.atleast_1d(np.asarray(value, dtype=np.float64))

    def _out(self, value: np.ndarray) -> Any:
        return float(value[0]) if self.univariate else value

    def prior_params(self) -> dict[str, Any]:
        """Return the prior as posterior parameters (the posterior of no data).

        Returns
        -------
        dict
            ``mean``, ``mean_precision``, ``degrees_of_freedom`` and ``scale``.
        """
        return {"mean": self._out(self._vec(self.mean_prior).copy()),
                "mean_precision": self.mean_precision_prior,
                "degrees_of_freedom": self.degrees_of_freedom_prior,
                "scale": self._out(self._vec(self.scale_prior).copy())}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        values = [params.get(n) for n in self._param_names]
        if all(v is None for v in values):
            return {n: None for n in self._param_names}
        if any(v is None for v in values):
            raise ParameterError("the posterior needs all of mean, mean_precision, "
                                 "degrees_of_freedom and scale")
        d = self._d
        mean = check_vector("mean", self._vec(params["mean"]), length=d)
        scale = check_vector("scale", self._vec(params["scale"]), length=d, low=0.0, low_open=True)
        return {"mean": self._out(mean),
                "mean_precision": _positive("mean_precision", params["mean_precision"]),
                "degrees_of_freedom": _positive("degrees_of_freedom", params["degrees_of_freedom"]),
                "scale": self._out(scale)}

    def _set_params(self, params: dict[str, Any]) -> None:
        self.mean, self.mean_precision = params["mean"], params["mean_precision"]
        self.degrees_of_freedom, self.scale = params["degrees_of_freedom"], params["scale"]
        self._cache = params.get("_cache")
        if self.scale is not None and self._cache is None:
            post = self._as_batch([self])
            self._cache = {k: v[0] for k, v in self._batch_factors(post).items()}

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> Any:
        shift = self.mean if self.mean is not None else self.mean_prior
        if self.univariate:
            return Normal(shift, 1.0)._summarize(X, w)
        return shifted_moments(X, w, shift, False)

    def _moments(self, stats: Any) -> tuple[np.ndarray, ...]:
        """(N, shift, sum w (x - shift), sum w (x - shift)^2) of one record, batched (k = 1)."""
        if not self.univariate and (stats.full or stats.xw_sum.shape[0] != self._d):
            raise ValueError(f"NormalGamma needs diagonal scatter statistics of {self._d} features")
        return (np.array([float(stats.w_sum)]), self._vec(stats.shift)[None], self._vec(stats.xw_sum)[None],
                self._vec(stats.xxw_sum)[None])

    # -- the batched global step (k components sharing this prior) ---------------------------
    def _as_batch(self, components: list[Any]) -> dict[str, np.ndarray]:
        return {"mean": np.array([self._vec(c.mean) for c in components]),
                "mean_precision": np.array([c.mean_precision for c in components]),
                "degrees_of_freedom": np.array([c.degrees_of_freedom for c in components]),
                "scale": np.array([self._vec(c.scale) for c in components])}

    def _batch_posterior(self, n: np.ndarray, shift: np.ndarray, s1: np.ndarray,
                         s2: np.ndarray) -> dict[str, np.ndarray]:
        """Posteriors of k records: counts (k,), shifts, sums and squares (k, d)."""
        if s2.ndim != 2 or s1.shape[1] != self._d:
            raise ValueError(f"NormalGamma needs diagonal scatter statistics of {self._d} features")
        kappa0, m0, b0 = self.mean_precision_prior, self._vec(self.mean_prior), self._vec(self.scale_prior)
        some = n > 0
        dbar = np.divide(s1, n[:, None], out=np.zeros_like(s1), where=some[:, None])
        scatter = s2 - n[:, None] * dbar * dbar
        kappa = kappa0 + n
        dm0 = dbar - (m0 - shift)
        beta = b0 + scatter + (kappa0 * n / kappa)[:, None] * dm0 * dm0 + (n * self.reg_covar)[:, None]
        mean = shift + (kappa0 * (m0 - shift) + n[:, None] * dbar) / kappa[:, None]
        mean[~some], beta[~some] = m0, b0
        return {"mean": mean, "mean_precision": kappa, "degrees_of_freedom": self.degrees_of_freedom_prior + n,
                "scale": beta}

    def _batch_factors(self, post: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``E[lambda]``, ``E[log lambda]`` (k, d) and the log-normaliser (k,)."""
        beta, nu, kappa = post["scale"], post["degrees_of_freedom"], post["mean_precision"]
        if not (np.isfinite(beta).all() and np.isfinite(post["mean"]).all()):
            raise ParameterError("the posterior is not finite (the record holds non-finite sums)")
        if not (beta > 0).all():
            bad = int(np.flatnonzero(~(beta > 0).all(axis=1))[0])
            raise ParameterError(f"the scale of component {bad} is not positive")
        e_lam = nu[:, None] / beta
        e_loglam = LOG_2 - np.log(beta) + digamma(0.5 * nu)[:, None]
        log_norm = -0.5 * self._d * LOG_2PI + 0.5 * e_loglam.sum(axis=1) - 0.5 * self._d / kappa
        return {"E_lam": np.ascontiguousarray(e_lam), "E_loglam": e_loglam, "log_norm": log_norm}

    def _component(self, post: dict[str, np.ndarray], factors: dict[str, np.ndarray], j: int) -> dict[str, Any]:
        """Component j's parameters from batched arrays."""
        out = {"mean": self._out(post["mean"][j]), "mean_precision": float(post["mean_precision"][j]),
               "degrees_of_freedom": float(post["degrees_of_freedom"][j]), "scale": self._out(post["scale"][j])}
        if factors:
            out["_cache"] = {k: v[j] for k, v in factors.items()}
        return out

    def _stacked(self, components: list[Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The current posteriors of components sharing a prior, as batched arrays."""
        factors = {k: np.array([c._cache[k] for c in components]) for k in ("E_lam", "E_loglam", "log_norm")}
        return self._as_batch(components), factors

    def _batch_elbo(self, post: dict[str, np.ndarray], factors: dict[str, np.ndarray], n: np.ndarray,
                    shift: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
        """Each component's ELBO term (bnpy's ``DiagGaussObsModel``), shape (k,)."""
        kappa0, nu0 = self.mean_precision_prior, self.degrees_of_freedom_prior
        kappa, nu, beta = post["mean_precision"], post["degrees_of_freedom"], post["scale"]
        b0 = self._vec(self.scale_prior)
        m0, m = self._vec(self.mean_prior) - shift, post["mean"] - shift
        value = self._cumulants(post)
        b_diff = s2 + (n * self.reg_covar)[:, None] + b0 + kappa0 * m0 * m0 - beta - kappa[:, None] * m * m
        c_diff = s1 + kappa0 * m0 - kappa[:, None] * m
        e_lam = factors["E_lam"]
        e_mu_l_mu = 1.0 / kappa[:, None] + e_lam * m * m
        value += (0.5 * (n + nu0 - nu) * factors["E_loglam"].sum(axis=1) - 0.5 * np.sum(b_diff * e_lam, axis=1)
                  + np.sum(c_diff * e_lam * m, axis=1) - 0.5 * (n + kappa0 - kappa) * e_mu_l_mu.sum(axis=1))
        return value - 0.5 * n * self._d * LOG_2PI

    def _cumulants(self, post: dict[str, np.ndarray]) -> np.ndarray:
        """Posterior minus prior log-normaliser of each component's d Gammas and means, (k,)."""
        kappa0, nu0, b0 = self.mean_precision_prior, self.degrees_of_freedom_prior, self._vec(self.scale_prior)
        kappa, nu, beta = post["mean_precision"], post["degrees_of_freedom"], post["scale"]
        return np.sum(-0.5 * LOG_2 * (nu0 - nu)[:, None] - gammaln(0.5 * nu0) + gammaln(0.5 * nu)[:, None]
                      + 0.5 * (math.log(kappa0) - np.log(kappa))[:, None]
                      + 0.5 * (nu0 * np.log(b0) - nu[:, None] * np.log(beta)), axis=1)

    def _estimate(self, stats: Any) -> dict[str, Any]:
        post = self._batch_posterior(*self._moments(stats))
        return self._component(post, {}, 0)

    def implied_statistics(self) -> Any:
        """Return the data record whose global step gives the current posterior.

        It inverts the conjugate update (``N = kappa - kappa_0``, about the
        posterior mean), so stochastic VB can blend from a posterior it did not
        compute. Exact for posteriors a global step made.

        Returns
        -------
        MultivariateNormalStats or NormalStats
            The record.
        """
        self._require_fitted()
        n = max(self.mean_precision - self.mean_precision_prior, 0.0)
        m = self._vec(self.mean)
        dm0 = self._vec(self.mean_prior) - m
        s1 = -self.mean_precision_prior * dm0
        s2 = (self._vec(self.scale) - self._vec(self.scale_prior) - self.mean_precision_prior * dm0 * dm0
              - n * self.reg_covar)
        if self.univariate:
            return NormalStats(w_sum=n, xw_sum=float(s1[0]), xxw_sum=float(s2[0]), shift=float(m[0]))
        return MultivariateNormalStats(w_sum=n, xw_sum=s1, xxw_sum=s2, shift=m.copy())

    def _log_norm(self) -> float:
        return float(self._cache["log_norm"])

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        self._require_fitted()
        X2 = X.reshape(-1, 1) if self.univariate else X
        out = np.empty(X2.shape[0])
        mvn_diag_logpdf(X2, self._vec(self.mean), self._cache["E_lam"], self._log_norm(), out)
        return out

    def _mixture_estep(self) -> FusedEStep | None:
        if not self._fitted:
            return None
        if self.univariate:
            arrays = {"mean": [self.mean], "inv_var": [float(self._cache["E_lam"][0])], "log_norm": self._log_norm()}
            return FusedEStep(("Normal",), normal_estep, arrays)
        arrays = {"mean": self.mean, "inv_var": self._cache["E_lam"], "log_norm": self._log_norm()}
        return FusedEStep(("MultivariateNormal", "diag"), gaussian_diag_estep, arrays)

    def elbo(self, stats: Any) -> float:
        """Return the component's ELBO term for ``stats`` under the current posterior.

        bnpy's ``DiagGaussObsModel`` ELBO: per dimension, the difference of the
        prior's and posterior's cumulants plus the linear terms that vanish right
        after a global step, minus ``N d / 2 log 2 pi``.

        Parameters
        ----------
        stats : MultivariateNormalStats or NormalStats
            The component's diagonal record.

        Returns
        -------
        float
            ``E_q[log p(X | mu, lambda)] + E_q[log p(mu, lambda)] - E_q[log q(mu, lambda)]``.
        """
        self._require_fitted()
        post, factors = self._stacked([self])
        return float(self._batch_elbo(post, factors, *self._moments(stats))[0])

    def point_estimate(self) -> dict[str, Any]:
        """Return the posterior mean and the inverse expected precisions.

        Returns
        -------
        dict
            ``mean`` and ``cov`` (``beta / nu`` per dimension; a float when univariate).
        """
        self._require_fitted()
        cov = self._vec(self.scale) / self.degrees_of_freedom
        return {"mean": self._out(self._vec(self.mean).copy()), "cov": self._out(cov)}

    def _family(self, **params: Any) -> Any:
        if self.univariate:
            return Normal(params["mean"], math.sqrt(params["cov"]))
        return MultivariateNormal(params["mean"], params["cov"], covariance_type="diag", reg_covar=0.0)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._family(**self.point_estimate())._sample(n, rng)


class SphericalNormalGamma(NormalGamma):
    r"""Normal-Gamma prior of a spherical Gaussian component: one precision for every dimension.

    .. math:: \lambda \sim \mathrm{Gamma}(d \nu_0 / 2, d \beta_0 / 2),\qquad
              \mu \mid \lambda \sim \mathcal N(m_0, (\kappa_0 \lambda)^{-1} I)

    (shape and rate), the conjugate prior of :math:`\mathcal N(\mu, \lambda^{-1} I)`, so
    that :math:`E[\lambda] = \nu / \beta` as in :class:`NormalGamma` and
    :math:`E[\log\lambda] = \psi(d\nu/2) - \log(d\beta / 2)`. Its posterior after a
    record of N rows has :math:`\nu = \nu_0 + N` and :math:`\beta` the mean over the
    dimensions of :class:`NormalGamma`'s per-dimension rates (the d Gammas pooled into
    one). ``scale`` holds :math:`\beta` once per dimension, so the component computes
    like a diagonal one with equal variances. scikit-learn's ``'spherical'``
    ``BayesianGaussianMixture`` uses the full Wishart's expectation instead, an
    approximation; bnpy has no spherical observation model.

    Parameters
    ----------
    mean_prior : array-like of shape (d,)
        Prior mean :math:`m_0`.
    scale_prior : float
        :math:`\beta_0 > 0`, scikit-learn's spherical ``covariance_prior`` (a vector of d
        equal values is accepted).
    mean_precision_prior, degrees_of_freedom_prior, reg_covar, frozen : optional
        As :class:`NormalGamma`.
    mean, mean_precision, degrees_of_freedom, scale : optional
        The posterior, as :class:`NormalGamma` (``scale`` d equal values, or one).
    """

    _registry_name = "priors.SphericalNormalGamma"

    def __init__(self, mean_prior: Any, scale_prior: Any, **kwargs: Any) -> None:
        if np.ndim(mean_prior) == 0:
            raise ParameterError("SphericalNormalGamma needs a mean_prior vector (use NormalGamma for "
                                 "univariate data)")
        try:
            b0 = np.asarray(scale_prior, dtype=np.float64)
        except (TypeError, ValueError):
            b0 = None  # NormalGamma names the bad value
        if b0 is not None and b0.ndim == 1 and not (b0 == b0[0]).all():
            raise ParameterError(f"the spherical scale_prior must be one number; got {scale_prior!r}")
        super().__init__(mean_prior, scale_prior, **kwargs)
        if self.scale is not None and not (self._vec(self.scale) == self._vec(self.scale)[0]).all():
            raise ParameterError("a spherical posterior's scale must be one number")

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        scale = params.get("scale")
        if scale is not None and np.ndim(scale) == 0:  # one rate, held once per dimension
            params = dict(params, scale=np.full(self._d, scale, dtype=np.float64))
        return super()._check_params(params)

    @property
    def covariance_type(self) -> str:
        """``'spherical'``."""
        return "spherical"

    def _batch_posterior(self, n: np.ndarray, shift: np.ndarray, s1: np.ndarray,
                         s2: np.ndarray) -> dict[str, np.ndarray]:
        post = super()._batch_posterior(n, shift, s1, s2)
        post["scale"] = np.repeat(post["scale"].mean(axis=1, keepdims=True), self._d, axis=1)
        return post

    def _batch_factors(self, post: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        f = super()._batch_factors(post)
        d, beta, nu = self._d, post["scale"], post["degrees_of_freedom"]
        f["E_loglam"] = np.log(2.0 / d) - np.log(beta) + digamma(0.5 * d * nu)[:, None]
        f["log_norm"] = -0.5 * d * LOG_2PI + 0.5 * f["E_loglam"].sum(axis=1) - 0.5 * d / post["mean_precision"]
        return f

    def _cumulants(self, post: dict[str, np.ndarray]) -> np.ndarray:
        """Posterior minus prior log-normaliser of each component's one Gamma and its mean, (k,)."""
        d, kappa0 = self._d, self.mean_precision_prior
        a0, r0 = 0.5 * d * self.degrees_of_freedom_prior, 0.5 * d * float(self._vec(self.scale_prior)[0])
        a, r = 0.5 * d * post["degrees_of_freedom"], 0.5 * d * post["scale"][:, 0]
        return (gammaln(a) - gammaln(a0) - a * np.log(r) + a0 * math.log(r0)
                + 0.5 * d * (math.log(kappa0) - np.log(post["mean_precision"])))

    def _family(self, **params: Any) -> Any:
        return MultivariateNormal(params["mean"], float(np.mean(params["cov"])), covariance_type="spherical",
                                  reg_covar=0.0)


def _f64(a: Any) -> np.ndarray:
    """``a`` as a C-contiguous float64 array (no copy when it is one)."""
    return np.ascontiguousarray(a, dtype=np.float64)


def _shallow_unfitted(prior: Any) -> Any:
    """A copy sharing the (read-only) prior arrays and caches, without a posterior."""
    new = copy.copy(prior)
    new._lock = threading.Lock()
    new._pending = None
    new._set_params({"mean": None, "mean_precision": None, "degrees_of_freedom": None, "scale": None})
    return new


def _spd(name: str, value: Any, d: int) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a matrix of real numbers; got {value!r}") from None
    if a.shape != (d, d):
        raise ParameterError(f"{name} must have shape ({d}, {d}); got {a.shape}")
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} must be finite")
    if not (np.abs(a - a.T) <= 1e-10 * np.abs(a.T)).all():  # np.allclose(a, a.T, rtol=1e-10, atol=0), sooner
        raise ParameterError(f"{name} must be symmetric")
    return 0.5 * (a + a.T)  # positive definiteness: checked by its factorisation
