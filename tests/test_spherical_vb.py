"""Spherical variational Gaussian mixtures (issue 13): ``ss.priors.SphericalNormalGamma`` and
``BayesianGaussianMixture(covariance_type='spherical')``, against the textbook conjugate update,
closed forms, Monte Carlo and the per-dimension prior they pool."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma, gammaln

import suffstat as ss

pytestmark = pytest.mark.filterwarnings("ignore::suffstat.ConvergenceWarning")

D, M0, B0, K0, NU0 = 3, np.array([0.5, -1.0, 2.0]), 0.7, 0.3, 2.5


def data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D)) * 1.5 + [1.0, 2.0, 3.0], rng.uniform(0.2, 2.0, n)


def prior(**kw):
    return ss.priors.SphericalNormalGamma(M0, B0, mean_precision_prior=K0, degrees_of_freedom_prior=NU0, **kw)


def fit_one(X, w):
    model = ss.BayesianMixture([prior()], weight_concentration_prior_type="dirichlet_distribution")
    model.fit(X, sample_weight=w, max_iter=3, random_state=0)
    return model.priors[0]


def textbook(X, w):
    """Shape a, rate r of the precision's Gamma, mean m and precision factor kappa."""
    n = w.sum()
    xbar = w @ X / n
    a0, r0 = D * NU0 / 2, D * B0 / 2
    kappa = K0 + n
    scatter = np.sum(w[:, None] * (X - xbar) ** 2)
    r = r0 + 0.5 * (scatter + K0 * n / kappa * np.sum((xbar - M0) ** 2))
    return a0 + n * D / 2, r, (K0 * M0 + n * xbar) / kappa, kappa


def test_one_component_is_the_textbook_update():
    X, w = data()
    q = fit_one(X, w)
    a, r, m, kappa = textbook(X, w)
    np.testing.assert_allclose(q.mean, m, rtol=1e-12)
    assert q.mean_precision == pytest.approx(kappa, rel=1e-13)
    assert D * q.degrees_of_freedom / 2 == pytest.approx(a, rel=1e-13)
    np.testing.assert_allclose(D * q.scale / 2, r, rtol=1e-12)  # one rate, held once per dimension
    assert q.covariance_type == "spherical"


def test_elbo_of_one_component_is_the_log_evidence():
    """With the exact posterior, the ELBO is the marginal likelihood in closed form."""
    X, w = data(seed=1)
    q = fit_one(X, w)
    a, r, _, kappa = textbook(X, w)
    a0, r0 = D * NU0 / 2, D * B0 / 2
    log_evidence = (-0.5 * w.sum() * D * np.log(2 * np.pi) + 0.5 * D * np.log(K0 / kappa)
                    + a0 * np.log(r0) - a * np.log(r) + gammaln(a) - gammaln(a0))
    assert q.elbo(q.summarize(X, w)) == pytest.approx(log_evidence, rel=1e-12)


def test_elbo_away_from_the_global_step_by_monte_carlo():
    """For a posterior that is not the data's, the ELBO is E_q[log p(X, mu, lam) - log q]."""
    X, w = data(seed=2)
    q = fit_one(X[:20], w[:20])
    a, r, m, kappa = D * q.degrees_of_freedom / 2, D * q.scale[0] / 2, q.mean, q.mean_precision
    rng = np.random.default_rng(3)
    S = 400_000
    lam = rng.gamma(a, 1 / r, S)
    mu = m + rng.normal(size=(S, D)) / np.sqrt(kappa * lam)[:, None]

    def log_ng(mu, lam, mm, kk, aa, rr):
        return (stats.gamma.logpdf(lam, aa, scale=1 / rr) + 0.5 * D * np.log(kk * lam / (2 * np.pi))
                - 0.5 * kk * lam * ((mu - mm) ** 2).sum(1))

    sq = w @ (X ** 2).sum(1) - 2 * mu @ (w @ X) + w.sum() * (mu ** 2).sum(1)
    f = (0.5 * w.sum() * D * np.log(lam / (2 * np.pi)) - 0.5 * lam * sq
         + log_ng(mu, lam, M0, K0, D * NU0 / 2, D * B0 / 2) - log_ng(mu, lam, m, kappa, a, r))
    assert q.elbo(q.summarize(X, w)) == pytest.approx(f.mean(), abs=5 * f.std() / np.sqrt(S))


