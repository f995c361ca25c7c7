"""Issue 13: the conjugate families of ss.BayesianMixture (Beta, Dirichlet, Gamma, Independent).

Each prior is checked against the textbook conjugate update, its expected log-density
and its ELBO term against numerical integration over the posterior (scipy.stats
densities; Monte Carlo with a tolerance of 5 standard errors where the posterior has
more than one free parameter), and every family fits a simulated two-cluster dataset
through ss.BayesianMixture with VB and memoized VB.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import gammaln

import suffstat as ss
from suffstat.statistics import CategoricalStats, CountStats, IndependentStats, PoissonStats

pytestmark = pytest.mark.filterwarnings("ignore::suffstat.ConvergenceWarning")


# -- data ----------------------------------------------------------------------------------
def bernoulli_data(n=600, d=8, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    p = np.where(z[:, None], 0.85, 0.15) * np.ones(d)
    p[:, d // 2:] = 1.0 - p[:, d // 2:]
    return (rng.random((n, d)) < p).astype(float), z


def poisson_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    return rng.poisson(np.where(z, 15.0, 2.0)).astype(float), z


def exponential_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    return rng.exponential(np.where(z, 20.0, 0.2)), z


def categorical_data(n=600, d=6, k=4, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    X = np.empty((n, d))
    for j in range(d):
        a, b = j % k, (j + 2) % k
        pa, pb = np.full(k, 0.05), np.full(k, 0.05)
        pa[a], pb[b] = 0.85, 0.85
        X[:, j] = np.where(z, rng.choice(k, n, p=pa), rng.choice(k, n, p=pb))
    return X, z


def mixed_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    X = np.column_stack([
        rng.random(n) < np.where(z, 0.9, 0.1),
        rng.poisson(np.where(z, 12.0, 2.0)),
        np.where(z, rng.choice(3, n, p=[0.8, 0.1, 0.1]), rng.choice(3, n, p=[0.1, 0.1, 0.8])),
        rng.exponential(np.where(z, 5.0, 0.5)),
        rng.normal(np.where(z, 3.0, -3.0), 1.0),
    ]).astype(float)
    return X, z


def bernoulli_prior():
    return ss.priors.Independent([ss.priors.Beta(1.0, 1.0) for _ in range(8)])


def categorical_prior():
    return ss.priors.Independent([ss.priors.Dirichlet(1.0, n_categories=4) for _ in range(6)])


def mixed_prior():
    return ss.priors.Independent([
        ss.priors.Beta(0.5, 0.5), ss.priors.Gamma(1.0, 0.1), ss.priors.Dirichlet([1.0, 2.0, 1.0]),
        ss.priors.Gamma(1.0, 1.0, likelihood="exponential"),
        ss.priors.NormalGamma(0.0, 1.0, mean_precision_prior=0.01, degrees_of_freedom_prior=2.0)])


FAMILIES = {
    "bernoulli": (bernoulli_data, bernoulli_prior),
    "poisson": (poisson_data, lambda: ss.priors.Gamma(1.0, 0.1)),
    "exponential": (exponential_data, lambda: ss.priors.Gamma(1.0, 1.0, likelihood="exponential")),
    "categorical": (categorical_data, categorical_prior),
    "mixed": (mixed_data, mixed_prior),
}


def mixture(family, k=2, **kw):
    make = FAMILIES[family][1]
    kw.setdefault("weight_concentration_prior_type", "dirichlet_distribution")
    return ss.BayesianMixture([make() for _ in range(k)], **kw)


def flat(model):
    """Every number of a model's parameters, in order (nested priors included)."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            for key in sorted(v):
                walk(v[key])
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif v is not None and not isinstance(v, str):
            out.extend(np.ravel(np.asarray(v, dtype=np.float64)).tolist())

    walk(model.to_dict()["params"])
    return np.array(out)


