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
from typing import Any, Callable

import numpy as np
from scipy.special import digamma, gammaln

from .._validation import check_count, check_scalar
from ..distributions._base import Distribution
from ..exceptions import ParameterError
from ..kernels.conjugate import blend_stacked_moments
from ..kernels.gaussian import mvn_diag_logpdf, mvn_full_logpdf
from ..kernels.vmath import all_finite, are_counts
from ..kernels.mixture import gmm_diag_estep, gmm_full_estep, move_entropies, responsibilities_from
from ..priors._base import ConjugatePrior
from ..priors.gaussian import NormalGamma, NormalWishart
from ..statistics import GaussianMixtureStats, MixtureStats, MoveStats, Statistic
from .general import GeneralMixtureModel, _unfitted_component
from .moves import (BIRTH_MIN_RESP, REACTIVATE, Plan, born, deleted, fresh_components, merged, parse_moves,
                    permuted, plain, plan_births, plan_delete, plan_pairs, recentred, with_plan)

#: A merge is accepted when the ELBO per data scalar drops by less than this (bnpy's
#: ELBO_GAP_ACCEPT_TOL).
MERGE_ACCEPT_TOL = 1e-6
#: The columns of a move log entry (``move_log_``, the run folder's ``moves.csv``).
MOVE_LOG_COLUMNS = ("lap", "K", "birth_tried", "birth_accepted", "birth_added", "merge_tried", "merge_accepted",
                    "merge_skipped", "merge_ndiff", "deleted", "delete_ndiff", "shuffled")
#: The settings of the moves (bnpy's ``m_startLap``, ``b_startLap``, ``b_Kfresh``,
#: ``d_startLap``, ``Kmax``) and their defaults; ``max_components=None`` is bnpy's
#: ``Kmax = 100`` or the starting number of components if that is more.
MOVE_SETTINGS = {"merge_start_lap": 2, "birth_start_lap": 0, "birth_n_fresh": 10, "delete_start_lap": 2,
                 "max_components": None}

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


#: The blend kernel's shift output when the records share their reference points (never written).
_UNUSED_SHIFT = np.empty((0, 0))


def _same_options(first: ConjugatePrior, others: list[ConjugatePrior]) -> bool:
    names = first._option_names
    return all(d._option_names == names and all(_same_value(getattr(d, n), getattr(first, n)) for n in names)
               for d in others)


