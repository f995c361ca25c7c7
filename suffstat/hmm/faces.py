"""hmmlearn's estimators over the HMM learner and the engine: GaussianHMM, CategoricalHMM, PoissonHMM.

Each face has hmmlearn's constructor, fitted attributes (``startprob_``,
``transmat_``, ``means_``, ``covars_``, ``emissionprob_``, ``lambdas_``), its
``params`` / ``init_params`` letters and its methods (``fit(X, lengths)``,
``score``, ``score_samples``, ``predict``, ``predict_proba``, ``decode``,
``sample``). ``fit`` builds a :class:`~suffstat.HiddenMarkovModel` whose states emit
from suffstat distributions, and whose emission M-step is hmmlearn's (with its
priors), then runs it on the engine: ``X`` may be a memory map or a ``.npy`` path,
batches (``batch_size`` sequences each) run on threads, and the fit can be
snapshotted and resumed.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

from .._estimator import EstimatorParams
from .._validation import check_random_state
from ..distributions import Categorical, IndependentComponents, MultivariateNormal, Poisson
from ..distributions._base import Distribution
from ..exceptions import ConvergenceWarning, DataError, NotFittedError, ParameterError
from ..parallel import effective_n_jobs, ordered_map
from ..sources import as_source
from .model import HiddenMarkovModel

COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")
#: The engine's algorithms a face offers (its ``algorithm`` also takes hmmlearn's decoders).
FIT_ALGORITHMS = ("em", "stepwise", "memoized")
DECODERS = ("viterbi", "map")


class _FaceLearner(HiddenMarkovModel):
    """A HiddenMarkovModel whose emission M-step is an hmmlearn face's.

    ``emission_step(learner, stats)`` returns each state's new emission parameters
    (or None). It saves (``to_dict``) as a plain HiddenMarkovModel.
    """

    def __init__(self, distributions: Any, *, emission_step: Any, fixed: set[str], **kwargs: Any) -> None:
        super().__init__(distributions, **kwargs)
        self._emission_step = emission_step
        self._fixed = set(fixed)

    def _propose_emissions(self, stats: Any, inertia: float | None, eff: float) -> list:
        return self._emission_step(self, stats)

    def copy(self) -> _FaceLearner:
        """Return an independent copy (parameters, emission step and fixed parameters).

        Returns
        -------
        _FaceLearner
            The copy.
        """
        plain = HiddenMarkovModel.from_dict(self.to_dict())
        return _FaceLearner(plain.distributions, emission_step=self._emission_step, fixed=self._fixed,
                            transitions=plain.transitions, starts=plain.starts,
                            start_prior=self.start_prior, transition_prior=self.transition_prior)


class ConvergenceMonitor:
    """hmmlearn's ``monitor_``: the log-likelihood of each EM iteration.

    Attributes
    ----------
    tol : float
        Threshold on the gain of the total log-likelihood.
    n_iter : int
        Iteration budget.
    history : list of float
        Total log-likelihood of the data at each iteration (before its M-step).
    iter : int
        Iterations run.
    converged : bool
        Whether the fit converged (or ran ``n_iter`` iterations, as in hmmlearn).
    """

    def __init__(self, tol: float, n_iter: int, history: list[float], converged: bool) -> None:
        self.tol, self.n_iter = tol, n_iter
        self.history = list(history)
        self.iter = len(history)
        self.converged = bool(converged) or self.iter == n_iter


def _per_state(v: Any, c: int, k: int) -> Any:
    a = np.asarray(v, dtype=np.float64)
    return a[c] if a.ndim >= 1 and a.shape[0] == k else a


def _moments_batch(X: np.ndarray, w: Any, d: int) -> Any:
    """Work item: full moments of a batch (for the starting covariance)."""
    X = X.reshape(X.shape[0], d)
    return MultivariateNormal(covariance_type="full")._summarize(X, np.ones(X.shape[0]))


def _sums_batch(X: np.ndarray, w: Any) -> np.ndarray:
    """Work item: [n entries, sum, sum of squares, max] of a batch."""
    return np.array([X.size, X.sum(), np.square(X).sum(), X.max() if X.size else -np.inf])


class _BaseHMM(EstimatorParams):
    """What the three faces share: settings, the fit through the engine, inference."""

    _emission_letters = ""

    def _common_init(self, n_components, startprob_prior, transmat_prior, algorithm, random_state,
                     n_iter, tol, verbose, params, init_params, implementation, batch_size, n_jobs,
                     step, output_path, resume, decoder) -> None:
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.step = step
        self.output_path = output_path
        self.resume = resume
        self.decoder = decoder

    # -- settings ---------------------------------------------------------------------
    def _check_settings(self) -> None:
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ParameterError(f"n_components must be a positive integer; got {k!r}")
        if self.algorithm not in FIT_ALGORITHMS + DECODERS:
            raise ParameterError(f"algorithm must be one of {FIT_ALGORITHMS} (how to fit) or "
                                 f"{DECODERS} (hmmlearn's decoder); got {self.algorithm!r}")
        if self.decoder is not None and self.decoder not in DECODERS:
            raise ParameterError(f"decoder must be one of {DECODERS}; got {self.decoder!r}")
        n = self.n_iter
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"n_iter must be a positive integer; got {n!r}")
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float, np.floating)) \
                or not self.tol >= 0:
            raise ParameterError(f"tol must be a non-negative number; got {self.tol!r}")
        letters = "st" + self._emission_letters
        for name in ("params", "init_params"):
            value = getattr(self, name)
            if not isinstance(value, str) or set(value) - set(letters):
                raise ParameterError(f"{name} must be a string of the letters {letters!r}; got {value!r}")

    def _fit_algorithm(self) -> str:
        return self.algorithm if self.algorithm in FIT_ALGORITHMS else "em"

    def _decoder(self, algorithm: Any = None) -> str:
        if algorithm is not None:
            if algorithm not in DECODERS:
                raise ParameterError(f"algorithm must be one of {DECODERS}; got {algorithm!r}")
            return algorithm
        if self.decoder is not None:
            return self.decoder
        return self.algorithm if self.algorithm in DECODERS else "viterbi"

    def _required(self, name: str, letter: str) -> Any:
        value = getattr(self, name, None)
        if value is None:
            raise NotFittedError(
                f"{name} must be set before fit when init_params lacks {letter!r} (it is the "
                f"starting value); got init_params={self.init_params!r}"
            )
        return value

    # -- subclass hooks -----------------------------------------------------------------
    def _initial_emissions(self, source: Any, seq: Any, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def _distributions(self, attrs: dict[str, Any]) -> list[Distribution]:
        raise NotImplementedError

    def _emission_step(self) -> Any:
        raise NotImplementedError

    def _emission_attributes(self, learner: HiddenMarkovModel) -> dict[str, Any]:
        raise NotImplementedError

    def _as_data(self, X: Any) -> Any:
        if isinstance(X, (str, bytes)) or hasattr(X, "__fspath__") or hasattr(X, "shape"):
            return X
        return np.asarray(X, dtype=np.float64)

    # -- fitting ----------------------------------------------------------------------
    def _learner(self, attrs: dict[str, Any]) -> _FaceLearner:
        k = int(self.n_components)
        fixed = {name for letter, name in (("s", "starts"), ("t", "transitions"))
                 if letter not in self.params}
        return _FaceLearner(self._distributions(attrs), emission_step=self._emission_step(), fixed=fixed,
                            starts=_probs("startprob_", attrs["startprob_"], (k,)),
                            transitions=_probs("transmat_", attrs["transmat_"], (k, k)),
                            start_prior=self.startprob_prior, transition_prior=self.transmat_prior)

    def _current(self) -> dict[str, Any]:
        return {"startprob_": self._required("startprob_", "s"),
                "transmat_": self._required("transmat_", "t"), **self._current_emissions()}

    def _current_emissions(self) -> dict[str, Any]:
        raise NotImplementedError

    def fit(self, X: Any, lengths: Any = None) -> Any:
        """Estimate the parameters by EM (Baum-Welch), streaming ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The rows of all sequences, one after another; memory maps and ``.npy``
            paths are read in batches of ``batch_size`` whole sequences.
        lengths : array-like of int, optional
            Sequence lengths, summing to ``n_samples``; one sequence when None.

        Returns
        -------
        self
            The fitted estimator, with ``monitor_``, ``n_iter_``, ``converged_`` and
            ``history_``.

        Raises
        ------
        ParameterError, NotFittedError, DataError
            For an invalid setting, a missing starting attribute, or invalid data or
            lengths. The estimator then keeps its previous attributes.
        """
        self._check_settings()
        X = self._as_data(X)
        source = as_source(X)
        lengths = [source.n_rows] if lengths is None else lengths
        seq = source.with_lengths(lengths)  # validates the lengths before any work
        rng = check_random_state(self.random_state)
        k = int(self.n_components)
        init = self.init_params
        attrs = {
            "startprob_": rng.dirichlet(np.full(k, 1.0 / k)) if "s" in init
            else self._required("startprob_", "s"),
            "transmat_": rng.dirichlet(np.full(k, 1.0 / k), size=k) if "t" in init
            else self._required("transmat_", "t"),
        }
        attrs.update(self._initial_emissions(source, seq, rng))
        learner = self._learner(attrs)
        n_rows = source.n_rows
        with warnings.catch_warnings():
            # hmmlearn's n_iter is a budget: running it out is not a warning there
            warnings.filterwarnings("ignore", message="EM did not converge", category=ConvergenceWarning)
            learner.fit(source, lengths, max_iter=int(self.n_iter), tol=float(self.tol) / max(n_rows, 1),
                        batch_size=self.batch_size, n_jobs=self.n_jobs, algorithm=self._fit_algorithm(),
                        step=self.step, output_path=self.output_path, resume=self.resume,
                        random_state=self.random_state, verbose=bool(self.verbose), init=None)
        self._set_fitted(learner)
        return self

    def _set_fitted(self, learner: HiddenMarkovModel) -> None:
        self.model_ = learner
        self.startprob_ = learner.starts.copy()
        self.transmat_ = learner.transitions.copy()
        for name, value in self._emission_attributes(learner).items():
            setattr(self, name, value)
        history = [float(h["log_likelihood"]) for h in learner.history_]
        self.history_ = learner.history_
        self.n_iter_ = int(learner.n_iter_)
        self.converged_ = bool(learner.converged_)
        self.monitor_ = ConvergenceMonitor(float(self.tol), int(self.n_iter), history, learner.converged_)

    # -- inference --------------------------------------------------------------------
    def _model(self) -> HiddenMarkovModel:
        return self._learner(self._current())

    def _stream(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "n_jobs": self.n_jobs}

    def score(self, X: Any, lengths: Any = None) -> float:
        """Return the total log-likelihood of the sequences (hmmlearn's ``score``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.

        Returns
        -------
        float
            ``sum_s log p(x^s)``.
        """
        return self._model().score(self._as_data(X), lengths, **self._stream())

    def score_samples(self, X: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Return the total log-likelihood and the posterior state marginals.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.

        Returns
        -------
        log_prob : float
            The total log-likelihood.
        posteriors : ndarray of shape (n_samples, n_components)
            ``P(s_t = j | x)``.
        """
        model, X = self._model(), self._as_data(X)
        return model.score(X, lengths, **self._stream()), model.predict_proba(X, lengths, **self._stream())

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Return the posterior state marginals of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Rows sum to 1.
        """
        return self._model().predict_proba(self._as_data(X), lengths, **self._stream())

    def decode(self, X: Any, lengths: Any = None, algorithm: str | None = None
               ) -> tuple[float, np.ndarray]:
        """Return the most probable states and their log-probability (hmmlearn's ``decode``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.
        algorithm : {'viterbi', 'map'}, optional
            The decoder; the estimator's by default.

        Returns
        -------
        log_prob : float
            Viterbi: the summed log-probability of the paths; map: the sum of the
            rows' largest posteriors (hmmlearn's value).
        state_sequence : ndarray of shape (n_samples,)
            The states.
        """
        model, X = self._model(), self._as_data(X)
        if self._decoder(algorithm) == "viterbi":
            path, ll = model.viterbi(X, lengths, **self._stream())
            return float(ll.sum()), path
        post = model.predict_proba(X, lengths, **self._stream())
        return float(post.max(axis=1).sum()), np.argmax(post, axis=1)

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Return the most probable state of each row (Viterbi by default).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The rows of the sequences.
        lengths : array-like of int, optional
            Sequence lengths; one sequence when None.

        Returns
        -------
        ndarray of shape (n_samples,)
            The states.
        """
        return self.decode(X, lengths)[1]

    def sample(self, n_samples: int = 1, random_state: Any = None, currstate: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one sequence from the fitted model.

        Parameters
        ----------
        n_samples : int, default=1
            Its length.
        random_state : None, int or numpy.random.Generator, optional
            Seed; the estimator's ``random_state`` when None.
        currstate : int, optional
            The first state (drawn from ``startprob_`` when None).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The rows.
        state_sequence : ndarray of shape (n_samples,)
            Their states.
        """
        model = self._model()
        if currstate is not None:
            starts = np.zeros(model.n_components)
            starts[int(currstate)] = 1.0
            model.commit(model.validate({**model.get_parameters(), "starts": starts}))
        rng = check_random_state(self.random_state if random_state is None else random_state)
        X, states = model.sample(1, n_samples, random_state=rng)
        return X.reshape(n_samples, -1), states


def _probs(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    a = _array(name, value, shape)
    sums = a.sum(axis=-1)
    if np.any(a < 0) or not np.allclose(sums, 1.0):
        raise ParameterError(f"{name} must hold probabilities summing to 1"
                             f"{' along each row' if a.ndim == 2 else ''}; got sums {np.round(sums, 6)}")
    if np.all(np.abs(sums - 1.0) <= 1e-12):  # kept as given (so a start is exactly hmmlearn's)
        return a
    return a / sums[..., None] if a.ndim == 2 else a / sums


def _array(name: str, value: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an array of real numbers; got {value!r}") from None
    if shape is not None and a.shape != shape:
        raise ParameterError(f"{name} must have shape {shape}; got {a.shape}")
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} must be finite")
    return a


def _stream_ranges(seq: Any, batch_size: Any) -> list[tuple[int, int]]:
    return seq.ranges(seq.default_batch_size() if batch_size is None else int(batch_size))


# -- Gaussian ----------------------------------------------------------------------------


def _gaussian_step(cfg: dict[str, Any], learner: HiddenMarkovModel, stats: Any) -> list:
    """hmmlearn's GaussianHMM M-step (its priors included) from the states' records."""
    k = learner.n_components
    parts = stats.parts
    ctype, letters = cfg["covariance_type"], cfg["params"]
    if "m" not in letters and "c" not in letters:
        return [None] * k
    post = np.array([float(p.w_sum) for p in parts])
    empty = np.flatnonzero(~(post > 0))
    if empty.size:
        raise ParameterError(
            f"state {int(empty[0])} received no posterior weight, so its mean and covariance "
            "are undefined; use fewer states or other starting parameters"
        )
    old = np.array([d.mean for d in learner.distributions])
    obs = np.array([float(p.w_sum) * p.shift + p.xw_sum for p in parts])
    denom = post[:, None]
    mp, mw = np.asarray(cfg["means_prior"], dtype=np.float64), np.asarray(cfg["means_weight"], dtype=np.float64)
    means = (mw * mp + obs) / (mw + denom) if "m" in letters else old
    d = means.shape[1]
    if "c" in letters:
        cp, cw = cfg["covars_prior"], cfg["covars_weight"]
        meandiff = means - mp
        if ctype in ("spherical", "diag"):
            scatter = np.array([p.recentered(means[c]).xxw_sum for c, p in enumerate(parts)])
            c_n = mw * meandiff**2 + scatter
            c_d = np.maximum(np.asarray(cw, dtype=np.float64) - 1, 0) + denom
            covs = (cp + c_n) / np.maximum(c_d, 1e-5)
            if ctype == "spherical":
                covs = covs.mean(axis=1)
        else:
            c_n = np.empty((k, d, d))
            for c, p in enumerate(parts):
                md = meandiff[c]
                c_n[c] = _per_state(mw, c, k) * np.outer(md, md) + p.recentered(means[c]).xxw_sum
            cvweight = np.maximum(np.asarray(cw, dtype=np.float64) - d, 0)
            if ctype == "tied":
                tied = (cp + c_n.sum(axis=0)) / (cvweight + post.sum())
                covs = np.broadcast_to(tied, (k, d, d))
            else:
                covs = (cp + c_n) / (cvweight + post[:, None, None])
            covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))
    else:
        covs = [dist.cov for dist in learner.distributions]
    out = []
    for c, dist in enumerate(learner.distributions):
        try:
            out.append(dist._check_params({"mean": means[c], "cov": np.array(covs[c])}))
        except ParameterError as e:
            raise ParameterError(f"state {c}: {e}") from None
    return out


class GaussianHMM(_BaseHMM):
    r"""Hidden Markov model with Gaussian emissions: a drop-in for hmmlearn's, streamed.

    The constructor, the attributes and the methods are those of
    :class:`hmmlearn.hmm.GaussianHMM`; from the same starting parameters
    (``init_params=''`` and the attributes set) the fit is the same (same
    iterations, same parameters to rounding). It runs on suffstat's engine, so
    ``X`` may be a memory map or a ``.npy`` path read in batches of whole
    sequences, batches run on threads, and the settings at the end apply.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    covariance_type : {'diag', 'spherical', 'full', 'tied'}, default='diag'
        Each state's diagonal covariance, single variance, full covariance, or one
        full covariance shared by every state.
    min_covar : float, default=1e-3
        Added to the diagonal of the starting covariance (``init_params`` with
        ``'c'``), as in hmmlearn (whose M-step does not use it).
    startprob_prior, transmat_prior : float or array-like, default=1.0
        Dirichlet priors of ``startprob_`` and of each row of ``transmat_``
        (``max(count + prior - 1, 0)`` normalised).
    means_prior, means_weight : float or array-like, default=0
        Normal prior of the means (hmmlearn's).
    covars_prior, covars_weight : float or array-like, default=1e-2 and 1
        Inverse-gamma (diag, spherical) or inverse-Wishart (full, tied) prior of the
        covariances, in hmmlearn's form: for 'diag' the update is
        ``(covars_prior + sum_t gamma_t (x_t - mu)^2) / max(covars_weight - 1 + n, 1e-5)``.
    algorithm : {'viterbi', 'map', 'em', 'stepwise', 'memoized'}, default='viterbi'
        hmmlearn's decoder (``'viterbi'`` or ``'map'``, EM fitting), or the engine's
        fitting algorithm (full-pass EM, stochastic EM or memoized EM; Viterbi
        decoding).
    random_state : None, int or numpy.random.Generator, default=None
        Seeds the random starts (``init_params``), the batch order of stochastic
        modes and :meth:`sample`. The random starts are drawn differently from
        hmmlearn's.
    n_iter : int, default=10
        Maximum number of EM iterations.
    tol : float, default=1e-2
        Convergence threshold on the gain of the total log-likelihood.
    verbose : bool, default=False
        Print one line per iteration.
    params, init_params : str, default='stmc'
        Which parameters the M-step updates / the fit initializes: ``'s'`` startprob,
        ``'t'`` transmat, ``'m'`` means (k-means on the streamed data), ``'c'``
        covars (the data covariance plus ``min_covar``). A parameter left out of
        ``init_params`` starts from the attribute set on the estimator.
    implementation : str, default='log'
        Accepted for compatibility; the forward-backward pass is always the scaled
        numba kernel (it neither underflows nor needs logarithms).
    batch_size : int, optional
        Whole sequences per batch (the result does not depend on it up to rounding).
    n_jobs : int, default=1
        Batches run concurrently by threads (bitwise the same result).
    step : suffstat.steps.StepRule, optional
        Step rule of ``algorithm='stepwise'``.
    output_path : str or os.PathLike, optional
        Folder for per-iteration snapshots (see :doc:`/snapshots`).
    resume : bool, default=False
        Continue from the newest snapshot in ``output_path``.
    decoder : {'viterbi', 'map'}, optional
        The decoder, when ``algorithm`` names a fitting algorithm.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        Start probabilities.
    transmat_ : ndarray of shape (n_components, n_components)
        Transition probabilities.
    means_ : ndarray of shape (n_components, n_features)
        State means.
    covars_ : ndarray of shape (n_components, n_features, n_features)
        State covariances as full matrices (hmmlearn's getter); set it in the shape
        of ``covariance_type`` (``(n_components,)``, ``(n_components, n_features)``,
        ``(n_features, n_features)`` or full).
    monitor_ : ConvergenceMonitor
        ``history`` of the total log-likelihood per iteration, ``iter``, ``converged``.
    n_features : int
        Dimension of the emissions.
    model_ : HiddenMarkovModel
        The fitted learner.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))])
    >>> hmm = ss.GaussianHMM(n_components=2, random_state=0).fit(X, lengths=[100] * 4)
    >>> np.round(np.sort(hmm.means_[:, 0]))
    array([-3.,  3.])
    """

    _emission_letters = "mc"

    def __init__(self, n_components: int = 1, covariance_type: str = "diag", min_covar: float = 1e-3,
                 startprob_prior: Any = 1.0, transmat_prior: Any = 1.0, means_prior: Any = 0,
                 means_weight: Any = 0, covars_prior: Any = 1e-2, covars_weight: Any = 1,
                 algorithm: str = "viterbi", random_state: Any = None, n_iter: int = 10,
                 tol: float = 1e-2, verbose: bool = False, params: str = "stmc",
                 init_params: str = "stmc", implementation: str = "log", *,
                 batch_size: int | None = None, n_jobs: int = 1, step: Any = None,
                 output_path: Any = None, resume: bool = False, decoder: str | None = None) -> None:
        self._common_init(n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter,
                          tol, verbose, params, init_params, implementation, batch_size, n_jobs, step,
                          output_path, resume, decoder)
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    def _check_settings(self) -> None:
        super()._check_settings()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ParameterError(f"covariance_type must be one of {COVARIANCE_TYPES}; got "
                                 f"{self.covariance_type!r}")

    @property
    def covars_(self) -> np.ndarray:
        """The covariances as full matrices, shape (n_components, n_features, n_features)."""
        if getattr(self, "_covars_", None) is None:
            raise AttributeError("covars_ is not set: fit the model or set covars_")
        c, k = self._covars_, int(self.n_components)
        ctype = self.covariance_type
        if ctype == "full":
            return c.copy()
        if ctype == "tied":
            return np.tile(c, (k, 1, 1))
        d = self.means_.shape[1] if getattr(self, "means_", None) is not None else (
            c.shape[1] if c.ndim == 2 else 1)
        var = np.broadcast_to(c[:, None] if ctype == "spherical" else c, (k, d))
        return np.array([np.diag(v) for v in var])

    @covars_.setter
    def covars_(self, covars: Any) -> None:
        c = _array("covars_", covars)
        k, ctype = int(self.n_components), self.covariance_type
        if ctype == "spherical":
            c = c.reshape(-1)
            if c.shape[0] != k and c.size % k == 0:  # hmmlearn's tiled (k, d) form
                c = c.reshape(k, -1).mean(axis=1)
            if c.shape != (k,) or np.any(c <= 0):
                raise ParameterError("'spherical' covars_ must be n_components positive variances")
        elif ctype == "diag":
            if c.ndim != 2 or c.shape[0] != k or np.any(c <= 0):
                raise ParameterError("'diag' covars_ must have shape (n_components, n_features), positive")
        elif ctype == "tied":
            if c.ndim != 2 or c.shape[0] != c.shape[1]:
                raise ParameterError("'tied' covars_ must have shape (n_features, n_features)")
        elif c.ndim != 3 or c.shape[0] != k or c.shape[1] != c.shape[2]:
            raise ParameterError("'full' covars_ must have shape (n_components, n_features, n_features)")
        self._covars_ = c

    @property
    def n_features(self) -> int | None:
        """Dimension of the emissions (None before the means are known)."""
        means = getattr(self, "means_", None)
        return None if means is None else int(np.asarray(means).shape[1])

    def _initial_emissions(self, source: Any, seq: Any, rng: np.random.Generator) -> dict[str, Any]:
        from ..fitting.init import initial_centers

        k, d = int(self.n_components), source.n_features
        n_jobs = effective_n_jobs(self.n_jobs)
        ranges = _stream_ranges(seq, self.batch_size)
        init = self.init_params
        if "m" in init:
            means = initial_centers(source, k, "kmeans", rng, ranges=ranges, n_jobs=n_jobs,
                                    max_kmeans_iter=100)
        else:
            means = _array("means_", self._required("means_", "m"))
        if "c" in init:
            total = None
            for s in ordered_map(_moments_batch, source, ranges, n_jobs=n_jobs, args=(d,), additive=True):
                total = s if total is None else total + s
            n = float(total.w_sum)
            if not n > 1:
                raise DataError("X needs at least 2 rows to start the covariances (init_params with 'c')")
            cv = total.scatter() * (n / (n - 1.0)) + self.min_covar * np.eye(d)
            ctype = self.covariance_type
            covars = {"spherical": np.full(k, cv.mean()),  # hmmlearn's: the mean of every entry
                      "tied": cv, "diag": np.tile(np.diag(cv), (k, 1)),
                      "full": np.tile(cv, (k, 1, 1))}[ctype]
        else:
            covars = self._required("_covars_", "c")
        return {"means_": means, "covars_": covars}

    def _current_emissions(self) -> dict[str, Any]:
        return {"means_": self._required("means_", "m"), "covars_": self._required("_covars_", "c")}

    def _distributions(self, attrs: dict[str, Any]) -> list[Distribution]:
        k, ctype = int(self.n_components), self.covariance_type
        means = _array("means_", attrs["means_"])
        if means.ndim != 2 or means.shape[0] != k:
            raise ParameterError(f"means_ must have shape (n_components, n_features) = ({k}, d); got "
                                 f"{means.shape}")
        d = means.shape[1]
        c = np.asarray(attrs["covars_"], dtype=np.float64)
        if ctype == "spherical":
            c = c.reshape(-1)
            if c.shape[0] != k and c.size == k * d:
                c = c.reshape(k, d).mean(axis=1)
        form = {"spherical": "spherical", "diag": "diag", "full": "full", "tied": "full"}[ctype]
        dists = []
        for j in range(k):
            cov = c if ctype == "tied" else c[j]
            try:
                dists.append(MultivariateNormal(means[j], cov, covariance_type=form,
                                                reg_covar=float(self.min_covar)))
            except ParameterError as e:
                raise ParameterError(f"state {j} of covars_: {e}") from None
        return dists

    def _emission_step(self) -> Any:
        cfg = {"covariance_type": self.covariance_type, "params": self.params,
               "means_prior": self.means_prior, "means_weight": self.means_weight,
               "covars_prior": self.covars_prior, "covars_weight": self.covars_weight}
        return functools.partial(_gaussian_step, cfg)

    def _emission_attributes(self, learner: HiddenMarkovModel) -> dict[str, Any]:
        dists = learner.distributions
        ctype = self.covariance_type
        if ctype == "tied":
            covars = np.array(dists[0].cov)
        elif ctype == "spherical":
            covars = np.array([float(x.cov) for x in dists])
        else:
            covars = np.array([np.array(x.cov) for x in dists])
        return {"means_": np.array([x.mean for x in dists]), "covars_": covars}


# -- Categorical -------------------------------------------------------------------------


def _categorical_step(cfg: dict[str, Any], learner: HiddenMarkovModel, stats: Any) -> list:
    """hmmlearn's CategoricalHMM M-step: ``max(prior - 1 + counts, 0)`` normalised per state."""
    k, m = learner.n_components, cfg["n_features"]
    if "e" not in cfg["params"]:
        return [None] * k
    obs = np.zeros((k, m))
    for c, p in enumerate(stats.parts):
        counts = np.asarray(p.counts)
        obs[c, : counts.shape[0]] = counts[:m]
    probs = np.maximum(np.asarray(cfg["emissionprob_prior"], dtype=np.float64) - 1 + obs, 0)
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(~(sums > 0))
    if bad.size:
        raise ParameterError(f"the emission probabilities of state {int(bad[0])} would be all zero "
                             "(it received no posterior weight): give emissionprob_prior > 1 or "
                             "fewer states")
    probs = probs / sums[:, None]
    return [d._check_params({"probs": probs[c]}) for c, d in enumerate(learner.distributions)]