def same_dict(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_dict(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_dict(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


# -- numerical integration over a 1-parameter posterior -----------------------------------------
def expect(q, f):
    """E_q[f(theta)] by adaptive quadrature between q's 1e-14 quantiles."""
    lo, hi = q.ppf(1e-14), q.isf(1e-14)
    value, _ = integrate.quad(lambda t: q.pdf(t) * f(t), lo, hi, limit=400, epsabs=0.0, epsrel=1e-12)
    return value


def posterior_and_prior(prior):
    """scipy.stats frozen densities of the posterior and of the prior of a 1-parameter family."""
    if isinstance(prior, ss.priors.Beta):
        return stats.beta(prior.alpha, prior.beta), stats.beta(prior.alpha_prior, prior.beta_prior)
    if isinstance(prior, ss.priors.Gamma):
        return (stats.gamma(prior.shape, scale=1.0 / prior.rate),
                stats.gamma(prior.shape_prior, scale=1.0 / prior.rate_prior))
    assert isinstance(prior, ss.priors.Dirichlet) and prior.n_categories == 2
    # the Dirichlet on (p, 1 - p) as a density of p
    return stats.beta(*prior.alpha), stats.beta(*prior.alpha_prior)


def loglik(prior, X, w, t):
    """sum_i w_i log p(x_i | theta = t) with scipy.stats."""
    if isinstance(prior, ss.priors.Beta):
        return float(np.dot(w, stats.bernoulli.logpmf(X, t)))
    if isinstance(prior, ss.priors.Dirichlet):
        return float(np.dot(w, np.where(X == 0, np.log(t), np.log1p(-t))))
    if prior.likelihood == "poisson":
        return float(np.dot(w, stats.poisson.logpmf(X, t)))
    return float(np.dot(w, stats.expon.logpdf(X, scale=1.0 / t)))


ONE_PARAMETER = {
    "beta": (lambda: ss.priors.Beta(0.7, 2.5), lambda rng: (rng.random(40) < 0.3).astype(float),
             {"alpha": 3.2, "beta": 9.5}),
    "gamma-poisson": (lambda: ss.priors.Gamma(2.0, 0.5), lambda rng: rng.poisson(4.0, 40).astype(float),
                      {"shape": 120.0, "rate": 33.0}),
    "gamma-exponential": (lambda: ss.priors.Gamma(1.5, 2.0, likelihood="exponential"),
                          lambda rng: rng.exponential(0.5, 40), {"shape": 30.0, "rate": 12.0}),
    "dirichlet-2": (lambda: ss.priors.Dirichlet([1.5, 0.8]),
                    lambda rng: (rng.random(40) < 0.6).astype(float), {"alpha": [20.0, 27.0]}),
}


@pytest.fixture(params=sorted(ONE_PARAMETER))
def one_parameter(request):
    make, data, given = ONE_PARAMETER[request.param]
    rng = np.random.default_rng(sorted(ONE_PARAMETER).index(request.param))
    X = data(rng)
    w = rng.uniform(0.2, 2.0, X.shape[0])
    return make, X, w, given


# -- the global step is the textbook conjugate update --------------------------------------------
def _fit_one(prior, X, w):
    model = ss.BayesianMixture([prior], weight_concentration_prior_type="dirichlet_distribution")
    model.fit(X, sample_weight=w, max_iter=5, random_state=0)
    return model.priors[0]


def test_one_component_beta_is_the_textbook_update():
    rng = np.random.default_rng(1)
    X = (rng.random(500) < 0.3).astype(float)
    w = rng.uniform(0.5, 2.0, 500)
    post = _fit_one(ss.priors.Beta(0.5, 2.0), X, w)
    assert post.alpha == pytest.approx(0.5 + np.sum(w * X), rel=1e-13)
    assert post.beta == pytest.approx(2.0 + np.sum(w * (1 - X)), rel=1e-13)
    assert post.point_estimate()["p"] == pytest.approx(post.alpha / (post.alpha + post.beta))


def test_one_component_dirichlet_is_the_textbook_update():
    rng = np.random.default_rng(2)
    X = rng.choice(5, 700, p=[0.1, 0.2, 0.3, 0.35, 0.05]).astype(float)
    w = rng.uniform(0.5, 2.0, 700)
    a0 = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    post = _fit_one(ss.priors.Dirichlet(a0), X, w)
    np.testing.assert_allclose(post.alpha, a0 + np.bincount(X.astype(int), weights=w, minlength=5),
                               rtol=1e-13)
    np.testing.assert_allclose(post.point_estimate()["probs"], post.alpha / post.alpha.sum(), rtol=1e-15)


@pytest.mark.parametrize("likelihood", ["poisson", "exponential"])
def test_one_component_gamma_is_the_textbook_update(likelihood):
    rng = np.random.default_rng(3)
    X = rng.poisson(6.0, 800).astype(float) if likelihood == "poisson" else rng.exponential(3.0, 800)
    w = rng.uniform(0.5, 2.0, 800)
    post = _fit_one(ss.priors.Gamma(2.0, 0.5, likelihood=likelihood), X, w)
    if likelihood == "poisson":
        shape, rate = 2.0 + np.sum(w * X), 0.5 + np.sum(w)
    else:
        shape, rate = 2.0 + np.sum(w), 0.5 + np.sum(w * X)
    assert post.shape == pytest.approx(shape, rel=1e-13)
    assert post.rate == pytest.approx(rate, rel=1e-13)
    assert post.point_estimate()["rate"] == pytest.approx(shape / rate, rel=1e-13)


def test_one_component_independent_is_each_columns_textbook_update():
    X, _ = mixed_data(400, seed=4)
    w = np.random.default_rng(4).uniform(0.5, 2.0, 400)
    post = _fit_one(mixed_prior(), X, w)
    beta, pois, cat, expo, normal = post.priors
    assert beta.alpha == pytest.approx(0.5 + np.sum(w * X[:, 0]), rel=1e-13)
    assert beta.beta == pytest.approx(0.5 + np.sum(w * (1 - X[:, 0])), rel=1e-13)
    assert (pois.shape, pois.rate) == pytest.approx((1.0 + np.sum(w * X[:, 1]), 0.1 + np.sum(w)), rel=1e-13)
    np.testing.assert_allclose(cat.alpha, [1.0, 2.0, 1.0] + np.bincount(X[:, 2].astype(int), weights=w),
                               rtol=1e-13)
    assert (expo.shape, expo.rate) == pytest.approx((1.0 + np.sum(w), 1.0 + np.sum(w * X[:, 3])), rel=1e-13)
    n, xbar = np.sum(w), np.sum(w * X[:, 4]) / np.sum(w)
    assert normal.mean == pytest.approx((0.0 * 0.01 + n * xbar) / (0.01 + n), rel=1e-12)
    assert normal.degrees_of_freedom == pytest.approx(2.0 + n, rel=1e-13)


def test_no_data_gives_the_prior():
    for prior in (ss.priors.Beta(0.5, 3.0), ss.priors.Dirichlet([1.0, 2.0]), ss.priors.Gamma(2.0, 3.0),
                  ss.priors.Gamma(2.0, 3.0, likelihood="exponential"), mixed_prior()):
        empty = np.zeros((0, prior.n_features)) if prior.n_features > 1 else np.zeros(0)
        post = prior.from_summaries(prior.summarize(empty, accumulate=False))
        assert same_dict(post._get_params(), prior.prior_params())


def test_the_registry_names_do_not_clash_with_the_distributions():
    assert ss.priors.Beta().to_dict()["class"] == "priors.Beta"
    assert ss.priors.Gamma().to_dict()["class"] == "priors.Gamma"
    assert ss.priors.Dirichlet(1.0, n_categories=2).to_dict()["class"] == "priors.Dirichlet"
    assert mixed_prior().to_dict()["class"] == "priors.Independent"
    assert type(ss.Distribution.from_dict(ss.Beta(2.0, 3.0).to_dict())) is ss.Beta
    assert type(ss.Distribution.from_dict(ss.Gamma(2.0, 3.0).to_dict())) is ss.Gamma
    assert type(ss.Distribution.from_dict(ss.priors.Beta(2.0, 3.0).to_dict())) is ss.priors.Beta


# -- expected log-densities ----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["beta", "gamma-poisson", "gamma-exponential"])
def test_expected_log_density_by_quadrature(case):
    make, _, given = ONE_PARAMETER[case]
    prior = make()
    prior._set_params(prior._check_params(given))
    q, _ = posterior_and_prior(prior)
    xs = {"beta": [0.0, 1.0], "gamma-poisson": [0.0, 1.0, 3.0, 17.0],
          "gamma-exponential": [0.0, 0.3, 2.5]}[case]
    got = prior.log_probability(np.array(xs))
    for x, value in zip(xs, got):
        want = expect(q, lambda t, x=x: loglik(prior, np.array([x]), np.ones(1), t))
        assert value == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_expected_log_density_off_the_support_is_minus_infinity():
    for prior, bad in ((ss.priors.Beta(alpha=2.0, beta=3.0), [0.5, 2.0, -1.0]),
                       (ss.priors.Gamma(shape=2.0, rate=3.0), [-1.0, 0.5]),
                       (ss.priors.Gamma(shape=2.0, rate=3.0, likelihood="exponential"), [-0.1]),
                       (ss.priors.Dirichlet(alpha=[2.0, 3.0]), [-1.0, 2.0, 0.5])):
        assert np.all(prior.log_probability(np.array(bad)) == -np.inf)


def test_dirichlet_expected_log_density_by_quadrature_and_monte_carlo():
    alpha = np.array([2.5, 7.0, 0.9, 4.0])
    prior = ss.priors.Dirichlet(1.0, n_categories=4, alpha=alpha)
    got = prior.log_probability(np.arange(4.0))
    for k in range(4):  # the marginal of p_k is Beta(alpha_k, sum alpha - alpha_k)
        q = stats.beta(alpha[k], alpha.sum() - alpha[k])
        assert got[k] == pytest.approx(expect(q, np.log), rel=1e-9)
    draws = np.log(stats.dirichlet.rvs(alpha, size=200_000, random_state=np.random.default_rng(5)))
    se = draws.std(axis=0) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - got) < 5 * se)


def test_independent_expected_log_density_is_the_sum_of_the_columns():
    X, _ = mixed_data(300, seed=6)
    prior = mixed_prior()
    post = prior.from_summaries(prior.summarize(X, accumulate=False))
    want = sum(d.log_probability(X[:, j]) for j, d in enumerate(post.priors))
    np.testing.assert_allclose(post.log_probability(X), want, rtol=1e-14)


# -- ELBO terms ----------------------------------------------------------------------------------
def elbo_by_quadrature(prior, X, w):
    """E_q[log p(X | theta) + log p(theta) - log q(theta)] against scipy.stats densities."""
    q, p0 = posterior_and_prior(prior)
    return expect(q, lambda t: loglik(prior, X, w, t) + p0.logpdf(t) - q.logpdf(t))


@pytest.mark.parametrize("at_global_step", [True, False], ids=["global-step", "slack"])
def test_elbo_term_by_quadrature(one_parameter, at_global_step):
    make, X, w, given = one_parameter
    prior = make()
    S = prior.summarize(X, w, accumulate=False)
    if at_global_step:
        prior.from_summaries(S)
    else:  # a posterior that is not the record's global step: the slack terms count
        prior._set_params(prior._check_params(given))
        other = make().from_summaries(S)
        assert not np.allclose(flat(other), flat(prior))
    assert prior.elbo(S) == pytest.approx(elbo_by_quadrature(prior, X, w), rel=1e-9)


def test_poisson_elbo_keeps_the_log_factorial_constant():
    X = np.array([0.0, 3.0, 7.0, 12.0])
    w = np.array([1.0, 0.5, 2.0, 1.5])
    prior = ss.priors.Gamma(2.0, 1.0)
    S = prior.summarize(X, w, accumulate=False)
    assert isinstance(S, PoissonStats)
    assert float(S.logfactw_sum) == pytest.approx(np.dot(w, gammaln(X + 1.0)), rel=1e-14)
    prior.from_summaries(S)
    plain = PoissonStats(w_sum=S.w_sum, xw_sum=S.xw_sum, logfactw_sum=0.0)
    assert prior.elbo(plain) - prior.elbo(S) == pytest.approx(float(S.logfactw_sum), rel=1e-12)
    # the record stays additive
    a = prior.summarize(X[:2], w[:2], accumulate=False)
    b = prior.summarize(X[2:], w[2:], accumulate=False)
    assert (a + b).allclose(S, rtol=1e-14)


def test_dirichlet_elbo_term_by_monte_carlo():
    rng = np.random.default_rng(7)
    X = rng.choice(3, 60, p=[0.2, 0.5, 0.3]).astype(float)
    w = rng.uniform(0.5, 2.0, 60)
    a0 = np.array([0.8, 1.5, 2.0])
    for alpha in (None, np.array([14.0, 40.0, 25.0])):  # the global step, and a posterior with slack
        prior = ss.priors.Dirichlet(a0)
        S = prior.summarize(X, w, accumulate=False)
        prior.from_summaries(S) if alpha is None else prior._set_params(prior._check_params({"alpha": alpha}))
        theta = stats.dirichlet.rvs(prior.alpha, size=400_000, random_state=rng)
        c = np.bincount(X.astype(int), weights=w, minlength=3)
        f = (np.log(theta) @ c + stats.dirichlet.logpdf(theta.T, a0)
             - stats.dirichlet.logpdf(theta.T, prior.alpha))
        se = f.std() / np.sqrt(f.size)
        assert abs(prior.elbo(S) - f.mean()) < 5 * se


def test_independent_elbo_is_the_sum_of_the_columns_quadratures():
    rng = np.random.default_rng(8)
    X = np.column_stack([(rng.random(50) < 0.3), rng.poisson(4.0, 50), rng.exponential(2.0, 50)]).astype(float)
    w = rng.uniform(0.5, 2.0, 50)
    prior = ss.priors.Independent([ss.priors.Beta(0.7, 2.5), ss.priors.Gamma(2.0, 0.5),
                                   ss.priors.Gamma(1.5, 2.0, likelihood="exponential")])
    S = prior.summarize(X, w, accumulate=False)
    assert isinstance(S, IndependentStats)
    prior._set_params(prior._check_params({"distributions": [
        {"alpha": 5.0, "beta": 30.0}, {"shape": 190.0, "rate": 48.0}, {"shape": 70.0, "rate": 100.0}]}))
    want = sum(elbo_by_quadrature(d, X[:, j], w) for j, d in enumerate(prior.priors))
    assert prior.elbo(S) == pytest.approx(want, rel=1e-9)


# -- implied statistics --------------------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_implied_statistics_invert_the_global_step(family):
    data, make = FAMILIES[family]
    X, _ = data(300, seed=9)
    w = np.random.default_rng(9).uniform(0.5, 2.0, 300)
    prior = make()
    S = prior.summarize(X, w, accumulate=False)
    prior.from_summaries(S)
    implied = prior.implied_statistics()
    again = make().from_summaries(implied)
    np.testing.assert_allclose(flat(again), flat(prior), rtol=1e-12)
    if family != "mixed":  # (a NormalGamma's implied record is about the posterior mean)
        parts_a = implied.parts if isinstance(implied, IndependentStats) else [implied]
        parts_s = S.parts if isinstance(S, IndependentStats) else [S]
        for a, s in zip(parts_a, parts_s):
            if isinstance(s, PoissonStats):  # the log x! sum does not enter the global step
                s = PoissonStats(w_sum=s.w_sum, xw_sum=s.xw_sum, logfactw_sum=0.0)
            assert a.allclose(s, rtol=1e-12, atol=1e-9)


def test_mixture_implied_statistics_invert_the_global_step():
    X, _ = mixed_data(400, seed=10)
    model = mixture("mixed", k=3).fit(X, max_iter=4, random_state=0)
    again = model.copy()
    again.commit(again.propose(model.implied_statistics()))
    np.testing.assert_allclose(flat(again), flat(model), rtol=1e-10, atol=1e-12)


# -- the mixtures --------------------------------------------------------------------------------
def purity(labels, z):
    """Share of rows in their true cluster's majority label (the two majorities must differ)."""
    a, b = np.bincount(labels[z]).argmax(), np.bincount(labels[~z]).argmax()
    assert a != b
    return (np.sum(labels[z] == a) + np.sum(labels[~z] == b)) / len(z)


@pytest.mark.parametrize("algorithm", ["vb", "memoized"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_mixture_recovers_two_clusters_and_the_elbo_never_decreases(family, algorithm):
    data = FAMILIES[family][0]
    X, z = data(600, seed=11)
    model = mixture(family, k=3, weight_concentration_prior=0.01)
    model.fit(X, algorithm=algorithm, batch_size=150 if algorithm == "memoized" else None,
              max_iter=100, tol=1e-10, random_state=0)
    elbo = np.array([h["elbo"] for h in model.history_])
    assert len(elbo) > 2
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:])), np.diff(elbo)
    assert model.elbo_ == elbo[-1]
    assert purity(model.predict(X), z) > 0.95
    big = np.sort(model.weights)[::-1]
    np.testing.assert_allclose(big[:2], [0.6, 0.4], atol=0.06)


