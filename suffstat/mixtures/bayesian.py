r"""BayesianMixture: a variational Bayesian mixture of conjugate-prior components.

The learner is a :class:`~suffstat.GeneralMixtureModel` whose components are
:class:`~suffstat.priors.ConjugatePrior` objects and whose weights carry a Dirichlet
(finite) or stick-breaking (Dirichlet-process) posterior. Everything VB needs falls
out of the mixture's machinery:

- local step: the mixture's E-step with the expected log-weights
  :math:`E[\log\pi_k]` and each component's expected log-density (the same fused
  kernels as EM, with effective parameters);
- global step: each component's conjugate update prior + record, and the weight
  posterior from the summed responsibilities;
- objective: the full ELBO of a record under the posterior (allocation term +
  responsibility entropy + every component's data term), as bnpy defines it.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from scipy.special import digamma, gammaln

from .._validation import check_count, check_scalar
from ..distributions._base import Distribution
from ..exceptions import ParameterError
from ..kernels.mixture import gmm_diag_estep, gmm_full_estep
from ..priors._base import ConjugatePrior
from ..priors.gaussian import NormalWishart
from ..statistics import GaussianMixtureStats, MixtureStats, MoveStats
from .general import GeneralMixtureModel, _unfitted_component
from .moves import merged, parse_moves, permuted, plan_pairs, with_plan

#: A merge is accepted when the ELBO per data scalar drops by less than this (bnpy's
#: ELBO_GAP_ACCEPT_TOL).
MERGE_ACCEPT_TOL = 1e-6

WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
#: Negative expected counts within this fraction of the total are rounding (memoized
#: subtraction), counted as 0.
COUNT_ROUNDING = 1e-9
#: Default tolerance on the change of the ELBO per row (VB moves weight out of
#: superfluous components slowly: EM's 1e-3 stops it early).
DEFAULT_TOL = 1e-6
#: bnpy's and our names of the variational algorithms, mapped onto the engine's.
VB_ALGORITHMS = {"vb": "em", "VB": "em", "stochastic": "stepwise", "soVB": "stepwise",
                 "memoized": "memoized", "moVB": "memoized", "memoVB": "memoized"}


def expected_log_weights(concentration: np.ndarray, dp: bool) -> np.ndarray:
    r"""Return :math:`E[\log\pi_k]` under a Dirichlet or a stick-breaking posterior.

    Parameters
    ----------
    concentration : ndarray of shape (k,) or (k, 2)
        Dirichlet parameters, or each stick's Beta parameters ``(a_k, b_k)``.
    dp : bool
        Whether ``concentration`` holds sticks.

    Returns
    -------
    ndarray of shape (k,)
        The expected log-weights.
    """
    if not dp:
        return digamma(concentration) - digamma(concentration.sum())
    a, b = concentration[:, 0], concentration[:, 1]
    dsum = digamma(a + b)
    e_log_v, e_log_1mv = digamma(a) - dsum, digamma(b) - dsum
    return e_log_v + np.concatenate(([0.0], np.cumsum(e_log_1mv)[:-1]))


def expected_weights(concentration: np.ndarray, dp: bool) -> np.ndarray:
    """Return the posterior mean weights (scikit-learn's ``weights_``, normalised).

    Parameters
    ----------
    concentration : ndarray of shape (k,) or (k, 2)
        As in :func:`expected_log_weights`.
    dp : bool
        Whether ``concentration`` holds sticks.

    Returns
    -------
    ndarray of shape (k,)
        Non-negative weights summing to 1.
    """
    if not dp:
        return concentration / concentration.sum()
    a, b = concentration[:, 0], concentration[:, 1]
    w = a / (a + b) * np.concatenate(([1.0], np.cumprod(b / (a + b))[:-1]))
    return w / w.sum()


def _same_options(first: ConjugatePrior, others: list[ConjugatePrior]) -> bool:
    names = first._option_names
    return all(d._option_names == names and all(np.array_equal(getattr(d, n), getattr(first, n))
                                                for n in names) for d in others)


def _c_beta(a: Any, b: Any) -> Any:
    return gammaln(a + b) - gammaln(a) - gammaln(b)


class BayesianMixture(GeneralMixtureModel):
    r"""A mixture fitted by variational Bayes: conjugate priors on every component.

    Parameters
    ----------
    priors : sequence of ConjugatePrior
        One prior per component (used, not copied):
        :class:`~suffstat.priors.NormalWishart`, :class:`~suffstat.priors.NormalGamma`,
        :class:`~suffstat.priors.Beta` (Bernoulli), :class:`~suffstat.priors.Dirichlet`
        (Categorical), :class:`~suffstat.priors.Gamma` (Poisson or Exponential) or
        :class:`~suffstat.priors.Independent` (one prior per column). Their posteriors
        are the fitted parameters.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, default='dirichlet_process'
        A stick-breaking (truncated Dirichlet-process) or a Dirichlet prior on the
        weights, as in scikit-learn.
    weight_concentration_prior : float, optional
        The DP's concentration :math:`\gamma_0` (bnpy's ``gamma0``), or the
        Dirichlet's per-component parameter :math:`\alpha_0`; ``1 / k`` when None
        (scikit-learn's default).
    concentration : array-like, optional
        The weight posterior: shape (k,) for a Dirichlet, (k, 2) sticks ``(a_k, b_k)``
        for a DP. Computed by the first global step when None.
    **settings
        Default fit settings, as for :class:`~suffstat.GeneralMixtureModel`
        (``max_iter``, ``tol``, ``batch_size``, ``n_jobs``, ``algorithm``...);
        ``tol`` (on the change of the ELBO per row) defaults to 1e-6.
        ``algorithm`` also takes bnpy's names: ``'vb'`` / ``'VB'`` (full-pass
        VB), ``'stochastic'`` / ``'soVB'``, ``'memoized'`` / ``'moVB'`` /
        ``'memoVB'``.

    Attributes
    ----------
    weights : ndarray of shape (k,)
        Posterior mean weights.
    elbo_ : float
        The evidence lower bound after the last global step, with every constant
        (bnpy's definition).
    history_ : list of dict
        One entry per lap, with ``elbo`` (after the lap's last global step),
        ``loss`` (``-elbo / (N d)``, bnpy's), ``K`` and ``Ndiff`` (the largest
        change of an expected count since the previous lap).

    Notes
    -----
    The ELBO of a record ``S`` (responsibilities ``r``) under the posterior ``q``:

    .. math:: \mathcal L = \underbrace{E_q[\log p(z \mid \pi) + \log p(\pi) - \log q(\pi)]}_{\text{allocation}}
              + H(r) + \sum_k \underbrace{E_q[\log p(X \mid \theta_k) + \log p(\theta_k) - \log q(\theta_k)]}_{\text{data}}

    The allocation term of a Dirichlet prior is
    :math:`c_D(\alpha_0) - c_D(\alpha) + \sum_k (N_k + \alpha_0 - \alpha_k) E[\log\pi_k]`
    with :math:`c_D(a) = \log\Gamma(\sum a) - \sum\log\Gamma(a_k)`; that of the
    stick-breaking prior is
    :math:`\sum_k c_B(1, \gamma_0) - c_B(a_k, b_k) + (N_k + 1 - a_k) E[\log v_k] +
    (N_{>k} + \gamma_0 - b_k) E[\log(1 - v_k)]`.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-4, 1, (300, 2)), rng.normal(4, 1, (300, 2))])
    >>> priors = [ss.priors.NormalWishart(np.zeros(2), np.eye(2), degrees_of_freedom_prior=4.0)
    ...           for _ in range(4)]
    >>> model = ss.BayesianMixture(priors, weight_concentration_prior=0.01)
    >>> model = model.fit(X, init="kmeans++", random_state=0, max_iter=200)
    >>> int(np.sum(model.weights > 0.05))
    2
    """

    objective_name = "elbo"
    _param_names = ("concentration", "distributions")

    def __init__(self, priors: Any, weight_concentration_prior_type: str = "dirichlet_process",
                 weight_concentration_prior: float | None = None, concentration: Any = None,
                 moves: Any = None, merge_start_lap: int = 2, **settings: Any) -> None:
        dists = priors if isinstance(priors, list) else list(priors)
        for j, d in enumerate(dists):
            if not isinstance(d, ConjugatePrior):
                raise ParameterError(f"priors[{j}] must be a ConjugatePrior (ss.priors.*); got {d!r}")
        if weight_concentration_prior_type not in WEIGHT_PRIOR_TYPES:
            raise ParameterError(f"weight_concentration_prior_type must be one of {WEIGHT_PRIOR_TYPES}; "
                                 f"got {weight_concentration_prior_type!r}")
        self.weight_concentration_prior_type = weight_concentration_prior_type
        k = len(dists)
        alpha0 = 1.0 / max(k, 1) if weight_concentration_prior is None else weight_concentration_prior
        self.weight_concentration_prior = check_scalar("weight_concentration_prior", alpha0, low=0.0,
                                                       low_open=True)
        self._given_prior = weight_concentration_prior
        self._concentration_init = concentration
        self.moves = parse_moves(moves)
        if self.moves and weight_concentration_prior_type != "dirichlet_process":
            raise ParameterError("moves need a Dirichlet-process weight prior "
                                 "(weight_concentration_prior_type='dirichlet_process')")
        self.merge_start_lap = check_count("merge_start_lap", merge_start_lap, minimum=0)
        self.component_ids = list(range(k))
        self._lap, self._plan, self.move_log_ = 0, None, []
        self._counts = None
        self._counts_traced = None
        self._entropy = math.nan
        settings.setdefault("tol", DEFAULT_TOL)
        super().__init__(dists, **settings)
        if concentration is not None:
            self._set_params(self._check_params({"concentration": concentration,
                                                 "distributions": [None] * k}))

    @property
    def _dp(self) -> bool:
        return self.weight_concentration_prior_type == "dirichlet_process"

    @property
    def priors(self) -> list[ConjugatePrior]:
        """The components (conjugate priors holding their posteriors)."""
        return self.distributions

    # -- parameters -------------------------------------------------------------------
    def _get_param_value(self, name: str) -> Any:
        if name == "concentration":
            return self._concentration_init
        if name == "weight_concentration_prior":
            return self._given_prior
        return super()._get_param_value(name)

    def _set_param_value(self, name: str, value: Any) -> None:
        if name in ("concentration", "weight_concentration_prior", "weight_concentration_prior_type",
                    "moves", "merge_start_lap"):
            raise ValueError(f"{name} is set by the constructor; build a new BayesianMixture")
        super()._set_param_value(name, value)

    def _get_params(self) -> dict[str, Any]:
        return {"concentration": self.concentration,
                "distributions": [d._get_params() for d in self.distributions]}

    def _prior_concentration(self) -> np.ndarray:
        k, g = self.n_components, self.weight_concentration_prior
        return np.tile([1.0, g], (k, 1)) if self._dp else np.full(k, g)

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if "weights" in params and "concentration" not in params:  # the base constructor's start
            return {"concentration": None, "distributions": [None] * self.n_components}
        conc = params["concentration"]
        k = self.n_components
        if conc is not None:
            shape = (k, 2) if self._dp else (k,)
            try:
                conc = np.array(conc, dtype=np.float64)
            except (TypeError, ValueError):
                raise ParameterError(f"concentration must be an array of numbers; got {conc!r}") from None
            if conc.shape != shape:
                raise ParameterError(f"concentration must have shape {shape}; got {conc.shape}")
            if not (np.isfinite(conc).all() and (conc > 0).all()):
                raise ParameterError("concentration must be finite and positive")
        children = [None if p is None else d._check_params(p)
                    for d, p in zip(self.distributions, params["distributions"], strict=True)]
        out = {"concentration": conc, "distributions": children}
        for key in ("_counts", "_entropy"):
            if key in params:
                out[key] = params[key]
        return out

    def _set_params(self, params: dict[str, Any]) -> None:
        self._stacked_run = None
        for d, p in zip(self.distributions, params["distributions"], strict=True):
            if p is not None:
                d._set_params(p)
        conc = params["concentration"]
        self.concentration = conc
        if conc is None:
            k = self.n_components
            self.weights = np.full(k, 1.0 / k)
            self._log_weights = np.log(self.weights)
        else:
            self.weights = expected_weights(conc, self._dp)
            self._log_weights = expected_log_weights(conc, self._dp)
        if "_counts" in params:
            self._counts, self._entropy = params["_counts"], params["_entropy"]

    @property
    def _fitted(self) -> bool:
        if self.__dict__.get("_stacked_run") is not None:  # a global step made it (cheap, per batch)
            return True
        return self.concentration is not None and all(d._fitted for d in self.distributions)

    def _require_fitted(self) -> None:
        if self.__dict__.get("_stacked_run") is None:
            super()._require_fitted()

    # -- the local step -----------------------------------------------------------------
    def _fused_estep(self) -> Any:
        """The stacked E-step of components sharing a Gaussian prior (else the mixture's)."""
        run = self.__dict__.get("_stacked_run")
        if run is not None:  # built once per global step
            return run, None
        if self._shared_prior() is None or not self._fitted:
            return super()._fused_estep()
        comps = self.distributions
        means = np.ascontiguousarray([c.mean for c in comps], dtype=np.float64)
        log_norms = np.array([c._cache["log_norm"] for c in comps])
        full = isinstance(comps[0], NormalWishart)
        precision = np.ascontiguousarray([c._cache["U"] if full else c._cache["E_lam"] for c in comps])
        kernel = gmm_full_estep if full else gmm_diag_estep

        plan = self._plan

        def run(X: np.ndarray, w: np.ndarray, log_weights: np.ndarray, _arrays: Any) -> Any:
            k, d = means.shape
            resp_sum, s1 = np.zeros(k), np.zeros((k, d))
            s2 = np.zeros((k, d, d) if full else (k, d))
            w_sum, ll, ent, finite = kernel(X, w, log_weights, means, precision, log_norms, resp_sum, s1, s2)
            rec = GaussianMixtureStats(w_sum=w_sum, resp_sum=resp_sum, log_likelihood=ll, entropy=ent,
                                       xw_sum=s1, xxw_sum=s2, shift=means)
            if plan is None or not finite:
                return rec, finite
            comp, pair = self._move_entropies(X, w, plan)
            return MoveStats(**{f: getattr(rec, f) for f in GaussianMixtureStats._fields},
                             comp_entropy=comp, pair_entropy=pair, pairs=plan), finite

        self._stacked_run = run
        return run, None

    def _move_entropies(self, X: np.ndarray, w: np.ndarray, plan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each component's and each planned pair's share of the responsibility entropy."""
        logp = self._component_log_probs(X)
        lse = np.logaddexp.reduce(logp, axis=1) if X.shape[0] else np.zeros(0)
        with np.errstate(invalid="ignore", under="ignore"):
            r = np.exp(logp - lse[:, None])
        r[~np.isfinite(lse)] = 0.0

        def h(q: np.ndarray) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return -np.sum(w[:, None] * np.where(q > 0, q * np.log(q), 0.0), axis=0)

        a, b = plan[:, 0].astype(int), plan[:, 1].astype(int)
        return h(r), (h(r[:, a] + r[:, b]) if len(plan) else np.zeros(0))

    # -- the global step ----------------------------------------------------------------
    def _concentration_for(self, resp_sum: np.ndarray) -> np.ndarray:
        g = self.weight_concentration_prior
        if not self._dp:
            return g + resp_sum
        tail = np.concatenate((np.cumsum(resp_sum[::-1])[::-1][1:], [0.0]))
        return np.column_stack((1.0 + resp_sum, g + tail))

    def _propose(self, stats: MixtureStats, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        if not isinstance(stats, MixtureStats) or np.shape(stats.resp_sum) != (self.n_components,):
            raise TypeError(f"BayesianMixture needs MixtureStats with {self.n_components} parts")
        if inertia:
            raise ParameterError("BayesianMixture does not blend posteriors by inertia: use "
                                 "algorithm='stochastic' with a step rule")
        if self.frozen:
            return None
        resp_sum = np.asarray(stats.resp_sum, dtype=np.float64)
        # memoized VB subtracts a batch's old record: an emptied component keeps rounding
        # dust (-1e-42) that is no data (bnpy clips the counts at 0 too)
        dust = (resp_sum < 0) & (resp_sum >= -COUNT_ROUNDING * max(float(np.sum(np.abs(resp_sum))), 1.0))
        if dust.any():
            resp_sum = np.where(dust, 0.0, resp_sum)
        if not np.all(np.isfinite(resp_sum)) or np.any(resp_sum < 0):
            raise ParameterError(
                f"the statistics give invalid expected counts {resp_sum.tolist()} (they must be "
                "finite and non-negative): they are not the record of any data"
            )
        proposal = {"concentration": self._concentration_for(resp_sum), "_counts": resp_sum,
                    "_entropy": float(stats.entropy)}
        shared = self._shared_prior()
        if shared is not None and not any(d.frozen for d in self.distributions):
            # one batched global step for every component (stochastic VB makes one per batch)
            S = GaussianMixtureStats.from_parts(stats)
            post = shared._batch_posterior(resp_sum, S.shift, S.xw_sum, S.xxw_sum)
            try:
                factors = shared._batch_factors(post)
            except ParameterError as e:
                raise ParameterError(f"the mixture's global step: {e}") from None
            proposal["distributions"] = [shared._component(post, factors, j) for j in range(len(resp_sum))]
            proposal["_batch"] = (post, factors)
            return proposal
        children = []
        for c, (d, part) in enumerate(zip(self.distributions, stats.parts, strict=True)):
            try:
                p = d._propose(part)
            except ParameterError as e:
                raise ParameterError(f"component {c} of the mixture: {e}") from None
            children.append(d._check_params(d._get_params()) if p is None else p)
        # the children are validated by their own _propose
        proposal["distributions"] = children
        return proposal

    def _shared_prior(self) -> ConjugatePrior | None:
        """The Gaussian prior every component shares (so batched steps apply), else None."""
        cached = self.__dict__.get("_shared")
        if cached is not None:
            return cached or None
        first = self.distributions[0]
        shared = first if (
            hasattr(first, "_batch_posterior") and not getattr(first, "univariate", False)
            and all(type(d) is type(first) for d in self.distributions)
            and _same_options(first, self.distributions)) else False
        self._shared = shared
        return shared or None

    # -- the objective ------------------------------------------------------------------
    def _allocation_elbo(self, resp_sum: np.ndarray, conc: np.ndarray) -> float:
        g = self.weight_concentration_prior
        if not self._dp:
            k = len(resp_sum)
            elog = expected_log_weights(conc, False)
            return float(gammaln(k * g) - k * gammaln(g) - gammaln(conc.sum()) + np.sum(gammaln(conc))
                         + np.dot(resp_sum + g - conc, elog))
        a, b = conc[:, 0], conc[:, 1]
        dsum = digamma(a + b)
        tail = np.concatenate((np.cumsum(resp_sum[::-1])[::-1][1:], [0.0]))
        return float(np.sum(_c_beta(1.0, g) - _c_beta(a, b)
                            + (resp_sum + 1.0 - a) * (digamma(a) - dsum)
                            + (tail + g - b) * (digamma(b) - dsum)))

    def _elbo(self, stats: MixtureStats, params: dict[str, Any] | None = None) -> float:
        """The ELBO of ``stats`` (its responsibilities) under ``params`` (default: current)."""
        if params is None:
            self._require_fitted()
            conc, comps = self.concentration, self.distributions
        elif "_batch" in params:
            conc, comps = params["concentration"], []
        else:
            conc, comps = params["concentration"], []
            for d, p in zip(self.distributions, params["distributions"], strict=True):
                tmp = copy.copy(d)
                tmp._set_params(p)
                comps.append(tmp)
        resp_sum = np.asarray(stats.resp_sum, dtype=np.float64)
        value = self._allocation_elbo(resp_sum, conc) + float(stats.entropy)
        shared = self._shared_prior()
        if shared is not None:
            S = GaussianMixtureStats.from_parts(stats)
            post, factors = shared._stacked(self.distributions) if params is None else params["_batch"] \
                if "_batch" in params else shared._stacked(comps)
            return value + float(np.sum(shared._batch_elbo(post, factors, resp_sum, S.shift, S.xw_sum,
                                                           S.xxw_sum)))
        for d, part in zip(comps, stats.parts, strict=True):
            value += d.elbo(part)
        return value

    def _elbo_at_step(self, S: GaussianMixtureStats) -> float:
        """The ELBO of a stacked record at its own global step, for any number of components."""
        shared = self._shared_prior()
        resp = np.maximum(np.asarray(S.resp_sum, dtype=np.float64), 0.0)
        post = shared._batch_posterior(resp, S.shift, S.xw_sum, S.xxw_sum)
        factors = shared._batch_factors(post)
        return (self._allocation_elbo(resp, self._concentration_for(resp)) + float(S.entropy)
                + float(np.sum(shared._batch_elbo(post, factors, resp, S.shift, S.xw_sum, S.xxw_sum))))

    def end_of_pass(self, stats: MixtureStats, stored: list) -> tuple[Any, list] | None:
        """Structure moves of memoized VB at the end of a lap: merges, then shuffle.

        Merges try the pairs planned at the end of the previous lap, ranked by total
        size: merging ``b`` into ``a`` adds their records (every stored record alike,
        so the memoized record stays exact) and costs one ELBO evaluation, since the
        lap's records carry the pair's merged entropy; it is accepted when the ELBO per
        data scalar does not drop by more than ``1e-6`` (bnpy's rule), each component
        in at most one accepted merge per lap. Shuffle orders the components by
        expected count, largest first (the stick-breaking ELBO prefers it). The next
        lap's merge pairs are planned last.

        Parameters
        ----------
        stats : MixtureStats
            The whole-data record (the sum of ``stored``).
        stored : list of MixtureStats
            The per-batch records.

        Returns
        -------
        tuple or None
            The moved record and stored records, or None without moves.
        """
        self._lap += 1
        if not self.moves or not stored or any(r is None for r in stored):
            return None
        if self._shared_prior() is None:
            raise ParameterError("moves need components that share one Gaussian prior "
                                 "(ss.priors.NormalWishart or a multivariate NormalGamma)")
        S = GaussianMixtureStats.from_parts(stats)
        records = [GaussianMixtureStats.from_parts(r) for r in stored]
        ids = list(self.component_ids)
        scale = float(S.w_sum) * (self.n_features or 1)
        entry: dict[str, Any] = {"lap": self._lap}
        if "merge" in self.moves and isinstance(S, MoveStats) and len(S.pairs):
            base, tried, accepted, q = self._elbo_at_step(S), 0, 0, 0
            while q < len(S.pairs):
                a, b = (int(v) for v in S.pairs[q])
                candidate = merged(S, a, b, q)
                value = self._elbo_at_step(candidate)
                tried += 1
                if (value - base) / scale >= -MERGE_ACCEPT_TOL:
                    records = [merged(r, a, b, q) for r in records]
                    S, base = candidate, value
                    ids.pop(b)
                    accepted += 1
                else:
                    q += 1
            entry.update(merge_accepted=accepted, merge_tried=tried)
        if "shuffle" in self.moves:
            order = np.argsort(-np.asarray(S.resp_sum), kind="stable")
            if np.any(order != np.arange(len(order))):
                S, records = permuted(S, order), [permuted(r, order) for r in records]
                ids = [ids[j] for j in order]
                entry["shuffled"] = True
        k = S.resp_sum.shape[0]
        self._plan = None
        if "merge" in self.moves and self._lap + 1 >= self.merge_start_lap and k > 1:
            self._plan = plan_pairs(np.asarray(S.resp_sum))
            S, records = with_plan(S, self._plan), [with_plan(r, self._plan) for r in records]
        elif isinstance(S, MoveStats):
            plain = lambda r: GaussianMixtureStats(**{f: getattr(r, f) for f in GaussianMixtureStats._fields})  # noqa
            S, records = plain(S), [plain(r) for r in records]
        if k != self.n_components:  # merged: the components share one prior, so any k of them do
            self.distributions = self.distributions[:k]
        self.component_ids = ids
        self._stacked_run = None
        self.move_log_.append(entry)
        return S, records

    def objective(self, stats: MixtureStats, *, fresh: bool = True) -> float:
        """Return the ELBO of a record's responsibilities (the learner protocol's objective).

        Parameters
        ----------
        stats : MixtureStats
            The local steps of a lap (``fresh``) or the memoized records.
        fresh : bool, default=True
            True: the ELBO under the current posterior (the engine asks after the
            lap's global steps: for full-pass VB that is bnpy's ELBO after the global
            step; for stochastic VB, bnpy's soVB value, the lap's records under the
            blended posterior). False (memoized records, before the lap's last global
            step): the ELBO under the global step of ``stats``, which that step makes
            (bnpy's memoVB value).

        Returns
        -------
        float
            The evidence lower bound.
        """
        if fresh:
            return self._elbo(stats)
        return self._elbo(stats, self._propose(stats))

    def implied_statistics(self) -> MixtureStats | None:
        """Return the record whose global step gives the current posterior (None if unfitted).

        Stochastic VB blends its first step from it, so a warm-started or seeded
        posterior is kept at weight ``1 - rho_1`` (bnpy's soVB blends the natural
        parameters the same way).

        Returns
        -------
        MixtureStats or None
            Counts from the weight posterior, each component's implied record, and
            the entropy of the last global step's record.
        """
        if not self._fitted:
            return None
        conc = self.concentration
        counts = np.maximum((conc[:, 0] - 1.0) if self._dp else (conc - self.weight_concentration_prior), 0.0)
        parts = [d.implied_statistics() for d in self.distributions]
        entropy = self._entropy if math.isfinite(self._entropy) else 0.0
        implied = MixtureStats(w_sum=float(counts.sum()), resp_sum=counts, log_likelihood=0.0,
                               entropy=entropy, parts=parts)
        # the same record type as the local step's, so the two blend
        return GaussianMixtureStats.from_parts(implied) if self._shared_prior() is not None else implied

    def _free_energy(self, stats: MixtureStats) -> float:
        return self._elbo(stats)

    def trace_values(self) -> dict[str, Any]:
        """Return the lap's trace columns: ``K`` and ``Ndiff``.

        ``Ndiff`` is the largest change of an expected count since the previous lap
        (bnpy's; the count of a component's record at the lap's last global step).

        Returns
        -------
        dict
            The columns.
        """
        counts = self._counts
        if counts is None:
            ndiff = math.nan
        elif self._counts_traced is None or len(self._counts_traced) != len(counts):
            ndiff = float(np.max(counts)) if len(counts) else 0.0
        else:
            ndiff = float(np.max(np.abs(counts - self._counts_traced)))
        self._counts_traced = None if counts is None else counts.copy()
        out = {"K": self.n_active, "Ndiff": ndiff}
        last = self.move_log_[-1] if self.move_log_ else None
        if last is not None and last["lap"] == self._lap and "merge_tried" in last:
            out.update(merge_accepted=last["merge_accepted"], merge_tried=last["merge_tried"])
        return out

    @property
    def n_active(self) -> int:
        """Number of components with expected count above 1e-8 (all before a fit)."""
        if self._counts is None:
            return self.n_components
        return int(np.count_nonzero(self._counts > 1e-8))

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, **settings: Any):
        """Fit the posterior by variational Bayes, streaming ``X`` in batches.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data (see :meth:`GeneralMixtureModel.fit`).
        y : ignored
            Accepted for scikit-learn compatibility.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.
        **settings
            As for :meth:`GeneralMixtureModel.fit`; ``algorithm`` also takes
            ``'vb'``, ``'stochastic'`` and bnpy's ``'VB'``, ``'soVB'``, ``'moVB'``,
            ``'memoVB'``.

        Returns
        -------
        self
            The fitted mixture, with ``elbo_``.
        """
        algorithm = settings.get("algorithm", self.algorithm)
        if algorithm in VB_ALGORITHMS:
            settings["algorithm"] = VB_ALGORITHMS[algorithm]
        if self.moves and settings.get("algorithm", self.algorithm) != "memoized":
            raise ParameterError("moves run in memoized VB: use algorithm='memoized'")
        self._lap, self._plan, self.move_log_ = 0, None, []  # a resumed fit restores them
        return super().fit(X, y, sample_weight, **settings)

    def _record_fit(self, result: Any) -> None:
        super()._record_fit(result)
        d = self.n_features or 1
        for h in self.history_:
            h.setdefault("loss", -h["elbo"] / (h["weight"] * d))
        self.elbo_ = float(self.history_[-1]["elbo"]) if self.history_ else math.nan

    # -- starts ---------------------------------------------------------------------------
    def seeded(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate the posterior a start found into the starting proposal.

        Parameters
        ----------
        params : dict
            Parameters of this mixture's shape.

        Returns
        -------
        dict
            The validated parameters.
        """
        if "_batch" in params:  # a batched global step's proposal: validated as it was made
            return params
        return self._check_params(params)

    def blank(self) -> BayesianMixture:
        """Return a copy whose priors hold no posterior (options kept).

        Returns
        -------
        BayesianMixture
            The copy, to be started from seeds.
        """
        return type(self)([d._fresh_copy() for d in self.distributions],
                          weight_concentration_prior_type=self.weight_concentration_prior_type,
                          weight_concentration_prior=self.weight_concentration_prior, frozen=self.frozen,
                          moves=self.moves, merge_start_lap=self.merge_start_lap)

    def warm_start(self, other: Any, what: str = "init") -> Any:
        """Start from another model: copy a like posterior, or take its responsibilities.

        A fitted :class:`BayesianMixture` with the same number of components, the same
        priors and the same weight prior gives its posterior as it is. Any other
        fitted mixture with as many components (an EM ``GeneralMixtureModel``, a
        finite VB run starting a DP run, other priors) starts the fit from its
        responsibilities: the engine summarizes the data once under ``other`` and
        this model makes a global step from that record (bnpy's warm start).

        Parameters
        ----------
        other : GeneralMixtureModel or dict
            The fitted model, or its ``to_dict()``.
        what : str, default='init'
            How ``other`` is named in errors.

        Returns
        -------
        None or GeneralMixtureModel
            None when the posterior was copied; else ``other``, whose local step the
            engine runs to start this model.

        Raises
        ------
        ParameterError
            If ``other`` cannot start this model (nothing is changed).
        """
        if isinstance(other, dict):
            other = Distribution.from_dict(other)
        if not isinstance(other, GeneralMixtureModel):
            raise ParameterError(f"{what} must be a mixture model; got {type(other).__name__}")
        if isinstance(other, BayesianMixture) and other.is_fitted() and self._same_prior_family(other) \
                and other.n_components != self.n_components:
            # a run that merged components (or a smaller DP): take its structure too
            self.distributions = [self.distributions[0]._fresh_copy() for _ in range(other.n_components)]
            self._stacked_run = None
        if other.n_components != self.n_components:
            raise ParameterError(
                f"cannot warm-start a {self.n_components}-component mixture from a "
                f"{other.n_components}-component model"
            )
        if not other.is_fitted():
            raise ParameterError(f"{what} has no fitted parameters to start from")
        if other.n_features != self.n_features:
            raise ParameterError(f"{what} has {other.n_features} features; this model has "
                                 f"{self.n_features}")
        if isinstance(other, BayesianMixture) and self._same_priors(other):
            self._set_params(self._check_params(other._get_params()))
            self.component_ids = list(other.component_ids)
            self._lap, self._plan = other._lap, None if other._plan is None else other._plan.copy()
            self.move_log_ = [dict(e) for e in other.move_log_]
            return None
        return other

    def _same_prior_family(self, other: BayesianMixture) -> bool:
        """Whether every component of both shares one and the same prior (so k is free)."""
        return (self._shared_prior() is not None and other._shared_prior() is not None
                and other.weight_concentration_prior_type == self.weight_concentration_prior_type
                and other.weight_concentration_prior == self.weight_concentration_prior
                and type(self.distributions[0]) is type(other.distributions[0])
                and _same_options(self.distributions[0], [other.distributions[0]]))

    def _same_priors(self, other: BayesianMixture) -> bool:
        if (other.weight_concentration_prior_type != self.weight_concentration_prior_type
                or other.weight_concentration_prior != self.weight_concentration_prior):
            return False
        for a, b in zip(self.distributions, other.distributions, strict=True):
            if type(a) is not type(b):
                return False
            # the priors without their posteriors (nested priors too: ss.priors.Independent)
            if not _same_tree(_unfitted_component(a.to_dict()), _unfitted_component(b.to_dict())):
                return False
        return True

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the mixture as a dict (priors and posteriors as nested dicts).

        Returns
        -------
        dict
            ``{"class": "BayesianMixture", "params": {...}, "options": {...}}``.
        """
        return {
            "class": "BayesianMixture",
            "params": {"concentration": None if self.concentration is None else self.concentration.copy(),
                       "distributions": [d.to_dict() for d in self.distributions],
                       "component_ids": np.array(self.component_ids, dtype=np.int64),
                       "lap": self._lap, "plan": None if self._plan is None else self._plan.copy()},
            "options": {"weight_concentration_prior_type": self.weight_concentration_prior_type,
                        "weight_concentration_prior": self.weight_concentration_prior,
                        "moves": ",".join(self.moves), "merge_start_lap": self.merge_start_lap,
                        "frozen": self.frozen},
        }

    @classmethod
    def _from_parts(cls, params: dict[str, Any], options: dict[str, Any]) -> BayesianMixture:
        dists = [Distribution.from_dict(d) for d in params["distributions"]]
        model = cls(dists, concentration=params["concentration"], **options)
        if params.get("component_ids") is not None:
            model.component_ids = [int(v) for v in np.asarray(params["component_ids"])]
        model._lap = int(params.get("lap") or 0)
        plan = params.get("plan")
        model._plan = None if plan is None else np.asarray(plan, dtype=np.float64).reshape(-1, 2)
        return model

    def copy(self) -> BayesianMixture:
        """Return an independent copy (priors, posterior, trace state).

        Returns
        -------
        BayesianMixture
            The copy.
        """
        new = type(self).from_dict(self.to_dict())
        new._entropy = self._entropy
        new._counts = None if self._counts is None else self._counts.copy()
        new.move_log_ = [dict(e) for e in self.move_log_]
        return new

    def n_parameters(self) -> int:
        """Return the number of free parameters of the point estimate (weights and components).

        Returns
        -------
        int
            ``k - 1`` plus each component's count.
        """
        return self.n_components - 1 + sum(d._n_parameters() for d in self.distributions)

    def __repr__(self) -> str:
        inner = ",\n  ".join(type(d).__name__ for d in self.distributions)
        return (f"BayesianMixture([\n  {inner}\n], weight_concentration_prior_type="
                f"{self.weight_concentration_prior_type!r})")


def _same_tree(a: Any, b: Any) -> bool:
    """Whether two dicts of options (nested dicts, lists, arrays, scalars) are equal."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_same_tree(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same_tree(x, y) for x, y in zip(a, b)))
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    return bool(np.array_equal(a, b))
