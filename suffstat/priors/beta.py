r"""Conjugate priors of Bernoulli and Categorical components: Beta and Dirichlet.

Both are pseudo-count priors: the posterior given a record of weighted counts is
the prior's parameters plus the counts, and the expected log-probabilities are
digamma differences,

.. math:: E[\log p_k] = \psi(\alpha_k) - \psi(\textstyle\sum_j \alpha_j).

The ELBO term of a record under a posterior :math:`\alpha` (prior :math:`\alpha_0`,
counts :math:`c`) is

.. math:: \log B(\alpha) - \log B(\alpha_0) + \textstyle\sum_k (c_k + \alpha_{0k} - \alpha_k)\, E[\log p_k]

with :math:`B` the multivariate Beta function: the last sum is the "slack" that
vanishes right after a global step (:math:`\alpha = \alpha_0 + c`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .._validation import check_count, check_scalar, check_vector
from ..distributions.discrete import Bernoulli, Categorical
from ..exceptions import ParameterError
from ..statistics import CategoricalStats, CountStats
from ._base import ConjugatePrior


def _positive(name: str, value: Any) -> float:
    return check_scalar(name, value, low=0.0, low_open=True)


class Beta(ConjugatePrior):
    r"""Beta prior of a Bernoulli component (0/1 data).

    .. math:: p \sim \mathrm{Beta}(\alpha_0, \beta_0),\qquad x \mid p \sim \mathrm{Bernoulli}(p)

    Given a record :math:`(N, S) = (\sum w, \sum w x)` the posterior is
    :math:`\mathrm{Beta}(\alpha_0 + S, \beta_0 + N - S)`, with
    :math:`E[\log p] = \psi(\alpha) - \psi(\alpha + \beta)` and
    :math:`E[\log(1 - p)] = \psi(\beta) - \psi(\alpha + \beta)`; the expected
    log-mass is :math:`x E[\log p] + (1 - x) E[\log(1 - p)]`. The ELBO term is

    .. math:: \log B(\alpha, \beta) - \log B(\alpha_0, \beta_0)
              + (S + \alpha_0 - \alpha) E[\log p] + (N - S + \beta_0 - \beta) E[\log(1 - p)].

    Parameters
    ----------
    alpha_prior : float, default=1.0
        :math:`\alpha_0 > 0`, the prior's pseudo-count of ones.
    beta_prior : float, default=1.0
        :math:`\beta_0 > 0`, the prior's pseudo-count of zeros.
    alpha, beta : float, optional
        The posterior :math:`\mathrm{Beta}(\alpha, \beta)` (None until a global step).
    frozen : bool, default=False
        If True, global steps leave the posterior unchanged.

    See Also
    --------
    suffstat.Bernoulli : The family; its record (:class:`~suffstat.CountStats`) is this prior's.
    Independent : One prior per column (for 0/1 vectors).

    Examples
    --------
    >>> import suffstat as ss
    >>> prior = ss.priors.Beta(1.0, 1.0)
    >>> post = prior.from_summaries(prior.summarize([0, 1, 1, 1], accumulate=False))
    >>> post.alpha, post.beta
    (4.0, 2.0)
    >>> post.point_estimate()
    {'p': 0.6666666666666666}
    """

    _registry_name = "priors.Beta"
    _param_names = ("alpha", "beta")
    _option_names = ("alpha_prior", "beta_prior", "frozen")
    _stats_type = CountStats

    def __init__(self, alpha_prior: float = 1.0, beta_prior: float = 1.0, *, alpha: Any = None,
                 beta: Any = None, frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        self.alpha_prior = _positive("alpha_prior", alpha_prior)
        self.beta_prior = _positive("beta_prior", beta_prior)
        self._dist = Bernoulli()
        self._set_params(self._check_params({"alpha": alpha, "beta": beta}))

    def prior_params(self) -> dict[str, Any]:
        """Return the prior as posterior parameters (the posterior of no data).

        Returns
        -------
        dict
            ``alpha`` and ``beta``.
        """
        return {"alpha": self.alpha_prior, "beta": self.beta_prior}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        a, b = params.get("alpha"), params.get("beta")
        if a is None and b is None:
            return {"alpha": None, "beta": None}
        if a is None or b is None:
            raise ParameterError("the posterior needs both alpha and beta")
        return {"alpha": _positive("alpha", a), "beta": _positive("beta", b)}

    def _set_params(self, params: dict[str, Any]) -> None:
        self.alpha, self.beta = params["alpha"], params["beta"]
        if self.alpha is not None:
            dsum = float(digamma(self.alpha + self.beta))
            self._E_log_p = float(digamma(self.alpha)) - dsum
            self._E_log_1mp = float(digamma(self.beta)) - dsum

    # -- the record and the global step ----------------------------------------------------
    def _check_support(self, X: np.ndarray) -> None:
        self._dist._check_support(X)

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CountStats:
        return self._dist._summarize(X, w)

    def _estimate(self, stats: CountStats) -> dict[str, Any]:
        n, s = float(stats.w_sum), float(stats.xw_sum)
        if not n > 0:
            return self.prior_params()
        return {"alpha": self.alpha_prior + s, "beta": self.beta_prior + (n - s)}

    def implied_statistics(self) -> CountStats:
        """Return the data record whose global step gives the current posterior.

        ``S = alpha - alpha_0`` and ``N - S = beta - beta_0`` (each at least 0):
        exact for posteriors a global step made.

        Returns
        -------
        CountStats
            The record.
        """
        self._require_fitted()
        ones = max(self.alpha - self.alpha_prior, 0.0)
        zeros = max(self.beta - self.beta_prior, 0.0)
        return CountStats(w_sum=ones + zeros, xw_sum=ones)

    # -- the local step --------------------------------------------------------------------
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        self._require_fitted()
        return np.where(X == 1.0, self._E_log_p, np.where(X == 0.0, self._E_log_1mp, -np.inf))

    # -- the objective -----------------------------------------------------------------------
    def elbo(self, stats: CountStats) -> float:
        """Return the component's ELBO term for ``stats`` under the current posterior.

        Parameters
        ----------
        stats : CountStats
            The component's record ``(sum w, sum w x)``.

        Returns
        -------
        float
            ``E_q[log p(X | p)] + E_q[log p(p)] - E_q[log q(p)]``.
        """
        self._require_fitted()
        n, s = float(stats.w_sum), float(stats.xw_sum)
        a0, b0, a, b = self.alpha_prior, self.beta_prior, self.alpha, self.beta
        return float(betaln(a, b) - betaln(a0, b0) + (s + a0 - a) * self._E_log_p
                     + (n - s + b0 - b) * self._E_log_1mp)

    def point_estimate(self) -> dict[str, Any]:
        """Return the posterior mean of the probability of a 1.

        Returns
        -------
        dict
            ``{"p": alpha / (alpha + beta)}``.
        """
        self._require_fitted()
        return {"p": self.alpha / (self.alpha + self.beta)}

    def _family(self, **params: Any) -> Bernoulli:
        return Bernoulli(params["p"])


class Dirichlet(ConjugatePrior):
    r"""Dirichlet prior of a Categorical component (integer codes ``0..K-1``).

    .. math:: p \sim \mathrm{Dirichlet}(\alpha_0),\qquad x \mid p \sim \mathrm{Categorical}(p)

    Given the weighted counts :math:`c_k` of each code the posterior is
    :math:`\mathrm{Dirichlet}(\alpha_0 + c)`, with
    :math:`E[\log p_k] = \psi(\alpha_k) - \psi(\sum_j \alpha_j)`, which is the
    expected log-mass of code ``k``. The ELBO term is

    .. math:: \log\Gamma(\textstyle\sum\alpha_0) - \sum_k \log\Gamma(\alpha_{0k})
              - \log\Gamma(\textstyle\sum\alpha) + \sum_k \log\Gamma(\alpha_k)
              + \sum_k (c_k + \alpha_{0k} - \alpha_k) E[\log p_k].

    Parameters
    ----------
    alpha_prior : float or array-like of shape (K,), default=1.0
        :math:`\alpha_0` (positive): one pseudo-count per code, or one for all codes
        (then ``n_categories`` is required).
    n_categories : int, optional
        K, when ``alpha_prior`` is a scalar and no posterior ``alpha`` is given (else
        the length of either, which it must equal).
    alpha : array-like of shape (K,), optional
        The posterior (None until a global step).
    frozen : bool, default=False
        If True, global steps leave the posterior unchanged.

    See Also
    --------
    suffstat.Categorical : The family; its record (:class:`~suffstat.CategoricalStats`) is this prior's.

    Examples
    --------
    >>> import suffstat as ss
    >>> prior = ss.priors.Dirichlet(0.5, n_categories=3)
    >>> post = prior.from_summaries(prior.summarize([0, 2, 2, 1], accumulate=False))
    >>> post.alpha.tolist()
    [1.5, 1.5, 2.5]
    >>> post.point_estimate()["probs"].round(3).tolist()
    [0.273, 0.273, 0.455]
    """

    _registry_name = "priors.Dirichlet"
    _param_names = ("alpha",)
    _option_names = ("alpha_prior", "n_categories", "frozen")
    _stats_type = CategoricalStats

    def __init__(self, alpha_prior: Any = 1.0, *, n_categories: int | None = None, alpha: Any = None,
                 frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        if np.ndim(alpha_prior) == 0:
            if n_categories is None and alpha is not None:
                n_categories = np.size(alpha)
            if n_categories is None:
                raise ParameterError("n_categories is required when alpha_prior is a scalar")
            k = check_count("n_categories", n_categories, minimum=1)
            a0 = np.full(k, _positive("alpha_prior", alpha_prior))
        else:
            a0 = check_vector("alpha_prior", alpha_prior, low=0.0, low_open=True)
            k = a0.shape[0]
            if n_categories is not None and check_count("n_categories", n_categories, minimum=1) != k:
                raise ParameterError(f"alpha_prior has {k} entries but n_categories is {n_categories}")
        self.alpha_prior = a0
        self.n_categories = k
        self._dist = Categorical(n_categories=k)
        self._set_params(self._check_params({"alpha": alpha}))

    def prior_params(self) -> dict[str, Any]:
        """Return the prior as posterior parameters (the posterior of no data).

        Returns
        -------
        dict
            ``alpha``.
        """
        return {"alpha": self.alpha_prior.copy()}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        a = params.get("alpha")
        if a is None:
            return {"alpha": None}
        return {"alpha": check_vector("alpha", a, length=self.n_categories, low=0.0, low_open=True)}

    def _set_params(self, params: dict[str, Any]) -> None:
        self.alpha = params["alpha"]
        if self.alpha is not None:
            self._E_log_p = digamma(self.alpha) - float(digamma(self.alpha.sum()))

    # -- the record and the global step ----------------------------------------------------
    def _check_support(self, X: np.ndarray) -> None:
        self._dist._check_support(X)

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CategoricalStats:
        return self._dist._summarize(X, w)

    def _counts(self, stats: CategoricalStats) -> np.ndarray:
        counts = np.asarray(stats.counts, dtype=np.float64)
        k = self.n_categories
        if counts.shape[0] > k:
            raise ValueError(f"the statistics have {counts.shape[0]} categories; the prior has {k}")
        return np.pad(counts, (0, k - counts.shape[0]))

    def _estimate(self, stats: CategoricalStats) -> dict[str, Any]:
        counts = self._counts(stats)
        if not counts.sum() > 0:
            return self.prior_params()
        return {"alpha": self.alpha_prior + counts}

    def implied_statistics(self) -> CategoricalStats:
        """Return the data record whose global step gives the current posterior.

        ``c = alpha - alpha_0`` (each at least 0): exact for posteriors a global step made.

        Returns
        -------
        CategoricalStats
            The record.
        """
        self._require_fitted()
        return CategoricalStats(counts=np.maximum(self.alpha - self.alpha_prior, 0.0))

    # -- the local step --------------------------------------------------------------------
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        self._require_fitted()
        k = self.n_categories
        out = np.full(X.shape[0], -np.inf)
        ok = (X >= 0) & (X < k) & (X == np.floor(X))
        out[ok] = self._E_log_p[X[ok].astype(np.int64)]
        return out

    # -- the objective -----------------------------------------------------------------------
    def elbo(self, stats: CategoricalStats) -> float:
        """Return the component's ELBO term for ``stats`` under the current posterior.

        Parameters
        ----------
        stats : CategoricalStats
            The component's weighted counts.

        Returns
        -------
        float
            ``E_q[log p(X | p)] + E_q[log p(p)] - E_q[log q(p)]``.
        """
        self._require_fitted()
        counts = self._counts(stats)
        a0, a = self.alpha_prior, self.alpha
        return float(gammaln(a0.sum()) - np.sum(gammaln(a0)) - gammaln(a.sum()) + np.sum(gammaln(a))
                     + np.dot(counts + a0 - a, self._E_log_p))

    def point_estimate(self) -> dict[str, Any]:
        """Return the posterior mean of the probabilities.

        Returns
        -------
        dict
            ``{"probs": alpha / sum(alpha)}``.
        """
        self._require_fitted()
        return {"probs": self.alpha / self.alpha.sum()}

    def _family(self, **params: Any) -> Categorical:
        return Categorical(params["probs"])

    def _n_parameters(self) -> int:
        return self.n_categories - 1  # the probabilities sum to 1