def test_poisson_mixture_finds_the_rates():
    X, z = poisson_data(2000, seed=12)
    model = mixture("poisson", k=2).fit(X, max_iter=200, tol=1e-10, random_state=0)
    rates = sorted(p.point_estimate()["rate"] for p in model.priors)
    np.testing.assert_allclose(rates, [2.0, 15.0], rtol=0.08)
    sample = model.sample(500, random_state=0)
    assert sample.shape == (500,) and np.all(sample == np.floor(sample))


def test_dirichlet_process_weights():
    X, z = bernoulli_data(600, seed=13)
    model = mixture("bernoulli", k=5, weight_concentration_prior_type="dirichlet_process",
                    weight_concentration_prior=0.5)
    model.fit(X, max_iter=200, tol=1e-10, random_state=0)
    elbo = np.array([h["elbo"] for h in model.history_])
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:]))
    assert purity(model.predict(X), z) > 0.95


@pytest.mark.parametrize("algorithm", ["vb", "stochastic", "memoized"])
@pytest.mark.parametrize("family", ["mixed", "poisson"])
def test_n_jobs_is_bitwise(family, algorithm, tmp_path):
    X, _ = FAMILIES[family][0](900, seed=14)
    path = tmp_path / "x.npy"
    np.save(path, X)
    kw = dict(algorithm=algorithm, batch_size=100, max_iter=4, tol=0.0, random_state=0)
    a = mixture(family, k=3).fit(X, n_jobs=1, **kw)
    b = mixture(family, k=3).fit(str(path), n_jobs=2, **kw)
    np.testing.assert_array_equal(flat(a), flat(b))
    assert [h["elbo"] for h in a.history_] == [h["elbo"] for h in b.history_]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_save_and_load_round_trip(family, tmp_path):
    X, _ = FAMILIES[family][0](300, seed=15)
    model = mixture(family, k=3).fit(X, max_iter=5, random_state=0)
    model.save(tmp_path / "m.npz")
    back = ss.load(tmp_path / "m.npz")
    assert type(back) is ss.BayesianMixture
    assert same_dict(back.to_dict(), model.to_dict())
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    assert same_dict(ss.Distribution.from_json(model.to_json()).to_dict(), model.to_dict())
    # a prior alone, fitted or not
    for prior in (model.priors[0], FAMILIES[family][1]()):
        prior.save(tmp_path / "p.npz")
        again = ss.load(tmp_path / "p.npz")
        assert type(again) is type(prior) and same_dict(again.to_dict(), prior.to_dict())


