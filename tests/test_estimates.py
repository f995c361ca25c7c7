"""Maximum-likelihood estimates against closed forms and scipy's fit; precision regressions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import suffstat as ss


@pytest.fixture
def w(rng):
    return rng.uniform(0.1, 3.0, size=400)


def test_normal_weighted_mle(rng, w):
    x = rng.normal(-4.0, 0.3, size=400)
    d = ss.Normal().fit(x, sample_weight=w)
    mean = np.average(x, weights=w)
    assert d.mean == pytest.approx(mean, rel=1e-13)
    assert d.std == pytest.approx(np.sqrt(np.average((x - mean) ** 2, weights=w)), rel=1e-12)


def test_lognormal_mle_is_normal_on_logs(rng, w):
    x = rng.lognormal(0.2, 0.9, size=400)
    d = ss.LogNormal().fit(x, sample_weight=w)
    n = ss.Normal().fit(np.log(x), sample_weight=w)
    assert (d.mu, d.sigma) == pytest.approx((n.mean, n.std), rel=1e-13)


def test_exponential_poisson_bernoulli_closed_forms(rng, w):
    x = rng.exponential(0.5, size=400)
    assert ss.Exponential().fit(x, w).rate == pytest.approx(1 / np.average(x, weights=w), rel=1e-13)
    k = rng.poisson(4.0, size=400)
    assert ss.Poisson().fit(k, w).rate == pytest.approx(np.average(k, weights=w), rel=1e-13)
    b = rng.random(400) < 0.2
    assert ss.Bernoulli().fit(b, w).p == pytest.approx(np.average(b, weights=w), rel=1e-13)


def test_categorical_counts_and_pseudocount(rng, w):
    codes = rng.choice(4, size=400, p=[0.1, 0.2, 0.3, 0.4])
    counts = np.bincount(codes, weights=w, minlength=4)
    np.testing.assert_allclose(ss.Categorical().fit(codes, w).probs, counts / counts.sum(), rtol=1e-13)
    smoothed = ss.Categorical(pseudocount=2.0, n_categories=6).fit(codes, w).probs
    expected = np.append(counts, [0, 0]) + 2.0
    np.testing.assert_allclose(smoothed, expected / expected.sum(), rtol=1e-13)


def test_uniform_mle_is_range(rng):
    x = rng.uniform(3.0, 5.0, size=100)
    d = ss.Uniform().fit(x)
    assert (d.low, d.high) == (x.min(), x.max())


def test_gamma_mle_matches_scipy_fit(rng):
    x = rng.gamma(0.7, 2.0, size=3000)
    d = ss.Gamma().fit(x)
    a, _, scale = stats.gamma.fit(x, floc=0)
    assert d.shape == pytest.approx(a, rel=1e-7)
    assert d.rate == pytest.approx(1 / scale, rel=1e-7)
    # and it solves the likelihood equation to machine precision
    from scipy.special import digamma

    s = np.log(x.mean()) - np.log(x).mean()
    assert np.log(d.shape) - digamma(d.shape) == pytest.approx(s, rel=1e-12)


@pytest.mark.parametrize("shape", [0.05, 1.0, 40.0, 5000.0])
def test_gamma_shape_newton_converges_over_a_wide_range(rng, shape):
    x = rng.gamma(shape, 1.0, size=5000)
    d = ss.Gamma().fit(x)
    a, _, _ = stats.gamma.fit(x, floc=0)
    assert d.shape == pytest.approx(a, rel=1e-6)


def test_beta_mle_matches_scipy_fit(rng):
    x = rng.beta(0.8, 4.0, size=3000)
    d = ss.Beta().fit(x)
    a, b, _, _ = stats.beta.fit(x, floc=0, fscale=1)
    assert (d.alpha, d.beta) == pytest.approx((a, b), rel=1e-6)
    # our estimate is at least as likely as scipy's
    assert stats.beta(d.alpha, d.beta).logpdf(x).sum() >= stats.beta(a, b).logpdf(x).sum() - 1e-9


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical"])
def test_mvn_mle_with_reg_covar(rng, w, ctype):
    X = rng.multivariate_normal([1, 2, 3], [[1, 0.5, 0], [0.5, 2, 0.3], [0, 0.3, 0.5]], size=400)
    d = ss.MultivariateNormal(covariance_type=ctype, reg_covar=1e-3).fit(X, w)
    mean = np.average(X, axis=0, weights=w)
    cov = np.cov(X.T, aweights=w, bias=True)
    np.testing.assert_allclose(d.mean, mean, rtol=1e-13)
    expected = {
        "full": cov + 1e-3 * np.eye(3),
        "diag": np.diag(cov) + 1e-3,
        "spherical": np.diag(cov).mean() + 1e-3,
    }[ctype]
    np.testing.assert_allclose(d.cov, expected, rtol=1e-12)


def test_diag_equals_full_with_diagonal_covariance(rng):
    X = rng.normal(size=(50, 4))
    full = ss.MultivariateNormal(X.mean(0), np.diag(X.var(0)))
    diag = ss.MultivariateNormal(X.mean(0), X.var(0), covariance_type="diag")
    np.testing.assert_allclose(full.log_probability(X), diag.log_probability(X), rtol=1e-12)


def test_offset_data_keeps_full_precision(rng):
    """Regression: raw power sums give variance 4.0 instead of ~1 on 1e8 + N(0, 1)."""
    x = 1e8 + rng.standard_normal(100_000)
    d = ss.Normal()
    for part in np.array_split(x, 7):
        d.summarize(part)
    d.from_summaries()
    assert abs(d.std**2 - x.var()) < 1e-6
    X = 1e8 + rng.standard_normal((100_000, 2))
    for ctype in ("full", "diag"):
        m = ss.MultivariateNormal(covariance_type=ctype, reg_covar=0.0)
        for part in np.array_split(X, 7):
            m.summarize(part)
        m.from_summaries()
        var = np.diag(m.cov) if ctype == "full" else m.cov
        assert np.abs(var - X.var(axis=0)).max() < 1e-6
    # records summed across different reference points re-centre exactly
    a = ss.Normal(1e8, 1.0).summarize(x[:500], accumulate=False)
    b = ss.Normal(1e8 + 3.0, 1.0).summarize(x[500:], accumulate=False)
    est = ss.Normal().from_summaries(a + b)
    assert abs(est.std**2 - x.var()) < 1e-6


def test_constant_column_fits_thanks_to_reg_covar(rng):
    X = np.column_stack([rng.normal(size=200), np.full(200, 0.1), rng.normal(size=200)])
    d = ss.MultivariateNormal().fit(X)
    assert d.cov[1, 1] == pytest.approx(1e-6, rel=1e-6)
    assert np.isfinite(d.log_probability(X)).all()


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical"])
def test_constant_column_without_reg_covar_raises_and_keeps_the_model(rng, ctype):
    X = np.column_stack([rng.normal(size=200), np.full(200, 0.1)])
    if ctype == "spherical":
        X = np.full((200, 2), 0.1)
    d = ss.MultivariateNormal([0.0, 0.0], *([np.eye(2)] if ctype == "full" else [[1.0, 1.0]] if
                              ctype == "diag" else [1.0]), covariance_type=ctype, reg_covar=0.0)
    before = repr(d)
    with pytest.raises(ss.ParameterError, match="component.*not positive definite.*increase reg_covar"):
        d.fit(X)
    assert repr(d) == before


def test_normal_zero_variance_raises_with_a_hint():
    d = ss.Normal(0.0, 1.0)
    with pytest.raises(ss.ParameterError, match="zero variance.*min_std"):
        d.fit([2.0, 2.0, 2.0])
    assert (d.mean, d.std) == (0.0, 1.0)
    assert ss.Normal(min_std=0.5).fit([2.0, 2.0]).std == 0.5


def test_duplicated_column_without_reg_covar_is_singular(rng):
    x = rng.normal(size=300)
    d = ss.MultivariateNormal(reg_covar=0.0)
    with pytest.raises(ss.ParameterError, match="feature 1 is a linear combination.*increase reg_covar"):
        d.fit(np.c_[x, x])
    assert d.mean is None and d.cov is None
    ok = ss.MultivariateNormal().fit(np.c_[x, x])  # the default reg_covar rescues it
    assert np.isfinite(ok.log_probability(np.c_[x, x])).all()