def test_expected_log_density_closed_form_and_monte_carlo():
    X, w = data(seed=4)
    q = fit_one(X, w)
    a, r, m, kappa = textbook(X, w)
    x = np.array([[0.5, 1.0, 2.0], [3.0, -2.0, 0.0]])
    closed = 0.5 * D * (digamma(a) - np.log(r) - np.log(2 * np.pi)) - 0.5 * (a / r * ((x - m) ** 2).sum(1)
                                                                             + D / kappa)
    np.testing.assert_allclose(q.log_probability(x), closed, rtol=1e-12)
    rng = np.random.default_rng(5)
    lam = rng.gamma(a, 1 / r, 200_000)
    mu = m + rng.normal(size=(lam.size, D)) / np.sqrt(kappa * lam)[:, None]
    for i in range(2):
        g = 0.5 * D * np.log(lam / (2 * np.pi)) - 0.5 * lam * ((x[i] - mu) ** 2).sum(1)
        assert closed[i] == pytest.approx(g.mean(), abs=5 * g.std() / np.sqrt(lam.size))


def test_one_dimension_is_the_per_dimension_prior():
    """With d = 1 the pooled Gamma is NormalGamma's: posterior, ELBO and densities agree."""
    rng = np.random.default_rng(6)
    X, w = rng.normal(2.0, 0.5, (80, 1)), rng.uniform(0.5, 1.5, 80)
    kw = dict(mean_precision_prior=0.2, degrees_of_freedom_prior=3.0)
    mix = [ss.BayesianMixture([p(np.array([1.0]), 0.4, **kw) for _ in range(2)], random_state=0,
                              weight_concentration_prior_type="dirichlet_distribution")
           for p in (ss.priors.SphericalNormalGamma, ss.priors.NormalGamma)]
    for m in mix:
        m.fit(X, sample_weight=w, max_iter=6, tol=0.0, random_state=0, init="kmeans++")
    a, b = mix
    np.testing.assert_allclose([h["elbo"] for h in a.history_], [h["elbo"] for h in b.history_], rtol=1e-12)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("algorithm", ["vb", "memoized"])
def test_the_estimator_finds_three_scales_and_the_elbo_never_decreases(algorithm):
    rng = np.random.default_rng(7)
    scales = np.array([0.5, 1.0, 2.0])
    X = np.vstack([rng.normal(size=(400, D)) * s + c for s, c in zip(scales, [0.0, 8.0, -10.0])])
    est = ss.BayesianGaussianMixture(4, covariance_type="spherical", weight_concentration_prior=1e-3,
                                     covariance_prior=0.01, mean_precision_prior=1e-3,
                                     algorithm=algorithm, batch_size=300, max_iter=300, tol=1e-8,
                                     random_state=0).fit(X)
    elbo = np.array([-h["loss"] for h in est.history_])
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:]))
    assert est.covariances_.shape == (4,) and est.precisions_cholesky_.shape == (4,)
    np.testing.assert_allclose(est.precisions_, 1.0 / est.covariances_)
    big = np.argsort(est.weights_)[::-1][:3]
    order = big[np.argsort(est.means_[big, 0])]  # -10, 0, 8
    np.testing.assert_allclose(est.covariances_[order], scales[[2, 0, 1]] ** 2, rtol=0.1)
    np.testing.assert_allclose(est.weights_[order], 1 / 3, atol=0.01)
    assert est.sample(5)[0].shape == (5, D)