def test_a_warm_start_copies_only_a_posterior_of_the_same_priors():
    X, _ = mixed_data(300, seed=16)
    model = mixture("mixed", k=2).fit(X, max_iter=5, random_state=0)
    assert mixture("mixed", k=2).warm_start(model) is None  # copied
    other = ss.BayesianMixture([mixed_prior(), mixed_prior()],
                               weight_concentration_prior_type="dirichlet_distribution")
    other.priors[1].priors[1].shape_prior = 7.0  # another prior on one column
    other.priors[1].priors[1].rate_prior = 7.0
    assert other.warm_start(model) is model  # started from its responsibilities instead
    warm = mixture("mixed", k=2).fit(X, init=model, max_iter=5)
    assert warm.elbo_ >= model.elbo_ - 1e-9 * abs(model.elbo_)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("prior, X, match", [
    (ss.priors.Gamma(), [1.0, -2.0, 3.0], "non-negative counts for Poisson"),
    (ss.priors.Gamma(), [1.0, 2.5], "whole-number counts for Poisson"),
    (ss.priors.Gamma(likelihood="exponential"), [1.0, -0.5], "non-negative for Exponential"),
    (ss.priors.Beta(), [0.0, 1.0, 0.5], "0 or 1 for Bernoulli"),
    (ss.priors.Dirichlet(1.0, n_categories=3), [0.0, 3.0], "code below 3"),
    (ss.priors.Dirichlet(1.0, n_categories=3), [0.0, 1.5], "whole-number codes for Categorical"),
])
def test_bad_values_raise_the_familys_data_error(prior, X, match):
    with pytest.raises(ss.DataError, match=match):
        prior.summarize(X)
    model = ss.BayesianMixture([prior, prior.copy()])
    with pytest.raises(ss.DataError, match=match):
        model.fit(np.array(X * 10), random_state=0)


