"""GeneralMixtureModel: a mixture of any distributions, itself a distribution."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validation import check_count, check_probs, check_random_state, check_scalar, check_weights
from ..distributions._base import Distribution, blend
from ..distributions.multivariate_normal import MultivariateNormal
from ..distributions.normal import Normal
from ..exceptions import DataError, EmptyComponentWarning, ParameterError
from ..kernels.gaussian import LOG_2PI
from ..kernels.mixture import gmm_diag_estep, gmm_full_estep
from ..sources import as_source
from ..statistics import MixtureStats, MultivariateNormalStats, NormalStats


class GeneralMixtureModel(Distribution):
    r"""A finite mixture of distributions, fitted by (streaming) EM.

    Parameters
    ----------
    distributions : sequence of Distribution
        The components (used, not copied). They may be of different families but must
        take data of the same shape: all univariate, or all of the same dimension.
    weights : array-like of shape (k,), optional
        Mixture weights (non-negative, summing to 1); uniform when None.
    inertia : float, default=0.0
        Weight of the old parameters in each update (weights and components).
    frozen : bool, default=False
        If True, updates leave the model unchanged.

    Attributes
    ----------
    n_iter_ : int
        Full passes over the data run by the last :meth:`fit`.
    converged_ : bool
        Whether the last :meth:`fit` met ``tol``.
    history_ : list of dict
        One entry per full pass: ``iteration``, ``log_likelihood``, ``improvement``,
        ``time``.

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

    def __init__(
        self,
        distributions: Any,
        weights: Any = None,
        *,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        super().__init__(inertia=inertia, frozen=frozen)
        dists = list(distributions)
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
        weights = np.full(k, 1.0 / k) if weights is None else weights
        self._set_params(self._check_params({"weights": weights, "distributions": [None] * k}))
        self._empty_warned = False
        self.n_iter_ = 0
        self.converged_ = False
        self.history_: list[dict[str, Any]] = []

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

    # -- E-step -----------------------------------------------------------------------
    def _family(self) -> str | None:
        """'full', 'diag', 'spherical' or 'normal' when a fused kernel applies."""
        if not self._fused or not self._fitted:
            return None
        first = self.distributions[0]
        if all(type(d) is Normal for d in self.distributions):
            return "normal"
        if all(type(d) is MultivariateNormal for d in self.distributions):
            types = {d.covariance_type for d in self.distributions}
            if len(types) == 1:
                return first.covariance_type
        return None

    def _component_log_probs(self, X: np.ndarray) -> np.ndarray:
        """(n, k) array of log pi_k + log p_k(x)."""
        out = np.empty((X.shape[0], self.n_components))
        for c, d in enumerate(self.distributions):
            out[:, c] = d._log_probability(X)
        return out + self._log_weights

    def _validated_stats(self, X: Any, sample_weight: Any, allow_empty: bool = True) -> MixtureStats:
        family = self._family()
        if family is None:
            return super()._validated_stats(X, sample_weight, allow_empty)
        # The fused kernels flag non-finite rows as they go, so valid data is read
        # once; only a flagged batch is checked again, to name the row.
        X = self._check_data(X, allow_empty=allow_empty, finite=False)
        w = check_weights(sample_weight, X.shape[0])
        stats, finite = self._summarize_fused(X, w, family)
        if not finite:
            self._check_data(X)  # raises, unless the flag came from an overflow
        return self._check_stats(stats, X, w)  # raises for an overflow

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> MixtureStats:
        family = self._family()
        if family is not None:
            return self._summarize_fused(X, w, family)[0]
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

    def _summarize_fused(self, X: np.ndarray, w: np.ndarray, family: str) -> tuple[MixtureStats, bool]:
        """Statistics from the fused kernel, and whether every row was finite."""
        dists = self.distributions
        k = len(dists)
        if family == "normal":
            X2 = X.reshape(-1, 1)
            means = np.array([[d.mean] for d in dists])
            inv_vars = np.array([[1.0 / d.std**2] for d in dists])
            log_norms = np.array([-0.5 * LOG_2PI - np.log(d.std) for d in dists])
        else:
            X2 = X
            means = np.ascontiguousarray([d.mean for d in dists])
            log_norms = np.array([d._log_norm for d in dists])
        d_ = X2.shape[1]
        resp_sum = np.zeros(k)
        s1 = np.zeros((k, d_))
        if family == "full":
            prec = np.ascontiguousarray([d._prec_chol for d in dists])
            s2 = np.zeros((k, d_, d_))
            w_sum, ll, ent, finite = gmm_full_estep(X2, w, self._log_weights, means, prec, log_norms, resp_sum, s1, s2)
        else:
            if family != "normal":
                inv_vars = np.ascontiguousarray([d._inv_var for d in dists])
            s2 = np.zeros((k, d_))
            w_sum, ll, ent, finite = gmm_diag_estep(
                X2, w, self._log_weights, means, inv_vars, log_norms, resp_sum, s1, s2
            )
        if family == "normal":
            parts = [
                NormalStats(w_sum=resp_sum[c], xw_sum=s1[c, 0], xxw_sum=s2[c, 0], shift=means[c, 0])
                for c in range(k)
            ]
        else:
            parts = [
                MultivariateNormalStats(w_sum=resp_sum[c], xw_sum=s1[c], xxw_sum=s2[c], shift=means[c])
                for c in range(k)
            ]
        stats = MixtureStats(w_sum=w_sum, resp_sum=resp_sum, log_likelihood=ll, entropy=ent,
                             parts=parts)
        return stats, finite

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

    def _propose(self, stats: MixtureStats) -> dict[str, Any] | None:
        if not isinstance(stats, MixtureStats) or len(stats.parts) != self.n_components:
            raise TypeError(
                f"GeneralMixtureModel needs MixtureStats with {self.n_components} parts"
            )
        if self.frozen:
            return None
        total = float(np.sum(stats.resp_sum))
        if not total > 0:
            if self._fitted:
                return None
            raise ParameterError("cannot estimate a mixture from data of total weight 0")
        empty = [c for c in range(self.n_components) if not stats.resp_sum[c] > 0]
        if empty and not self._empty_warned:
            self._empty_warned = True
            warnings.warn(
                f"mixture component(s) {empty} received no responsibility: they keep their "
                "parameters and get weight 0. Consider fewer components or another "
                "initialization.",
                EmptyComponentWarning,
                stacklevel=3,
            )
        children = []
        for c, (d, part) in enumerate(zip(self.distributions, stats.parts, strict=True)):
            try:
                p = d._propose(part)
            except ParameterError as e:
                raise ParameterError(f"component {c} of the mixture: {e}") from None
            children.append(p)
        new = {"weights": np.asarray(stats.resp_sum) / total, "distributions": children}
        if self.inertia > 0 and self._fitted:
            new = self._check_params(blend(self._get_params(), new, self.inertia))
        return new

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
    def fit(
        self,
        X: Any,
        sample_weight: Any = None,
        *,
        max_iter: int = 100,
        tol: float | None = 1e-3,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        inertia: float = 0.0,
        verbose: bool = False,
        callbacks: Any = None,
        random_state: Any = None,
        init: Any = None,
        n_init: int = 1,
        max_kmeans_iter: int = 10,
        samplings: int = 100,
        percentage: float = 0.02,
        algorithm: str = "em",
        step: Any = None,
        shuffle: bool = True,
        n_total: float | None = None,
        average: bool = False,
        output_path: Any = None,
        save_every: int = 1,
        resume: bool = False,
    ):
        """Fit the mixture by EM, streaming ``X`` in batches.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data: an array of shape (n_samples, n_features) (or (n_samples,) for
            univariate components), a memory map, a path to a ``.npy`` file (read in
            place, never loaded whole), an h5py / zarr dataset or any array-like
            with ``shape``, ``dtype`` and row slicing. float32 is accepted;
            accumulation is float64.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights (may be a memory map too).
        max_iter : int, default=100
            Full passes over the data, in every mode.
        tol : float or None, default=1e-3
            Stop when the *mean log-likelihood per unit weight* improves by less than
            ``tol`` between two passes; None runs exactly ``max_iter`` passes.
        batch_size : int, optional
            Rows per batch. The result does not depend on it (up to rounding). By
            default about 8 MiB of float64 rows (at least 1024), in memory or not.
        batches_per_epoch : int, optional
            Update the parameters after every this many batches (minibatch EM; for
            ``'stepwise'`` and ``'memoized'`` the default is 1), visiting the
            batches of each pass in a shuffled order seeded by ``random_state``.
            Convergence is still judged once per full pass.
        n_jobs : int, default=1
            Batches summarized concurrently by threads running nogil kernels (-1: all
            cores). Results are added in batch order, so the fit is bitwise identical
            for every ``n_jobs``. Inside ``joblib.parallel_config(backend="dask")``
            the batches are summarized on a Dask cluster instead.
        inertia : float, default=0.0
            Weight of the old parameters in every update (weights included).
        verbose : bool, default=False
            Print ``[i] Improvement: ... Time (s): ...`` per pass, totals at the end,
            and a progress bar over long passes.
        callbacks : list of Callback, optional
            Objects with ``on_training_begin``, ``on_epoch_end(logs)`` and
            ``on_training_end(logs)``, e.g. :class:`~suffstat.History`,
            :class:`~suffstat.CSVLogger`.
        random_state : None, int or numpy.random.Generator, default=None
            Seeds the initialization and the batch order of minibatch modes.
        init : str, Distribution, str path or None, default=None
            ``'kmeans++'``, ``'random'``, ``'first-k'``, ``'kmeans'`` (k-means++ seeds
            then ``max_kmeans_iter`` Lloyd passes over the stream) or ``'refined'``
            (Bradley-Fayyad with ``samplings`` and ``percentage``); or a fitted
            mixture, a saved model file or a snapshot folder to warm-start from.
            None keeps the current parameters when the components are fitted, and
            uses ``'kmeans++'`` otherwise.
        n_init : int, default=1
            Trials from different seeds (derived from ``random_state``); the one with
            the highest final log-likelihood is kept and every trial is recorded in
            ``trials_``. Trial ``i`` is the fit ``random_state=trials_[i]['seed']``.
        max_kmeans_iter : int, default=10
            Lloyd passes of ``init='kmeans'``.
        samplings, percentage : int and float, default=100 and 0.02
            Subsamples, and the fraction of rows in each, of ``init='refined'``.
        algorithm : {'em', 'stepwise', 'memoized'}, default='em'
            Full-pass (or minibatch) EM; stochastic EM blending statistics with a step
            rule; or memoized (incremental) EM keeping one record per batch.
        step : suffstat.steps.StepRule, optional
            Step rule of ``'stepwise'`` (default ``PowerDecay()``).
        shuffle : bool, default=True
            Shuffle the batch order of each pass in the minibatch modes.
        n_total : float, optional
            Total weight N used to scale stepwise statistics (default: the data's).
        average : bool, default=False
            Polyak-Ruppert averaging of the stepwise parameters from the second pass on.
        output_path : str or os.PathLike, optional
            Folder for per-lap snapshots ``lap-0003.npz`` and ``trace.csv``.
        save_every : int, default=1
            Write a snapshot every this many laps (full passes).
        resume : bool, default=False
            Continue from the newest readable snapshot in ``output_path`` (if any):
            the result is bitwise that of an uninterrupted fit with the same settings.

        Returns
        -------
        self
            The fitted mixture, with ``n_iter_``, ``converged_``, ``history_`` and
            ``trials_``.

        Raises
        ------
        DataError
            For invalid data; the message names the global row. The model then keeps
            the parameters of its last completed update.
        """
        from ..fitting.driver import EMRun
        from ..snapshots import clear_snapshots, load_snapshot, snapshot_laps, write_snapshot

        n_init = check_count("n_init", n_init, minimum=1)
        save_every = check_count("save_every", save_every, minimum=1)
        if (output_path is not None or resume) and n_init > 1:
            raise ParameterError("output_path and resume work with n_init=1")
        if resume and output_path is None:
            raise ParameterError("resume=True needs the output_path of the interrupted fit")
        rng = check_random_state(random_state)
        run_kwargs = dict(
            max_iter=max_iter, tol=tol, batch_size=batch_size, batches_per_epoch=batches_per_epoch,
            n_jobs=n_jobs, inertia=inertia, verbose=verbose, callbacks=callbacks,
            algorithm=algorithm, step=step, shuffle=shuffle, n_total=n_total, average=average,
        )
        init_kwargs = dict(batch_size=batch_size, n_jobs=n_jobs, max_kmeans_iter=max_kmeans_iter,
                           samplings=samplings, percentage=percentage)

        if n_init > 1:
            return self._fit_trials(X, sample_weight, rng, init, n_init, run_kwargs, init_kwargs)

        checkpoint = None
        if output_path is not None:
            settings = {k: v for k, v in run_kwargs.items() if k not in ("callbacks", "step")}
            settings["step"] = None if step is None else step.to_dict()

            def checkpoint(run: Any) -> None:
                if run.iteration % save_every == 0 or run.converged or run.iteration == run.max_iter:
                    write_snapshot(output_path, run, settings)

        state = None
        if resume and snapshot_laps(output_path):
            _, payload = load_snapshot(output_path)
            self._adopt(Distribution.from_dict(payload["model"]), "the snapshot")
            state = payload["state"]
        else:
            self._prepare(X, sample_weight, init, rng, init_kwargs)
            if output_path is not None:  # a new fit: laps of an earlier one would mislead
                clear_snapshots(output_path)
        self._empty_warned = False
        run = EMRun(self, X, sample_weight, random_state=rng, checkpoint=checkpoint, **run_kwargs)
        if state is not None:
            run.restore(state)
        record = run.run()
        self.history_ = record["history"]
        self.n_iter_ = record["n_iter"]
        self.converged_ = record["converged"]
        self.trials_ = [self._trial_record(0, random_state)]
        return self

    def _trial_record(self, trial: int, seed: Any) -> dict[str, Any]:
        last = self.history_[-1] if self.history_ else {}
        return {
            "trial": trial,
            "seed": seed if isinstance(seed, (int, np.integer)) or seed is None else None,
            "log_likelihood": last.get("log_likelihood", math.nan),
            "mean_log_likelihood": last.get("mean_log_likelihood", math.nan),
            "n_iter": self.n_iter_,
            "converged": self.converged_,
        }

    def _fit_trials(self, X, sample_weight, rng, init, n_init, run_kwargs, init_kwargs):
        seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=n_init)]
        template = self.copy()
        best, trials = None, []
        for i, seed in enumerate(seeds):
            candidate = template.copy()
            candidate.fit(X, sample_weight, random_state=seed, init=init, **run_kwargs,
                          **{k: v for k, v in init_kwargs.items() if k not in ("batch_size", "n_jobs")})
            record = candidate._trial_record(i, seed)
            trials.append(record)
            if best is None or record["log_likelihood"] > best[1]["log_likelihood"]:
                best = (candidate, record)
        winner = best[0]
        self._set_params(self._check_params(winner._get_params()))
        self.history_, self.n_iter_, self.converged_ = winner.history_, winner.n_iter_, winner.converged_
        self.trials_ = trials
        return self

    def _prepare(self, X, sample_weight, init, rng, init_kwargs) -> None:
        """Initialize, warm-start, or keep the current parameters."""
        if init is None:
            if self._fitted:
                return
            init = "kmeans++"
        if isinstance(init, str) and not os.path.exists(init):
            from ..fitting.init import INITS

            if init not in INITS:
                raise ParameterError(
                    f"init must be one of {INITS}, a fitted mixture, or a path to a saved model or "
                    f"snapshot folder; got {init!r} (no such file or folder)"
                )
            self._initialize(X, sample_weight, init=init, rng=rng, **init_kwargs)
            return
        if isinstance(init, (str, os.PathLike)):
            from ..io import load
            from ..snapshots import load_model_at_lap

            other = load_model_at_lap(init) if os.path.isdir(init) else load(init)
        elif isinstance(init, Distribution):
            other = init
        else:
            raise ParameterError(
                "init must be an initialization name, a fitted mixture, or a path to a saved "
                f"model or snapshot folder; got {init!r}"
            )
        self._adopt(other, "init")

    def _adopt(self, other: Any, what: str) -> None:
        """Take ``other``'s parameters, refusing another shape of model."""
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

    def _initialize(self, X, sample_weight, *, init, rng, batch_size, n_jobs, max_kmeans_iter=10,
                    samplings=100, percentage=0.02) -> None:
        from ..fitting.driver import resolve_batch_size, weight_source
        from ..fitting.init import hard_assignment_stats, initial_centers
        from ..parallel import effective_n_jobs

        source = as_source(X)
        if source.n_features != (self.n_features or source.n_features):
            raise DataError(
                f"X must have {self.n_features} features (the model has {self.n_features}); "
                f"got {source.n_features}"
            )
        n_jobs = effective_n_jobs(n_jobs)
        weights = weight_source(sample_weight, source)
        ranges = source.ranges(resolve_batch_size(batch_size, source))
        centers = initial_centers(
            source, self.n_components, init, rng, weights=weights, ranges=ranges, n_jobs=n_jobs,
            max_kmeans_iter=check_count("max_kmeans_iter", max_kmeans_iter, minimum=0),
            samplings=check_count("samplings", samplings, minimum=1),
            percentage=check_scalar("percentage", percentage, low=0.0, low_open=True, high=1.0),
        )
        # Start every component from scratch: the seeds decide, not older parameters.
        fresh = GeneralMixtureModel.from_dict(_unfitted(self.to_dict()))
        stats = hard_assignment_stats(source, weights, centers, fresh.distributions, ranges, n_jobs)
        for _ in range(5):  # a seed nearest to no row (a centroid between clusters): reseed it
            empty = np.flatnonzero(~(np.asarray(stats.resp_sum) > 0))
            if not len(empty):
                break
            rows = np.sort(rng.choice(source.n_rows, size=len(empty), replace=False))
            centers = centers.copy()
            centers[empty] = source.take(rows).reshape(len(empty), -1)
            stats = hard_assignment_stats(source, weights, centers, fresh.distributions, ranges, n_jobs)
        empty = np.flatnonzero(~(np.asarray(stats.resp_sum) > 0))
        if len(empty):
            raise ParameterError(
                f"cannot initialize {self.n_components} components: seeds of components "
                f"{empty.tolist()} are nearest to no row even after reseeding (does the data "
                "have fewer distinct rows than components?)"
            )
        new = fresh._propose(stats)
        self._set_params(self._check_params(fresh._get_params() if new is None else new))

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
        init : {'kmeans++', 'random', 'first-k'}, default='kmeans++'
            How the seeds are picked: k-means++ on a uniform sample of the whole data,
            random rows of the whole data, or the first k rows. Each component is then
            fitted to the rows nearest its seed (one streamed pass).
        random_state : None, int or numpy.random.Generator, default=None
            Seed of the initialization and of minibatch EM.
        **fit_kwargs
            Passed to :meth:`fit` (``max_iter``, ``tol``, ``batch_size``, ``n_jobs``...).

        Returns
        -------
        GeneralMixtureModel
            The fitted mixture.
        """
        from .._validation import check_count

        k = check_count("n_components", n_components, minimum=1)
        if isinstance(distribution, type):
            if not issubclass(distribution, Distribution):
                raise ParameterError(f"distribution must be a Distribution class; got {distribution!r}")
            components = [distribution() for _ in range(k)]
        elif isinstance(distribution, Distribution):
            template = distribution.to_dict()
            template["params"] = {n: None for n in template["params"]}
            components = [Distribution.from_dict(template) for _ in range(k)]
        else:
            raise ParameterError(
                f"distribution must be a Distribution class or instance; got {distribution!r}"
            )
        model = cls(components)
        return model.fit(X, init=init, random_state=random_state, **fit_kwargs)

    # -- streamed predictions ---------------------------------------------------------------
    def _map(self, fn_name: str, X: Any, batch_size: int | None, n_jobs: int) -> np.ndarray:
        from ..fitting.driver import resolve_batch_size
        from ..parallel import effective_n_jobs, ordered_map

        self._require_fitted()
        if isinstance(X, np.ndarray) and not isinstance(X, np.memmap) and batch_size is None:
            return getattr(self, fn_name)(self._check_data(X))
        source = as_source(X)
        ranges = source.ranges(resolve_batch_size(batch_size, source))
        parts = list(ordered_map(_apply, source, ranges, n_jobs=effective_n_jobs(n_jobs),
                                 args=(self, fn_name)))
        return np.concatenate(parts)

    def log_probability(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the log-density of each row under the mixture.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data; files and memory maps are streamed in batches.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``log sum_k pi_k p_k(x)``.
        """
        return self._map("_log_probability", X, batch_size, n_jobs)

    def score_samples(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Alias of :meth:`log_probability` (scikit-learn's name).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            Per-row log-likelihood.
        """
        return self.log_probability(X, batch_size=batch_size, n_jobs=n_jobs)

    def score(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> float:
        """Return the mean per-row log-likelihood (scikit-learn's ``score``).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        float
            Mean log-likelihood.

        Raises
        ------
        DataError
            If ``X`` has no rows (the mean of nothing is undefined).
        """
        logp = self.log_probability(X, batch_size=batch_size, n_jobs=n_jobs)
        if not logp.shape[0]:
            raise DataError("X is empty: score needs at least one row")
        return float(np.mean(logp))

    def predict_log_proba(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the log-responsibilities ``log p(k | x)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Log posterior probability of each component.
        """
        return self._map("_predict_log_proba", X, batch_size, n_jobs)

    def predict_proba(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the responsibilities ``p(k | x)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Posterior probability of each component; rows sum to 1.
        """
        return np.exp(self.predict_log_proba(X, batch_size=batch_size, n_jobs=n_jobs))

    def predict(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the most probable component of each row.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component indices.
        """
        return np.argmax(self.predict_log_proba(X, batch_size=batch_size, n_jobs=n_jobs), axis=1)

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


def _unfitted(d: dict[str, Any]) -> dict[str, Any]:
    """A model dict with every component's parameters cleared (options kept)."""
    d = dict(d)
    d["params"] = dict(d["params"])
    d["params"]["distributions"] = [
        {**c, "params": {k: None for k in c["params"]}} if c["class"] != "IndependentComponents"
        else {**c, "params": {"distributions": [
            {**g, "params": {k: None for k in g["params"]}} for g in c["params"]["distributions"]]}}
        for c in d["params"]["distributions"]
    ]
    return d


def _apply(X: np.ndarray, w: Any, model: GeneralMixtureModel, fn_name: str) -> np.ndarray:
    """Work item: a prediction method on one validated batch."""
    return getattr(model, fn_name)(model._check_data(X))


def _not_fitted_error(j: int, d: Distribution) -> Exception:
    """The NotFittedError for an unfitted component."""
    from ..exceptions import NotFittedError

    return NotFittedError(
        f"component {j} ({type(d).__name__}) has no parameters yet: use "
        "GeneralMixtureModel.from_samples, or fit, which initializes the components"
    )
