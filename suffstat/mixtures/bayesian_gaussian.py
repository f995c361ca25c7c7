"""BayesianGaussianMixture: scikit-learn's estimator face over the variational mixture learner.

:class:`BayesianGaussianMixture` has :class:`sklearn.mixture.BayesianGaussianMixture`'s
constructor, fitted attributes and methods, bnpy's algorithms (VB, stochastic VB,
memoized VB), starts and objective, and suffstat's streaming settings. It fits a
:class:`~suffstat.BayesianMixture` of :class:`~suffstat.priors.NormalWishart`
(``'full'``) or :class:`~suffstat.priors.NormalGamma` (``'diag'``) components with
the fitting engine.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._validation import check_random_state, check_scalar
from ..distributions.multivariate_normal import MultivariateNormal
from ..exceptions import ParameterError
from ..fitting.callbacks import LapReporter
from ..fitting.driver import resolve_batch_size, summarize_source, weight_source
from ..fitting.init import _checked
from ..priors.gaussian import NormalGamma, NormalWishart, SphericalNormalGamma
from ..sources import as_source
from .bayesian import VB_ALGORITHMS, WEIGHT_PRIOR_TYPES, BayesianMixture
from .gaussian import GaussianMixture
from ._face import MixtureFace
from .general import GeneralMixtureModel

COVARIANCE_TYPES = ("full", "diag", "spherical")
#: scikit-learn's and bnpy's starts, mapped onto the engine's named starts.
INIT_PARAMS = {"kmeans": "kmeans", "k-means++": "kmeans++", "kmeans++": "kmeans++", "random": "random",
               "random_from_data": "randexamples", "randexamples": "randexamples",
               "randexamplesbydist": "randexamplesbydist", "first-k": "first-k", "refined": "refined"}
#: bnpy's default count tolerance of convergence='counts', per algorithm.
COUNT_TOL = {"em": 0.05, "stepwise": 0.05, "memoized": 0.01}


class BayesianGaussianMixture(MixtureFace):
    r"""Variational Bayesian Gaussian mixture: a drop-in for scikit-learn's, with bnpy's algorithms.

    The constructor, the fitted attributes and the methods are those of
    :class:`sklearn.mixture.BayesianGaussianMixture`; started from the same posterior
    the fit is the same. It runs on suffstat's engine, so ``X`` may be a memory map
    or a ``.npy`` path read in batches, batches run on threads, and ``algorithm``
    offers bnpy's stochastic and memoized VB.

    Parameters
    ----------
    n_components : int, default=1
        Number of components (the truncation level of a Dirichlet process).
    covariance_type : {'full', 'diag', 'spherical'}, default='full'
        Normal-Wishart components, per-dimension Normal-Gamma components (bnpy's
        ``DiagGauss``) or Normal-Gamma components with one precision for all
        dimensions (:class:`~suffstat.priors.SphericalNormalGamma`). scikit-learn's
        ``'diag'`` and ``'spherical'`` apply the full Wishart's expectation to those
        precisions instead, an approximation. ``'tied'`` is not offered.
    tol : float, default=1e-3
        Convergence threshold on the change of the total ELBO between laps, as
        scikit-learn's (the engine applies ``tol / N`` to the ELBO per row).
    reg_covar : float, default=1e-6
        Added to the diagonal of each component's data covariance in every global step.
    max_iter : int, default=100
        Maximum number of laps (passes over the data).
    n_init : int, default=1
        Starts to try; the highest final ELBO is kept.
    init_params : str, array-like, model or path, default='kmeans'
        Where the fit starts: ``'kmeans'``, ``'k-means++'``, ``'random_from_data'``
        (scikit-learn's: random rows, each one component's only row, then a global
        step; the same as bnpy's ``'randexamples'``), ``'randexamples'``,
        ``'randexamplesbydist'`` (k-means++ D^2 sampling of the rows), ``'random'``
        (random rows as seeds, every row given to its nearest), ``'first-k'``,
        ``'refined'`` (with an integer ``random_state`` and ``n_init=1``,
        ``'randexamples'`` takes bnpy's rows, ``RandomState(seed).permutation(N)[:K]``,
        so bnpy's seed gives bnpy's start); an integer array of shape (n_samples,) of
        labels (bnpy's
        ``truelabels``: one global step from that hard assignment); or a fitted model
        (this class, :class:`~suffstat.BayesianMixture`, an EM
        :class:`~suffstat.GaussianMixture` or :class:`~suffstat.GeneralMixtureModel`,
        scikit-learn's fitted ``BayesianGaussianMixture``), a saved model file or a
        run folder. A like model gives its posterior as it is; any other mixture
        starts from its responsibilities (one pass, then a global step).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, default='dirichlet_process'
        Stick-breaking or Dirichlet prior on the weights.
    weight_concentration_prior : float, optional
        :math:`\gamma_0` of the DP or :math:`\alpha_0` of the Dirichlet; ``1 / n_components``
        when None.
    mean_precision_prior : float, optional
        :math:`\kappa_0`; 1 when None.
    mean_prior : array-like of shape (n_features,), optional
        :math:`m_0`; the mean of ``X`` when None (one streamed pass).
    degrees_of_freedom_prior : float, optional
        :math:`\nu_0`; ``n_features`` when None.
    covariance_prior : array-like, optional
        The Wishart's inverse scale :math:`B_0` ((d, d) for ``'full'``), the
        Gamma rates ((d,) for ``'diag'``) or the one rate (a float for
        ``'spherical'``); the covariance (variances, their mean) of ``X`` with
        ``ddof=1`` when None.
    random_state : None, int or numpy.random.Generator, default=None
        Seeds the starts, the stochastic batch order and :meth:`sample`.
    warm_start : bool, default=False
        Start each :meth:`fit` from the previous fit's posterior.
    verbose : int, default=0
        Print bnpy's line per lap when positive.
    verbose_interval : int, default=10
        Accepted for compatibility (every lap is printed).
    batch_size : int, optional
        Rows per batch when streaming (the VB result does not depend on it).
    batches_per_epoch : int, optional
        Global steps after every this many batches.
    n_jobs : int, default=1
        Batches summarized concurrently by threads (bitwise the same result).
    algorithm : {'vb', 'stochastic', 'memoized'}, default='vb'
        Full-pass VB, stochastic VB (Hoffman et al.; each batch's record scaled by
        ``N / n_b`` and blended with rate ``rho_t`` from ``step``) or memoized VB
        (Hughes and Sudderth; one record per batch, exact whole-data record at every
        global step). bnpy's ``'VB'``, ``'soVB'``, ``'moVB'`` and ``'memoVB'`` are
        accepted.
    step : suffstat.steps.StepRule, optional
        The stochastic rate; bnpy's ``rho_t = (t + rhodelay)^-rhoexp`` is
        ``ss.steps.PowerDecay(kappa=rhoexp, delay=rhodelay)`` (t counted from 1; the
        first step blends the starting posterior with weight ``1 - rho_1``, as bnpy).
    output_path : str or os.PathLike, optional
        Folder for per-lap snapshots.
    resume : bool, default=False
        Continue from the newest snapshot in ``output_path``.
    convergence : {'elbo', 'counts'}, default='elbo'
        scikit-learn's rule (``tol`` on the ELBO) or bnpy's (the largest change of an
        expected count, ``Ndiff``, at most ``count_tol``).
    count_tol : float, optional
        Threshold of ``convergence='counts'``; bnpy's defaults 0.05 (VB, stochastic)
        and 0.01 (memoized) when None.
    moves : str or tuple, optional
        Structure moves of memoized VB with a Dirichlet-process prior: any of
        ``'birth'``, ``'merge'``, ``'delete'`` and ``'shuffle'``
        (``'birth,merge,shuffle'``); see :doc:`/variational`. ``n_components`` is
        then the starting number of components and ``n_components_`` the number
        found.
    merge_start_lap : int, default=2
        The first lap whose end tries merges (bnpy's ``m_startLap``).
    birth_start_lap : int, default=0
        The first lap whose end tries births (bnpy's ``b_startLap``; births are
        planned at the end of a lap and judged at the end of the next, so the
        first is judged after lap 2 at the earliest).
    birth_n_fresh : int, default=10
        Fresh components a birth fits to its target's rows (bnpy's ``b_Kfresh``).
    delete_start_lap : int, default=2
        The first lap whose end tries a delete (bnpy's ``d_startLap``).
    max_components : int, optional
        The most components births may make (bnpy's ``Kmax``): 100, or
        ``n_components`` if more, when None.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Posterior mean weights.
    means_ : ndarray of shape (n_components, n_features)
        Posterior means of the component means.
    covariances_ : ndarray
        ``B / nu``: the inverse of each component's expected precision, shape
        (k, d, d), (k, d) or (k,) (spherical).
    precisions_ : ndarray
        Expected precisions ``nu B^-1``.
    precisions_cholesky_ : ndarray
        Their upper Cholesky factors (``'full'``) or square roots.
    weight_concentration_ : ndarray or tuple of ndarray
        The Dirichlet's parameters, or the sticks' ``(a, b)`` as scikit-learn.
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,)
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, degrees_of_freedom_prior_, covariance_prior_
        The priors used.
    elbo_ : float
        The evidence lower bound after the last global step, with every constant
        (bnpy's definition; see :doc:`/variational`).
    lower_bound_ : float
        Equal to ``elbo_``. scikit-learn's ``lower_bound_`` drops constants, so the
        two differ by a constant for a given prior and data.
    history_ : list of dict
        One entry per lap: ``elbo``, ``loss`` (``-elbo / (N d)``), ``K``, ``Ndiff``,
        ``lrate`` (stochastic), ``time``, ``elapsed`` and ``rss_mib``.
    converged_ : bool
    n_iter_ : int
    n_features_in_ : int
    n_components_ : int
        The number of components after the fit (births and merges change it).
    component_ids_ : ndarray of int
        Each component's stable id (its index at the start; a merge keeps the first's,
        births take new ids).
    move_log_ : list of dict
        With moves, one entry per lap: its births, merges, deletes and K (also the
        run folder's ``moves.csv``).
    model_ : BayesianMixture
        The fitted learner.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-5, 1, (300, 2)), rng.normal(5, 1, (300, 2))])
    >>> bgm = ss.BayesianGaussianMixture(n_components=5, weight_concentration_prior=1e-3,
    ...                                  random_state=0, max_iter=500).fit(X)
    >>> int(np.sum(bgm.weights_ > 0.05))
    2
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
        init_params: Any = "kmeans",
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: float | None = None,
        mean_precision_prior: float | None = None,
        mean_prior: Any = None,
        degrees_of_freedom_prior: float | None = None,
        covariance_prior: Any = None,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        algorithm: str = "vb",
        step: Any = None,
        output_path: Any = None,
        resume: bool = False,
        convergence: str = "elbo",
        count_tol: float | None = None,
        moves: Any = None,
        merge_start_lap: int = 2,
        birth_start_lap: int = 0,
        birth_n_fresh: int = 10,
        delete_start_lap: int = 2,
        max_components: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
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
        self.convergence = convergence
        self.count_tol = count_tol
        self.moves = moves
        self.merge_start_lap = merge_start_lap
        self.birth_start_lap = birth_start_lap
        self.birth_n_fresh = birth_n_fresh
        self.delete_start_lap = delete_start_lap
        self.max_components = max_components


    @staticmethod
    def bnpy_prior(n_features: int, sF: float = 1.0, ECovMat: str = "eye", kappa: float = 1e-4,
                   nu: float | None = None, gamma: float = 1.0, n_components: int = 1, X: Any = None,
                   dp: bool = False, covariance_type: str = "full") -> dict[str, Any]:
        """Return the keyword arguments that give bnpy's prior.

        bnpy's ``Gauss`` observation model puts ``B = sF * E * (nu - D - 1)`` with
        ``E`` the identity (``ECovMat='eye'``) or the data covariance
        (``'covdata'``), so that ``E[Sigma] = sF * E``; ``DiagGauss`` puts
        ``beta = sF * diag(E) * (nu - 2)``. Its ``kappa`` is ``mean_precision_prior``,
        its ``nu`` (default ``D + 2``) ``degrees_of_freedom_prior``, the prior mean is
        0; the finite mixture's ``gamma`` is split over the components
        (``weight_concentration_prior = gamma / K``), the DP's ``gamma0`` is
        ``weight_concentration_prior``.

        Parameters
        ----------
        n_features : int
            D.
        sF : float, default=1.0
            bnpy's scale factor.
        ECovMat : {'eye', 'covdata'}, default='eye'
            The expected covariance's shape.
        kappa : float, default=1e-4
            bnpy's ``kappa``.
        nu : float, optional
            bnpy's ``nu``; ``D + 2`` when None.
        gamma : float, default=1.0
            bnpy's ``gamma`` (finite) or ``gamma0`` (DP).
        n_components : int, default=1
            K (for the finite mixture's split of ``gamma``).
        X : array-like, optional
            The data, needed for ``ECovMat='covdata'`` (its population covariance,
            ``np.cov(X.T, bias=True)`` as bnpy).
        dp : bool, default=False
            A Dirichlet-process weight prior.
        covariance_type : {'full', 'diag', 'spherical'}, default='full'
            Which observation model (``Gauss`` or ``DiagGauss``). bnpy has no
            spherical one; ``'spherical'`` puts ``beta = sF * mean(diag(E)) * (nu - 2 / D)``,
            so that again ``E[sigma^2] = sF * mean(diag(E))``.

        Returns
        -------
        dict
            ``weight_concentration_prior_type``, ``weight_concentration_prior``,
            ``mean_precision_prior``, ``mean_prior``, ``degrees_of_freedom_prior`` and
            ``covariance_prior``.
        """
        d = int(n_features)
        nu = d + 2.0 if nu is None else float(nu)
        if ECovMat == "eye":
            E = np.eye(d)
        elif ECovMat == "covdata":
            if X is None:
                raise ParameterError("ECovMat='covdata' needs the data X")
            source = as_source(X if hasattr(X, "shape") or isinstance(X, (str, os.PathLike))
                               or hasattr(X, "ranges") else np.asarray(X, dtype=np.float64))
            E = np.atleast_2d(_data_moments(source, None, "full", ddof=0)[1])
        else:
            raise ParameterError(f"ECovMat must be 'eye' or 'covdata'; got {ECovMat!r}")
        if covariance_type == "full":
            cov = sF * E * (nu - d - 1.0)
        elif covariance_type == "diag":
            cov = sF * np.diag(E) * (nu - 2.0)
        elif covariance_type == "spherical":  # no bnpy model: E[1 / lambda] = sF * mean(diag(E)) likewise
            cov = float(sF * np.mean(np.diag(E)) * (nu - 2.0 / d))
        else:
            raise ParameterError(f"covariance_type must be 'full', 'diag' or 'spherical'; got "
                                 f"{covariance_type!r}")
        return {
            "weight_concentration_prior_type": "dirichlet_process" if dp else "dirichlet_distribution",
            "weight_concentration_prior": float(gamma) if dp else float(gamma) / int(n_components),
            "mean_precision_prior": float(kappa),
            "mean_prior": np.zeros(d),
            "degrees_of_freedom_prior": nu,
            "covariance_prior": cov,
        }

    # -- checks -----------------------------------------------------------------------
    def _check_settings(self) -> None:
        self._check_common()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ParameterError(f"covariance_type must be one of {COVARIANCE_TYPES}; got "
                                 f"{self.covariance_type!r}")
        if self.weight_concentration_prior_type not in WEIGHT_PRIOR_TYPES:
            raise ParameterError(f"weight_concentration_prior_type must be one of {WEIGHT_PRIOR_TYPES}; "
                                 f"got {self.weight_concentration_prior_type!r}")
        if self.algorithm not in VB_ALGORITHMS:
            raise ParameterError(f"algorithm must be one of {tuple(VB_ALGORITHMS)}; got {self.algorithm!r}")
        if self.convergence not in ("elbo", "counts"):
            raise ParameterError(f"convergence must be 'elbo' or 'counts'; got {self.convergence!r}")

    def _priors(self, source: Any, weights: Any) -> dict[str, Any]:
        """The prior's values (scikit-learn's defaults from one streamed pass when needed)."""
        d, k = source.n_features, int(self.n_components)
        ctype = self.covariance_type
        mean = cov = None
        if self.mean_prior is None or self.covariance_prior is None:
            mean, cov = _data_moments(source, weights, ctype, n_jobs=self.n_jobs)
        m0 = mean if self.mean_prior is None else _vector("mean_prior", self.mean_prior, d)
        if self.covariance_prior is None:
            b0 = float(np.mean(cov)) if ctype == "spherical" else cov  # scikit-learn's X.var(0).mean()
        elif ctype == "spherical":
            b0 = check_scalar("spherical covariance_prior", self.covariance_prior, low=0.0, low_open=True)
        elif ctype == "full":
            b0 = np.array(self.covariance_prior, dtype=np.float64)
            if b0.shape != (d, d):
                raise ParameterError(f"The parameter 'full covariance_prior' should have the shape of "
                                     f"({d}, {d}), but got {b0.shape}")
        else:
            b0 = _vector("diag covariance_prior", self.covariance_prior, d)
            if not (b0 > 0).all():
                raise ParameterError("'diag covariance_prior' should be positive")
        kappa0 = 1.0 if self.mean_precision_prior is None else check_scalar(
            "mean_precision_prior", self.mean_precision_prior, low=0.0, low_open=True)
        nu0 = float(d) if self.degrees_of_freedom_prior is None else check_scalar(
            "degrees_of_freedom_prior", self.degrees_of_freedom_prior, low=d - 1.0, low_open=True)
        g = 1.0 / k if self.weight_concentration_prior is None else check_scalar(
            "weight_concentration_prior", self.weight_concentration_prior, low=0.0, low_open=True)
        return {"mean_prior": m0, "covariance_prior": b0, "mean_precision_prior": kappa0,
                "degrees_of_freedom_prior": nu0, "weight_concentration_prior": g}

    def _learner(self, prior: dict[str, Any]) -> BayesianMixture:
        cls = {"full": NormalWishart, "diag": NormalGamma, "spherical": SphericalNormalGamma}[self.covariance_type]
        first = cls(prior["mean_prior"], prior["covariance_prior"],
                    mean_precision_prior=prior["mean_precision_prior"],
                    degrees_of_freedom_prior=prior["degrees_of_freedom_prior"], reg_covar=float(self.reg_covar))
        comps = [first] + [first._fresh_copy() for _ in range(int(self.n_components) - 1)]
        return BayesianMixture(comps, weight_concentration_prior_type=self.weight_concentration_prior_type,
                               weight_concentration_prior=prior["weight_concentration_prior"],
                               moves=self.moves, merge_start_lap=self.merge_start_lap,
                               birth_start_lap=self.birth_start_lap, birth_n_fresh=self.birth_n_fresh,
                               delete_start_lap=self.delete_start_lap, max_components=self.max_components)

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, *, init_params: Any = None):
        """Fit the variational posterior (``n_init`` starts, the best ELBO kept).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data; memory maps and ``.npy`` paths are streamed in batches.
        y : ignored
            Accepted for scikit-learn compatibility.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights (a suffstat extension).
        init_params : optional
            Overrides the constructor's ``init_params`` for this fit.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        ParameterError
            For an invalid setting or start (the message names it).
        DataError
            For invalid data. In both cases the estimator keeps its previous state.
        """
        self._check_settings()
        X = self._as_data(X)
        source = as_source(X)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        start = self.init_params if init_params is None else init_params
        algorithm = VB_ALGORITHMS[self.algorithm]
        previous = getattr(self, "model_", None)
        n_init = int(self.n_init)
        if self.warm_start and previous is not None:
            if previous.n_features != source.n_features:
                raise ParameterError(f"warm_start: X has {source.n_features} features; the previous "
                                     f"fit had {previous.n_features}")
            learner, init, prior = previous.copy(), None, self._prior_values
            n_init = 1
        else:
            prior = self._priors(source, weights)
            learner = self._learner(prior)
            init = self._start(start, learner, source, weights)
            if not isinstance(init, str):
                n_init = 1
        total = float(source.n_rows) if weights is None else float(np.sum(weights))
        if not total > 0:
            raise ParameterError("the data has total weight 0: nothing to fit")
        settings = {
            "max_iter": int(self.max_iter), "tol": float(self.tol) / total, "batch_size": self.batch_size,
            "batches_per_epoch": self.batches_per_epoch, "n_jobs": self.n_jobs, "algorithm": algorithm,
            "step": self.step, "random_state": self.random_state, "output_path": self.output_path,
            "resume": self.resume, "n_init": n_init, "init": init,
        }
        if self.convergence == "counts":
            count_tol = COUNT_TOL[algorithm] if self.count_tol is None else check_scalar(
                "count_tol", self.count_tol, low=0.0)
            settings.update(tol=None, converge_on=("Ndiff", float(count_tol)))
        if self.verbose:
            settings["callbacks"] = [LapReporter(int(self.max_iter), source.n_features)]
        learner.fit(X, sample_weight=sample_weight, **settings)
        self._prior_values = prior
        self._set_fitted(learner, source.n_features)
        return self

    def _start(self, start: Any, learner: BayesianMixture, source: Any, weights: Any) -> Any:
        """The engine's ``init`` for a start given as ``init_params``."""
        if isinstance(start, str) and not os.path.exists(start):
            if start not in INIT_PARAMS:
                raise ParameterError(f"init_params must be one of {tuple(INIT_PARAMS)}, an array of "
                                     f"labels, a fitted model or a path; got {start!r}")
            seed = self.random_state
            if INIT_PARAMS[start] == "randexamples" and int(self.n_init) == 1 and \
                    isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
                return _bnpy_randexamples(learner, source, int(seed))
            return INIT_PARAMS[start]
        if isinstance(start, (str, os.PathLike)):
            return start
        if isinstance(start, (BayesianGaussianMixture, GaussianMixture)):
            if getattr(start, "model_", None) is None:
                raise ParameterError("init_params is an estimator that is not fitted")
            return start.model_
        if isinstance(start, GeneralMixtureModel):
            return start
        if hasattr(start, "weight_concentration_") and hasattr(start, "degrees_of_freedom_"):
            return self._from_sklearn(start, learner)
        labels = np.asarray(start)
        if labels.ndim == 1 and labels.shape[0] == source.n_rows and np.issubdtype(labels.dtype, np.integer):
            return _from_labels(learner, source, weights, labels)
        raise ParameterError("init_params must be a start name, an integer array of one label per "
                             f"row ({source.n_rows}), a fitted model or a path; got {type(start).__name__}")

    def _from_sklearn(self, est: Any, learner: BayesianMixture) -> BayesianMixture:
        """A posterior copied from a fitted scikit-learn ``BayesianGaussianMixture``."""
        k = int(self.n_components)
        if len(est.means_) != k or est.covariance_type != self.covariance_type:
            raise ParameterError("init_params: the scikit-learn model must have the same n_components "
                                 "and covariance_type")
        conc = est.weight_concentration_
        conc = np.column_stack(conc) if isinstance(conc, tuple) else np.asarray(conc)
        if (conc.ndim == 2) != (self.weight_concentration_prior_type == "dirichlet_process"):
            raise ParameterError("init_params: the scikit-learn model has another weight prior type")
        nu = np.asarray(est.degrees_of_freedom_, dtype=np.float64)
        covs = np.asarray(est.covariances_, dtype=np.float64)
        params = {"concentration": conc, "distributions": [
            {"mean": est.means_[j], "mean_precision": float(est.mean_precision_[j]),
             "degrees_of_freedom": float(nu[j]), "scale": covs[j] * nu[j]} for j in range(k)]}
        model = learner.copy()
        model._set_params(model._check_params(params))
        return model

    def _set_fitted(self, model: BayesianMixture, n_features: int) -> None:
        comps = model.distributions
        dp = self.weight_concentration_prior_type == "dirichlet_process"
        conc = model.concentration
        self.model_ = model
        self.weights_ = model.weights.copy()
        self.weight_concentration_ = (conc[:, 0].copy(), conc[:, 1].copy()) if dp else conc.copy()
        self.mean_precision_ = np.array([c.mean_precision for c in comps])
        self.degrees_of_freedom_ = np.array([c.degrees_of_freedom for c in comps])
        self.means_ = np.array([c.mean for c in comps])
        scales = np.array([c.scale for c in comps])
        nu = self.degrees_of_freedom_
        if self.covariance_type == "full":
            self.covariances_ = scales / nu[:, None, None]
            self.precisions_cholesky_ = np.array([c._cache["U"] for c in comps])
            self.precisions_ = np.einsum("kij,klj->kil", self.precisions_cholesky_, self.precisions_cholesky_)
        else:
            self.covariances_ = scales / nu[:, None] if self.covariance_type == "diag" else scales[:, 0] / nu
            self.precisions_cholesky_ = 1.0 / np.sqrt(self.covariances_)
            self.precisions_ = 1.0 / self.covariances_
        prior = self._prior_values
        self.weight_concentration_prior_ = prior["weight_concentration_prior"]
        self.mean_precision_prior_ = prior["mean_precision_prior"]
        self.mean_prior_ = prior["mean_prior"]
        self.degrees_of_freedom_prior_ = prior["degrees_of_freedom_prior"]
        self.covariance_prior_ = prior["covariance_prior"]
        self.converged_ = bool(model.converged_)
        self.n_iter_ = int(model.n_iter_)
        self.history_ = model.history_
        self.elbo_ = float(model.elbo_)
        self.lower_bound_ = self.elbo_
        self.n_features_in_ = n_features
        self.n_components_ = model.n_components
        self.component_ids_ = np.array(model.component_ids, dtype=np.int64)
        self.move_log_ = [dict(e) for e in model.move_log_]

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw samples from the point estimate (weights, means, covariances), as scikit-learn.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples, grouped by component.
        y : ndarray of shape (n_samples,)
            Their components.
        """
        self._model()
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ParameterError(f"n_samples must be a positive integer; got {n_samples!r}")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(int(n_samples), self.weights_)
        ctype = self.covariance_type
        parts = [MultivariateNormal(m, c, covariance_type=ctype, reg_covar=0.0).sample(int(n), random_state=rng)
                 .reshape(int(n), len(m)) for m, c, n in zip(self.means_, self.covariances_, counts, strict=True)]
        return np.vstack(parts), np.repeat(np.arange(len(self.weights_)), counts)


def _vector(name: str, value: Any, d: int) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an array of numbers; got {value!r}") from None
    if a.shape != (d,):
        raise ParameterError(f"The parameter '{name}' should have the shape of ({d},), but got {a.shape}")
    if not np.isfinite(a).all():
        raise ParameterError(f"{name} must be finite")
    return a


def _data_moments(source: Any, weights: Any, ctype: str, ddof: int = 1,
                  n_jobs: Any = 1) -> tuple[np.ndarray, np.ndarray]:
    """The data's mean and covariance (``ddof=1`` as ``np.cov``) in one streamed pass on
    ``n_jobs`` threads, over the source's default batches (so the prior is the same for
    any ``batch_size`` and ``n_jobs``: the records add up in a fixed order)."""
    mvn = MultivariateNormal(covariance_type="full" if ctype == "full" else "diag")
    ranges = list(source.ranges(resolve_batch_size(None, source)))
    total = summarize_source(mvn, source, ranges, weights=weight_source(weights, source), n_jobs=n_jobs)
    n = float(total.w_sum)
    if not n > ddof:
        raise ParameterError("the default priors need at least two rows (give mean_prior and "
                             "covariance_prior)")
    return total.mean(), total.scatter() * (n / (n - ddof))


def _bnpy_randexamples(learner: BayesianMixture, source: Any, seed: int) -> BayesianMixture:
    """bnpy's ``randexamples`` for an integer seed: component k starts from row
    ``RandomState(seed).permutation(N)[k]`` alone (``FromScratchGauss``), then a global step."""
    k, n = learner.n_components, source.n_rows
    if n < k:
        raise ParameterError(f"cannot initialize {k} components from {n} rows")
    rows = np.random.RandomState(seed).permutation(n)[:k]
    order = np.argsort(rows)  # the source reads rows in increasing order
    X = np.empty((k,) + tuple(source.shape[1:]))
    X[order] = _checked(source.take(rows[order]), rows[order]).reshape((k,) + tuple(source.shape[1:]))
    model = learner.blank()  # the learner is not fitted yet: its blank copy is its copy
    # start_from_rows(model, X) on a model that is blank already (no second blank copy)
    proposal = model.propose(model.seed_statistics(X, None, np.arange(k)))
    model.commit(model.seeded(model.get_parameters() if proposal is None else proposal))
    return model


def _from_labels(learner: BayesianMixture, source: Any, weights: Any, labels: np.ndarray) -> BayesianMixture:
    """bnpy's ``truelabels`` start: one global step from a hard assignment of every row."""
    k = learner.n_components
    if labels.min() < 0 or labels.max() >= k:
        raise ParameterError(f"init_params labels must lie in [0, {k}); got values in "
                             f"[{labels.min()}, {labels.max()}]")
    blank = learner.blank()
    total = None
    for a, b in source.ranges(resolve_batch_size(None, source)):
        X = np.ascontiguousarray(source.read(a, b), dtype=np.float64)
        w = None if weights is None else np.ascontiguousarray(weights[a:b])
        s = blank.seed_statistics(X, w, labels[a:b])
        total = s if total is None else total + s
    model = learner.copy()
    model.commit(model.propose(total))
    return model