def test_bad_values_in_an_independent_prior_name_the_column_and_the_row():
    X, _ = mixed_data(200, seed=17)
    model = mixture("mixed", k=2).fit(X, max_iter=3, random_state=0)
    before = flat(model)
    bad = X.copy()
    bad[42, 1] = -3.0
    with pytest.raises(ss.DataError, match=r"column 1: .*non-negative counts for Poisson") as err:
        model.fit(bad, init=model, max_iter=3)
    assert err.value.row == 42
    np.testing.assert_array_equal(flat(model), before)
    bad = X.copy()
    bad[7, 0] = 0.5
    with pytest.raises(ss.DataError, match=r"column 0: .*0 or 1 for Bernoulli"):
        mixture("mixed", k=2).fit(bad, random_state=0)


def test_bad_hyperparameters_and_posteriors():
    with pytest.raises(ss.ParameterError, match="alpha_prior"):
        ss.priors.Beta(0.0, 1.0)
    with pytest.raises(ss.ParameterError, match="needs both"):
        ss.priors.Beta(alpha=2.0)
    with pytest.raises(ss.ParameterError, match="likelihood"):
        ss.priors.Gamma(likelihood="normal")
    with pytest.raises(ss.ParameterError, match="rate"):
        ss.priors.Gamma(shape=1.0, rate=-1.0)
    with pytest.raises(ss.ParameterError, match="n_categories"):
        ss.priors.Dirichlet(1.0)
    with pytest.raises(ss.ParameterError, match="n_categories"):
        ss.priors.Dirichlet([1.0, 1.0], n_categories=3)
    with pytest.raises(ss.ParameterError, match="length 2"):
        ss.priors.Dirichlet([1.0, 1.0], alpha=[1.0, 2.0, 3.0])


