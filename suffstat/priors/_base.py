"""The conjugate prior as a variational mixture component.

A :class:`ConjugatePrior` holds a prior's hyperparameters (its options) and the
variational posterior over one component's parameters (its parameters, None until a
global step). It plugs into a mixture exactly where a distribution does:

- ``_summarize(X, w)`` is the family's own additive record (the same record EM uses);
- ``_estimate(stats)`` is the VB global step, prior + data record in natural
  parameters (the textbook conjugate update);
- ``_log_probability(X)`` is the expected log-density ``E_q[log p(x | theta)]``, so
  the mixture's E-step with expected log-weights is the VB local step, and
  ``_mixture_estep()`` offers the family's fused kernel with effective parameters;
- ``elbo(stats)`` is this component's share of the evidence lower bound:
  ``E_q[log p(X | theta)] + E_q[log p(theta)] - E_q[log q(theta)]`` for the data
  record ``stats`` under the current posterior, with every constant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..distributions._base import Distribution
from ..exceptions import ParameterError
from ..statistics import Statistic


class ConjugatePrior(Distribution):
    """Base class of the conjugate priors of :class:`~suffstat.BayesianMixture`.

    Subclasses implement the family record (``_summarize``), the posterior update
    (``_estimate``), the expected log-density (``_log_probability``), the ELBO term
    (:meth:`elbo`), the prior as parameters (:meth:`prior_params`) and the point
    estimate of the component's parameters (:meth:`point_estimate`).

    Parameters
    ----------
    frozen : bool, default=False
        If True, global steps leave the posterior unchanged.
    """

    _option_names = ("frozen",)

    def __init__(self, *, frozen: bool = False) -> None:
        super().__init__(frozen=frozen)

    # -- what a subclass provides ---------------------------------------------------------
    def prior_params(self) -> dict[str, Any]:
        """Return the prior's hyperparameters in the form of the posterior's parameters.

        Returns
        -------
        dict
            The parameters of the posterior that no data gives.
        """
        raise NotImplementedError

    def elbo(self, stats: Statistic) -> float:
        """Return this component's ELBO term for a data record under the current posterior.

        Parameters
        ----------
        stats : Statistic
            The record of the rows the component explains (responsibility-weighted).

        Returns
        -------
        float
            ``E_q[log p(X | theta)] + E_q[log p(theta)] - E_q[log q(theta)]``.
        """
        raise NotImplementedError

    def implied_statistics(self) -> Statistic:
        """Return the data record whose global step gives the current posterior.

        Returns
        -------
        Statistic
            The record (the conjugate update inverted).
        """
        raise NotImplementedError

    def point_estimate(self) -> dict[str, Any]:
        """Return the posterior's point estimate of the component's parameters.

        Returns
        -------
        dict
            For example ``{"mean": ..., "cov": ...}`` for a Gaussian.
        """
        raise NotImplementedError

    # -- shared behaviour -----------------------------------------------------------------
    def _batch_step(self, n: np.ndarray, shift: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[dict, dict]:
        """The batched global step of k records sharing this prior: ``_batch_posterior`` then ``_batch_factors``.

        For the priors with batched steps (the Gaussian ones); a prior may make both
        at once.
        """
        post = self._batch_posterior(n, shift, s1, s2)  # type: ignore[attr-defined]
        return post, self._batch_factors(post)  # type: ignore[attr-defined]

    def _fresh_copy(self) -> ConjugatePrior:
        """The same prior without a posterior (nested priors' posteriors cleared too)."""
        d = self.to_dict()
        return type(self).from_dict(_clear(d))

    def _effective_inertia(self, inertia: float | None, inherited: float) -> float:
        eff = super()._effective_inertia(inertia, inherited)
        if eff > 0:
            raise ParameterError(
                f"{type(self).__name__} does not blend posteriors by inertia: stochastic VB "
                "blends the statistics instead (algorithm='stochastic' with a step rule)"
            )
        return 0.0

    def _propose(self, stats: Statistic, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        if not isinstance(stats, self._stats_type):
            raise TypeError(
                f"{type(self).__name__} needs {self._stats_type.__name__} statistics; "
                f"got {type(stats).__name__}"
            )
        self._effective_inertia(inertia, inherited)
        if self.frozen:
            return None
        # No data is a valid record for a posterior: it is then the prior.
        return self._validated_estimate(self._estimate(stats))

    def _validated_estimate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate a posterior that :meth:`_estimate` computed (well-formed by construction)."""
        return self._check_params(params)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._family(**self.point_estimate())._sample(n, rng)

    def _family(self, **params: Any) -> Distribution:
        """The family's distribution with given parameters (for sampling)."""
        raise NotImplementedError

    def _n_parameters(self) -> int:
        return int(sum(np.size(v) for v in self.point_estimate().values()))


def _clear(d: dict[str, Any]) -> dict[str, Any]:
    """A prior's dict with its posterior (and nested priors' posteriors) cleared."""
    nested = d["params"].get("distributions")
    if isinstance(nested, list):
        return {**d, "params": {**d["params"], "distributions": [_clear(c) for c in nested]}}
    return {**d, "params": {k: None for k in d["params"]}}
