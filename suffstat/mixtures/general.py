"""GeneralMixtureModel: a mixture of any distributions, itself a distribution and a learner."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._estimator import EstimatorParams
from .._nested import blend
from .._validation import check_count, check_probs, check_weights
from ..distributions._base import Distribution
from ..distributions.multivariate_normal import MultivariateNormal
from ..exceptions import (
    DataError,
    EmptyComponentWarning,
    NotFittedError,
    ParameterError,
    warn_at_caller,
)
from ..fitting.learner import EMLearnerDefaults
from ..prediction import StreamedPrediction
from ..statistics import MixtureStats, SeedStats, Statistic

#: Share of every row that each component of a start receives when zeros are absorbing
#: for its family (a Categorical category unseen among its seed's rows would keep
#: probability 0 for good: EM never revives it).
START_SHARE = 1e-3
#: Constructor settings of a fit (each also a keyword of :meth:`GeneralMixtureModel.fit`).
FIT_SETTINGS = {
    "max_iter": 100, "tol": 1e-3, "batch_size": None, "batches_per_epoch": None, "n_jobs": 1,
    "algorithm": "em", "step": None, "init": None, "n_init": 1, "random_state": None,
    "output_path": None, "verbose": False, "callbacks": None, "shuffle": True, "average": False,
    "average_start": None, "n_total": None, "save_every": 1, "resume": False, "max_kmeans_iter": 10, "samplings": 100,
    "percentage": 0.02, "converge_on": None,
}

class GeneralMixtureModel(StreamedPrediction, EstimatorParams, EMLearnerDefaults, Distribution):
    r"""A finite mixture of distributions, fitted by (streaming) EM.

    Parameters
    ----------
    distributions : sequence of Distribution
        The components (used, not copied). They may be of different families but must
        take data of the same shape: all univariate, or all of the same dimension.
    weights : array-like of shape (k,), optional
        Mixture weights (non-negative, summing to 1); uniform when None.
    inertia : float, default=0.0
        Weight of the old parameters in each update: of the weights, and of the
        parameters of every component whose own ``inertia`` is 0 (a component's own
        inertia wins; inertias never compound). ``fit(inertia=...)`` overrides both.
    frozen : bool, default=False
        If True, updates leave the model unchanged.
    max_iter, tol, batch_size, batches_per_epoch, n_jobs, algorithm, step, init, n_init, random_state, output_path, verbose : optional
        Default settings of :meth:`fit` (see there), in scikit-learn's style: set them
        here, read and change them with :meth:`get_params` / :meth:`set_params`
        (so ``sklearn.base.clone``, ``Pipeline`` and ``GridSearchCV`` work); a
        keyword given to :meth:`fit` overrides them for that call. ``callbacks``,
        ``shuffle``, ``average``, ``average_start``, ``n_total``, ``save_every``, ``resume``,
        ``max_kmeans_iter``, ``samplings`` and ``percentage`` are accepted too.

    Attributes
    ----------
    n_iter_ : int
        Full passes over the data completed by the last :meth:`fit` (also when it
        was interrupted). Like every attribute ending in ``_``, it exists only after
        a fit.
    converged_ : bool
        Whether the last :meth:`fit` met ``tol``.
    history_ : list of dict
        One entry per full pass: ``iteration``, ``log_likelihood``, ``improvement``,
        ``time``.
    lower_bound_ : float
        Mean log-likelihood per unit weight of the last completed pass (scikit-learn's
        name).
    trials_ : list of dict
        One record per ``n_init`` trial.

    Notes
    -----
    .. math:: p(x) = \sum_k \pi_k p_k(x)

    :meth:`summarize` is the E-step: responsibilities
    :math:`r_{ik} = \pi_k p_k(x_i) / p(x_i)` weight each component's statistics,
    and the record (:class:`~suffstat.statistics.MixtureStats`) also carries
    :math:`\sum_i r_{ik}` and the log-likelihood. :meth:`from_summaries` is the
    M-step: :math:`\pi_k \propto \sum_i r_{ik}` and each component's own update.
    Mixtures whose components are all :class:`~suffstat.MultivariateNormal` of one
    covariance type, or all :class:`~suffstat.Normal`, run a fused numba E-step;
    any other mixture composes its components' ``summarize``. A component that
    receives no responsibility keeps its parameters and gets weight 0.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, 500), rng.normal(3, 1, 500)])
    >>> gmm = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)])
    >>> gmm = gmm.fit(X, max_iter=50)
    >>> [round(d.mean) for d in gmm.distributions]
    [-3, 3]
    """

    _param_names = ("weights", "distributions")
    _stats_type = MixtureStats
    #: Use the fused kernels where the components allow it (tests compare both paths).
    _fused = True
    #: The learner protocol's declared objective.
    objective_name = "log_likelihood"

    def __init__(
        self,
        distributions: Any,
        weights: Any = None,
        *,
        inertia: float = 0.0,
        frozen: bool = False,
        max_iter: int = 100,
        tol: float | None = 1e-3,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        algorithm: str = "em",
        step: Any = None,
        init: Any = None,
        n_init: int = 1,
        random_state: Any = None,
        output_path: Any = None,
        verbose: bool = False,
        callbacks: Any = None,
        shuffle: bool = True,
        average: bool = False,
        average_start: Any = None,
        n_total: float | None = None,
        save_every: int = 1,
        resume: bool = False,
        max_kmeans_iter: int = 10,
        samplings: int = 100,
        percentage: float = 0.02,
    ) -> None:
        super().__init__(inertia=inertia, frozen=frozen)
        dists = distributions if isinstance(distributions, list) else list(distributions)
        if not dists:
            raise ParameterError("distributions must hold at least one distribution")
        for j, d in enumerate(dists):
            if not isinstance(d, Distribution):
                raise ParameterError(f"distributions[{j}] must be a Distribution; got {d!r}")
        ndims = {d._ndim for d in dists}
        if len(ndims) > 1:
            raise ParameterError("the components mix univariate and multivariate distributions")
        dims = {d.n_features for d in dists} - {None}
        if len(dims) > 1:
            raise ParameterError(f"the components have different numbers of features: {sorted(dims)}")
        self.distributions = dists
        self._ndim = dists[0]._ndim
        k = len(dists)
        given = weights
        weights = np.full(k, 1.0 / k) if weights is None else weights
        self._set_params(self._check_params({"weights": weights, "distributions": [None] * k}))
        # what the constructor was given, for get_params (sklearn's clone checks identity)
        self._given = {"weights": given, "inertia": inertia, "frozen": frozen}
        self._empty_warned = False
        self.max_iter, self.tol, self.batch_size = max_iter, tol, batch_size
        self.batches_per_epoch, self.n_jobs, self.algorithm, self.step = batches_per_epoch, n_jobs, algorithm, step
        self.init, self.n_init, self.random_state = init, n_init, random_state
        self.output_path, self.verbose, self.callbacks = output_path, verbose, callbacks
        self.shuffle, self.average, self.n_total = shuffle, average, n_total
        self.average_start = average_start
        self.save_every, self.resume = save_every, resume
        self.max_kmeans_iter, self.samplings, self.percentage = max_kmeans_iter, samplings, percentage

    def _get_param_value(self, name: str) -> Any:
        if name == "weights":  # the constructor's value, not the fitted weights
            return self._given["weights"]
        if name in ("inertia", "frozen") and self._given[name] == getattr(self, name):
            return self._given[name]
        return getattr(self, name)

    def _set_param_value(self, name: str, value: Any) -> None:
        if name in ("distributions", "weights", "inertia", "frozen"):
            raise ValueError(f"{name} is set by the constructor; build a new GeneralMixtureModel")
        setattr(self, name, value)

    # -- parameters -------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of components k."""
        return len(self.distributions)

    @property
    def n_active(self) -> int:
        """Number of components with a positive weight."""
        return int(np.count_nonzero(self.weights > 0))

    @property
    def n_features(self) -> int | None:
        """Number of columns of the data (1 for univariate components)."""
        dims = {d.n_features for d in self.distributions} - {None}
        return dims.pop() if dims else None

    @property
    def n_features_in_(self) -> int | None:
        """scikit-learn's name for :attr:`n_features`."""
        return self.n_features

    @property
    def _fitted(self) -> bool:
        return all(d._fitted for d in self.distributions)

    def _require_fitted(self) -> None:
        for j, d in enumerate(self.distributions):
            if not d._fitted:
                raise _not_fitted_error(j, d)

    def _get_params(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "distributions": [d._get_params() for d in self.distributions],
        }

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        weights = check_probs("weights", params["weights"])
        if weights.shape[0] != self.n_components:
            raise ParameterError(
                f"weights must have one entry per component ({self.n_components}); "
                f"got {weights.shape[0]}"
            )
        children = [
            None if p is None else d._check_params(p)
            for d, p in zip(self.distributions, params["distributions"], strict=True)
        ]
        return {"weights": weights, "distributions": children}

    def _set_params(self, params: dict[str, Any]) -> None:
        for d, p in zip(self.distributions, params["distributions"], strict=True):
            if p is not None:
                d._set_params(p)
        self.weights = params["weights"]
        with np.errstate(divide="ignore"):
            self._log_weights = np.log(self.weights)
        empty = params.get("_empty")
        if empty and not getattr(self, "_empty_warned", False):
            self._empty_warned = True
            warn_at_caller(
                f"mixture component(s) {empty} received no responsibility: they keep their "
                "parameters and get weight 0. Consider fewer components or another "
                "initialization.",
                EmptyComponentWarning,
            )


    # -- E-step -----------------------------------------------------------------------
    def _fused_estep(self) -> Any:
        """The components' shared fused E-step (runner and arrays), or None."""
        if not self._fused or not self._fitted:
            return None
        specs = [d._mixture_estep() for d in self.distributions]
        if any(s is None for s in specs) or len({s.key for s in specs}) != 1:
            return None
        return specs[0].run, [s.arrays for s in specs]

    def _component_log_probs(self, X: np.ndarray) -> np.ndarray:
        """(n, k) array of log pi_k + log p_k(x)."""
        out = np.empty((X.shape[0], self.n_components))
        for c, d in enumerate(self.distributions):
            out[:, c] = d._log_probability(X)
        return out + self._log_weights

    def _check_support(self, X: np.ndarray) -> None:
        # A mixture's support is the union of its components': one family's rule
        # applies when every component is of that family.
        if len({type(d) for d in self.distributions}) == 1:
            self.distributions[0]._check_support(X)

    def _validated_stats(self, X: Any, sample_weight: Any, allow_empty: bool = True) -> MixtureStats:
        fused = self._fused_estep()
        if fused is None:
            return super()._validated_stats(X, sample_weight, allow_empty)
        # The fused kernels flag non-finite rows as they go, so valid data is read
        # once; only a flagged batch is checked again, to name the row.
        X = self._check_data(X, allow_empty=allow_empty, finite=False)
        run, arrays = fused
        w = check_weights(sample_weight, X.shape[0])
        stats, finite = run(X, w, self._log_weights, arrays)
        if not finite:
            self._check_data(X)  # raises, unless the flag came from an overflow
        return self._check_stats(stats, X, w)  # raises for an overflow

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> MixtureStats:
        fused = self._fused_estep()
        if fused is not None:
            run, arrays = fused
            return run(X, w, self._log_weights, arrays)[0]
        logp = self._component_log_probs(X)
        lse = logsumexp(logp, axis=1) if X.shape[0] else np.zeros(0)
        with np.errstate(invalid="ignore"):
            resp = np.exp(logp - lse[:, None])
        resp[~np.isfinite(lse)] = 0.0
        positive = w > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(resp > 0, resp * np.log(resp), 0.0)
        entropy = -float(np.dot(w, plogp.sum(axis=1)))
        resp *= w[:, None]
        parts = [
            d._summarize(X, np.ascontiguousarray(resp[:, c])) for c, d in enumerate(self.distributions)
        ]
        return MixtureStats(
            w_sum=float(w.sum()),
            resp_sum=resp.sum(axis=0),
            log_likelihood=float(np.dot(w[positive], lse[positive])),
            entropy=entropy,
            parts=parts,
        )

    def summarize(self, X: Any, sample_weight: Any = None, *, accumulate: bool = True) -> MixtureStats:
        """Run the E-step on a batch and return its statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, n_features)
            Batch of observations.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.
        accumulate : bool, default=True
            Also add the result to the pending statistics.

        Returns
        -------
        MixtureStats
            Responsibility-weighted component statistics, summed responsibilities and
            the batch log-likelihood.
        """
        self._require_fitted()
        return super().summarize(X, sample_weight, accumulate=accumulate)  # type: ignore

    # -- M-step -----------------------------------------------------------------------
    def from_summaries(self, stats: MixtureStats | None = None):
        """Run the M-step from E-step statistics.

        Parameters
        ----------
        stats : MixtureStats, optional
            Statistics to use; the pending summary when None (then cleared).

        Returns
        -------
        self
            The updated mixture. If any component's update is invalid, nothing changes.
        """
        self._empty_warned = False
        return super().from_summaries(stats)

    def _propose(self, stats: MixtureStats, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        if isinstance(stats, SeedStats):  # a mixed-family start: match families to seeds first
            stats = self._assign_seeds(stats)
        if not isinstance(stats, MixtureStats) or len(stats.parts) != self.n_components:
            raise TypeError(
                f"GeneralMixtureModel needs MixtureStats with {self.n_components} parts"
            )
        if self.frozen:
            return None
        resp_sum = np.asarray(stats.resp_sum, dtype=np.float64)
        if not np.all(np.isfinite(resp_sum)) or np.any(resp_sum < 0):
            raise ParameterError(
                f"the statistics give invalid component weights {resp_sum.tolist()} (they must be "
                "finite and non-negative): they are not the record of any data"
            )
        total = float(np.sum(resp_sum))
        if not total > 0:
            if self._fitted:
                return None
            raise ParameterError("cannot estimate a mixture from data of total weight 0")
        empty = [c for c in range(self.n_components) if not resp_sum[c] > 0]
        eff = self._effective_inertia(inertia, inherited)
        children = []
        for c, (d, part) in enumerate(zip(self.distributions, stats.parts, strict=True)):
            try:
                p = d._propose(part, inertia=inertia, inherited=eff)
            except ParameterError as e:
                raise ParameterError(f"component {c} of the mixture: {e}") from None
            children.append(p)
        weights = resp_sum / total
        if eff > 0 and self._fitted:
            weights = blend(self.weights, weights, eff)
        proposal = self._check_params({"weights": weights, "distributions": children})
        # Empty components are warned about when the proposal is committed: a proposal
        # that is only probed (the momentum guard) changes nothing, not even a flag.
        if empty:
            proposal["_empty"] = empty
        return proposal

    def _estimate(self, stats: MixtureStats) -> dict[str, Any]:
        raise NotImplementedError  # _propose is overridden

    def _free_energy(self, stats: MixtureStats) -> float:
        """Neal and Hinton's free energy of the responsibilities in ``stats`` and the
        current parameters: ``sum_i sum_k r_ik log(pi_k p_k(x_i)) + H(r)``.

        It equals the log-likelihood when the responsibilities are the posterior
        under the current parameters, and EM steps (batch E-steps, M-steps) never
        decrease it. Raises NotImplementedError for components whose expected
        log-density cannot be computed from their statistics.
        """
        total = float(stats.entropy)
        for c, (d, part) in enumerate(zip(self.distributions, stats.parts, strict=True)):
            r = float(stats.resp_sum[c])
            if r > 0:
                total += r * float(self._log_weights[c]) + d._expected_log_probability(part)
        return total

    # -- densities and predictions -------------------------------------------------------
    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        return logsumexp(self._component_log_probs(X), axis=1)

    def _predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        logp = self._component_log_probs(X)
        return logp - logsumexp(logp, axis=1)[:, None]

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        counts = rng.multinomial(n, self.weights)
        labels = np.repeat(np.arange(self.n_components), counts)
        parts = [d._sample(int(m), rng) for d, m in zip(self.distributions, counts, strict=True)]
        X = np.concatenate(parts)
        order = rng.permutation(n)
        self._last_sample_labels = labels[order]
        return X[order]


    # -- fitting ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, *, inertia: float | None = None,
            **settings: Any):
        """Fit the mixture by EM, streaming ``X`` in batches.

        Every setting defaults to the constructor's value (see :meth:`get_params`);
        a keyword given here overrides it for this call only.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data: an array of shape (n_samples, n_features) (or (n_samples,) for
            univariate components), a memory map, a path to a ``.npy`` file (read in
            place, never loaded whole), an h5py / zarr dataset or any array-like
            with ``shape``, ``dtype`` and row slicing. float32 is accepted;
            accumulation is float64.
        y : ignored
            Accepted and ignored, as in scikit-learn (so a ``Pipeline`` can pass it).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (may be a memory map too).
        inertia : float, optional
            Fit-wide inertia: when given, it blends every parameter (weights and
            components) in every update, in place of the model's and the
            components' own ``inertia``.
        **settings
            Overrides of the constructor's settings for this call:

            max_iter : int, default=100
                Full passes over the data, in every mode.
            tol : float or None, default=1e-3
                Convergence tolerance on the *mean log-likelihood per unit weight*.
                Batch EM (one update per pass) has converged when it changes by at
                most ``tol`` between two passes (scikit-learn's rule); a decrease is
                never convergence and is reported once as a
                :class:`~suffstat.ConvergenceWarning`. Minibatch, stepwise and
                memoized modes need the last three changes all within ``tol`` and
                the pass within ``tol`` of the best pass. None runs exactly
                ``max_iter`` passes.
            batch_size : int, optional
                Rows per batch. The result does not depend on it (up to rounding).
                By default about 8 MiB of float64 rows (at least 1024).
            batches_per_epoch : int, optional
                Update the parameters after every this many batches (minibatch EM;
                for ``'stepwise'`` and ``'memoized'`` the default is 1), visiting the
                batches of each pass in a shuffled order seeded by ``random_state``.
            n_jobs : int, default=1
                Batches summarized concurrently by threads running nogil kernels (-1:
                all cores). Results are added in batch order, so the fit is bitwise
                identical for every ``n_jobs``. Inside
                ``joblib.parallel_config(backend="dask")`` the batches are
                summarized on a Dask cluster instead.
            verbose : bool, default=False
                Print ``[i] Improvement: ... Time (s): ...`` per pass, totals at the
                end, and a progress bar over long passes.
            callbacks : list of Callback, optional
                Objects with ``on_training_begin``, ``on_epoch_end(logs)`` and
                ``on_training_end(logs)``, e.g. :class:`~suffstat.History`.
            random_state : None, int or numpy.random.Generator, default=None
                Seeds the initialization and the batch order of minibatch modes.
            init : str, Distribution, str path or None, default=None
                ``'kmeans++'``, ``'random'``, ``'first-k'``, ``'kmeans'`` (k-means++
                seeds then ``max_kmeans_iter`` Lloyd passes over the stream),
                ``'refined'`` (Bradley-Fayyad with ``samplings`` and ``percentage``),
                or bnpy's ``'randexamples'`` / ``'randexamplesbydist'`` (random /
                k-means++ rows, each its component's only row: for variational
                mixtures, whose prior keeps one row valid);
                or a fitted mixture, a saved model file or a snapshot folder to
                warm-start from. None keeps the current parameters when the
                components are fitted, and uses ``'kmeans++'`` otherwise.
            n_init : int, default=1
                Trials from different seeds (derived from ``random_state``), each
                starting from ``init``; the one with the highest final
                log-likelihood is kept and every trial is recorded in ``trials_``.
            algorithm : {'em', 'stepwise', 'memoized', 'sem-vr', 'fiem'}, default='em'
                Full-pass (or minibatch) EM; stochastic EM blending statistics with
                a step rule; memoized (incremental) EM keeping one record per
                batch; variance-reduced stochastic EM; or fast incremental EM
                (see :doc:`/algorithms`).
            step : suffstat.steps.StepRule, optional
                Step rule of ``'stepwise'`` (default ``PowerDecay()``), ``'sem-vr'``
                and ``'fiem'`` (default ``Constant()``).
            shuffle : bool, default=True
                Shuffle the batch order of each pass in the minibatch modes.
            n_total : float, optional
                Total weight N used to scale stepwise statistics.
            average : bool, default=False
                Polyak-Ruppert averaging of the stepwise parameters.
            average_start : int or float, optional
                First lap whose updates enter the average (default 2): a lap
                number, or a fraction ``f`` of ``max_iter`` in (0, 1) (the laps
                after the first ``floor(f * max_iter)``). Needs ``average=True``.
            output_path : str or os.PathLike, optional
                Folder for per-lap snapshots ``lap-0003.npz`` and ``trace.csv``.
            save_every : int, default=1
                Write a snapshot every this many laps (full passes).
            resume : bool, default=False
                Continue from the newest readable snapshot in ``output_path``.
            max_kmeans_iter, samplings, percentage : int, int, float
                Options of ``init='kmeans'`` and ``init='refined'``.

        Returns
        -------
        self
            The fitted mixture, with ``n_iter_``, ``converged_``, ``history_``,
            ``lower_bound_`` and ``trials_``.

        Raises
        ------
        DataError
            For invalid data; the message names the global row. The model then keeps
            the parameters of its last completed update, and the attributes record
            the completed passes.
        """
        from ..fitting.fit import INIT_OPTIONS, fit_learner

        unknown = set(settings) - set(FIT_SETTINGS)
        if unknown:
            raise TypeError(f"fit() got unexpected keyword argument(s) {sorted(unknown)}")
        merged = {name: settings.get(name, getattr(self, name, default))
                  for name, default in FIT_SETTINGS.items()}
        start = {k: merged.pop(k) for k in ("random_state", "init", "n_init", "output_path",
                                            "save_every", "resume")}
        options = {k: merged.pop(k) for k in INIT_OPTIONS}
        self._empty_warned = False
        try:
            result = fit_learner(self, X, sample_weight, inertia=inertia, init_options=options,
                                 **start, **merged)
        except BaseException as exc:
            partial = getattr(exc, "fit_result", None)
            if partial is not None and partial.history:  # else the model is as it was
                self._record_fit(partial)
            raise
        self._record_fit(result)
        return self

    def _record_fit(self, result: Any) -> None:
        self.history_ = result.history
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.trials_ = result.trials
        last = result.history[-1] if result.history else None
        self.lower_bound_ = float("nan") if last is None else last["mean_log_likelihood"]

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None, **settings: Any) -> np.ndarray:
        """Fit the mixture, then return the most probable component of each row.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        y : ignored
            Accepted for scikit-learn compatibility.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.
        **settings
            Overrides of the fit settings, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component indices under the fitted parameters.
        """
        self.fit(X, y, sample_weight, **settings)
        return self.predict(X, batch_size=settings.get("batch_size", self.batch_size),
                            n_jobs=settings.get("n_jobs", self.n_jobs))

    def n_parameters(self) -> int:
        """Return the number of free parameters (weights and every component's).

        Returns
        -------
        int
            ``k - 1`` for the weights plus each component's count.
        """
        return self.n_components - 1 + sum(d._n_parameters() for d in self.distributions)

    def bic(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> float:
        """Return the Bayesian information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data (streamed like :meth:`log_probability`).
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        float
            ``-2 log L + p log n``.
        """
        ll = self.log_probability(X, batch_size=batch_size, n_jobs=n_jobs)
        return float(-2.0 * ll.sum() + self.n_parameters() * np.log(ll.shape[0]))

    def aic(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> float:
        """Return the Akaike information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data (streamed like :meth:`log_probability`).
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        float
            ``-2 log L + 2 p``.
        """
        ll = self.log_probability(X, batch_size=batch_size, n_jobs=n_jobs)
        return float(-2.0 * ll.sum() + 2.0 * self.n_parameters())

    # -- the learner protocol (suffstat.fitting.learner) --------------------------------
    def objective(self, stats: MixtureStats, *, fresh: bool = True) -> float | None:
        """Return the log-likelihood of a record (the learner protocol's objective).

        Parameters
        ----------
        stats : MixtureStats
            E-step statistics.
        fresh : bool, default=True
            True when ``stats`` was summarized under the current parameters: the
            value is its log-likelihood. False for memoized records: the free
            energy of their responsibilities under the current parameters, or None
            when a component cannot score from its statistics.

        Returns
        -------
        float or None
            The objective.
        """
        if fresh:
            return float(stats.log_likelihood)
        try:
            return float(self._free_energy(stats))
        except NotImplementedError:
            return None

    def propose(self, stats: MixtureStats, *, inertia: float | None = None) -> dict[str, Any] | None:
        """Compute and validate the M-step for ``stats`` without changing the model.

        Parameters
        ----------
        stats : MixtureStats
            E-step statistics.
        inertia : float, optional
            Fit-wide inertia overriding the model's and the components'.

        Returns
        -------
        dict or None
            The validated parameters for :meth:`commit`; None when nothing changes.

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

    def end_of_pass(self, stats: MixtureStats, stored: list, read_batch: Any = None) -> None:
        """Structure moves at the end of a pass: a finite mixture makes none.

        Parameters
        ----------
        stats : MixtureStats
            The pass's global statistics.
        stored : list of MixtureStats or None
            Memoized per-batch records.

        Returns
        -------
        None
            Nothing changes.
        """
        return None

    def get_parameters(self) -> dict[str, Any]:
        """Return the current parameters as a nested dict (weights and components).

        Returns
        -------
        dict
            ``{"weights": ..., "distributions": [...]}``.
        """
        return self._get_params()

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate nested parameters (as from :meth:`get_parameters`) into a proposal.

        Parameters
        ----------
        params : dict
            Parameters of this mixture's shape.

        Returns
        -------
        dict
            The validated parameters.
        """
        return self._check_params(params)

    def trace_values(self) -> dict[str, Any]:
        """Return the extra trace columns of a pass: ``K``, the active components.

        Returns
        -------
        dict
            ``{"K": n_active}``.
        """
        return {"K": self.n_active}

    def is_fitted(self) -> bool:
        """Return whether every component has parameters.

        Returns
        -------
        bool
            True when the mixture can summarize.
        """
        return self._fitted

    def n_features_in(self) -> int | None:
        """Return the number of data columns the mixture expects (None if unknown).

        Returns
        -------
        int or None
            :attr:`n_features`.
        """
        return self.n_features

    def warm_start(self, other: Any, what: str = "init") -> None:
        """Take a compatible fitted mixture's parameters.

        Parameters
        ----------
        other : GeneralMixtureModel or dict
            A fitted mixture with as many components of the same families, or its
            :meth:`to_dict`.
        what : str, default='init'
            How ``other`` is named in errors.

        Raises
        ------
        ParameterError
            If ``other`` does not fit this mixture (nothing is changed).
        """
        if isinstance(other, dict):
            other = Distribution.from_dict(other)

        if not isinstance(other, GeneralMixtureModel):
            raise ParameterError(f"{what} must be a GeneralMixtureModel; got {type(other).__name__}")
        if other.n_components != self.n_components:
            raise ParameterError(
                f"cannot warm-start a {self.n_components}-component mixture from a "
                f"{other.n_components}-component model"
            )
        for c, (a, b) in enumerate(zip(self.distributions, other.distributions, strict=True)):
            if type(a) is not type(b):
                raise ParameterError(
                    f"cannot warm-start component {c}: it is a {type(a).__name__}, the model's "
                    f"is a {type(b).__name__}"
                )
            ca, cb = getattr(a, "covariance_type", None), getattr(b, "covariance_type", None)
            if ca != cb:
                raise ParameterError(
                    f"cannot warm-start component {c}: covariance_type {ca!r} from a model with "
                    f"{cb!r}; convert it first with GeneralMixtureModel.from_model(model, "
                    f"covariance_type={ca!r})"
                )
        if not other._fitted:
            raise ParameterError(f"{what} has no fitted parameters to start from")
        self._set_params(self._check_params(other._get_params()))


    @classmethod
    def from_model(cls, other: GeneralMixtureModel, *, covariance_type: str | None = None
                   ) -> GeneralMixtureModel:
        """Return a copy of a fitted mixture, converting its Gaussian covariances if asked.

        Parameters
        ----------
        other : GeneralMixtureModel
            The model to start from.
        covariance_type : {'full', 'diag', 'spherical'}, optional
            Covariance form of the new :class:`~suffstat.MultivariateNormal`
            components: full to diagonal keeps the diagonal, to spherical its mean;
            diagonal or spherical to full gives the diagonal matrix.

        Returns
        -------
        GeneralMixtureModel
            A new mixture with the same weights.
        """
        if not isinstance(other, GeneralMixtureModel):
            raise ParameterError(f"other must be a GeneralMixtureModel; got {type(other).__name__}")
        model = other.copy()
        if covariance_type is None:
            return model
        if covariance_type not in ("full", "diag", "spherical"):
            hint = (" ('tied' shares one covariance across components: use ss.GaussianMixture("
                    "covariance_type='tied'))" if covariance_type == "tied" else "")
            raise ParameterError(
                "covariance_type must be one of ('full', 'diag', 'spherical'); got "
                f"{covariance_type!r}{hint}"
            )
        comps = []
        for d in model.distributions:
            if not isinstance(d, MultivariateNormal):
                comps.append(d)
                continue
            var = np.broadcast_to(np.diag(d.cov) if d.covariance_type == "full" else d.cov, (d.n_features,))
            cov = {"full": d.cov if d.covariance_type == "full" else np.diag(var),
                   "diag": var.copy(), "spherical": float(var.mean())}[covariance_type]
            comps.append(MultivariateNormal(d.mean, cov, covariance_type=covariance_type,
                                            reg_covar=d.reg_covar))
        return cls(comps, model.weights, inertia=model.inertia, frozen=model.frozen)


    def seed_count(self) -> int:
        """Return how many seeds a named initialization draws: one per component.

        Returns
        -------
        int
            :attr:`n_components`.
        """
        return self.n_components

    def blank(self) -> GeneralMixtureModel:
        """Return a copy whose components have no parameters (options kept).

        Returns
        -------
        GeneralMixtureModel
            The copy, to be started from seeds.
        """
        return GeneralMixtureModel.from_dict(_unfitted(self.to_dict()))

    def seed_statistics(self, X: Any, sample_weight: Any, labels: np.ndarray) -> MixtureStats:
        """Return the statistics of each component over the rows given to its seed.

        Parameters
        ----------
        X : ndarray of shape (n_samples,) or (n_samples, n_features)
            A batch.
        sample_weight : ndarray of shape (n_samples,) or None
            Non-negative weights.
        labels : ndarray of shape (n_samples,)
            The seed nearest each row (the engine finds it).

        Returns
        -------
        MixtureStats
            Hard-assignment statistics (log-likelihood and entropy 0).
        """
        X = self._check_data(X)
        w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        k = self.n_components
        resp_sum = np.array([float(np.sum(w[labels == j])) for j in range(k)])
        if self._mixed_families():
            return self._seed_pairs(X, w, labels, resp_sum)
        parts = []
        for c, comp in enumerate(self.distributions):
            wc = w * (labels == c)
            if comp._zeros_absorb:  # a share of every row keeps no category at probability 0
                wc = wc + START_SHARE * w
            parts.append(comp.summarize(X, np.ascontiguousarray(wc), accumulate=False))
        return MixtureStats(w_sum=float(w.sum()), resp_sum=resp_sum, log_likelihood=0.0, entropy=0.0,
                            parts=parts)

    def _mixed_families(self) -> bool:
        return len({type(d) for d in self.distributions}) > 1

    def _seed_pairs(self, X: np.ndarray, w: np.ndarray, labels: np.ndarray,
                    resp_sum: np.ndarray) -> SeedStats:
        """Every family on every seed's rows, so the start can match families to seeds."""
        k = self.n_components
        parts, outside = [], np.zeros(k * k)
        for j in range(k):
            rows = labels == j
            for c, comp in enumerate(self.distributions):
                wj = w * rows
                if comp._zeros_absorb:
                    wj = wj + START_SHARE * w
                use = wj > 0
                Xj, wj = X[use], wj[use]
                inside = _inside_support(comp, Xj)
                outside[j * k + c] += float(np.sum(wj[~inside]))  # rows this family cannot take
                parts.append(comp._summarize(np.ascontiguousarray(Xj[inside]),
                                             np.ascontiguousarray(wj[inside])))
        return SeedStats(w_sum=float(w.sum()), resp_sum=resp_sum, outside=outside, parts=parts)

    def _assign_seeds(self, stats: SeedStats) -> MixtureStats:
        """Give each family the seed whose rows it fits best (an assignment problem).

        ``score[j, c]`` is the log-likelihood of seed ``j``'s rows under component
        ``c`` fitted to them, from the statistics alone; families that cannot score
        from their statistics (Poisson) keep the seeds in order.
        """
        from scipy.optimize import linear_sum_assignment

        k = self.n_components
        resp = np.asarray(stats.resp_sum)
        outside = np.asarray(stats.outside).reshape(k, k)
        score = np.zeros((k, k))
        order = np.arange(k)
        try:
            for j in range(k):
                for c, comp in enumerate(self.distributions):
                    part = stats.parts[j * k + c]
                    if not part.weight > 0:
                        score[j, c] = -np.inf if resp[j] > 0 else 0.0
                        continue
                    fitted = type(comp).from_dict(comp.to_dict())
                    try:
                        fitted._set_params(comp._propose(part))
                        score[j, c] = fitted._expected_log_probability(part)
                    except (ParameterError, ValueError):
                        score[j, c] = -np.inf
        except NotImplementedError:
            pass
        else:
            # Fewest rows outside a family's support first, then the best fit: the
            # weight of those rows counts more than any difference of log-likelihoods.
            fit_cost = np.where(np.isfinite(score), -score, 0.0)
            spread = float(np.ptp(fit_cost)) + 1.0
            infeasible = ~np.isfinite(score)
            cost = fit_cost + spread * (outside + k * k * infeasible)
            seeds, comps = linear_sum_assignment(cost)
            order = seeds[np.argsort(comps)]  # order[c]: the seed of component c
        return MixtureStats(
            w_sum=float(stats.w_sum), resp_sum=resp[order], log_likelihood=0.0, entropy=0.0,
            parts=[stats.parts[order[c] * k + c] for c in range(k)],
        )

    def seeded(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate the parameters a named start found into the starting proposal.

        Parameters
        ----------
        params : dict
            Parameters of this mixture's shape.

        Returns
        -------
        dict
            The validated parameters.
        """
        return self._check_params(params)

    def empty_seeds(self, stats: MixtureStats) -> list[int]:
        """Return the components of a start record that received no row.

        Parameters
        ----------
        stats : MixtureStats
            From :meth:`seed_statistics`.

        Returns
        -------
        list of int
            Component indices.
        """
        return np.flatnonzero(~(np.asarray(stats.resp_sum) > 0)).tolist()

    @classmethod
    def from_samples(
        cls,
        distribution: Any,
        n_components: int,
        X: Any,
        *,
        init: str = "kmeans++",
        random_state: Any = None,
        **fit_kwargs: Any,
    ) -> GeneralMixtureModel:
        """Build a mixture of ``n_components`` copies of a family and fit it to ``X``.

        Parameters
        ----------
        distribution : type or Distribution
            A distribution class (e.g. ``ss.MultivariateNormal``) or an unfitted
            instance used as a template (e.g. ``ss.MultivariateNormal(covariance_type='diag')``).
        n_components : int
            Number of components.
        X : array-like, numpy.memmap, str or os.PathLike
            The data (see :meth:`fit`).
        init : {'kmeans++', 'random', 'first-k', 'kmeans', 'refined'}, default='kmeans++'
            How the seeds are picked: k-means++ on a uniform sample of the whole data,
            random rows of the whole data, the first k rows, k-means++ seeds refined by
            ``max_kmeans_iter`` streamed Lloyd passes, or Bradley-Fayyad's refined start
            (``samplings``, ``percentage``). Each component is then fitted to the rows
            nearest its seed (one streamed pass). A fitted mixture, a saved model file
            or a snapshot folder warm-starts instead (see :meth:`fit`).
        random_state : None, int or numpy.random.Generator, default=None
            Seed of the initialization and of minibatch EM.
        **fit_kwargs
            Passed to :meth:`fit` (``max_iter``, ``tol``, ``batch_size``, ``n_jobs``...).

        Returns
        -------
        GeneralMixtureModel
            The fitted mixture.
        """
        k = check_count("n_components", n_components, minimum=1)
        if isinstance(distribution, type):
            if not issubclass(distribution, Distribution):
                raise ParameterError(f"distribution must be a Distribution class; got {distribution!r}")
            components = [distribution() for _ in range(k)]
        elif isinstance(distribution, Distribution):
            template = _unfitted_component(distribution.to_dict())
            components = [Distribution.from_dict(template) for _ in range(k)]
        else:
            raise ParameterError(
                f"distribution must be a Distribution class or instance; got {distribution!r}"
            )
        model = cls(components)
        return model.fit(X, init=init, random_state=random_state, **fit_kwargs)

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the mixture as a dict, each component as a nested dict.

        Returns
        -------
        dict
            ``{"class": "GeneralMixtureModel", "params": {"weights": ..., "distributions": [...]}}``.
        """
        return self._dict_with({
            "weights": self.weights.copy(),
            "distributions": [d.to_dict() for d in self.distributions],
        })

    @classmethod
    def _from_parts(cls, params: dict[str, Any], options: dict[str, Any]) -> Distribution:
        dists = [Distribution.from_dict(d) for d in params["distributions"]]
        return cls(dists, params["weights"], **options)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(d) for d in self.distributions)
        w = np.array2string(self.weights, precision=4, separator=", ")
        return f"GeneralMixtureModel([\n  {inner}\n], weights={w})"



def _inside_support(d: Distribution, X: np.ndarray, max_checks: int = 64) -> np.ndarray:
    """Mask of the rows of ``X`` inside ``d``'s support (found through its own check).

    Each failed check names one row; after ``max_checks`` of them every row counts as
    outside (a family with that many rows outside a seed's rows should not take it).
    """
    inside = np.ones(X.shape[0], dtype=bool)
    for _ in range(max_checks):
        idx = np.flatnonzero(inside)
        try:
            d._check_support(X[idx])
            return inside
        except DataError as e:
            if e.row is None:
                break
            inside[idx[e.row]] = False
    # many rows outside (or no row named): this family does not take these rows at all
    inside[:] = False
    return inside


def _unfitted_component(d: dict[str, Any]) -> dict[str, Any]:
    """A component's dict with its parameters cleared, nested components' too (options kept)."""
    nested = d["params"].get("distributions")
    if isinstance(nested, list):
        return {**d, "params": {**d["params"], "distributions": [_unfitted_component(c) for c in nested]}}
    return {**d, "params": {k: None for k in d["params"]}}


def _unfitted(d: dict[str, Any]) -> dict[str, Any]:
    """A mixture's dict with every component's parameters cleared (options kept)."""
    return {**d, "params": {**d["params"],
                            "distributions": [_unfitted_component(c) for c in d["params"]["distributions"]]}}


def _not_fitted_error(j: int, d: Distribution) -> Exception:
    """The NotFittedError for an unfitted component."""
    from ..exceptions import NotFittedError

    return NotFittedError(
        f"component {j} ({type(d).__name__}) has no parameters yet: use "
        "GeneralMixtureModel.from_samples, or fit, which initializes the components"
    )