def _same_value(a: Any, b: Any) -> bool:
    return a is b or np.array_equal(a, b)  # fresh copies of a prior share its arrays


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
    moves : str or sequence of str, optional
        Structure moves of memoized VB with a DP prior and components sharing one
        Gaussian prior: any of ``'birth'``, ``'merge'``, ``'delete'``, ``'shuffle'``
        (``'birth,merge,shuffle'``); see :meth:`end_of_pass` and :doc:`/variational`.
    merge_start_lap, birth_start_lap, delete_start_lap : int, default=2, 0, 2
        The first lap whose end judges merges, births, deletes (bnpy's ``m_startLap``,
        ``b_startLap``, ``d_startLap``; a move is planned at the end of the lap before).
    birth_n_fresh : int, default=10
        Fresh components a birth fits to its target's rows (bnpy's ``b_Kfresh``).
    max_components : int, optional
        The most components births may make (bnpy's ``Kmax``): 100, or the current
        number if more, when None.
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
        change of an expected count since the previous lap); with moves also the
        lap's move counts and ``moves_pending``.
    component_ids : list of int
        A stable id per component: a merge keeps the first's, births take new ones.
    move_log_ : list of dict
        One entry per lap with moves (the columns of ``moves.csv`` in the run
        folder).

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
    move_log_columns = MOVE_LOG_COLUMNS
    _param_names = ("concentration", "distributions")

    def __init__(self, priors: Any, weight_concentration_prior_type: str = "dirichlet_process",
                 weight_concentration_prior: float | None = None, concentration: Any = None,
                 moves: Any = None, merge_start_lap: int = 2, birth_start_lap: int = 0,
                 birth_n_fresh: int = 10, delete_start_lap: int = 2, max_components: int | None = None,
                 **settings: Any) -> None:
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
        self.birth_start_lap = check_count("birth_start_lap", birth_start_lap, minimum=0)
        self.birth_n_fresh = check_count("birth_n_fresh", birth_n_fresh, minimum=2)
        self.delete_start_lap = check_count("delete_start_lap", delete_start_lap, minimum=0)
        self.max_components = None if max_components is None else check_count(
            "max_components", max_components, minimum=1)
        self.component_ids = list(range(k))
        self.move_log_: list[dict[str, Any]] = []
        self._set_move_state(None)
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
                    "moves", *MOVE_SETTINGS):
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
        if "_batch" in params:  # every component takes its posterior from it when next read
            self.__dict__["_pending_batch"] = params["_batch"]
        else:
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
        if "_batch" in params:  # a batched global step: its arrays are the next local step's
            post, factors = params["_batch"]
            full = "U" in factors
            self._stacked_run = self._stacked_estep(post["mean"], factors["U"] if full else factors["E_lam"],
                                                    factors["log_norm"])

    @property
    def distributions(self) -> list[ConjugatePrior]:
        """The components (conjugate priors holding their posteriors).

        A batched global step (components sharing one Gaussian prior) keeps its
        stacked arrays: the components take their posteriors from them when they are
        next read, not at every step of stochastic VB.
        """
        comps = self.__dict__["_components"]
        pending = self.__dict__.get("_pending_batch")
        if pending is not None:
            post, factors = pending
            for j, d in enumerate(comps):  # they share one prior: comps[0] makes each one's parameters
                d._set_params(comps[0]._component(post, factors, j))
            # cleared once every component is set: a thread reading meanwhile (the local steps
            # of births read the components) sets them too, to the same values
            if self.__dict__.get("_pending_batch") is pending:
                self.__dict__["_pending_batch"] = None
        return comps

    @distributions.setter
    def distributions(self, value: list[ConjugatePrior]) -> None:
        self.__dict__["_pending_batch"] = None
        self.__dict__["_components"] = value

    @property
    def n_components(self) -> int:
        """Number of components k."""
        return len(self.__dict__["_components"])

    @property
    def n_features(self) -> int | None:
        """Number of columns of the data."""
        for d in self.__dict__["_components"]:  # the constructor checked that they agree
            if d.n_features is not None:
                return d.n_features
        return None

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
        self._stacked_run = self._stacked_estep(means, precision, log_norms)
        return self._stacked_run, None

    def _stacked_estep(self, means: np.ndarray, precision: np.ndarray, log_norms: np.ndarray) -> Callable:
        """The stacked local step of the posteriors given as arrays (k, d), (k, d, d) or (k, d), (k,)."""
        full = precision.ndim == 3
        kernel = gmm_full_estep if full else gmm_diag_estep

        plan = self._plan
        shift = means.copy()  # every record's (read-only) reference point
        shift.flags.writeable = False

        def run(X: np.ndarray, w: np.ndarray, log_weights: np.ndarray, _arrays: Any) -> Any:
            k, d = means.shape
            resp_sum, s1 = np.zeros(k), np.zeros((k, d))
            s2 = np.zeros((k, d, d) if full else (k, d))
            w_sum, ll, ent, finite = kernel(X, w, log_weights, means, precision, log_norms, resp_sum, s1, s2)
            rec = GaussianMixtureStats._trusted({"w_sum": w_sum, "resp_sum": resp_sum, "log_likelihood": ll,
                                                 "entropy": ent, "xw_sum": s1, "xxw_sum": s2, "shift": shift})
            if plan is None or not finite:
                return rec, finite
            return self._move_terms(X, w, log_weights, rec, plan, (means, precision, log_norms)), finite

        return run

    def _check_stats(self, stats: Any, X: np.ndarray, w: np.ndarray) -> Any:
        """The mixture's check of a local step's record, sooner for a finite stacked record."""
        if type(stats) is GaussianMixtureStats and math.isfinite(
                float(stats.w_sum) + float(stats.log_likelihood) + float(stats.entropy)) and all_finite(
                stats.resp_sum, stats.xw_sum.reshape(-1), stats.xxw_sum.reshape(-1)):
            return stats
        return super()._check_stats(stats, X, w)

    def _move_terms(self, X: np.ndarray, w: np.ndarray, log_weights: np.ndarray, rec: GaussianMixtureStats,
                    plan: Plan, stacked: tuple) -> MoveStats:
        """The batch's record with the terms that judge the planned moves."""
        out = with_plan(rec, plan)
        f = {name: getattr(out, name) for name in MoveStats._fields}
        means, precision, log_norms = stacked
        full = precision.ndim == 3
        kernel = gmm_full_estep if full else gmm_diag_estep
        k, d = means.shape
        if len(plan.pairs) or len(plan.birth_targets):
            r = _stacked_responsibilities(X, log_weights, means, precision, log_norms)
            comp, pair = np.zeros(k), np.zeros(len(plan.pairs))
            move_entropies(r, w, plan.pairs[:, 0].astype(np.int64), plan.pairs[:, 1].astype(np.int64), comp, pair)
            f["comp_entropy"], f["pair_entropy"] = comp, pair
            # births: the target's mass in its rows, split over the fresh components
            n_b, s1_b, s2_b = (np.zeros_like(f[x]) for x in ("birth_resp", "birth_xw", "birth_xxw"))
            ent_b = np.zeros(len(plan.birth_targets))
            for p, t in enumerate(plan.birth_targets.astype(int)):
                mine = np.flatnonzero(plan.birth_owner == p)
                rows = r[:, t] >= BIRTH_MIN_RESP
                n_, s1_, s2_ = n_b[mine], s1_b[mine], s2_b[mine]
                ent_b[p] = kernel(np.ascontiguousarray(X[rows]), np.ascontiguousarray(w[rows] * r[rows, t]),
                                  plan.birth_log_rho[mine], plan.birth_means[mine], plan.birth_precision[mine],
                                  plan.birth_log_norms[mine], n_, s1_, s2_)[2]
                n_b[mine], s1_b[mine], s2_b[mine] = n_, s1_, s2_
            f.update(birth_resp=n_b, birth_xw=s1_b, birth_xxw=s2_b, birth_entropy=ent_b)
        if plan.delete_target is not None:  # the local step without the target
            others = np.arange(k) != plan.delete_target
            n_, s1_ = np.zeros(k - 1), np.zeros((k - 1, d))
            s2_ = np.zeros((k - 1, d, d) if full else (k - 1, d))
            _, ll, ent, _ = kernel(X, w, np.ascontiguousarray(log_weights[others]),
                                   np.ascontiguousarray(means[others]), np.ascontiguousarray(precision[others]),
                                   np.ascontiguousarray(log_norms[others]), n_, s1_, s2_)
            s1_, s2_ = recentred(n_, s1_, s2_, means[others], plan.delete_shift)
            f.update(delete_resp=n_, delete_xw=s1_, delete_xxw=s2_,
                     delete_entropy=np.array([ent]), delete_log_likelihood=np.array([ll]))
        return MoveStats(**f)

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
        # finite and non-negative counts, else look closer
        if not (resp_sum.ndim == 1 and are_counts(resp_sum)):
            resp_sum = _checked_counts(resp_sum)
        proposal = {"concentration": self._concentration_for(resp_sum), "_counts": resp_sum,
                    "_entropy": float(stats.entropy)}
        shared = self._shared_prior()
        if shared is not None and not any(d.frozen for d in self.__dict__["_components"]):
            # one batched global step for every component (stochastic VB makes one per batch)
            S = GaussianMixtureStats.from_parts(stats)
            try:
                post, factors = shared._batch_step(resp_sum, S.shift, S.xw_sum, S.xxw_sum)
            except ParameterError as e:
                raise ParameterError(f"the mixture's global step: {e}") from None
            proposal["distributions"] = _StackedComponents(shared, post, factors)
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
            # the current posterior's E[log pi] were computed by its global step
            elog = self._log_weights if conc is self.concentration else expected_log_weights(conc, False)
            cached = self.__dict__.get("_c_dir_prior")
            if cached is None or cached[:2] != (k, g):  # c_D of the prior: once per (k, alpha_0)
                cached = self._c_dir_prior = (k, g, gammaln(k * g) - k * gammaln(g))
            return float(cached[2] - gammaln(conc.sum()) + np.sum(gammaln(conc))
                         + np.dot(resp_sum + g - conc, elog))
        a, b = conc[:, 0], conc[:, 1]
        dsum = digamma(a + b)
        tail = np.concatenate((np.cumsum(resp_sum[::-1])[::-1][1:], [0.0]))
        return float(np.sum(_c_beta(1.0, g) - _c_beta(a, b)
                            + (resp_sum + 1.0 - a) * (digamma(a) - dsum)
                            + (tail + g - b) * (digamma(b) - dsum)))

    def _elbo(self, stats: MixtureStats, params: dict[str, Any] | None = None) -> float:
        """The ELBO of ``stats`` (its responsibilities) under ``params`` (default: current)."""
        if params is None and self.__dict__.get("_pending_batch") is not None:  # the last batched step's
            self._require_fitted()
            params = {"concentration": self.concentration, "_batch": self.__dict__["_pending_batch"]}
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

    def end_of_pass(self, stats: MixtureStats, stored: list,
                    read_batch: Callable[[int], tuple] | None = None) -> tuple[Any, list] | None:
        """Structure moves of memoized VB at the end of a lap: births, merges, a delete, shuffle.

        Every move planned at the end of the previous lap is judged on the lap's
        records, which carry its terms, and accepted when it does not lower the
        whole-data ELBO (each at its own global step); an accepted move changes the
        whole-data record and every stored record alike, so the memoized record
        stays exact.

        - Births (largest targets first) append their fresh components when the
          ELBO increases.
        - Merges try the planned pairs, ranked by total size: merging ``b`` into
          ``a`` adds their records; accepted when the ELBO per data scalar does not
          drop by more than ``1e-6`` (bnpy's rule), each component in at most one
          accepted move per lap.
        - A delete (only in a lap without another accepted move: its record is the
          local step without the target) is accepted when the ELBO does not drop.
        - Shuffle orders the components by expected count, largest first (the
          stick-breaking ELBO prefers it).

        The next lap's moves are planned last: merge pairs, birth targets with
        their fresh components (fitted to the rows of one batch, read with
        ``read_batch``) and a delete target. A move rejected on some components is
        not planned again until their counts change by 1% (bnpy's reactivation).

        Parameters
        ----------
        stats : MixtureStats
            The whole-data record (the sum of ``stored``).
        stored : list of MixtureStats
            The per-batch records.
        read_batch : callable, optional
            ``read_batch(b)`` returns batch ``b``'s rows and weights (or None);
            births need it.

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
        moved = isinstance(S, MoveStats)
        base = self._elbo_at_step(S) if moved else None
        accepted_any = False
        planned_pairs = len(S.pairs) if moved else 0
        if moved and len(S.birth_targets):
            tried = accepted = added = 0
            p = 0
            while p < len(S.birth_targets):
                t = int(S.birth_targets[p])
                candidate = born(S, p)
                value = self._elbo_at_step(candidate)
                tried += 1
                if value > base:
                    n_new = int(np.count_nonzero(S.birth_owner == p))
                    records = [born(r, p) for r in records]
                    S, base = candidate, value
                    ids.extend(range(self._next_id, self._next_id + n_new))
                    self._next_id += n_new
                    self._failed["birth"].pop(ids[t], None)
                    accepted += 1
                    added += n_new
                else:
                    self._failed["birth"][ids[t]] = float(S.resp_sum[t])
                    p += 1
            accepted_any |= accepted > 0
            entry.update(birth_accepted=accepted, birth_tried=tried, birth_added=added)
        if moved and len(S.pairs):
            tried, accepted, q, ndiff = 0, 0, 0, 0.0
            while q < len(S.pairs):
                a, b = (int(v) for v in S.pairs[q])
                candidate = merged(S, a, b, q)
                value = self._elbo_at_step(candidate)
                tried += 1
                if (value - base) / scale >= -MERGE_ACCEPT_TOL:
                    ndiff += float(min(S.resp_sum[a], S.resp_sum[b]))
                    records = [merged(r, a, b, q) for r in records]
                    S, base = candidate, value
                    ids.pop(b)
                    accepted += 1
                else:
                    self._failed["merge"][(ids[a], ids[b])] = float(S.resp_sum[a] + S.resp_sum[b])
                    q += 1
            accepted_any |= accepted > 0
            # bnpy's line: the mass moved (each merge's smaller count) and the planned
            # pairs not tried because a component was already in an accepted move
            entry.update(merge_accepted=accepted, merge_tried=tried, merge_ndiff=ndiff,
                         merge_skipped=planned_pairs - tried)
        if moved and len(S.delete_target) and not accepted_any:
            t = int(S.delete_target[0])
            candidate = deleted(S)
            value = self._elbo_at_step(candidate)
            if (value - base) / scale >= -MERGE_ACCEPT_TOL:
                entry["delete_ndiff"] = float(S.resp_sum[t])
                records = [deleted(r) for r in records]
                S = candidate
                self._failed["delete"].pop(ids[t], None)
                ids.pop(t)
                accepted_any = True
                entry["deleted"] = 1
            else:
                self._failed["delete"][ids[t]] = float(S.resp_sum[t])
                entry["deleted"] = 0
        S, records = plain(S), [plain(r) for r in records]
        if "shuffle" in self.moves:
            order = np.argsort(-np.asarray(S.resp_sum), kind="stable")
            if np.any(order != np.arange(len(order))):
                S, records = permuted(S, order), [permuted(r, order) for r in records]
                ids = [ids[j] for j in order]
                entry["shuffled"] = True
        k = S.resp_sum.shape[0]
        if k < self.n_components:  # the components share one prior, so any k of them do
            self.distributions = self.distributions[:k]
        elif k > self.n_components:
            self.distributions = self.distributions + [
                copy.deepcopy(self.distributions[0]) for _ in range(k - self.n_components)]
        self.component_ids = ids
        self._stacked_run = None
        self._plan = self._next_plan(S, read_batch, len(records))
        if self._plan is not None:
            S, records = with_plan(S, self._plan), [with_plan(r, self._plan) for r in records]
        entry["K"] = k
        self._moves_pending = accepted_any or self._plan is not None or self._lap < self._last_start_lap()
        self.move_log_.append(entry)
        return S, records

    def _last_start_lap(self) -> int:
        laps = {"birth": self.birth_start_lap, "merge": self.merge_start_lap, "delete": self.delete_start_lap}
        return max([laps[m] for m in self.moves if m in laps] or [0])

    def _reactivated(self, kind: str, key: Any, count: float) -> bool:
        """Whether a move rejected on ``key`` may be tried again (its count changed by 1%)."""
        old = self._failed[kind].get(key)
        return old is None or abs(count - old) > REACTIVATE * max(old, 1e-300)

    def _next_plan(self, S: GaussianMixtureStats, read_batch: Any, n_batches: int) -> Plan | None:
        """Plan the next lap's moves on the moved record ``S``."""
        counts = np.asarray(S.resp_sum, dtype=np.float64)
        k = len(counts)
        ids = self.component_ids
        nxt = self._lap + 1
        plan = Plan()
        if "merge" in self.moves and nxt >= self.merge_start_lap and k > 1:
            plan.pairs = plan_pairs(counts, allowed=lambda a, b: self._reactivated(
                "merge", (ids[a], ids[b]), counts[a] + counts[b]))
        need_rows = "birth" in self.moves and nxt >= self.birth_start_lap and read_batch is not None
        if need_rows or ("delete" in self.moves and nxt >= self.delete_start_lap):
            proposal = self._propose(S)  # the next lap's posterior
            post, factors = proposal["_batch"]
        if "delete" in self.moves and nxt >= self.delete_start_lap:
            t = plan_delete(counts, allowed=lambda j: self._reactivated("delete", ids[j], counts[j]))
            if t is not None:
                plan.delete_target = t
                plan.delete_shift = np.ascontiguousarray(np.delete(post["mean"], t, axis=0))
        if need_rows:
            room = self._max_components() - k
            targets = plan_births(counts, room, allowed=lambda j: self._reactivated("birth", ids[j], counts[j]))
            if targets:
                self._plan_births(plan, targets, read_batch(self._lap % n_batches), post, factors,
                                  proposal["concentration"], counts, room)
        return None if plan.empty else plan

    def _max_components(self) -> int:
        return max(100, len(self.component_ids)) if self.max_components is None else self.max_components

    def _plan_births(self, plan: Plan, targets: list[int], batch: tuple, post: dict, factors: dict,
                     conc: np.ndarray, counts: np.ndarray, room: int) -> None:
        """Fit each target's fresh components to the rows of one batch it explains."""
        X, w = batch
        X = np.ascontiguousarray(X, dtype=np.float64).reshape(len(X), -1)
        w = np.ones(len(X)) if w is None else np.ascontiguousarray(w, dtype=np.float64)
        shared = self._shared_prior()
        full = isinstance(shared, NormalWishart)
        kernel = gmm_full_estep if full else gmm_diag_estep
        r = _stacked_responsibilities(X, expected_log_weights(conc, self._dp), post["mean"],
                                      factors["U"] if full else factors["E_lam"], factors["log_norm"])
        chosen, owner, parts = [], [], []
        for t in targets:
            rows = r[:, t] >= BIRTH_MIN_RESP
            mass = float(np.sum(w * r[:, t]))
            if not mass > 0 or np.count_nonzero(rows) < 2:
                continue
            rng = np.random.default_rng([self._lap, self.component_ids[t]])
            fresh = fresh_components(shared, kernel, full, X[rows], w[rows] * r[rows, t],
                                     min(self.birth_n_fresh, room - len(owner)), rng,
                                     scale=counts[t] / mass)
            if fresh is None:
                self._failed["birth"][self.component_ids[t]] = float(counts[t])
                continue
            owner.extend([len(chosen)] * len(fresh["log_rho"]))
            chosen.append(t)
            parts.append(fresh)
            if len(owner) >= room:
                break
        if not chosen:
            return
        plan.birth_targets = np.array(chosen, dtype=np.float64)
        plan.birth_owner = np.array(owner, dtype=np.float64)
        for name in ("means", "precision", "log_norms", "log_rho"):
            setattr(plan, f"birth_{name}", np.ascontiguousarray(np.concatenate([p[name] for p in parts])))

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

    def step_toward(self, stats: Statistic, target: Statistic, rho: float, scale: float = 1.0) -> Statistic:
        """Return the stochastic step's blend ``(1 - rho) * stats + rho * (scale * target)``.

        Stacked Gaussian records blend in one kernel call
        (:func:`~suffstat.kernels.conjugate.blend_stacked_moments`: the records' own
        operations in their order, so the same values); other records by their algebra.

        Parameters
        ----------
        stats, target : Statistic
            The running record and the batch's.
        rho : float
            The step's rate.
        scale : float, default=1.0
            The target's scale (the data's weight over the batch's).

        Returns
        -------
        Statistic
            The blended record.
        """
        a = 1.0 - rho
        if not (type(stats) is GaussianMixtureStats and type(target) is GaussianMixtureStats
                and 0.0 < rho < 1.0 and 0.0 < a and 0.0 < scale < math.inf
                and stats.xxw_sum.ndim in (2, 3) and stats.xxw_sum.shape == target.xxw_sum.shape
                and stats.xw_sum.shape == target.xw_sum.shape == stats.shift.shape == target.shift.shape):
            return stats.step_toward(target, rho, scale)
        rho, scale = float(rho), float(scale)
        same = stats.shift is target.shift
        n, s1, s2 = np.empty_like(stats.resp_sum), np.empty_like(stats.xw_sum), np.empty_like(stats.xxw_sum)
        shift = stats.shift if same else np.empty_like(stats.shift)
        blend_stacked_moments(a, rho, scale, same, stats.resp_sum, stats.xw_sum, stats.xxw_sum, stats.shift,
                              target.resp_sum, target.xw_sum, target.xxw_sum, target.shift, n, s1, s2,
                              _UNUSED_SHIFT if same else shift)
        return GaussianMixtureStats._trusted({
            "w_sum": a * float(stats.w_sum) + rho * (scale * float(target.w_sum)), "resp_sum": n,
            "log_likelihood": a * float(stats.log_likelihood) + rho * (scale * float(target.log_likelihood)),
            "entropy": a * float(stats.entropy) + rho * (scale * float(target.entropy)),
            "xw_sum": s1, "xxw_sum": s2, "shift": shift})

    def _free_energy(self, stats: MixtureStats) -> float:
        return self._elbo(stats)

    def trace_values(self) -> dict[str, Any]:
        """Return the lap's trace columns: ``K``, ``Ndiff`` and the moves' counts.

        ``Ndiff`` is the largest change of an expected count since the previous lap
        (bnpy's; the count of a component's record at the lap's last global step).
        With moves, the lap's ``birth_accepted`` / ``birth_tried`` / ``birth_added``,
        ``merge_accepted`` / ``merge_tried`` and ``deleted``, and ``moves_pending``
        (moves still planned or accepted this lap: the fit does not converge yet).

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
        if last is not None and last["lap"] == self._lap:
            out.update({key: last[key] for key in MOVE_LOG_COLUMNS if key in last and key not in ("lap", "K", "shuffled")})
        if self.moves:
            # more moves to judge: the engine does not stop (bnpy's hasMoreReasonableMoves)
            out["moves_pending"] = bool(self._moves_pending)
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
        self._set_move_state(None)  # a resumed fit restores it
        self.move_log_ = []
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

    def seed_statistics(self, X: Any, sample_weight: Any, labels: np.ndarray) -> MixtureStats:
        """Return the statistics of each component over the rows given to its seed.

        As :meth:`GeneralMixtureModel.seed_statistics`; one unit-weight row per
        component (bnpy's ``randexamples``) with a shared Gaussian prior gives the
        stacked record at once: each component's row is its reference point, with
        zero sums (the record the components' own summaries give).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            A batch.
        sample_weight : ndarray of shape (n_samples,) or None
            Non-negative weights.
        labels : ndarray of shape (n_samples,)
            The seed nearest each row.

        Returns
        -------
        MixtureStats
            Hard-assignment statistics (log-likelihood and entropy 0).
        """
        k = self.n_components
        labels = np.asarray(labels)
        shared = self._shared_prior()
        if not (type(shared) in (NormalWishart, NormalGamma) and sample_weight is None and labels.shape == (k,)
                and np.issubdtype(labels.dtype, np.integer) and np.array_equal(np.sort(labels), np.arange(k))):
            return super().seed_statistics(X, sample_weight, labels)
        X = self._check_data(X)
        if X.ndim != 2:
            return super().seed_statistics(X, sample_weight, labels)
        d = X.shape[1]
        shift = np.empty((k, d))
        shift[labels] = X
        full = isinstance(shared, NormalWishart)
        return GaussianMixtureStats(w_sum=float(k), resp_sum=np.ones(k), log_likelihood=0.0, entropy=0.0,
                                    xw_sum=np.zeros((k, d)), xxw_sum=np.zeros((k, d, d) if full else (k, d)),
                                    shift=shift)

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
                          moves=self.moves, **self._move_settings())

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
            shared = self._shared_prior()
            if shared is not None and other._shared_prior() is not None:
                # the other's posteriors (validated when it took them) as one batch, copied
                post, factors = shared._stacked(other.distributions)
                self._set_params({"concentration": np.array(other.concentration, dtype=np.float64),
                                  "distributions": _StackedComponents(shared, post, factors),
                                  "_batch": (post, factors)})
            else:
                self._set_params(self._check_params(other._get_params()))
            # the moves go on where the other fit left them (a resumed fit starts so too)
            self.component_ids = list(other.component_ids)
            self._set_move_state(other._move_state())
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
        pairs = zip(self.distributions, other.distributions, strict=True)
        if self._shared_prior() is not None and other._shared_prior() is not None and \
                self.n_components == other.n_components:  # each shares one prior: compare those
            pairs = zip(self.distributions[:1], other.distributions[:1])
        for a, b in pairs:
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
                       **self._move_state()},
            "options": {"weight_concentration_prior_type": self.weight_concentration_prior_type,
                        "weight_concentration_prior": self.weight_concentration_prior,
                        "moves": ",".join(self.moves), **self._move_settings(),
                        "frozen": self.frozen},
        }

    @classmethod
    def _from_parts(cls, params: dict[str, Any], options: dict[str, Any]) -> BayesianMixture:
        dists = [Distribution.from_dict(d) for d in params["distributions"]]
        model = cls(dists, concentration=params["concentration"], **options)
        if params.get("component_ids") is not None:
            model.component_ids = [int(v) for v in np.asarray(params["component_ids"])]
        model._set_move_state(params)
        return model

    def _move_settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MOVE_SETTINGS}

    def _move_state(self) -> dict[str, Any]:
        """What the moves carry from lap to lap: the lap, the plan, rejected moves, the next id."""
        f = self._failed
        return {"lap": self._lap, "plan": None if self._plan is None else self._plan.to_dict(),
                "failed_birth": np.array([[i, c] for i, c in f["birth"].items()]).reshape(-1, 2),
                "failed_merge": np.array([[a, b, c] for (a, b), c in f["merge"].items()]).reshape(-1, 3),
                "failed_delete": np.array([[i, c] for i, c in f["delete"].items()]).reshape(-1, 2),
                "next_id": self._next_id, "pending": bool(self._moves_pending),
                "log": np.array([[e.get(c, math.nan) for c in MOVE_LOG_COLUMNS] for e in self.move_log_],
                                dtype=np.float64).reshape(-1, len(MOVE_LOG_COLUMNS))}

    def _set_move_state(self, state: dict[str, Any] | None) -> None:
        state = state or {}
        self._stacked_run = None  # it holds the plan
        self._lap = int(state.get("lap") or 0)
        self._plan = Plan.from_dict(state.get("plan"))
        rows = lambda name, n: np.asarray(state.get(name, np.zeros((0, n))), dtype=np.float64).reshape(-1, n)  # noqa
        self._failed = {"birth": {int(i): float(c) for i, c in rows("failed_birth", 2)},
                        "merge": {(int(a), int(b)): float(c) for a, b, c in rows("failed_merge", 3)},
                        "delete": {int(i): float(c) for i, c in rows("failed_delete", 2)}}
        self._next_id = int(state.get("next_id") or max(self.component_ids, default=-1) + 1)
        self._moves_pending = bool(state.get("pending", False))
        log = np.asarray(state.get("log", np.zeros((0, len(MOVE_LOG_COLUMNS)))), dtype=np.float64)
        kinds = {c: (float if c.endswith("ndiff") else bool if c == "shuffled" else int) for c in MOVE_LOG_COLUMNS}
        self.move_log_ = [{c: kinds[c](v) for c, v in zip(MOVE_LOG_COLUMNS, row) if not math.isnan(v)}
                          for row in log.reshape(-1, len(MOVE_LOG_COLUMNS))]

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


def _checked_counts(resp_sum: np.ndarray) -> np.ndarray:
    """Expected counts with memoized rounding dust cleared; raise if they are not counts."""
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
    return resp_sum


class _StackedComponents:
    """The components' parameters of a batched global step, made when read (a sequence of dicts)."""

    def __init__(self, shared: ConjugatePrior, post: dict[str, np.ndarray], factors: dict[str, np.ndarray]):
        self._shared, self._post, self._factors = shared, post, factors

    def __len__(self) -> int:
        return len(self._post["mean_precision"])

    def __getitem__(self, j: int) -> dict[str, Any]:
        if not -len(self) <= j < len(self):
            raise IndexError(j)
        return self._shared._component(self._post, self._factors, j % len(self))

    def __iter__(self) -> Any:
        return (self[j] for j in range(len(self)))


def _stacked_responsibilities(X: np.ndarray, log_weights: np.ndarray, means: np.ndarray,
                              precision: np.ndarray, log_norms: np.ndarray) -> np.ndarray:
    """(n, k) responsibilities of Gaussians with stacked parameters (precision: (k, d, d)
    factors U or (k, d) inverse variances); a row with no finite density gets zeros."""
    k = len(means)
    logp = np.empty((k, len(X)))
    density = mvn_full_logpdf if precision.ndim == 3 else mvn_diag_logpdf
    for c in range(k):
        density(X, np.ascontiguousarray(means[c]), np.ascontiguousarray(precision[c]), float(log_norms[c]), logp[c])
    out = np.empty((len(X), k))
    responsibilities_from(logp, np.ascontiguousarray(log_weights, dtype=np.float64), out)
    return out


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
