r"""Conjugate prior of a rate: Gamma, for Poisson counts and Exponential waiting times.

With shape :math:`a` and rate :math:`b`, :math:`E[\lambda] = a / b` and
:math:`E[\log\lambda] = \psi(a) - \log b`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from .._validation import check_scalar
from ..distributions.discrete import Poisson
from ..distributions.exponential import Exponential
from ..exceptions import ParameterError
from ..statistics import CountStats, PoissonStats
from ._base import ConjugatePrior

LIKELIHOODS = ("poisson", "exponential")


def _positive(name: str, value: Any) -> float:
    return check_scalar(name, value, low=0.0, low_open=True)


class Gamma(ConjugatePrior):
    r"""Gamma prior of the rate of a Poisson or an Exponential component.

    .. math:: \lambda \sim \mathrm{Gamma}(a_0, b_0)\ \text{(shape, rate)},\qquad
              x \mid \lambda \sim \mathrm{Poisson}(\lambda)\ \text{or}\ \mathrm{Exponential}(\lambda)

    Given a record :math:`N = \sum w`, :math:`S = \sum w x` the posterior is
    :math:`\mathrm{Gamma}(a_0 + S, b_0 + N)` for Poisson counts and
    :math:`\mathrm{Gamma}(a_0 + N, b_0 + S)` for Exponential data. The expected
    log-densities are

    .. math:: E[\log p(x \mid \lambda)] = x E[\log\lambda] - E[\lambda] - \log x!
              \quad\text{(Poisson)},\qquad E[\log\lambda] - x E[\lambda]\quad\text{(Exponential)}

    and the ELBO term of a record, with :math:`(s_a, s_b) = (S, N)` (Poisson) or
    :math:`(N, S)` (Exponential), is

    .. math:: a_0 \log b_0 - \log\Gamma(a_0) - a \log b + \log\Gamma(a)
              + (s_a + a_0 - a) E[\log\lambda] - (s_b + b_0 - b) E[\lambda]
              - \textstyle\sum w \log x!

    (the last term for Poisson counts only). The linear terms are the slack that
    vanishes right after a global step. The Poisson's constant
    :math:`\sum w \log x!` is a field of its record,
    :class:`~suffstat.PoissonStats` (the Poisson's own ``CountStats`` plus
    ``logfactw_sum``), so the ELBO keeps every constant. A global step also takes
    ``ss.Poisson``'s ``CountStats`` (an EM mixture of Poissons can start a VB run),
    :meth:`elbo` only the full record.

    Parameters
    ----------
    shape_prior : float, default=1.0
        :math:`a_0 > 0`.
    rate_prior : float, default=1.0
        :math:`b_0 > 0` (the prior mean of the rate is ``shape_prior / rate_prior``).
    likelihood : {'poisson', 'exponential'}, default='poisson'
        The family of the component.
    shape, rate : float, optional
        The posterior :math:`\mathrm{Gamma}(a, b)` (None until a global step).
    frozen : bool, default=False
        If True, global steps leave the posterior unchanged.

    See Also
    --------
    suffstat.Poisson, suffstat.Exponential : The families.

    Examples
    --------
    >>> import suffstat as ss
    >>> prior = ss.priors.Gamma(2.0, 1.0)
    >>> post = prior.from_summaries(prior.summarize([0, 1, 2, 5], accumulate=False))
    >>> post.shape, post.rate
    (10.0, 5.0)
    >>> wait = ss.priors.Gamma(1.0, 1.0, likelihood="exponential")
    >>> wait.from_summaries(wait.summarize([0.5, 1.5], accumulate=False)).point_estimate()
    {'rate': 1.0}
    """

    _registry_name = "priors.Gamma"
    _param_names = ("shape", "rate")
    _option_names = ("shape_prior", "rate_prior", "likelihood", "frozen")

    def __init__(self, shape_prior: float = 1.0, rate_prior: float = 1.0, *,
                 likelihood: str = "poisson", shape: Any = None, rate: Any = None,
                 frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        if likelihood not in LIKELIHOODS:
            raise ParameterError(f"likelihood must be one of {LIKELIHOODS}; got {likelihood!r}")
        self.likelihood = likelihood
        self._poisson = likelihood == "poisson"
        self._stats_type = PoissonStats if self._poisson else CountStats
        self._dist = Poisson() if self._poisson else Exponential()
        self.shape_prior = _positive("shape_prior", shape_prior)
        self.rate_prior = _positive("rate_prior", rate_prior)
        self._set_params(self._check_params({"shape": shape, "rate": rate}))

    def prior_params(self) -> dict[str, Any]:
        """Return the prior as posterior parameters (the posterior of no data).

        Returns
        -------
        dict
            ``shape`` and ``rate``.
        """
        return {"shape": self.shape_prior, "rate": self.rate_prior}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        a, b = params.get("shape"), params.get("rate")
        if a is None and b is None:
            return {"shape": None, "rate": None}
        if a is None or b is None:
            raise ParameterError("the posterior needs both shape and rate")
        return {"shape": _positive("shape", a), "rate": _positive("rate", b)}

    def _set_params(self, params: dict[str, Any]) -> None:
        self.shape, self.rate = params["shape"], params["rate"]
        if self.shape is not None:
            self._E_lam = self.shape / self.rate
            self._E_log_lam = float(digamma(self.shape)) - math.log(self.rate)

    # -- the record and the global step ----------------------------------------------------
    def _check_support(self, X: np.ndarray) -> None:
        self._dist._check_support(X)

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CountStats | PoissonStats:
        counts = self._dist._summarize(X, w)
        if not self._poisson:
            return counts
        with np.errstate(invalid="ignore"):  # rows outside the support are refused before
            logfact = float(np.dot(w, gammaln(X + 1.0))) if X.shape[0] else 0.0
        return PoissonStats(w_sum=counts.w_sum, xw_sum=counts.xw_sum, logfactw_sum=logfact)

    def _linear(self, stats: Any) -> tuple[float, float]:
        """The record's sums that add to the shape and to the rate."""
        n, s = float(stats.w_sum), float(stats.xw_sum)
        return (s, n) if self._poisson else (n, s)

    def _propose(self, stats: Any, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        if self._poisson and type(stats) is CountStats:
            # ss.Poisson's own record (an EM mixture's local step starting a VB run): the
            # global step needs only its sums; only the ELBO needs the log x! field.
            stats = PoissonStats(w_sum=stats.w_sum, xw_sum=stats.xw_sum, logfactw_sum=0.0)
        return super()._propose(stats, inertia=inertia, inherited=inherited)

    def _estimate(self, stats: Any) -> dict[str, Any]:
        if not float(stats.w_sum) > 0:
            return self.prior_params()
        s_a, s_b = self._linear(stats)
        return {"shape": self.shape_prior + s_a, "rate": self.rate_prior + s_b}

    def implied_statistics(self) -> CountStats | PoissonStats:
        """Return the data record whose global step gives the current posterior.

        ``shape - shape_0`` and ``rate - rate_0`` (each at least 0) are the record's
        sums: exact for posteriors a global step made. A Poisson record's
        ``logfactw_sum`` is 0 (it does not enter the global step).

        Returns
        -------
        PoissonStats or CountStats
            The record.
        """
        self._require_fitted()
        s_a = max(self.shape - self.shape_prior, 0.0)
        s_b = max(self.rate - self.rate_prior, 0.0)
        if self._poisson:
            return PoissonStats(w_sum=s_b, xw_sum=s_a, logfactw_sum=0.0)
        return CountStats(w_sum=s_a, xw_sum=s_b)

    # -- the local step --------------------------------------------------------------------
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        self._require_fitted()
        if self._poisson:
            ok = (X >= 0.0) & (X == np.floor(X))
            with np.errstate(invalid="ignore"):
                out = X * self._E_log_lam - self._E_lam - gammaln(X + 1.0)
        else:
            ok = X >= 0.0
            out = self._E_log_lam - self._E_lam * X
        out[~ok] = -np.inf
        return out

    # -- the objective -----------------------------------------------------------------------
    def elbo(self, stats: Any) -> float:
        """Return the component's ELBO term for ``stats`` under the current posterior.

        Parameters
        ----------
        stats : PoissonStats or CountStats
            The component's record (``PoissonStats`` for ``likelihood='poisson'``).

        Returns
        -------
        float
            ``E_q[log p(X | lambda)] + E_q[log p(lambda)] - E_q[log q(lambda)]``.
        """
        self._require_fitted()
        if not isinstance(stats, self._stats_type):
            raise TypeError(f"Gamma(likelihood={self.likelihood!r}) needs {self._stats_type.__name__} "
                            f"statistics; got {type(stats).__name__}")
        s_a, s_b = self._linear(stats)
        a0, b0, a, b = self.shape_prior, self.rate_prior, self.shape, self.rate
        value = (a0 * math.log(b0) - float(gammaln(a0)) - a * math.log(b) + float(gammaln(a))
                 + (s_a + a0 - a) * self._E_log_lam - (s_b + b0 - b) * self._E_lam)
        if self._poisson:
            value -= float(stats.logfactw_sum)
        return float(value)

    def point_estimate(self) -> dict[str, Any]:
        """Return the posterior mean of the rate.

        Returns
        -------
        dict
            ``{"rate": shape / rate}``.
        """
        self._require_fitted()
        return {"rate": self.shape / self.rate}

    def _family(self, **params: Any) -> Poisson | Exponential:
        return Poisson(params["rate"]) if self._poisson else Exponential(params["rate"])