class CategoricalHMM(_BaseHMM):
    """Hidden Markov model with categorical emissions: a drop-in for hmmlearn's, streamed.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    startprob_prior, transmat_prior : float or array-like, default=1.0
        Dirichlet priors of ``startprob_`` and the rows of ``transmat_``.
    emissionprob_prior : float or array-like, default=1.0
        Dirichlet prior of each state's emission probabilities.
    n_features : int, optional
        Number of symbols (one more than the largest code seen when None).
    algorithm, random_state, n_iter, tol, verbose, implementation, batch_size, n_jobs, step, output_path, resume, decoder : optional
        As for :class:`GaussianHMM`.
    params, init_params : str, default='ste'
        ``'s'`` startprob, ``'t'`` transmat, ``'e'`` emissionprob.

    Attributes
    ----------
    startprob_, transmat_ : ndarray
        As for :class:`GaussianHMM`.
    emissionprob_ : ndarray of shape (n_components, n_features)
        ``P(symbol | state)``.
    monitor_ : ConvergenceMonitor
        The fit's log-likelihood per iteration.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> X = np.array([[0], [1], [1], [2], [0], [0], [2], [1]])
    >>> hmm = ss.CategoricalHMM(n_components=2, random_state=0, n_iter=5).fit(X)
    >>> hmm.emissionprob_.shape
    (2, 3)
    """

    _emission_letters = "e"

    def __init__(self, n_components: int = 1, startprob_prior: Any = 1.0, transmat_prior: Any = 1.0, *,
                 emissionprob_prior: Any = 1.0, n_features: int | None = None, algorithm: str = "viterbi",
                 random_state: Any = None, n_iter: int = 10, tol: float = 1e-2, verbose: bool = False,
                 params: str = "ste", init_params: str = "ste", implementation: str = "log",
                 batch_size: int | None = None, n_jobs: int = 1, step: Any = None,
                 output_path: Any = None, resume: bool = False, decoder: str | None = None) -> None:
        self._common_init(n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter,
                          tol, verbose, params, init_params, implementation, batch_size, n_jobs, step,
                          output_path, resume, decoder)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _symbols(self, source: Any, ranges: list) -> int:
        if self.n_features is not None:
            return int(self.n_features)
        probs = getattr(self, "emissionprob_", None)
        if probs is not None and "e" not in self.init_params:
            return int(np.asarray(probs).shape[1])
        top = -np.inf
        for s in ordered_map(_sums_batch, source, ranges, n_jobs=effective_n_jobs(self.n_jobs)):
            top = max(top, float(s[3]))
        if not np.isfinite(top) or top < 0 or top != np.floor(top):
            raise DataError(f"X must hold non-negative integer symbols; its largest value is {top}")
        return int(top) + 1

    def _initial_emissions(self, source: Any, seq: Any, rng: np.random.Generator) -> dict[str, Any]:
        self._fit_symbols = self._symbols(source, _stream_ranges(seq, self.batch_size))
        if "e" in self.init_params:
            probs = rng.random((int(self.n_components), self._fit_symbols))
            return {"emissionprob_": probs / probs.sum(axis=1, keepdims=True)}
        return {"emissionprob_": self._required("emissionprob_", "e")}

    def _current_emissions(self) -> dict[str, Any]:
        return {"emissionprob_": self._required("emissionprob_", "e")}

    def _distributions(self, attrs: dict[str, Any]) -> list[Distribution]:
        k = int(self.n_components)
        probs = _array("emissionprob_", attrs["emissionprob_"])
        if probs.ndim != 2 or probs.shape[0] != k:
            raise ParameterError(f"emissionprob_ must have shape (n_components, n_features); got "
                                 f"{probs.shape}")
        probs = _probs("emissionprob_", probs, probs.shape)
        return [Categorical(probs[c]) for c in range(k)]

    def _emission_step(self) -> Any:
        m = getattr(self, "_fit_symbols", None)
        if m is None:
            m = int(np.asarray(self.emissionprob_).shape[1])
        return functools.partial(_categorical_step, {"params": self.params, "n_features": m,
                                                     "emissionprob_prior": self.emissionprob_prior})

    def _emission_attributes(self, learner: HiddenMarkovModel) -> dict[str, Any]:
        self.n_features = int(len(learner.distributions[0].probs))
        return {"emissionprob_": np.array([d.probs for d in learner.distributions])}

    def sample(self, n_samples: int = 1, random_state: Any = None, currstate: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one sequence of symbols (integers, shape (n_samples, 1)).

        Parameters
        ----------
        n_samples : int, default=1
            Its length.
        random_state : None, int or numpy.random.Generator, optional
            Seed; the estimator's ``random_state`` when None.
        currstate : int, optional
            The first state.

        Returns
        -------
        X : ndarray of shape (n_samples, 1)
            The symbols.
        state_sequence : ndarray of shape (n_samples,)
            Their states.
        """
        X, states = super().sample(n_samples, random_state, currstate)
        return X.astype(np.int64), states


# -- Poisson -----------------------------------------------------------------------------


def _poisson_step(cfg: dict[str, Any], learner: HiddenMarkovModel, stats: Any) -> list:
    """hmmlearn's PoissonHMM M-step: ``(alpha + n * ybar) / (beta + n)``, n the total weight."""
    k = learner.n_components
    if "l" not in cfg["params"]:
        return [None] * k
    post = np.array([float(p.parts[0].w_sum) for p in stats.parts])
    empty = np.flatnonzero(~(post > 0))
    if empty.size:
        raise ParameterError(f"state {int(empty[0])} received no posterior weight, so its rates "
                             "are undefined; use fewer states or other starting parameters")
    obs = np.array([[float(q.xw_sum) for q in p.parts] for p in stats.parts])
    n = post.sum()
    y_bar = obs / post[:, None]
    lambdas = (np.asarray(cfg["lambdas_prior"], dtype=np.float64) + n * y_bar) / (
        np.asarray(cfg["lambdas_weight"], dtype=np.float64) + n)
    out = []
    for c, d in enumerate(learner.distributions):
        try:
            out.append({"distributions": [q._check_params({"rate": float(r)})
                                          for q, r in zip(d.distributions, lambdas[c], strict=True)]})
        except ParameterError as e:
            raise ParameterError(f"state {c}: {e}") from None
    return out


class PoissonHMM(_BaseHMM):
    """Hidden Markov model with independent Poisson emissions: a drop-in for hmmlearn's, streamed.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    startprob_prior, transmat_prior : float or array-like, default=1.0
        Dirichlet priors of ``startprob_`` and the rows of ``transmat_``.
    lambdas_prior, lambdas_weight : float or array-like, default=0.0
        hmmlearn's gamma prior of the rates (alpha, beta).
    algorithm, random_state, n_iter, tol, verbose, implementation, batch_size, n_jobs, step, output_path, resume, decoder : optional
        As for :class:`GaussianHMM`.
    params, init_params : str, default='stl'
        ``'s'`` startprob, ``'t'`` transmat, ``'l'`` lambdas.

    Attributes
    ----------
    startprob_, transmat_ : ndarray
        As for :class:`GaussianHMM`.
    lambdas_ : ndarray of shape (n_components, n_features)
        Rate of each feature in each state.
    monitor_ : ConvergenceMonitor
        The fit's log-likelihood per iteration.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.poisson(1.0, (100, 1)), rng.poisson(9.0, (100, 1))])
    >>> hmm = ss.PoissonHMM(n_components=2, random_state=0, n_iter=50).fit(X)
    >>> np.round(np.sort(hmm.lambdas_[:, 0]))
    array([1., 9.])
    """

    _emission_letters = "l"

    def __init__(self, n_components: int = 1, startprob_prior: Any = 1.0, transmat_prior: Any = 1.0,
                 lambdas_prior: Any = 0.0, lambdas_weight: Any = 0.0, algorithm: str = "viterbi",
                 random_state: Any = None, n_iter: int = 10, tol: float = 1e-2, verbose: bool = False,
                 params: str = "stl", init_params: str = "stl", implementation: str = "log", *,
                 batch_size: int | None = None, n_jobs: int = 1, step: Any = None,
                 output_path: Any = None, resume: bool = False, decoder: str | None = None) -> None:
        self._common_init(n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter,
                          tol, verbose, params, init_params, implementation, batch_size, n_jobs, step,
                          output_path, resume, decoder)
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight

    def _initial_emissions(self, source: Any, seq: Any, rng: np.random.Generator) -> dict[str, Any]:
        if "l" not in self.init_params:
            return {"lambdas_": self._required("lambdas_", "l")}
        total = np.zeros(4)
        top = -np.inf
        for s in ordered_map(_sums_batch, source, _stream_ranges(seq, self.batch_size),
                             n_jobs=effective_n_jobs(self.n_jobs)):
            total[:3] += s[:3]
            top = max(top, float(s[3]))
        mean = total[1] / total[0]
        var = total[2] / total[0] - mean * mean
        if not (mean > 0 and var > 0):
            raise DataError("X must have a positive mean and variance to start the rates (init_params "
                            "with 'l'); set lambdas_ and leave 'l' out of init_params")
        lambdas = rng.gamma(shape=mean**2 / var, scale=var / mean,
                            size=(int(self.n_components), source.n_features))
        return {"lambdas_": lambdas}

    def _current_emissions(self) -> dict[str, Any]:
        return {"lambdas_": self._required("lambdas_", "l")}

    def _distributions(self, attrs: dict[str, Any]) -> list[Distribution]:
        k = int(self.n_components)
        lambdas = np.atleast_2d(_array("lambdas_", attrs["lambdas_"]))
        if lambdas.shape[0] != k or np.any(lambdas < 0):
            raise ParameterError(f"lambdas_ must be non-negative of shape (n_components, n_features); "
                                 f"got {lambdas.shape}")
        return [IndependentComponents([Poisson(float(r)) for r in lambdas[c]]) for c in range(k)]

    def _emission_step(self) -> Any:
        return functools.partial(_poisson_step, {"params": self.params, "lambdas_prior": self.lambdas_prior,
                                                 "lambdas_weight": self.lambdas_weight})

    def _emission_attributes(self, learner: HiddenMarkovModel) -> dict[str, Any]:
        return {"lambdas_": np.array([[q.rate for q in d.distributions] for d in learner.distributions])}

    def sample(self, n_samples: int = 1, random_state: Any = None, currstate: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one sequence of counts (integers, shape (n_samples, n_features)).

        Parameters
        ----------
        n_samples : int, default=1
            Its length.
        random_state : None, int or numpy.random.Generator, optional
            Seed; the estimator's ``random_state`` when None.
        currstate : int, optional
            The first state.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The counts.
        state_sequence : ndarray of shape (n_samples,)
            Their states.
        """
        X, states = super().sample(n_samples, random_state, currstate)
        return X.astype(np.int64), states
