"""GaussianMixture: scikit-learn's estimator face over the mixture learner and the engine.

:class:`GaussianMixture` has :class:`sklearn.mixture.GaussianMixture`'s constructor,
fitted attributes and methods. It fits a :class:`~suffstat.GeneralMixtureModel` of
:class:`~suffstat.MultivariateNormal` components through the fitting engine
(:func:`suffstat.fitting.fit.fit_learner`), so it streams memory maps and ``.npy``
paths, runs batches on threads, and offers minibatch, stepwise and memoized EM.
``'tied'`` covariances are a learner (:class:`_GaussianLearner`) whose M-step pools
the components' scatter records into one covariance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import linalg

from .._validation import check_random_state
from ..distributions.multivariate_normal import MultivariateNormal
from ..exceptions import ParameterError
from ..sources import as_source
from ._face import MixtureFace
from .general import GeneralMixtureModel

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: scikit-learn's ``init_params`` and ours, mapped onto :data:`suffstat.fitting.init.INITS`.
INIT_PARAMS = {"kmeans": "kmeans", "k-means++": "kmeans++", "random": "random",
               "random_from_data": "random", "first-k": "first-k", "refined": "refined"}
#: The component form that holds each scikit-learn covariance type.
_COMPONENT_TYPE = {"full": "full", "tied": "full", "diag": "diag", "spherical": "spherical"}


class _GaussianLearner(GeneralMixtureModel):
    """A Gaussian mixture learner: optional tied covariance and starting overrides.

    It is a :class:`~suffstat.GeneralMixtureModel` of ``MultivariateNormal``
    components (all ``'full'`` when ``tied``). With ``tied``, every M-step gives all
    components the pooled covariance
    ``sum_k sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / n + reg_covar I``, computed from
    the components' full scatter records. ``overrides`` (``weights``, ``means``,
    ``covs``) replace the values a named initialization finds, as scikit-learn's
    ``*_init`` do. It saves (``to_dict``) as a plain ``GeneralMixtureModel``.
    """

    def __init__(self, distributions: Any, weights: Any = None, *, tied: bool = False,
                 overrides: dict[str, Any] | None = None) -> None:
        super().__init__(distributions, weights)
        self._tied = tied
        self._overrides = dict(overrides or {})

    def _dict_with(self, params: dict[str, Any]) -> dict[str, Any]:
        d = super()._dict_with(params)
        d["class"] = "GeneralMixtureModel"
        return d

    def copy(self) -> _GaussianLearner:
        """Return an independent copy (parameters, tied flag and overrides).

        Returns
        -------
        _GaussianLearner
            The copy.
        """
        plain = GeneralMixtureModel.from_dict(self.to_dict())
        return _GaussianLearner(plain.distributions, plain.weights, tied=self._tied,
                                overrides=self._overrides)

    def _pooled(self, means: list, covs: list, weights: np.ndarray) -> list[dict[str, Any]]:
        """Component parameters sharing one covariance."""
        pooled = sum(w * np.asarray(c) for w, c in zip(weights, covs, strict=True))
        pooled = 0.5 * (pooled + pooled.T)
        return [{"mean": m, "cov": pooled} for m in means]

    def _propose(self, stats: Any, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        proposal = super()._propose(stats, inertia=inertia, inherited=inherited)
        if proposal is None or not self._tied:
            return proposal
        resp = np.asarray(stats.resp_sum, dtype=np.float64)
        total = float(resp.sum())
        reg = self.distributions[0].reg_covar
        scatter = sum(float(r) * part.scatter() for r, part in zip(resp, stats.parts, strict=True)
                      if r > 0)
        cov = 0.5 * (scatter + scatter.T) / total
        cov[np.diag_indices_from(cov)] += reg
        means = [d.mean if p is None else p["mean"]
                 for d, p in zip(self.distributions, proposal["distributions"], strict=True)]
        try:
            return self._check_params({"weights": proposal["weights"],
                                       "distributions": [{"mean": m, "cov": cov} for m in means]})
        except ParameterError as e:
            raise ParameterError(f"the tied covariance: {e}") from None

    def blank(self) -> _GaussianLearner:
        """Return a copy without parameters that keeps the tied flag (its start pools too).

        Returns
        -------
        _GaussianLearner
            The copy, to be started from seeds.
        """
        plain = super().blank()
        return _GaussianLearner(plain.distributions, plain.weights, tied=self._tied)

    def seeded(self, params: dict[str, Any]) -> dict[str, Any]:
        """Apply the ``*_init`` overrides to the parameters a named start found.

        Parameters
        ----------
        params : dict
            Parameters of the start (with the tied covariance already pooled).

        Returns
        -------
        dict
            The validated starting parameters.
        """
        o = self._overrides
        w = o.get("weights", params["weights"])
        means = list(o.get("means", [p["mean"] for p in params["distributions"]]))
        covs = list(o.get("covs", [p["cov"] for p in params["distributions"]]))
        return self._check_params({
            "weights": w, "distributions": [{"mean": m, "cov": c} for m, c in zip(means, covs, strict=True)],
        })


class GaussianMixture(MixtureFace):
    r"""Gaussian mixture fitted by (streaming) EM: a drop-in for scikit-learn's.

    The constructor, the fitted attributes and the methods are those of
    :class:`sklearn.mixture.GaussianMixture`; from the same starting parameters
    the fit is the same (same iterations, same parameters to rounding). It runs
    on suffstat's engine, so ``X`` may also be a memory map or a ``.npy`` path read
    in batches, and the streaming settings at the end of the list apply.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Each component's own full covariance, one full covariance shared by all
        components, a diagonal covariance each, or a single variance each.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood per row
        between two passes (scikit-learn's rule).
    reg_covar : float, default=1e-6
        Non-negative value added to the diagonal of every estimated covariance.
    max_iter : int, default=100
        Maximum number of EM passes.
    n_init : int, default=1
        Initializations to try; the best final log-likelihood is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'first-k', 'refined'}, default='kmeans'
        How the starting parameters are found (see :doc:`/initialization`). Each is
        one of suffstat's streamed initializations, which pick seeds and then fit
        every component to the rows nearest its seed: ``'kmeans'`` is k-means++
        seeds refined by Lloyd passes, ``'k-means++'`` k-means++ seeds,
        ``'random_from_data'`` random rows as seeds, ``'first-k'`` the first rows,
        ``'refined'`` Bradley-Fayyad. scikit-learn's ``'random'`` (random
        responsibilities) is not available: ``'random'`` is mapped to random rows as
        seeds, like ``'random_from_data'``. So only the ``'kmeans'`` start is close to
        scikit-learn's; with ``weights_init``, ``means_init`` and ``precisions_init``
        all given the start is exactly scikit-learn's.
    weights_init : array-like of shape (n_components,), default=None
        Starting weights (they replace those of the initialization).
    means_init : array-like of shape (n_components, n_features), default=None
        Starting means.
    precisions_init : array-like, default=None
        Starting precisions (inverse covariances), of shape ``(n_components,)``
        for ``'spherical'``, ``(n_features, n_features)`` for ``'tied'``,
        ``(n_components, n_features)`` for ``'diag'`` and
        ``(n_components, n_features, n_features)`` for ``'full'``.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds the initializations, the minibatch batch order and :meth:`sample`.
    warm_start : bool, default=False
        Start each :meth:`fit` from the previous fit's parameters (``n_init`` is then
        ignored), as scikit-learn does. One difference: scikit-learn compares the
        first pass of a warm-started fit with the previous fit's ``lower_bound_``, so
        it may stop after one pass; here convergence is judged within the fit, so a
        warm-started fit runs at least two passes (unless ``max_iter=1``).
    verbose : int, default=0
        Print one line per pass when positive.
    verbose_interval : int, default=10
        Accepted for compatibility; suffstat's reporter prints every pass.
    batch_size : int, optional
        Rows per batch when streaming (the result does not depend on it).
    batches_per_epoch : int, optional
        Update after every this many batches (minibatch EM).
    n_jobs : int, default=1
        Batches summarized concurrently by threads (bitwise the same result).
    algorithm : {'em', 'stepwise', 'memoized'}, default='em'
        Full-pass EM, stochastic EM, or memoized EM.
    step : suffstat.steps.StepRule, optional
        Step rule of ``'stepwise'``.
    output_path : str or os.PathLike, optional
        Folder for per-pass snapshots (see :doc:`/snapshots`).
    resume : bool, default=False
        Continue from the newest snapshot in ``output_path``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixture weights.
    means_ : ndarray of shape (n_components, n_features)
        Component means.
    covariances_ : ndarray
        Covariances, shaped as ``precisions_init``.
    precisions_ : ndarray
        Their inverses.
    precisions_cholesky_ : ndarray
        Upper-triangular factors ``U`` with ``precision = U @ U.T`` (for 'full' and
        'tied'), or ``1 / sqrt(covariances_)``.
    converged_ : bool
        Whether the best fit met ``tol``.
    n_iter_ : int
        EM passes of the best fit.
    lower_bound_ : float
        Mean log-likelihood per row at the last E-step (before the last M-step).
    lower_bounds_ : list of float
        That value for every pass.
    n_features_in_ : int
        Number of features seen by :meth:`fit`.

    All of them exist only after :meth:`fit`.

    See Also
    --------
    GeneralMixtureModel : The mixture of any distributions this estimator fits.

    Notes
    -----
    ``fit(X)`` builds a new :class:`~suffstat.GeneralMixtureModel` of
    :class:`~suffstat.MultivariateNormal` components, starts it (from
    ``init_params``, the ``*_init`` arrays or the previous fit) and fits it with the
    engine; the fitted mixture is :attr:`model_`. The M-step is scikit-learn's
    without its ``10 * eps`` added to the component weights (a difference of about
    1e-17 relative). If a fit fails, the estimator keeps its previous state.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-5, 1, (300, 2)), rng.normal(5, 1, (300, 2))])
    >>> gm = ss.GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.round(np.sort(gm.means_[:, 0]))
    array([-5.,  5.])
    >>> gm.predict([[-5.0, -5.0], [5.0, 5.0]]).tolist() == gm.predict(X[[0, -1]]).tolist()
    True
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        algorithm: str = "em",
        step: Any = None,
        output_path: Any = None,
        resume: bool = False,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.algorithm = algorithm
        self.step = step
        self.output_path = output_path
        self.resume = resume


    # -- checks -----------------------------------------------------------------------
    def _check_settings(self) -> None:
        self._check_common()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ParameterError(
                f"covariance_type must be one of {COVARIANCE_TYPES}; got {self.covariance_type!r}"
            )
        if self.init_params not in INIT_PARAMS:
            raise ParameterError(
                f"init_params must be one of {tuple(INIT_PARAMS)}; got {self.init_params!r}"
            )

    def _check_inits(self, d: int) -> dict[str, Any]:
        """Validate the ``*_init`` arrays; return the starting overrides (covariances)."""
        k, ctype = int(self.n_components), self.covariance_type
        out: dict[str, Any] = {}
        if self.weights_init is not None:
            w = _array("weights_init", self.weights_init, (k,))
            if np.any(w < 0) or np.any(w > 1):
                raise ParameterError(
                    f"weights_init should be in the range [0, 1]; got min value {w.min():g}, "
                    f"max value {w.max():g}"
                )
            if not np.allclose(w.sum(), 1.0, rtol=0.0, atol=1e-6):
                raise ParameterError(f"weights_init should be normalized; got sum {w.sum():.10g}")
            out["weights"] = w / w.sum()
        if self.means_init is not None:
            out["means"] = list(_array("means_init", self.means_init, (k, d)))
        if self.precisions_init is not None:
            shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ctype]
            p = _array("precisions_init", self.precisions_init, shape)
            if ctype in ("diag", "spherical"):
                if not np.all(p > 0):
                    raise ParameterError(f"precisions_init must be positive for '{ctype}'")
                out["covs"] = list(1.0 / p)
            else:
                mats = [p] if ctype == "tied" else list(p)
                covs = [_inverse_spd(f"precisions_init[{j}]" if ctype == "full" else "precisions_init", m)
                        for j, m in enumerate(mats)]
                out["covs"] = covs * k if ctype == "tied" else covs
        return out

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None):
        """Estimate the parameters by EM (``n_init`` starts, the best one kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data; memory maps and ``.npy`` paths are streamed in batches.
        y : ignored
            Accepted for scikit-learn compatibility (``Pipeline``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (a suffstat extension).

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ParameterError
            For an invalid setting or ``*_init`` array (the message names it).
        DataError
            For invalid data. In both cases the estimator keeps its previous state.
        """
        self._check_settings()
        X = self._as_data(X)
        n_features = as_source(X).n_features
        overrides = self._check_inits(n_features)
        k, ctype = int(self.n_components), self.covariance_type
        settings = {
            "max_iter": int(self.max_iter), "tol": float(self.tol), "batch_size": self.batch_size,
            "batches_per_epoch": self.batches_per_epoch, "n_jobs": self.n_jobs,
            "algorithm": self.algorithm, "step": self.step, "random_state": self.random_state,
            "output_path": self.output_path, "resume": self.resume, "verbose": bool(self.verbose),
            "n_init": int(self.n_init), "init": INIT_PARAMS[self.init_params],
        }
        previous = getattr(self, "model_", None)
        if self.warm_start and previous is not None:
            if previous.n_features != n_features:
                raise ParameterError(
                    f"warm_start: X has {n_features} features; the previous fit had "
                    f"{previous.n_features}"
                )
            learner = previous.copy()
            settings.update(init=None, n_init=1)
        else:
            comps = [MultivariateNormal(covariance_type=_COMPONENT_TYPE[ctype],
                                        reg_covar=float(self.reg_covar)) for _ in range(k)]
            learner = _GaussianLearner(comps, tied=ctype == "tied", overrides=overrides)
            if len(overrides) == 3:  # the whole start is given: no initialization to run
                learner._set_params(learner._check_params({
                    "weights": overrides["weights"],
                    "distributions": [{"mean": m, "cov": c}
                                      for m, c in zip(overrides["means"], overrides["covs"],
                                                      strict=True)],
                }))
                settings.update(init=None, n_init=1)
        learner.fit(X, sample_weight=sample_weight, **settings)
        self._set_fitted(learner, n_features)
        return self

    def _set_fitted(self, model: _GaussianLearner, n_features: int) -> None:
        ctype, d = self.covariance_type, n_features
        comps = model.distributions
        means = np.array([c.mean for c in comps])
        if ctype in ("full", "tied"):
            chols = np.array([c._prec_chol for c in comps])
            covs = np.array([c.cov for c in comps])
            if ctype == "tied":
                covs, chols = covs[0], chols[0]
                precisions = chols @ chols.T
            else:
                precisions = np.einsum("kij,klj->kil", chols, chols)
        else:
            covs = np.array([np.asarray(c.cov, dtype=np.float64) for c in comps])
            chols = 1.0 / np.sqrt(covs)
            precisions = chols**2
        self.model_ = model
        self.weights_ = model.weights.copy()
        self.means_ = means
        self.covariances_ = covs
        self.precisions_cholesky_ = chols
        self.precisions_ = precisions
        self.converged_ = bool(model.converged_)
        self.n_iter_ = int(model.n_iter_)
        self.lower_bound_ = float(model.lower_bound_)
        self.lower_bounds_ = [float(h["mean_log_likelihood"]) for h in model.history_]
        self.n_features_in_ = d

    def _n_parameters(self) -> int:
        k, d = int(self.n_components), int(self.n_features_in_)
        cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
               "spherical": k}[self.covariance_type]
        return cov + k * d + k - 1

    def bic(self, X: Any) -> float:
        """Return the Bayesian information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data.

        Returns
        -------
        float
            ``-2 log L + p log n`` with scikit-learn's parameter count ``p``.
        """
        ll = self.score_samples(X)
        return float(-2.0 * ll.sum() + self._n_parameters() * np.log(ll.shape[0]))

    def aic(self, X: Any) -> float:
        """Return the Akaike information criterion on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data.

        Returns
        -------
        float
            ``-2 log L + 2 p``.
        """
        ll = self.score_samples(X)
        return float(-2.0 * ll.sum() + 2.0 * self._n_parameters())

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the fitted mixture, grouped by component as in scikit-learn.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples.
        y : ndarray of shape (n_samples,)
            The component each sample came from.
        """
        model = self._model()
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ParameterError(f"n_samples must be a positive integer; got {n_samples!r}")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(int(n_samples), self.weights_)
        d = int(self.n_features_in_)  # a component drawing no row still has d columns
        X = np.vstack([c.sample(int(m), random_state=rng).reshape(int(m), d)
                       for c, m in zip(model.distributions, counts, strict=True)])
        y = np.repeat(np.arange(int(self.n_components)), counts)
        return X, y


def _array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an array of real numbers; got {value!r}") from None
    if a.shape != shape:
        raise ParameterError(f"The parameter '{name}' should have the shape of {shape}, but got {a.shape}")
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} must be finite")
    return a


def _inverse_spd(name: str, p: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive-definite precision matrix (or a clear error)."""
    if not np.allclose(p, p.T, rtol=1e-10, atol=0.0):
        raise ParameterError(f"{name} must be symmetric")
    try:
        chol = linalg.cho_factor(p, lower=True)
    except linalg.LinAlgError:
        raise ParameterError(f"{name} must be positive definite") from None
    cov = linalg.cho_solve(chol, np.eye(p.shape[0]))
    return 0.5 * (cov + cov.T)
