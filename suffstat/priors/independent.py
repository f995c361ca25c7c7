r"""One conjugate prior per column: the variational counterpart of ``ss.IndependentComponents``."""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np

from ..distributions._base import Distribution
from ..distributions.independent import IndependentComponents
from ..exceptions import ParameterError
from ..statistics import IndependentStats
from ._base import ConjugatePrior


class Independent(ConjugatePrior):
    r"""Independent univariate conjugate priors, one per column of the data.

    .. math:: p(x \mid \theta) = \prod_j p_j(x_j \mid \theta_j),\qquad
              q(\theta) = \prod_j q_j(\theta_j)

    so the record is the tuple of the columns' records
    (:class:`~suffstat.IndependentStats`, as for
    :class:`~suffstat.IndependentComponents`), the global step is each column's
    conjugate update, the expected log-density is the sum of the columns' and the
    ELBO term is the sum of the columns' terms.

    Parameters
    ----------
    distributions : sequence of ConjugatePrior
        One univariate prior per column (used, not copied): :class:`Beta`,
        :class:`Dirichlet`, :class:`Gamma` or a univariate :class:`NormalGamma`.
        Their posteriors are this prior's posterior.
    frozen : bool, default=False
        If True, global steps leave every column's posterior unchanged.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.random(100) < 0.8, rng.poisson(3.0, 100)]).astype(float)
    >>> prior = ss.priors.Independent([ss.priors.Beta(), ss.priors.Gamma()])
    >>> post = prior.from_summaries(prior.summarize(X, accumulate=False))
    >>> bool(post.distributions[0].alpha == 1 + X[:, 0].sum()), post.distributions[1].rate
    (True, 101.0)

    A mixture of 0/1 vectors (two clusters of 300 and 200 rows):

    >>> z = np.repeat([0, 1], [300, 200])
    >>> B = (rng.random((500, 6)) < np.where(z[:, None] == 0, 0.9, 0.2)).astype(float)
    >>> model = ss.BayesianMixture(
    ...     [ss.priors.Independent([ss.priors.Beta() for _ in range(6)]) for _ in range(2)],
    ...     weight_concentration_prior_type="dirichlet_distribution").fit(B, random_state=0)
    >>> np.round(np.sort(model.weights), 2).tolist()
    [0.4, 0.6]
    """

    _registry_name = "priors.Independent"
    _param_names = ("distributions",)
    _ndim = 2
    _stats_type = IndependentStats

    def __init__(self, distributions: Any, *, frozen: bool = False) -> None:
        super().__init__(frozen=frozen)
        priors = distributions if isinstance(distributions, list) else list(distributions)
        if not priors:
            raise ParameterError("distributions must hold at least one prior")
        for j, d in enumerate(priors):
            if not isinstance(d, ConjugatePrior) or d._ndim != 1:
                raise ParameterError(
                    f"distributions[{j}] must be a univariate ConjugatePrior (ss.priors.*); got {d!r}")
        self.distributions = priors

    def __copy__(self) -> Independent:
        # The columns are copied too: a copy given other parameters (the mixture
        # scores a proposal on a copy) must not change this prior's columns.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.distributions = [copy.copy(d) for d in self.distributions]
        new._lock = threading.Lock()
        new._pending = None
        return new

    @property
    def priors(self) -> list[ConjugatePrior]:
        """The columns' priors (``distributions``)."""
        return self.distributions

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return len(self.distributions)

    @property
    def _fitted(self) -> bool:
        return all(d._fitted for d in self.distributions)

    def _require_fitted(self) -> None:
        for d in self.distributions:
            d._require_fitted()

    def _get_params(self) -> dict[str, Any]:
        return {"distributions": [d._get_params() for d in self.distributions]}

    def prior_params(self) -> dict[str, Any]:
        """Return the prior as posterior parameters (the posterior of no data).

        Returns
        -------
        dict
            ``{"distributions": [each column's prior_params()]}``.
        """
        return {"distributions": [d.prior_params() for d in self.distributions]}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        children = params.get("distributions")
        if children is None:
            return {"distributions": [None] * self.n_features}
        if not isinstance(children, (list, tuple)) or len(children) != self.n_features:
            raise ParameterError(f"the posterior needs one entry per column ({self.n_features})")
        out = []
        for j, (d, p) in enumerate(zip(self.distributions, children, strict=True)):
            try:
                out.append(None if p is None else d._check_params(p))
            except ParameterError as e:
                raise ParameterError(f"column {j} ({type(d).__name__}): {e}") from None
        return {"distributions": out}

    def _set_params(self, params: dict[str, Any]) -> None:
        for d, p in zip(self.distributions, params["distributions"], strict=True):
            if p is not None:
                d._set_params(p)

    # -- the record and the global step ----------------------------------------------------
    def _columns(self) -> IndependentComponents:
        return IndependentComponents(self.distributions)

    def _check_support(self, X: np.ndarray) -> None:
        self._columns()._check_support(X)

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> IndependentStats:
        return self._columns()._summarize(X, w)

    def _parts(self, stats: IndependentStats) -> tuple:
        if not isinstance(stats, IndependentStats) or len(stats.parts) != self.n_features:
            raise TypeError(f"Independent needs IndependentStats with {self.n_features} parts")
        return stats.parts

    def _propose(self, stats: IndependentStats, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        parts = self._parts(stats)
        self._effective_inertia(inertia, inherited)
        if self.frozen:
            return None
        children = []
        for j, (d, part) in enumerate(zip(self.distributions, parts, strict=True)):
            try:
                p = d._propose(part)
            except ParameterError as e:
                raise ParameterError(f"column {j} ({type(d).__name__}): {e}") from None
            children.append(d._check_params(d._get_params()) if p is None else p)
        return {"distributions": children}

    def _estimate(self, stats: IndependentStats) -> dict[str, Any]:
        parts = self._parts(stats)
        return {"distributions": [d._estimate(p) for d, p in zip(self.distributions, parts, strict=True)]}

    def implied_statistics(self) -> IndependentStats:
        """Return the data record whose global step gives the current posterior.

        Returns
        -------
        IndependentStats
            Each column's implied record.
        """
        return IndependentStats(parts=[d.implied_statistics() for d in self.distributions])

    # -- the local step --------------------------------------------------------------------
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        self._require_fitted()
        out = np.zeros(X.shape[0])
        for j, d in enumerate(self.distributions):
            out += d._log_probability(np.ascontiguousarray(X[:, j]))
        return out

    # -- the objective -----------------------------------------------------------------------
    def elbo(self, stats: IndependentStats) -> float:
        """Return the sum of the columns' ELBO terms for ``stats`` under the current posterior.

        Parameters
        ----------
        stats : IndependentStats
            One record per column.

        Returns
        -------
        float
            ``sum_j E_q[log p(X_j | theta_j)] + E_q[log p(theta_j)] - E_q[log q(theta_j)]``.
        """
        parts = self._parts(stats)
        return float(sum(d.elbo(p) for d, p in zip(self.distributions, parts, strict=True)))

    def point_estimate(self) -> dict[str, Any]:
        """Return each column's point estimate.

        Returns
        -------
        dict
            ``{"distributions": [each column's point_estimate()]}``.
        """
        return {"distributions": [d.point_estimate() for d in self.distributions]}

    def _family(self, **params: Any) -> IndependentComponents:
        return IndependentComponents([d._family(**p) for d, p in
                                      zip(self.distributions, params["distributions"], strict=True)])

    def _n_parameters(self) -> int:
        return int(sum(d._n_parameters() for d in self.distributions))

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the prior as a dict, each column's prior as a nested dict.

        Returns
        -------
        dict
            ``{"class": "priors.Independent", "params": {"distributions": [...]}, ...}``.
        """
        return self._dict_with({"distributions": [d.to_dict() for d in self.distributions]})

    @classmethod
    def _from_parts(cls, params: dict[str, Any], options: dict[str, Any]) -> Independent:
        return cls([Distribution.from_dict(d) for d in params["distributions"]], **options)

    def __repr__(self) -> str:
        return f"Independent([{', '.join(map(repr, self.distributions))}])"