def test_default_prior_is_scikit_learns_and_bad_values_are_named():
    X, _ = data(200, seed=8)
    est = ss.BayesianGaussianMixture(2, covariance_type="spherical", max_iter=3, random_state=0).fit(X)
    assert est.covariance_prior_ == pytest.approx(X.var(axis=0, ddof=1).mean(), rel=1e-12)
    assert est.degrees_of_freedom_prior_ == D
    with pytest.raises(ss.ParameterError, match="spherical covariance_prior"):
        ss.BayesianGaussianMixture(2, covariance_type="spherical", covariance_prior=-1.0).fit(X)
    with pytest.raises(ss.ParameterError, match="one number"):
        ss.priors.SphericalNormalGamma(np.zeros(2), [1.0, 2.0])
    with pytest.raises(ss.ParameterError, match="mean_prior vector"):
        ss.priors.SphericalNormalGamma(0.0, 1.0)
    post = dict(mean=np.ones(2), mean_precision=3.0, degrees_of_freedom=5.0)
    one = ss.priors.SphericalNormalGamma(np.zeros(2), 1.0, scale=2.0, **post)
    np.testing.assert_array_equal(one.scale, [2.0, 2.0])
    with pytest.raises(ss.ParameterError, match="one number"):
        ss.priors.SphericalNormalGamma(np.zeros(2), 1.0, scale=[2.0, 3.0], **post)


def test_n_jobs_save_load_and_moves(tmp_path):
    X, _ = data(900, seed=9)
    X[300:600] += 12.0
    np.save(tmp_path / "x.npy", X)
    kw = dict(covariance_type="spherical", algorithm="memoized", batch_size=150, max_iter=6, tol=0.0,
              random_state=0, weight_concentration_prior_type="dirichlet_process",
              moves=("birth", "merge", "shuffle"))
    a = ss.BayesianGaussianMixture(1, n_jobs=1, **kw).fit(X)
    b = ss.BayesianGaussianMixture(1, n_jobs=2, **kw).fit(str(tmp_path / "x.npy"))
    assert a.n_components_ >= 2  # a birth split the one component
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    a.model_.save(tmp_path / "m.npz")
    back = ss.load(tmp_path / "m.npz")
    assert type(back.distributions[0]) is ss.priors.SphericalNormalGamma
    np.testing.assert_array_equal(back.predict_proba(X), a.model_.predict_proba(X))


def test_bnpy_style_prior_and_the_command_line(tmp_path, capsys):
    from suffstat.cli import main

    kw = ss.BayesianGaussianMixture.bnpy_prior(D, sF=0.5, covariance_type="spherical")
    nu = kw["degrees_of_freedom_prior"]
    # E[1 / lambda] of Gamma(D nu / 2, D beta / 2) is sF, as bnpy's DiagGauss expects per dimension
    assert (D * kw["covariance_prior"] / 2) / (D * nu / 2 - 1) == pytest.approx(0.5, rel=1e-14)
    X, _ = data(300, seed=10)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "m.npz"
    assert main(["fit", str(tmp_path / "x.npy"), "--model", "bayesian", "--covariance", "spherical", "-k", "3",
                 "--max-iter", "5", "--tol", "0", "--seed", "1", "--output-model", str(out)]) == 0
    assert "fitted 3 components" in capsys.readouterr().out
    assert type(ss.load(out).distributions[0]) is ss.priors.SphericalNormalGamma


def test_a_scikit_learn_spherical_fit_starts_a_run():
    sklearn = pytest.importorskip("sklearn.mixture")
    X, _ = data(300, seed=11)
    X[:150] += 6.0
    sk = sklearn.BayesianGaussianMixture(n_components=2, covariance_type="spherical", random_state=0,
                                         max_iter=200).fit(X)
    est = ss.BayesianGaussianMixture(2, covariance_type="spherical", init_params=sk, max_iter=1)
    start = est._from_sklearn(sk, est._learner(est._priors(ss.sources.as_source(X), None)))
    for j, c in enumerate(start.distributions):
        np.testing.assert_array_equal(c.scale, np.full(D, sk.covariances_[j] * sk.degrees_of_freedom_[j]))
        np.testing.assert_array_equal(c.mean, sk.means_[j])
    assert est.fit(X).covariances_.shape == (2,)