@pytest.mark.parametrize("cls", ["NormalGamma", "SphericalNormalGamma"])
def test_a_gaussian_prior_names_a_scale_or_mean_that_is_not_a_number(cls):
    prior = getattr(ss.priors, cls)
    with pytest.raises(ss.ParameterError, match="scale_prior must be a real number; got 'abc'"):
        prior(np.zeros(2), "abc")
    with pytest.raises(ss.ParameterError, match="scale_prior must be > 0"):
        prior(np.zeros(2), -1.0)
    with pytest.raises(ss.ParameterError, match="scale_prior must be finite"):
        prior(np.zeros(2), np.nan)
    with pytest.raises(ss.ParameterError, match="mean_prior must be a vector of real numbers"):
        prior(["a", "b"], 1.0)
    np.testing.assert_array_equal(prior(np.zeros(3), 2.0).scale_prior, [2.0, 2.0, 2.0])
    with pytest.raises(ss.ParameterError, match="univariate ConjugatePrior"):
        ss.priors.Independent([ss.priors.NormalWishart(np.zeros(2), np.eye(2))])
    with pytest.raises(ss.ParameterError, match="univariate ConjugatePrior"):
        ss.priors.Independent([ss.Bernoulli()])
    # a global step takes ss.Poisson's record; the ELBO needs the log x! field
    gamma = ss.priors.Gamma().from_summaries(CountStats(w_sum=2.0, xw_sum=3.0))
    assert (gamma.shape, gamma.rate) == (4.0, 3.0)
    with pytest.raises(TypeError, match="PoissonStats"):
        gamma.elbo(CountStats(w_sum=2.0, xw_sum=3.0))
    with pytest.raises(ValueError, match="categories"):
        ss.priors.Dirichlet([1.0, 1.0]).from_summaries(CategoricalStats(counts=[1.0, 2.0, 3.0]))


