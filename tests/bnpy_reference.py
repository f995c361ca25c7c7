"""An independent numpy/scipy re-derivation of bnpy 0.1.7's variational mixture objective.

Written from bnpy 0.1.7's source (the PyPI sdist), not importing bnpy, so that CI can check
``ss.BayesianGaussianMixture.elbo_`` against bnpy's number without bnpy installed. Every
function names the bnpy function it mirrors. Paths below are relative to bnpy's package.

Conventions
-----------
* ``obs`` is ``'Gauss'`` (full covariance, Normal-Wishart; ``obsmodel/GaussObsModel.py``) or
  ``'DiagGauss'`` (per-dimension Normal-Gamma; ``obsmodel/DiagGaussObsModel.py``).
* ``alloc`` is ``'Finite'`` (``allocmodel/mix/FiniteMixtureModel.py``, symmetric Dirichlet
  ``Dir(gamma/K, ..., gamma/K)``) or ``'DP'`` (``allocmodel/mix/DPMixtureModel.py``, stick
  breaking ``u_k ~ Beta(gamma1, gamma0)``; here ``gamma`` is bnpy's ``gamma0`` and ``gamma1=1``).
* A *record* (``stats``) is the dict of bnpy's ``SuffStatBag`` fields: ``N`` (K,), ``x`` (K, D),
  ``xxT`` (K, D, D) for Gauss or ``xx`` (K, D) for DiagGauss, and ``Hresp`` (K,), the entropy
  ``-sum_n r_nk log r_nk`` (bnpy's ELBO term ``Hresp``).
* The ELBO returned here is the *total* (not per scalar). bnpy's ``HModel.calc_evidence``
  returns ``(L_alloc + L_entropy + L_data) / (N D)`` with ``N D = SS.N.sum() * D``
  (``GaussObsModel.getDatasetScale``), and its reported loss is minus that: :func:`loss`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

LOGTWO = np.log(2.0)
LOGPI = np.log(np.pi)
LOGTWOPI = np.log(2.0 * np.pi)

__all__ = [
    "bnpy_prior", "summary_stats", "global_step", "alloc_global_step", "stochastic_step",
    "elbo", "elbo_from_stats", "loss", "local_step", "init_resp", "bnpy_seed", "learning_rate",
    "c_Dir", "c_Beta", "E_log_pi",
]


# -- prior -------------------------------------------------------------------------------


def bnpy_prior(X=None, D=None, sF=1.0, ECovMat="eye", kappa=1e-4, nu=0, obs="Gauss", m=None):
    """bnpy's prior hyperparameters as built by ``bnpy.run`` with the given options.

    Mirrors ``GaussObsModel.createPrior`` and ``DiagGaussObsModel.createParamBagForPrior`` with
    ``createECovMatFromUserInput`` (``obsmodel/GaussObsModel.py``). bnpy's option defaults come
    from ``config/obsmodel.conf``: ``nu=0`` (so ``D+2``), ``sF=1.0``, ``ECovMat='eye'``,
    ``kappa=1e-4``, ``MMat='zero'``.

    * ``nu = max(nu, D + 2)``
    * ``E = sF * I`` (``'eye'``), ``sF * np.cov(X.T, bias=1)`` (``'covdata'``) or its diagonal
      (``'diagcovdata'``)
    * Gauss: ``B = E * (nu - D - 1)`` (so ``E[Sigma] = B / (nu - D - 1) = E``),
      ``kappa = max(kappa, 1e-8)`` if kappa else ``1e-8``
    * DiagGauss: ``beta = diag(E) * (nu - 2)`` (so ``E[sigma_d^2] = beta_d / (nu - 2)``),
      ``kappa = max(kappa, 1e-8)``
    * ``m = 0`` (``MMat='zero'``)

    Returns
    -------
    dict with ``nu`` (float), ``kappa`` (float), ``m`` (D,), and ``B`` (D, D) or ``beta`` (D,).
    """
    if X is not None:
        X = np.asarray(X, dtype=np.float64)
        D = X.shape[1] if D is None else int(D)
    D = int(D)
    nu = float(max(nu, D + 2))
    if ECovMat == "eye":
        E = sF * np.eye(D)
    elif ECovMat == "covdata":
        E = sF * np.atleast_2d(np.cov(X.T, bias=1))
    elif ECovMat == "diagcovdata":
        E = sF * np.diag(np.diag(np.atleast_2d(np.cov(X.T, bias=1))))
    else:
        E = np.asarray(ECovMat, dtype=np.float64)
    m = np.zeros(D) if m is None else np.asarray(m, dtype=np.float64).reshape(D)
    if obs == "Gauss":
        kappa = float(max(kappa, 1e-8)) if kappa else 1e-8
        return dict(nu=nu, kappa=kappa, m=m, B=E * (nu - D - 1))
    if obs == "DiagGauss":
        return dict(nu=nu, kappa=float(max(kappa, 1e-8)), m=m, beta=np.diag(E) * (nu - 2))
    raise ValueError(f"unknown obs {obs!r}")


# -- statistics --------------------------------------------------------------------------


def _xlogx(r):
    out = np.zeros_like(r)
    pos = r > 0
    out[pos] = r[pos] * np.log(r[pos])
    return out


def summary_stats(X, resp, obs="Gauss"):
    """The record bnpy summarises from responsibilities.

    Mirrors ``GaussObsModel.calcSummaryStats`` / ``DiagGaussObsModel.calcSummaryStats`` (``N``,
    ``x = resp.T @ X``, ``xxT[k] = sum_n r_nk x_n x_n^T`` or ``xx = resp.T @ X**2``) and
    ``DPMixtureModel.calcSummaryStats(doPrecompEntropy=1)`` (``Hresp = -sum_n r log r``, bnpy's
    ``NumericUtil.calcRlogR``; bnpy's resp never holds exact zeros, see :func:`local_step`).
    """
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    st = dict(N=resp.sum(axis=0), x=resp.T @ X, Hresp=-_xlogx(resp).sum(axis=0))
    if obs == "Gauss":
        st["xxT"] = np.einsum("nk,nd,ne->kde", resp, X, X)
    elif obs == "DiagGauss":
        st["xx"] = resp.T @ (X * X)
    else:
        raise ValueError(f"unknown obs {obs!r}")
    return st


# -- global step -------------------------------------------------------------------------


def alloc_global_step(N, alloc="Finite", gamma=1.0, gamma1=1.0):
    """Allocation posterior from counts.

    * Finite, ``FiniteMixtureModel.update_global_params_VB``: ``theta = gamma / K + N``.
    * DP, ``DPMixtureModel.update_global_params_VB``: ``eta1 = gamma1 + N``,
      ``eta0 = gamma0 + N0`` with ``N0[k] = sum_{j > k} N[j]`` (``convertToN0``).
    """
    N = np.asarray(N, dtype=np.float64)
    K = N.size
    if alloc == "Finite":
        return dict(theta=gamma / K + N)
    if alloc == "DP":
        return dict(eta1=gamma1 + N, eta0=gamma + _convert_to_N0(N))
    raise ValueError(f"unknown alloc {alloc!r}")


def _convert_to_N0(N):
    """``DPMixtureModel.convertToN0``: ``N0[k] = sum(N[k+1:])`` (so ``N0[K-1] = 0``)."""
    N0 = np.zeros_like(N)
    N0[:-1] = N[::-1].cumsum()[::-1][1:]
    return N0


def _obs_post_from_stats(stats, prior, obs):
    """``GaussObsModel.calcPostParams`` / ``DiagGaussObsModel.calcPostParams``."""
    N = np.asarray(stats["N"], dtype=np.float64)
    nu = prior["nu"] + N
    kappa = prior["kappa"] + N
    m = (prior["kappa"] * prior["m"] + stats["x"]) / kappa[:, None]
    if obs == "Gauss":
        Bmm = prior["B"] + prior["kappa"] * np.outer(prior["m"], prior["m"])
        B = stats["xxT"] + Bmm[None]
        B = B - kappa[:, None, None] * np.einsum("kd,ke->kde", m, m)
        return dict(nu=nu, kappa=kappa, m=m, B=B)
    beta = prior["beta"] + stats["xx"] + prior["kappa"] * prior["m"] ** 2 - kappa[:, None] * m**2
    return dict(nu=nu, kappa=kappa, m=m, beta=beta)


def global_step(X=None, resp=None, prior=None, obs="Gauss", *, alloc=None, gamma=1.0, gamma1=1.0,
                stats=None):
    """Posterior hyperparameters of bnpy's VB global step (``HModel.update_global_params``).

    From ``(X, resp)`` or a record ``stats``. Observation part: ``nu_k = nu + N_k``,
    ``kappa_k = kappa + N_k``, ``m_k = (kappa m + x_k) / kappa_k``, and
    Gauss ``B_k = B + xxT_k + kappa m m^T - kappa_k m_k m_k^T``,
    DiagGauss ``beta_k = beta + xx_k + kappa m^2 - kappa_k m_k^2``. With ``alloc`` given, also
    the allocation posterior of :func:`alloc_global_step`.
    """
    if stats is None:
        stats = summary_stats(X, resp, obs)
    post = _obs_post_from_stats(stats, prior, obs)
    if alloc is not None:
        post.update(alloc_global_step(stats["N"], alloc, gamma, gamma1))
    return post


def learning_rate(t, rhoexp=0.5, rhodelay=1.0):
    """soVB's step ``rho_t = (t + rhodelay) ** -rhoexp`` for the update number ``t = 1, 2, ...``.

    ``SOVBAlg.fit`` computes ``rho = (1 + iterid + rhodelay) ** (-rhoexp)`` with ``iterid = 0``
    at the first batch. Defaults from ``config/learnalg.conf`` ``[soVB]``.
    """
    return (t + rhodelay) ** (-rhoexp)


def stochastic_step(post, stats_batch, amp, rho, prior, obs="Gauss", *, alloc="Finite",
                    gamma=1.0, gamma1=1.0):
    """One soVB global update: the batch record times ``amp = N_total / n_batch``, blended.

    Mirrors ``SOVBAlg.fit`` (``SS.applyAmpFactor(nObsTotal / nObs)``), then
    ``GaussObsModel.updatePost_stochastic`` / ``DiagGaussObsModel.updatePost_stochastic``
    (natural parameters ``nu, kappa, km = kappa m, Bnat = B + kappa m m^T`` / ``b = beta + kappa
    m^2`` blended as ``(1 - rho) old + rho new``) and ``update_global_params_soVB`` of the
    allocation model (``theta``, or ``eta1, eta0``, blended the same way). bnpy takes the plain VB
    step when ``rho`` is None or 1 (``AllocModel.update_global_params``,
    ``AbstractObsModel.update_global_params``: ``rho < 1`` blends).
    """
    amp_stats = {k: amp * np.asarray(v, dtype=np.float64) for k, v in stats_batch.items()}
    star = global_step(prior=prior, obs=obs, alloc=alloc, gamma=gamma, gamma1=gamma1,
                       stats=amp_stats)
    if rho is None or rho >= 1.0:
        return star
    out = {}
    # natural form of the old posterior (convertPostToNatural)
    km_old = post["m"] * post["kappa"][:, None]
    km_new = star["m"] * star["kappa"][:, None]
    nu = (1 - rho) * post["nu"] + rho * star["nu"]
    kappa = (1 - rho) * post["kappa"] + rho * star["kappa"]
    km = (1 - rho) * km_old + rho * km_new
    if obs == "Gauss":
        Bn_old = post["B"] + np.einsum("kd,ke->kde", km_old, km_old) / post["kappa"][:, None, None]
        Bn_new = star["B"] + np.einsum("kd,ke->kde", km_new, km_new) / star["kappa"][:, None, None]
        Bnat = (1 - rho) * Bn_old + rho * Bn_new
        out["B"] = Bnat - np.einsum("kd,ke->kde", km, km) / kappa[:, None, None]
    else:
        b_old = post["beta"] + km_old**2 / post["kappa"][:, None]
        b_new = star["beta"] + km_new**2 / star["kappa"][:, None]
        b = (1 - rho) * b_old + rho * b_new
        out["beta"] = b - km**2 / kappa[:, None]
    out.update(nu=nu, kappa=kappa, m=km / kappa[:, None])
    if alloc == "Finite":
        out["theta"] = rho * star["theta"] + (1 - rho) * post["theta"]
    else:
        out["eta1"] = rho * star["eta1"] + (1 - rho) * post["eta1"]
        out["eta0"] = rho * star["eta0"] + (1 - rho) * post["eta0"]
    return out


# -- allocation terms --------------------------------------------------------------------


def c_Dir(a):
    """``FiniteMixtureModel.c_Dir``: ``gammaln(sum a) - sum gammaln(a)``."""
    a = np.asarray(a, dtype=np.float64)
    return gammaln(a.sum()) - gammaln(a).sum()


def c_Beta(eta1, eta0):
    """``DPMixtureModel.c_Beta``: ``sum_k gammaln(eta1 + eta0) - gammaln(eta1) - gammaln(eta0)``."""
    eta1, eta0 = np.broadcast_arrays(np.asarray(eta1, float), np.asarray(eta0, float))
    return float(np.sum(gammaln(eta1 + eta0) - gammaln(eta1) - gammaln(eta0)))


def E_log_pi(post, alloc="Finite"):
    """Expected log mixture weights used by the local step.

    * Finite (``FiniteMixtureModel`` ``Elogw``): ``digamma(theta) - digamma(sum theta)``.
    * DP (``DPMixtureModel.set_helper_params`` ``Elogbeta``): with
      ``ElogU = digamma(eta1) - digamma(eta1 + eta0)``,
      ``Elog1mU = digamma(eta0) - digamma(eta1 + eta0)`` (``calcBetaExpectations``),
      ``E[log pi_k] = ElogU_k + sum_{j<k} Elog1mU_j``.
    """
    if alloc == "Finite":
        th = post["theta"]
        return digamma(th) - digamma(th.sum())
    ElogU, Elog1mU = _beta_expectations(post["eta1"], post["eta0"])
    out = ElogU.copy()
    out[1:] += Elog1mU[:-1].cumsum()
    return out


def _beta_expectations(eta1, eta0):
    both = digamma(eta0 + eta1)
    return digamma(eta1) - both, digamma(eta0) - both


def _L_alloc(N, post, alloc, gamma, gamma1, bnpy_finite_bug):
    """The allocation term (prior normaliser difference plus the slack term).

    * Finite, ``FiniteMixtureModel.Lalloc``:
      ``c_Dir(g/K 1) - c_Dir(theta) + <N + g/K - theta, Elogw>``. bnpy 0.1.7's
      ``FiniteMixtureModel.calc_evidence`` calls ``Lalloc(SS=SS, theta=..., Elogw=...)`` without
      ``gamma``, so ``g = 0.5`` (``Lalloc``'s default) whatever the model's ``gamma``; set
      ``bnpy_finite_bug=True`` to reproduce that, otherwise ``g = gamma``.
    * DP, ``DPMixtureModel.calcELBO_LinearTerms`` (``afterGlobalStep=0``):
      ``K c_Beta(gamma1, gamma0) - c_Beta(eta1, eta0) + <N + gamma1 - eta1, ElogU>
      + <N0 + gamma0 - eta0, Elog1mU>``.
    """
    N = np.asarray(N, dtype=np.float64)
    K = N.size
    if alloc == "Finite":
        g = 0.5 if bnpy_finite_bug else gamma
        theta = post["theta"]
        Elogw = digamma(theta) - digamma(theta.sum())
        return c_Dir(g / K * np.ones(K)) - c_Dir(theta) + np.inner(N + g / K - theta, Elogw)
    if alloc == "DP":
        eta1, eta0 = post["eta1"], post["eta0"]
        ElogU, Elog1mU = _beta_expectations(eta1, eta0)
        N0 = _convert_to_N0(N)
        return (K * c_Beta(gamma1, gamma) - c_Beta(eta1, eta0)
                + np.inner(N + gamma1 - eta1, ElogU) + np.inner(N0 + gamma - eta0, Elog1mU))
    raise ValueError(f"unknown alloc {alloc!r}")


# -- data terms --------------------------------------------------------------------------


def _logdet_chol(B):
    """bnpy's ``_logdetB``: ``2 sum log diag(cholesky(B))``."""
    return 2.0 * np.sum(np.log(np.diag(np.linalg.cholesky(B))))


def _L_data_gauss(stats, prior, post):
    """``GaussObsModel.calcELBO_Memoized`` (``afterMStep=False``, bnpy's only call path).

    Per component, with ``c_Diff`` the Normal-Wishart log-normaliser difference
    ``-D/2 log2 (nu0 - nu_k) - sum_d gammaln((nu0 + 1 - d)/2) + sum_d gammaln((nu_k + 1 - d)/2)
    + D/2 (log kappa0 - log kappa_k) + 1/2 (nu0 logdet B0 - nu_k logdet B_k)`` plus the slack
    terms (zero after a global step on ``stats``)
    ``1/2 aDiff E[logdet L] - 1/2 nu_k tr(B_k^-1 bDiff) + <cDiff, nu_k B_k^-1 m_k>
    - 1/2 dDiff (D / kappa_k + nu_k m_k^T B_k^-1 m_k)`` with ``aDiff = N_k + nu0 - nu_k``,
    ``bDiff = xxT_k + B0 + kappa0 m0 m0^T - B_k - kappa_k m_k m_k^T``,
    ``cDiff = x_k + kappa0 m0 - kappa_k m_k``, ``dDiff = N_k + kappa0 - kappa_k`` and
    ``E[logdet L] = D log 2 - logdet B_k + sum_d digamma((nu_k + 1 - d)/2)``;
    finally ``- N D/2 log(2 pi)`` with ``N = sum_k N_k``.
    """
    N = np.asarray(stats["N"], dtype=np.float64)
    K, D = stats["x"].shape
    dvec = np.arange(1, D + 1, dtype=np.float64)
    nu0, k0, m0, B0 = prior["nu"], prior["kappa"], prior["m"], prior["B"]
    ld0 = _logdet_chol(B0)
    total = 0.0
    for k in range(K):
        nu, kap, m, B = post["nu"][k], post["kappa"][k], post["m"][k], post["B"][k]
        ld = _logdet_chol(B)
        cdiff = (-0.5 * D * LOGTWO * (nu0 - nu) - np.sum(gammaln(0.5 * (nu0 + 1 - dvec)))
                 + np.sum(gammaln(0.5 * (nu + 1 - dvec))) + 0.5 * D * (np.log(k0) - np.log(kap))
                 + 0.5 * (nu0 * ld0 - nu * ld))
        E_logdetL = D * LOGTWO - ld + np.sum(digamma(0.5 * (nu + 1 - dvec)))
        aDiff = N[k] + nu0 - nu
        bDiff = stats["xxT"][k] + B0 + k0 * np.outer(m0, m0) - B - kap * np.outer(m, m)
        cDiff = stats["x"][k] + k0 * m0 - kap * m
        dDiff = N[k] + k0 - kap
        Binv_m = np.linalg.solve(B, m)
        L = np.linalg.cholesky(B)
        q = np.linalg.solve(L, m)
        E_muLmu = D / kap + nu * np.inner(q, q)
        total += (cdiff + 0.5 * aDiff * E_logdetL - 0.5 * nu * np.trace(np.linalg.solve(B, bDiff))
                  + np.inner(cDiff, nu * Binv_m) - 0.5 * dDiff * E_muLmu)
    return total - 0.5 * N.sum() * D * LOGTWOPI


def _L_data_diag(stats, prior, post):
    """``DiagGaussObsModel.calcELBOFromSSAndPost`` (always with the slack terms).

    Per component and dimension (Normal-Gamma, precision ``lam_d ~ Gamma(nu/2, rate beta_d/2)``):
    ``c_Diff = sum_d [-1/2 log2 (nu0 - nu_k) - gammaln(nu0/2) + gammaln(nu_k/2)
    + 1/2 (log kappa0 - log kappa_k) + 1/2 (nu0 log beta0_d - nu_k log beta_kd)]`` plus
    ``1/2 aDiff sum_d E[log lam_d] - 1/2 <bDiff, nu_k / beta_k> + <cDiff, nu_k / beta_k m_k>
    - 1/2 dDiff sum_d (1/kappa_k + nu_k / beta_kd m_kd^2)`` with
    ``E[log lam_d] = log 2 - log beta_kd + digamma(nu_k / 2)`` (``E_logdetL``), the Diffs as for
    Gauss with ``xx`` and squares; finally ``- N D/2 log(2 pi)``.
    """
    N = np.asarray(stats["N"], dtype=np.float64)
    K, D = stats["x"].shape
    nu0, k0, m0, b0 = prior["nu"], prior["kappa"], prior["m"], prior["beta"]
    total = np.zeros(K)
    for k in range(K):
        nu, kap, m, b = post["nu"][k], post["kappa"][k], post["m"][k], post["beta"][k]
        cdiff = np.sum(-0.5 * LOGTWO * (nu0 - nu) - gammaln(0.5 * nu0) + gammaln(0.5 * nu)
                       + 0.5 * (np.log(k0) - np.log(kap))
                       + 0.5 * (nu0 * np.log(b0) - nu * np.log(b)))
        aDiff = N[k] + nu0 - nu
        bDiff = stats["xx"][k] + b0 + k0 * m0**2 - b - kap * m**2
        cDiff = stats["x"][k] + k0 * m0 - kap * m
        dDiff = N[k] + k0 - kap
        EL = nu / b
        total[k] = (cdiff + 0.5 * aDiff * np.sum(LOGTWO - np.log(b) + digamma(0.5 * nu))
                    - 0.5 * np.inner(bDiff, EL) + np.inner(cDiff, EL * m)
                    - 0.5 * dDiff * np.sum(1.0 / kap + EL * m * m))
    total += -(0.5 * D * LOGTWOPI) * N
    return total.sum()


# -- the ELBO ----------------------------------------------------------------------------


def elbo_from_stats(stats, prior, posterior=None, *, obs="Gauss", alloc="Finite", gamma=1.0,
                    gamma1=1.0, bnpy_finite_bug=False, amp=None):
    """bnpy's total ELBO for a record and a posterior (``HModel.calc_evidence`` times ``N D``).

    ``L = L_alloc + L_entropy + L_data`` (``FiniteMixtureModel.calc_evidence`` /
    ``DPMixtureModel.calcELBO`` plus ``AbstractObsModel.calc_evidence`` ->
    ``calcELBO_Memoized``). ``L_entropy = sum_k Hresp_k`` (times the record's amplification
    factor ``amp`` when bnpy's ``SS.hasAmpFactor()``; the other fields of an amplified record are
    already scaled). With ``posterior=None`` the posterior is the global step of ``stats`` (what
    bnpy's VB / memoVB evaluate); pass a posterior to evaluate another state (soVB evaluates its
    blended posterior against the memoized whole-data record ``SStotal``).
    """
    if posterior is None:
        posterior = global_step(prior=prior, obs=obs, alloc=alloc, gamma=gamma, gamma1=gamma1,
                                stats=stats)
    L_alloc = _L_alloc(stats["N"], posterior, alloc, gamma, gamma1, bnpy_finite_bug)
    L_ent = float(np.sum(stats["Hresp"]))
    if amp is not None:
        L_ent *= amp
    L_data = _L_data_gauss(stats, prior, posterior) if obs == "Gauss" else \
        _L_data_diag(stats, prior, posterior)
    return float(L_alloc + L_ent + L_data)


def elbo(X, resp, prior, *, obs="Gauss", alloc="Finite", gamma=1.0, gamma1=1.0,
         bnpy_finite_bug=False, posterior=None):
    """bnpy 0.1.7's full ELBO (every constant) for data ``X`` and responsibilities ``resp``.

    As bnpy's ``VBAlg.fit`` computes it after the lap's global step
    (``hmodel.calc_evidence(Data, SS, LP)`` times ``N D``) when ``posterior`` is None, or for the
    given posterior (dict with ``nu, kappa, m, B|beta`` and ``theta`` or ``eta1, eta0``) with the
    slack terms that bnpy's code always evaluates. See :func:`elbo_from_stats`.
    """
    stats = summary_stats(X, resp, obs)
    return elbo_from_stats(stats, prior, posterior, obs=obs, alloc=alloc, gamma=gamma,
                           gamma1=gamma1, bnpy_finite_bug=bnpy_finite_bug)


def loss(X, resp, prior, **kw):
    """bnpy's reported loss ``-elbo / (N D)`` with ``N = resp.sum()`` (``getDatasetScale``)."""
    resp = np.asarray(resp, dtype=np.float64)
    D = np.asarray(X).shape[1]
    return -elbo(X, resp, prior, **kw) / (resp.sum() * D)


# -- local step and initialisation -------------------------------------------------------


def local_step(X, post, *, obs="Gauss", alloc="Finite"):
    """bnpy's VB local step: responsibilities from a posterior.

    ``E_log_soft_ev[n, k] = -D/2 log(2 pi) + 1/2 E[logdet L_k] - 1/2 E[(x-mu)^T L (x-mu)]`` with
    Gauss ``E[...] = nu_k ||chol(B_k)^-1 (x - m_k)||^2 + D / kappa_k``
    (``GaussObsModel.calcLogSoftEvMatrix_FromPost``), DiagGauss
    ``sum_d nu_k / beta_kd (x_d - m_kd)^2 + D / kappa_k`` and ``E[logdet L] = sum_d E[log lam_d]``
    (``DiagGaussObsModel.calcLogSoftEvMatrix_FromPost``); then ``+ E[log pi_k]`` and
    ``NumericUtil.inplaceExpAndNormalizeRows`` (subtract the row max, exp, divide by the row sum,
    then ``np.maximum(R, 1e-40)``: bnpy's responsibilities are never below 1e-40).
    """
    X = np.asarray(X, dtype=np.float64)
    N, D = X.shape
    K = post["nu"].size
    L = np.empty((N, K))
    dvec = np.arange(1, D + 1, dtype=np.float64)
    for k in range(K):
        nu, kap, m = post["nu"][k], post["kappa"][k], post["m"][k]
        if obs == "Gauss":
            C = np.linalg.cholesky(post["B"][k])
            Q = np.linalg.solve(C, (X - m).T)
            mahal = nu * np.sum(Q * Q, axis=0) + D / kap
            Eld = (D * LOGTWO - 2 * np.sum(np.log(np.diag(C)))
                   + np.sum(digamma(0.5 * (nu + 1 - dvec))))
        else:
            b = post["beta"][k]
            mahal = ((X - m) ** 2) @ (nu / b) + D / kap
            Eld = np.sum(LOGTWO - np.log(b) + digamma(0.5 * nu))
        L[:, k] = -0.5 * D * LOGTWOPI + 0.5 * Eld - 0.5 * mahal
    L += E_log_pi(post, alloc)
    L -= L.max(axis=1)[:, None]
    np.exp(L, out=L)
    L /= L.sum(axis=1)[:, None]
    np.maximum(L, 1e-40, out=L)
    return L


def init_resp(X, K, seed, initname="randexamples"):
    """The one-hot responsibilities of bnpy's from-scratch initialisation.

    Mirrors ``init/FromScratchGauss.init_global_params`` with ``PRNG = RandomState(seed)``:

    * ``'randexamples'``: rows ``PRNG.permutation(N)[:K]``, row ``k`` of the permutation is
      component ``k``.
    * ``'randexamplesbydist'``: the first row ``PRNG.choice(N)``, then each next row
      ``PRNG.choice(N, p=minDist / minDist.sum())`` with ``minDist`` the squared Euclidean
      distance of every row to its nearest chosen row (k-means++ D^2 sampling, no local trials).

    bnpy then does an observation-model global step on that record and sets the allocation
    model from unit counts (``init_global_params`` -> ``setParamsFromCountVec(K, ones(K))``:
    Finite ``theta = 1 + gamma/K``, DP ``eta1 = gamma1 + 1``, ``eta0 = gamma0 + (K - 1 - k)``),
    which is the same as a full global step on the one-hot record.
    """
    X = np.asarray(X, dtype=np.float64)
    N = X.shape[0]
    PRNG = np.random.RandomState(seed)
    resp = np.zeros((N, K))
    if initname == "randexamples":
        perm = PRNG.permutation(N).tolist()
        for k in range(K):
            resp[perm[k], k] = 1.0
        return resp
    if initname == "randexamplesbydist":
        obj = PRNG.choice(N)
        chosen = [obj]
        minDist = np.inf * np.ones(N)
        for _ in range(1, K):
            cur = np.sum((X - X[obj]) ** 2, axis=1)
            minDist = np.minimum(minDist, cur)
            obj = PRNG.choice(N, p=minDist / minDist.sum())
            chosen.append(obj)
        for k in range(K):
            resp[chosen[k], k] = 1.0
        return resp
    raise ValueError(f"unknown initname {initname!r}")


def bnpy_seed(jobname="none", taskid=1):
    """``Runner.createUniqueRandomSeed``: the seed of a ``bnpy.run`` task.

    ``jobname`` is cut at its first ``'-'`` and to 5 characters; the seed is
    ``int(md5((jobname + str(taskid)).encode()).hexdigest(), 16) % 1e7`` (bnpy's defaults:
    ``jobname='none'``, ``taskid=1``). The same seed initialises the model and the learning
    algorithm (``LearnAlg.PRNG``); the data order of online algorithms uses
    ``createUniqueRandomSeed('', taskid)``.
    """
    import hashlib

    if jobname.count("-") > 0:
        jobname = jobname.split("-")[0]
    if len(jobname) > 5:
        jobname = jobname[:5]
    return int(int(hashlib.md5(str(jobname + str(taskid)).encode("utf-8")).hexdigest(), 16) % 1e7)
