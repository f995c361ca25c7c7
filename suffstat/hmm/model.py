"""HiddenMarkovModel: a hidden Markov model over any emission distributions, a learner.

The E-step of a batch of whole sequences is three steps, each done by the layer that
owns it: every state's emission distribution computes the log-densities of the rows
(``_log_probability``); the numba kernel (:mod:`suffstat.kernels.hmm`) runs the
scaled forward-backward pass over each sequence, giving the posterior state
marginals, the expected transition and first-state counts and the log-likelihood;
and every emission distribution summarizes the rows weighted by its state's
posteriors (``_summarize(X, gamma[c])``). When every emission is a fitted plain
:class:`~suffstat.MultivariateNormal` of one form (full, or diagonal and spherical),
the first and last steps are fused: one kernel gives all the states' log-densities and
one kernel all their weighted moment records, the same records to rounding (the
general path is the reference, forced by ``_fuse_gaussian = False``). The record
(:class:`~suffstat.statistics.HMMStats`) is additive, so the engine fits in batches
of whole sequences, on threads, out of core or on Dask, and the result does not
depend on the batching.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .._estimator import EstimatorParams
from .._nested import blend
from .._registry import model_class, register
from .._validation import check_count, check_fraction, check_probs, check_random_state
from ..distributions._base import Distribution
from ..distributions.multivariate_normal import MultivariateNormal
from ..distributions.normal import far_from_reference, recentred_shift
from ..exceptions import DataError, NotFittedError, ParameterError
from ..fitting.learner import EMLearnerDefaults
from ..io import save as _save
from ..kernels.hmm import (
    forward_backward,
    forward_backward_scaled,
    gaussian_diag_emissions,
    gaussian_diag_moments,
    gaussian_full_emissions,
    gaussian_full_moments,
    viterbi,
)
from ..parallel import effective_n_jobs, ordered_map
from ..sources import as_source, check_lengths
from ..statistics import HMMStats, MultivariateNormalStats, Statistic

#: Share of every row that each state's emission receives in a named start when
#: zeros are absorbing for its family (as for mixtures).
START_SHARE = 1e-3
#: Rows per chunk of whole sequences in the fused Gaussian E-step: a chunk's densities
#: and posteriors (2 k rows each) stay in cache from one kernel to the next.
CHUNK_ROWS = 16384
#: Constructor settings of a fit (each also a keyword of :meth:`HiddenMarkovModel.fit`).
FIT_SETTINGS = {
    "max_iter": 100, "tol": 1e-3, "batch_size": None, "batches_per_epoch": None, "n_jobs": 1,
    "algorithm": "em", "step": None, "init": None, "random_state": None, "output_path": None,
    "verbose": False, "callbacks": None, "shuffle": True, "save_every": 1, "resume": False,
}


def _sequence_batch(X: np.ndarray, w: Any, model: HiddenMarkovModel, fn_name: str,
                    lengths: np.ndarray) -> Any:
    """Work item: one per-batch method of the model on a batch of whole sequences."""
    return getattr(model, fn_name)(X, lengths)


class _GaussianLayout:
    """The stacked parameters of emissions that are all plain MultivariateNormals.

    ``full`` tells the kernels (full covariance: precision Cholesky factors;
    diagonal or spherical: inverse variances, diagonal scatter records); ``means``
    (k, d), ``second`` (k, d, d) or (k, d) and ``log_norms`` (k,) are C-contiguous.
    """

    def __init__(self, full: bool, means: np.ndarray, second: np.ndarray,
                 log_norms: np.ndarray) -> None:
        self.full, self.means, self.second, self.log_norms = full, means, second, log_norms

    def log_densities(self, X: np.ndarray, scaled: bool) -> tuple[np.ndarray, np.ndarray]:
        """(k, n) log-densities of the rows, or scaled densities and their log row maxima."""
        k, n = self.means.shape[0], X.shape[0]
        out, mxs = np.empty((k, n)), np.empty(n if scaled else 0)
        run = gaussian_full_emissions if self.full else gaussian_diag_emissions
        run(X, self.means, self.second, self.log_norms, out, mxs, scaled)
        return out, mxs

    def _moment_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, d = self.means.shape
        return np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d) if self.full else (k, d))

    def _record(self, c: int, w_sum: np.ndarray, s1: np.ndarray, s2: np.ndarray
                ) -> MultivariateNormalStats:
        return MultivariateNormalStats(w_sum=float(w_sum[c]), xw_sum=s1[c].copy(),
                                       xxw_sum=s2[c].copy(), shift=self.means[c].copy())

    def estep(self, X: np.ndarray, bounds: np.ndarray, starts: np.ndarray, transitions: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, list | None]:
        """The E-step of a batch, chunk by chunk of whole sequences (about CHUNK_ROWS rows).

        Each chunk's scaled densities, posteriors and moments are computed one after
        the other while they are in cache, and the counts and moments add up over
        the chunks. Returns ``(xi, first, seq_ll, bad, parts)`` as the forward-backward
        kernel gives them (``bad`` the first impossible row of the batch, or -1, and
        the pass stops there); ``parts`` is None when a state's summary would centre
        again (the caller then summarizes the whole batch's posteriors).
        """
        k = self.means.shape[0]
        n, m = X.shape[0], bounds.shape[0] - 1
        xi, first, seq_ll = np.zeros((k, k)), np.zeros(k), np.empty(m)
        w_sum, s1, s2 = self._moment_sums()
        emissions = gaussian_full_emissions if self.full else gaussian_diag_emissions
        moments = gaussian_full_moments if self.full else gaussian_diag_moments
        # the first sequence boundary at or after each multiple of CHUNK_ROWS
        marks = np.searchsorted(bounds, np.arange(CHUNK_ROWS, n, CHUNK_ROWS))
        cuts = np.unique(np.concatenate([[0], marks, [m]])) if m else np.zeros(1, dtype=np.int64)
        for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):
            a, e = int(bounds[c0]), int(bounds[c1])
            Xc = X[a:e]
            b, mxs = np.empty((k, e - a)), np.empty(e - a)
            emissions(Xc, self.means, self.second, self.log_norms, b, mxs, True)
            gamma = np.empty_like(b)
            bad = forward_backward_scaled(b, mxs, bounds[c0:c1 + 1] - a, starts, transitions, gamma,
                                          xi, first, seq_ll[c0:c1], True)
            if bad >= 0:
                return xi, first, seq_ll, int(bad) + a, None
            moments(Xc, gamma, self.means, w_sum, s1, s2)
        parts = []
        for c in range(k):
            diag = np.diag(s2[c]) if self.full else s2[c]
            if w_sum[c] > 0 and far_from_reference(w_sum[c], s1[c], diag).any():
                return xi, first, seq_ll, -1, None
            parts.append(self._record(c, w_sum, s1, s2))
        return xi, first, seq_ll, -1, parts

    def records(self, X: np.ndarray, gamma: np.ndarray, dists: list) -> list:
        """Each state's MultivariateNormalStats of the rows weighted by its posteriors.

        The records are those of ``d._summarize(X, gamma[c])`` (to rounding: the sums
        are taken in another order); a state whose far features its own summary would
        centre again (:func:`~suffstat.distributions.normal.recentred_shift`) takes
        that summary instead.
        """
        w_sum, s1, s2 = self._moment_sums()
        run = gaussian_full_moments if self.full else gaussian_diag_moments
        run(X, gamma, self.means, w_sum, s1, s2)
        parts = []
        for c, dist in enumerate(dists):
            diag = np.diag(s2[c]) if self.full else s2[c]
            if recentred_shift(X, gamma[c], self.means[c], w_sum[c], s1[c], diag) is not None:
                parts.append(dist._summarize(X, gamma[c]))
                continue
            parts.append(self._record(c, w_sum, s1, s2))
        return parts


def _gaussian_layout(dists: list) -> _GaussianLayout | None:
    """The fused path's layout when every emission is a fitted plain MultivariateNormal
    of one covariance form (full, or diagonal and spherical), else None."""
    specs = []
    for d in dists:
        if type(d) is not MultivariateNormal:  # a subclass or a prior may differ
            return None
        spec = d._mixture_estep()
        if spec is None:
            return None
        specs.append(spec)
    full = {s.key[1] == "full" for s in specs}
    if len(full) != 1:
        return None
    full = full.pop()
    name = "prec_chol" if full else "inv_var"
    def stack(field: str) -> np.ndarray:
        return np.ascontiguousarray([s.arrays[field] for s in specs], dtype=np.float64)

    return _GaussianLayout(full, stack("mean"), stack(name), stack("log_norm"))


def _prior(name: str, value: Any) -> Any:
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name} must be finite; got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


class HiddenMarkovModel(EstimatorParams, EMLearnerDefaults):
    r"""A hidden Markov model whose states emit from any suffstat distributions.

    Parameters
    ----------
    distributions : sequence of Distribution
        One emission distribution per state (used, not copied): any distribution or
        mixture, all taking data of the same shape. Unfitted emissions are started
        by :meth:`fit` (``init``, k-means++ by default), fitted ones are the start.
    transitions : array-like of shape (k, k), optional
        Transition probabilities ``transitions[i, j] = P(s_{t+1} = j | s_t = i)``;
        each row sums to 1. Uniform when None. A zero stays zero under EM.
    starts : array-like of shape (k,), optional
        Probabilities of the first state of a sequence; uniform when None.
    start_prior, transition_prior : float or array-like, default=1.0
        Dirichlet concentrations of the starts and of every transition row. The
        update is ``max(count + prior - 1, 0)`` normalised (hmmlearn's MAP rule):
        1 is maximum likelihood, ``1 + a`` adds a pseudocount ``a`` that keeps every
        probability positive.
    inertia : float, default=0.0
        Weight of the old parameters in each update (of the starts, transitions and
        of the emissions whose own inertia is 0).
    max_iter, tol, batch_size, batches_per_epoch, n_jobs, algorithm, step, init, random_state, output_path, verbose : optional
        Default settings of :meth:`fit` (see there). ``batch_size`` counts
        *sequences*. ``callbacks``, ``shuffle``, ``save_every`` and ``resume`` are
        accepted too.

    Attributes
    ----------
    n_iter_, converged_, history_, lower_bound_ : int, bool, list, float
        The last fit's passes, convergence, trace and mean log-likelihood per row.

    Notes
    -----
    .. math:: p(x_{1:T}) = \sum_{s_{1:T}} \pi_{s_1} b_{s_1}(x_1)
              \prod_{t=2}^T A_{s_{t-1} s_t} b_{s_t}(x_t)

    :meth:`summarize` is the E-step: a scaled forward-backward pass per sequence
    (memory O(T k), no underflow whatever T) gives the posteriors
    :math:`\gamma_t(j)`, the expected transitions
    :math:`\sum_t \xi_t(i, j)` and first states :math:`\gamma_1(j)`, and each
    state's emission record of the rows weighted by :math:`\gamma_t(j)`.
    :meth:`from_summaries` is the M-step: normalised counts (with the Dirichlet
    priors) and each emission distribution's own weighted update. A transition row
    (or the start vector) whose counts are all zero cannot be normalised: the update
    raises :class:`~suffstat.ParameterError` naming it (set ``transition_prior`` > 1
    for a pseudocount) instead of producing NaN.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> hmm = ss.HiddenMarkovModel([ss.Normal(-2.0, 1.0), ss.Normal(2.0, 1.0)],
    ...                            transitions=[[0.9, 0.1], [0.2, 0.8]])
    >>> X, states = hmm.sample(20, 50, random_state=0)
    >>> fitted = ss.HiddenMarkovModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)])
    >>> fitted = fitted.fit(X, lengths=[50] * 20, max_iter=50)
    >>> np.round(fitted.transitions, 1).tolist()
    [[0.9, 0.1], [0.2, 0.8]]
    """

    #: The learner protocol's declared objective.
    objective_name = "log_likelihood"
    #: Whether emissions that are all plain MultivariateNormals of one covariance form
    #: take the fused Gaussian kernels (one call for all states); False forces the
    #: general path (each state's ``_log_probability`` and ``_summarize``).
    _fuse_gaussian = True

    def __init__(
        self,
        distributions: Any,
        *,
        transitions: Any = None,
        starts: Any = None,
        start_prior: Any = 1.0,
        transition_prior: Any = 1.0,
        inertia: float = 0.0,
        max_iter: int = 100,
        tol: float | None = 1e-3,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        algorithm: str = "em",
        step: Any = None,
        init: Any = None,
        random_state: Any = None,
        output_path: Any = None,
        verbose: bool = False,
        callbacks: Any = None,
        shuffle: bool = True,
        save_every: int = 1,
        resume: bool = False,
    ) -> None:
        dists = distributions if isinstance(distributions, list) else list(distributions)
        if not dists:
            raise ParameterError("distributions must hold at least one distribution")
        for j, d in enumerate(dists):
            if not isinstance(d, Distribution):
                raise ParameterError(f"distributions[{j}] must be a Distribution; got {d!r}")
        if len({d._ndim for d in dists}) > 1:
            raise ParameterError("the emissions mix univariate and multivariate distributions")
        dims = {d.n_features for d in dists} - {None}
        if len(dims) > 1:
            raise ParameterError(f"the emissions have different numbers of features: {sorted(dims)}")
        self.distributions = dists
        self.start_prior = _prior("start_prior", start_prior)
        self.transition_prior = _prior("transition_prior", transition_prior)
        self.inertia = check_fraction("inertia", inertia)
        k = len(dists)
        self._given = {"starts": starts, "transitions": transitions}
        self.starts = self.transitions = None
        self._set_params(self._check_params({
            "starts": np.full(k, 1.0 / k) if starts is None else starts,
            "transitions": np.full((k, k), 1.0 / k) if transitions is None else transitions,
            "distributions": [None] * k,
        }))
        #: Which parameters the updates leave as they are ('starts', 'transitions').
        self._fixed: set[str] = set()
        self._pending: HMMStats | None = None
        self._lock = threading.Lock()
        self.max_iter, self.tol, self.batch_size = max_iter, tol, batch_size
        self.batches_per_epoch, self.n_jobs, self.algorithm, self.step = batches_per_epoch, n_jobs, algorithm, step
        self.init, self.random_state, self.output_path = init, random_state, output_path
        self.verbose, self.callbacks, self.shuffle = verbose, callbacks, shuffle
        self.save_every, self.resume = save_every, resume

    def __getstate__(self) -> dict[str, Any]:  # locks do not pickle (Dask, joblib)
        state = self.__dict__.copy()
        state.pop("_lock", None)
        state["_pending"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _get_param_value(self, name: str) -> Any:
        if name in ("starts", "transitions"):  # the constructor's value, not the fitted one
            return self._given[name]
        return getattr(self, name)

    def _set_param_value(self, name: str, value: Any) -> None:
        if name in ("distributions", "starts", "transitions", "start_prior", "transition_prior",
                    "inertia"):
            raise ValueError(f"{name} is set by the constructor; build a new HiddenMarkovModel")
        setattr(self, name, value)

    # -- parameters -------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of hidden states k."""
        return len(self.distributions)

    @property
    def n_features(self) -> int | None:
        """Number of columns of the data (1 for univariate emissions)."""
        dims = {d.n_features for d in self.distributions} - {None}
        return dims.pop() if dims else None

    @property
    def _fitted(self) -> bool:
        return all(d._fitted for d in self.distributions) and self.starts is not None \
            and self.transitions is not None

    def _require_fitted(self) -> None:
        for j, d in enumerate(self.distributions):
            if not d._fitted:
                raise NotFittedError(
                    f"the emission of state {j} ({type(d).__name__}) has no parameters yet: "
                    "call fit, which starts the emissions, or give fitted distributions"
                )
        if self.starts is None or self.transitions is None:
            raise NotFittedError("the model has no start or transition probabilities yet")

    def _get_params(self) -> dict[str, Any]:
        return {"starts": self.starts, "transitions": self.transitions,
                "distributions": [d._get_params() for d in self.distributions]}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        k = self.n_components
        starts, trans = params.get("starts"), params.get("transitions")
        if starts is not None:
            starts = check_probs("starts", starts)
            if starts.shape != (k,):
                raise ParameterError(f"starts must have one entry per state ({k}); got shape "
                                     f"{starts.shape}")
        if trans is not None:
            try:
                t = np.array(trans, dtype=np.float64)
            except (TypeError, ValueError):
                raise ParameterError(f"transitions must be a matrix of probabilities; got {trans!r}") from None
            if t.shape != (k, k):
                raise ParameterError(f"transitions must have shape ({k}, {k}); got {t.shape}")
            trans = np.array([check_probs(f"transitions row {i}", t[i]) for i in range(k)])
        children = [None if p is None else d._check_params(p)
                    for d, p in zip(self.distributions, params["distributions"], strict=True)]
        return {"starts": starts, "transitions": trans, "distributions": children}

    def _set_params(self, params: dict[str, Any]) -> None:
        for d, p in zip(self.distributions, params["distributions"], strict=True):
            if p is not None:
                d._set_params(p)
        self.starts, self.transitions = params["starts"], params["transitions"]
        with np.errstate(divide="ignore"):  # a forbidden start or transition has log -inf
            self._log_starts = None if self.starts is None else np.log(self.starts)
            self._log_trans = None if self.transitions is None else np.log(self.transitions)

    # -- data -------------------------------------------------------------------------
    def _check_data(self, X: Any, allow_empty: bool = False) -> np.ndarray:
        d0 = self.distributions[0]
        X = d0._check_data(X, allow_empty=allow_empty)
        if len({type(d) for d in self.distributions}) == 1:
            d0._check_support(X)
        return X

    def _bounds(self, lengths: Any, n: int) -> np.ndarray:
        return check_lengths([n] if lengths is None else lengths, n)

    def _layout(self) -> _GaussianLayout | None:
        """The fused Gaussian emissions' layout, or None for the general path."""
        return _gaussian_layout(self.distributions) if self._fuse_gaussian else None

    def _emission_log_probs(self, X: np.ndarray, layout: _GaussianLayout | None = None
                            ) -> np.ndarray:
        """(k, n): each state's log-densities of the rows (states along rows, for the kernels)."""
        if layout is not None:
            return layout.log_densities(X, False)[0]
        logb = np.empty((self.n_components, X.shape[0]))
        for c, d in enumerate(self.distributions):
            logb[c] = d._log_probability(X)
        return logb

    def _forward_backward(self, X: np.ndarray, bounds: np.ndarray, posteriors: bool,
                          layout: _GaussianLayout | None = None
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        k = self.n_components
        xi, first = np.zeros((k, k)), np.zeros(k)
        seq_ll = np.empty(bounds.shape[0] - 1)
        if layout is not None:
            b, mxs = layout.log_densities(X, True)
            gamma = np.empty_like(b)
            bad = forward_backward_scaled(b, mxs, bounds, self.starts, self.transitions, gamma, xi,
                                          first, seq_ll, posteriors)
        else:
            logb = self._emission_log_probs(X)
            gamma = np.empty_like(logb)
            bad = forward_backward(logb, bounds, self.starts, self.transitions, gamma, xi, first,
                                   seq_ll, posteriors)
        return gamma, xi, first, seq_ll, int(bad)

    # -- the E-step -------------------------------------------------------------------
    def summarize(self, X: Any, lengths: Any = None, *, sample_weight: Any = None,
                  accumulate: bool = True) -> HMMStats:
        """Run the E-step on a batch of whole sequences and return its statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            The rows of the sequences, one after another.
        lengths : array-like of int, optional
            Sequence lengths, summing to the rows of ``X``; one sequence when None.
        sample_weight : None
            Not supported (HMM rows are not exchangeable); must be None.
        accumulate : bool, default=True
            Also add the result to the pending statistics used by
            :meth:`from_summaries` (thread-safe).

        Returns
        -------
        HMMStats
            Expected start and transition counts, the log-likelihood and the states'
            emission records: ``summarize(A) + summarize(B)`` is the record of the
            sequences of A and B.

        Raises
        ------
        DataError
            For invalid data or lengths, or a sequence of probability 0 under the
            model (the message names the first row no state can produce).
        """
        if sample_weight is not None:
            raise ParameterError("HiddenMarkovModel takes no sample_weight (rows of a sequence "
                                 "are not exchangeable)")
        self._require_fitted()
        X = self._check_data(X)
        bounds = self._bounds(lengths, X.shape[0])
        layout = self._layout()
        parts, bad = None, -1
        if layout is not None:
            xi, first, seq_ll, bad, parts = layout.estep(X, bounds, self.starts, self.transitions)
        if parts is None and not bad >= 0:  # the general path, or a state to centre again
            gamma, xi, first, seq_ll, bad = self._forward_backward(X, bounds, True, layout)
        if bad >= 0:
            s = int(np.searchsorted(bounds, bad, side="right")) - 1
            raise DataError(
                f"sequence {s} has probability 0 under the model: no state path can produce it",
                row=bad, hint="the row lies outside every state's support, or the transitions "
                "forbid every state that could emit it",
            )
        if parts is None:
            parts = layout.records(X, gamma, self.distributions) if layout is not None else \
                [d._summarize(X, gamma[c]) for c, d in enumerate(self.distributions)]
        stats = HMMStats(w_sum=float(X.shape[0]), n_sequences=float(bounds.shape[0] - 1), start=first,
                         trans=xi, log_likelihood=float(seq_ll.sum()), parts=parts)
        field = stats.nonfinite_field()
        if field is not None:
            raise DataError(f"the statistics of X overflow float64 ({field} is not finite)",
                            hint="rescale the data")
        if accumulate:
            with self._lock:
                self._pending = stats if self._pending is None else self._pending + stats
        return stats

    # -- the M-step -------------------------------------------------------------------
    def _normalised(self, name: str, counts: np.ndarray, prior: Any, old: np.ndarray | None,
                    what: str) -> np.ndarray:
        """``max(counts + prior - 1, 0)`` normalised, structural zeros kept; or a clear error."""
        new = np.maximum(counts + (np.asarray(prior) - 1.0), 0.0)
        if old is not None:
            new = np.where(old == 0, 0.0, new)
        total = float(new.sum())
        if not np.isfinite(total):
            raise ParameterError(f"the {name} counts are not finite ({counts.tolist()}): they are "
                                 "not the record of any data")
        if not total > 0:
            if old is None:  # a start from seeds: nothing known yet, uniform
                return np.full(counts.shape[0], 1.0 / counts.shape[0])
            raise ParameterError(
                f"the {name} would be all zero ({what}; expected counts {counts.tolist()}), so they "
                "cannot be normalised: give a prior above 1 (start_prior / transition_prior, "
                "a pseudocount), fewer states, or other starting parameters"
            )
        return new / total

    def _propose(self, stats: HMMStats, *, inertia: float | None = None) -> dict[str, Any] | None:
        k = self.n_components
        if not isinstance(stats, HMMStats) or len(stats.parts) != k:
            raise TypeError(f"HiddenMarkovModel needs HMMStats with {k} parts")
        if not stats.weight > 0:
            if self._fitted:
                return None
            raise ParameterError("cannot estimate a hidden Markov model from no data")
        eff = self.inertia if inertia is None else inertia
        starts, trans = self.starts, self.transitions
        if "starts" not in self._fixed:
            starts = self._normalised("start probabilities", np.asarray(stats.start), self.start_prior,
                                      self.starts, "no sequence starts in a state they allow")
        if "transitions" not in self._fixed:
            counts = np.asarray(stats.trans)
            prior = np.broadcast_to(np.asarray(self.transition_prior, dtype=np.float64), (k, k))
            rows = []
            for i in range(k):
                rows.append(self._normalised(
                    f"transition probabilities of row {i}", counts[i], prior[i],
                    None if self.transitions is None else self.transitions[i],
                    f"state {i} is never occupied before the last step of a sequence"))
            trans = np.array(rows)
        if eff > 0 and self._fitted:
            starts = blend(self.starts, starts, eff)
            trans = blend(self.transitions, trans, eff)
        children = self._propose_emissions(stats, inertia, eff)
        return self._check_params({"starts": starts, "transitions": trans, "distributions": children})

    def _propose_emissions(self, stats: HMMStats, inertia: float | None, eff: float) -> list:
        """Each state's emission update from its record (None: unchanged)."""
        children = []
        for c, (d, part) in enumerate(zip(self.distributions, stats.parts, strict=True)):
            try:
                children.append(d._propose(part, inertia=inertia, inherited=eff))
            except ParameterError as e:
                raise ParameterError(f"the emission of state {c}: {e}") from None
        return children

    def from_summaries(self, stats: HMMStats | None = None) -> HiddenMarkovModel:
        """Run the M-step from E-step statistics.

        Parameters
        ----------
        stats : HMMStats, optional
            Statistics to use; the pending summary when None (then cleared).

        Returns
        -------
        self
            The updated model. If any part of the update is invalid, nothing changes.

        Raises
        ------
        ParameterError
            If the update is invalid (e.g. a transition row with no counts).
        """
        use_pending = stats is None
        if use_pending:
            with self._lock:
                stats = self._pending
            if stats is None:
                raise ValueError("HiddenMarkovModel.from_summaries has no statistics: call "
                                 "summarize first or pass a statistics record")
        self.commit(self.propose(stats))
        if use_pending:
            with self._lock:
                if self._pending is stats:
                    self._pending = None
        return self

    def clear_summaries(self) -> None:
        """Forget the pending statistics accumulated by :meth:`summarize`."""
        with self._lock:
            self._pending = None

    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, lengths: Any = None, *, inertia: float | None = None,
            **settings: Any) -> HiddenMarkovModel:
        """Fit the model by EM (Baum-Welch), streaming ``X`` in batches of whole sequences.

        Every setting defaults to the constructor's value; a keyword given here
        overrides it for this call only.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows of all sequences one after another, of shape (n_samples,
            n_features) (or (n_samples,) for univariate emissions): an array, a memory
            map or a ``.npy`` path (read in place, batch by batch).
        lengths : array-like of int, optional
            The sequence lengths, summing to the rows of ``X`` (hmmlearn's argument);
            one sequence when None.
        inertia : float, optional
            Fit-wide inertia, overriding the model's and the emissions'.
        **settings
            Overrides of the constructor's settings for this call: ``max_iter``,
            ``tol`` (on the mean log-likelihood per row), ``batch_size`` (whole
            sequences per batch; the result does not depend on it up to rounding),
            ``batches_per_epoch``, ``n_jobs`` (threads; bitwise the same result),
            ``algorithm`` (``'em'``, ``'stepwise'``, ``'memoized'``, ...), ``step``,
            ``init`` (the start of unfitted emissions, as for mixtures),
            ``random_state``, ``output_path`` / ``save_every`` / ``resume``
            (snapshots, see :doc:`/snapshots`), ``verbose``, ``callbacks``,
            ``shuffle``.

        Returns
        -------
        self
            The fitted model, with ``n_iter_``, ``converged_``, ``history_`` and
            ``lower_bound_``.

        Raises
        ------
        DataError
            For invalid data or lengths; the model keeps its parameters of the last
            completed pass (its parameters before the fit when no pass completed).
        """
        from ..fitting.fit import fit_learner

        unknown = set(settings) - set(FIT_SETTINGS)
        if unknown:
            raise TypeError(f"fit() got unexpected keyword argument(s) {sorted(unknown)}")
        merged = {name: settings.get(name, getattr(self, name, default))
                  for name, default in FIT_SETTINGS.items()}
        start = {k: merged.pop(k) for k in ("random_state", "init", "output_path", "save_every", "resume")}
        source = as_source(X)
        if lengths is None:
            lengths = [source.n_rows]
        try:
            result = fit_learner(self, source, None, lengths=lengths, inertia=inertia, **start, **merged)
        except BaseException as exc:
            partial = getattr(exc, "fit_result", None)
            if partial is not None and partial.history:
                self._record_fit(partial)
            raise
        self._record_fit(result)
        return self

    def _record_fit(self, result: Any) -> None:
        self.history_ = result.history
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        last = result.history[-1] if result.history else None
        self.lower_bound_ = float("nan") if last is None else last["mean_log_likelihood"]

    # -- streamed inference ---------------------------------------------------------------
    def _map_sequences(self, fn_name: str, X: Any, lengths: Any, batch_size: int | None,
                       n_jobs: int) -> list:
        self._require_fitted()
        source = as_source(X)
        source = source.with_lengths([source.n_rows] if lengths is None else lengths)
        size = source.default_batch_size() if batch_size is None else check_count(
            "batch_size", batch_size, minimum=1)
        ranges = source.ranges(size)
        return list(ordered_map(_sequence_batch, source, ranges, n_jobs=effective_n_jobs(n_jobs),
                                args=(self, fn_name), with_lengths=True))

    def _batch_log_probability(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        X = self._check_data(X)
        bounds = self._bounds(lengths, X.shape[0])
        return self._forward_backward(X, bounds, False, self._layout())[3]

    def _batch_posteriors(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        X = self._check_data(X)
        bounds = self._bounds(lengths, X.shape[0])
        return self._forward_backward(X, bounds, True, self._layout())[0].T

    def _batch_viterbi(self, X: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_data(X)
        bounds = self._bounds(lengths, X.shape[0])
        logb = self._emission_log_probs(X, self._layout())
        path = np.empty(X.shape[0], dtype=np.int64)
        seq_ll = np.empty(bounds.shape[0] - 1)
        viterbi(logb, bounds, self._log_starts, self._log_trans, path, seq_ll)
        return path, seq_ll

    def log_probability(self, X: Any, lengths: Any = None, *, batch_size: int | None = None,
                        n_jobs: int = 1) -> np.ndarray:
        """Return the log-likelihood of each sequence (forward algorithm).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.
        batch_size : int, optional
            Sequences per batch.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_sequences,)
            ``log p(x_{1:T})`` of each sequence (``-inf`` for an impossible one).
        """
        return np.concatenate(self._map_sequences("_batch_log_probability", X, lengths, batch_size, n_jobs))

    def predict_proba(self, X: Any, lengths: Any = None, *, batch_size: int | None = None,
                      n_jobs: int = 1) -> np.ndarray:
        """Return the posterior state marginals of each row (forward-backward).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.
        batch_size : int, optional
            Sequences per batch.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            ``P(s_t = j | x)`` for each row; rows sum to 1.
        """
        return np.concatenate(self._map_sequences("_batch_posteriors", X, lengths, batch_size, n_jobs))

    def viterbi(self, X: Any, lengths: Any = None, *, batch_size: int | None = None,
                n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Return the most probable state path and its log-probability per sequence.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.
        batch_size : int, optional
            Sequences per batch.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        path : ndarray of shape (n_samples,)
            The state of each row on the Viterbi path.
        log_prob : ndarray of shape (n_sequences,)
            The log-probability of each sequence's path (jointly with the data).
        """
        parts = self._map_sequences("_batch_viterbi", X, lengths, batch_size, n_jobs)
        return np.concatenate([p for p, _ in parts]), np.concatenate([s for _, s in parts])

    def predict(self, X: Any, lengths: Any = None, *, batch_size: int | None = None,
                n_jobs: int = 1) -> np.ndarray:
        """Return the Viterbi state of each row.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.
        batch_size : int, optional
            Sequences per batch.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            The most probable state path, row by row.
        """
        return self.viterbi(X, lengths, batch_size=batch_size, n_jobs=n_jobs)[0]

    def score(self, X: Any, lengths: Any = None, *, batch_size: int | None = None,
              n_jobs: int = 1) -> float:
        """Return the total log-likelihood of the sequences.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.
        batch_size : int, optional
            Sequences per batch.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        float
            The sum of :meth:`log_probability`.
        """
        return float(self.log_probability(X, lengths, batch_size=batch_size, n_jobs=n_jobs).sum())

    def sample(self, n_sequences: int, length: int, random_state: Any = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw sequences from the model.

        Parameters
        ----------
        n_sequences : int
            Number of sequences.
        length : int
            Length of each sequence.
        random_state : None, int or numpy.random.Generator, default=None
            Seed or generator.

        Returns
        -------
        X : ndarray of shape (n_sequences * length,) or (n_sequences * length, n_features)
            The rows, sequence after sequence (``lengths = [length] * n_sequences``).
        states : ndarray of shape (n_sequences * length,)
            The hidden state of each row.
        """
        n_sequences = check_count("n_sequences", n_sequences, minimum=1)
        length = check_count("length", length, minimum=1)
        self._require_fitted()
        rng = check_random_state(random_state)
        states = np.empty((n_sequences, length), dtype=np.int64)
        cum_start = np.cumsum(self.starts)
        cum_trans = np.cumsum(self.transitions, axis=1)
        k = self.n_components
        u = rng.random((n_sequences, length))
        states[:, 0] = np.minimum(np.searchsorted(cum_start, u[:, 0], side="right"), k - 1)
        for t in range(1, length):
            rows = cum_trans[states[:, t - 1]]
            states[:, t] = np.minimum((rows <= u[:, t, None]).sum(axis=1), k - 1)
        flat = states.reshape(-1)
        out = None
        for c, d in enumerate(self.distributions):
            where = np.flatnonzero(flat == c)
            if not where.size:
                continue
            draws = d._sample(int(where.size), rng)
            if out is None:
                out = np.empty((flat.shape[0], *draws.shape[1:]))
            out[where] = draws
        return out, flat

    # -- the learner protocol (suffstat.fitting.learner) --------------------------------
    def objective(self, stats: HMMStats, *, fresh: bool = True) -> float | None:
        """Return the log-likelihood of a record (None for memoized records).

        Parameters
        ----------
        stats : HMMStats
            E-step statistics.
        fresh : bool, default=True
            Whether ``stats`` was summarized under the current parameters.

        Returns
        -------
        float or None
            The log-likelihood, or None when the record is not fresh.
        """
        return float(stats.log_likelihood) if fresh else None

    def propose(self, stats: HMMStats, *, inertia: float | None = None) -> dict[str, Any] | None:
        """Compute and validate the M-step for ``stats`` without changing the model.

        Parameters
        ----------
        stats : HMMStats
            E-step statistics.
        inertia : float, optional
            Fit-wide inertia.

        Returns
        -------
        dict or None
            The validated parameters for :meth:`commit`.

        Raises
        ------
        ParameterError
            If the update would be invalid (nothing is changed).
        """
        return self._propose(stats, inertia=inertia)

    def commit(self, proposal: dict[str, Any] | None) -> None:
        """Apply a proposal from :meth:`propose` or :meth:`validate`.

        Parameters
        ----------
        proposal : dict or None
            Validated parameters; None changes nothing.
        """
        if proposal is not None:
            self._set_params(proposal)

    def end_of_pass(self, stats: HMMStats, stored: list, read_batch: Any = None) -> None:
        """Structure moves at the end of a pass: none.

        Parameters
        ----------
        stats : HMMStats
            The pass's statistics.
        stored : list
            Memoized per-batch records.

        Returns
        -------
        None
            Nothing changes.
        """
        return None

    def get_parameters(self) -> dict[str, Any]:
        """Return the current parameters as a nested dict.

        Returns
        -------
        dict
            ``{"starts", "transitions", "distributions"}``.
        """
        return self._get_params()

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate nested parameters (as from :meth:`get_parameters`) into a proposal.

        Parameters
        ----------
        params : dict
            Parameters of this model's shape.

        Returns
        -------
        dict
            The validated parameters.
        """
        return self._check_params(params)

    def trace_values(self) -> dict[str, Any]:
        """Return the extra trace columns of a pass (none).

        Returns
        -------
        dict
            Empty.
        """
        return {}

    def is_fitted(self) -> bool:
        """Return whether every emission and the probabilities have values.

        Returns
        -------
        bool
            True when the model can summarize.
        """
        return self._fitted

    def n_features_in(self) -> int | None:
        """Return the number of data columns the model expects (None if unknown).

        Returns
        -------
        int or None
            :attr:`n_features`.
        """
        return self.n_features

    def seed_count(self) -> int:
        """Return how many seeds a named start draws: one per state.

        Returns
        -------
        int
            :attr:`n_components`.
        """
        return self.n_components

    def blank(self) -> HiddenMarkovModel:
        """Return a copy without parameters (emissions, starts and transitions cleared).

        Returns
        -------
        HiddenMarkovModel
            The copy, to be started from seeds.
        """
        d = self.to_dict()
        d["params"] = {"starts": None, "transitions": None,
                       "distributions": [_unfitted(e) for e in d["params"]["distributions"]]}
        blank = HiddenMarkovModel.from_dict(d)
        blank.starts = blank.transitions = None
        blank._log_starts = blank._log_trans = None
        return blank

    def seed_statistics(self, X: Any, sample_weight: Any, labels: np.ndarray) -> HMMStats:
        """Return each state's emission record over the rows nearest its seed.

        Start and transition counts are zero: a start gives them the model's own
        (constructor) values.

        Parameters
        ----------
        X : ndarray
            A batch.
        sample_weight : ndarray or None
            Row weights.
        labels : ndarray of shape (n_samples,)
            The seed nearest each row.

        Returns
        -------
        HMMStats
            Hard-assignment emission records.
        """
        X = self._check_data(X, allow_empty=True)
        w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        k = self.n_components
        parts = []
        for c, d in enumerate(self.distributions):
            wc = w * (labels == c)
            if d._zeros_absorb:
                wc = wc + START_SHARE * w
            parts.append(d.summarize(X, np.ascontiguousarray(wc), accumulate=False))
        return HMMStats(w_sum=float(w.sum()), n_sequences=0.0, start=np.zeros(k),
                        trans=np.zeros((k, k)), log_likelihood=0.0, parts=parts)

    def empty_seeds(self, stats: HMMStats) -> list[int]:
        """Return the states of a start record whose emission received no row.

        Parameters
        ----------
        stats : HMMStats
            From :meth:`seed_statistics`.

        Returns
        -------
        list of int
            State indices.
        """
        return [c for c, p in enumerate(stats.parts) if not p.weight > 0]

    def seeded(self, params: dict[str, Any]) -> dict[str, Any]:
        """The start: the seeds' emissions with this model's own starts and transitions.

        Parameters
        ----------
        params : dict
            Parameters a named start found.

        Returns
        -------
        dict
            The validated starting parameters.
        """
        return self._check_params({"starts": self.starts, "transitions": self.transitions,
                                   "distributions": params["distributions"]})

    def warm_start(self, other: Any, what: str = "init") -> None:
        """Take a compatible fitted model's parameters.

        Parameters
        ----------
        other : HiddenMarkovModel or dict
            A fitted model with as many states of the same families, or its
            :meth:`to_dict`.
        what : str, default='init'
            How ``other`` is named in errors.

        Raises
        ------
        ParameterError
            If ``other`` does not fit this model (nothing is changed).
        """
        if isinstance(other, dict):
            other = model_class(other.get("class")).from_dict(other)
        if not isinstance(other, HiddenMarkovModel):
            raise ParameterError(f"{what} must be a HiddenMarkovModel; got {type(other).__name__}")
        if other.n_components != self.n_components:
            raise ParameterError(f"cannot warm-start a {self.n_components}-state model from a "
                                 f"{other.n_components}-state one")
        for c, (a, b) in enumerate(zip(self.distributions, other.distributions, strict=True)):
            if type(a) is not type(b):
                raise ParameterError(f"cannot warm-start state {c}: it is a {type(a).__name__}, "
                                     f"the model's is a {type(b).__name__}")
        if not other._fitted:
            raise ParameterError(f"{what} has no fitted parameters to start from")
        self._set_params(self._check_params(other._get_params()))

    def copy(self) -> HiddenMarkovModel:
        """Return an independent copy (parameters and options).

        Returns
        -------
        HiddenMarkovModel
            A deep copy.
        """
        new = type(self).from_dict(self.to_dict())
        new._fixed = set(self._fixed)
        return new

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the model as a dict of plain values and arrays.

        Returns
        -------
        dict
            ``{"class": "HiddenMarkovModel", "params": {...}, "options": {...}}``;
            :meth:`from_dict` and :func:`suffstat.load` rebuild the model from it.
        """
        def arr(v: Any) -> Any:
            return None if v is None else np.array(v, dtype=np.float64)

        return {
            "class": "HiddenMarkovModel",
            "params": {"starts": arr(self.starts), "transitions": arr(self.transitions),
                       "distributions": [d.to_dict() for d in self.distributions]},
            "options": {"start_prior": _plain(self.start_prior),
                        "transition_prior": _plain(self.transition_prior),
                        "inertia": float(self.inertia)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HiddenMarkovModel:
        """Rebuild a model from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict
            The output of :meth:`to_dict`.

        Returns
        -------
        HiddenMarkovModel
            The model.
        """
        if not isinstance(d, dict) or d.get("class") != "HiddenMarkovModel":
            raise ValueError("the dict does not describe a HiddenMarkovModel")
        params, options = dict(d["params"]), dict(d.get("options", {}))
        dists = [Distribution.from_dict(e) for e in params["distributions"]]
        return cls(dists, transitions=params.get("transitions"), starts=params.get("starts"),
                   **options)

    def save(self, path: Any) -> None:
        """Save the model to a ``.npz`` file (atomically; :func:`suffstat.load` reads it
        without pickle).

        Parameters
        ----------
        path : str or os.PathLike
            Destination file.
        """
        _save(self, path)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(d) for d in self.distributions)
        return f"HiddenMarkovModel([\n  {inner}\n], n_components={self.n_components})"


register(HiddenMarkovModel)


def _plain(v: Any) -> Any:
    return v.copy() if isinstance(v, np.ndarray) else float(v)


def _unfitted(d: dict[str, Any]) -> dict[str, Any]:
    """An emission's dict with its parameters cleared (nested ones too; options kept)."""
    nested = d["params"].get("distributions")
    if isinstance(nested, list):
        return {**d, "params": {**d["params"], "distributions": [_unfitted(c) for c in nested]}}
    return {**d, "params": {k: None for k in d["params"]}}


__all__ = ["HiddenMarkovModel"]