@pytest.mark.parametrize("family", ["mixed", "poisson"])
def test_resume_after_an_interrupted_memoized_fit_is_bitwise(family, tmp_path):
    """The snapshots hold the memoized records (PoissonStats, nested IndependentStats)."""
    X, _ = FAMILIES[family][0](600, seed=18)

    class Stop(ss.Callback):
        def on_epoch_end(self, logs):
            if logs["iteration"] == 3:
                raise KeyboardInterrupt

    kw = dict(random_state=0, algorithm="memoized", batch_size=150, max_iter=6, tol=None)
    with pytest.raises(KeyboardInterrupt):
        mixture(family, k=3).fit(X, output_path=tmp_path / "run", callbacks=[Stop()], **kw)
    resumed = mixture(family, k=3).fit(X, output_path=tmp_path / "run", resume=True, **kw)
    straight = mixture(family, k=3).fit(X, **kw)
    np.testing.assert_array_equal(flat(resumed), flat(straight))
    assert [h["elbo"] for h in resumed.history_] == [h["elbo"] for h in straight.history_]
    back = ss.load_model_at_lap(tmp_path / "run", 2)
    assert isinstance(back, ss.BayesianMixture) and type(back.priors[0]) is type(straight.priors[0])


def test_an_em_mixture_of_the_family_starts_a_vb_run():
    """The EM components' own records (ss.Poisson's CountStats...) make the first global step."""
    X, z = poisson_data(600, seed=19)
    em = ss.GeneralMixtureModel([ss.Poisson(), ss.Poisson()]).fit(X, random_state=0)
    vb = mixture("poisson", k=2).fit(X, init=em, max_iter=100, tol=1e-10)
    assert purity(vb.predict(X), z) > 0.95
    em_rates = sorted(d.rate for d in em.distributions)
    vb_rates = sorted(p.point_estimate()["rate"] for p in vb.priors)
    np.testing.assert_allclose(vb_rates, em_rates, rtol=0.02)
    X, z = mixed_data(600, seed=19)
    em = ss.GeneralMixtureModel([ss.IndependentComponents(
        [ss.Bernoulli(), ss.Poisson(), ss.Categorical(n_categories=3), ss.Exponential(), ss.Normal()])
        for _ in range(2)]).fit(X, random_state=0)
    vb = mixture("mixed", k=2).fit(X, init=em, max_iter=100, tol=1e-10)
    assert purity(vb.predict(X), z) > 0.99
    np.testing.assert_allclose(np.sort(vb.weights), np.sort(em.weights), atol=0.01)
