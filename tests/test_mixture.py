"""GeneralMixtureModel: E-step paths, agreement with scikit-learn, heterogeneous mixtures."""

from __future__ import annotations

import re

import numpy as np
import pytest
from mixture_helpers import MEANS, blobs, initial_gmm, params
from scipy import stats

import suffstat as ss

CTYPES = ["full", "diag", "spherical"]


@pytest.mark.parametrize("ctype", CTYPES)
def test_fused_e_step_equals_generic_composition(ctype):
    X = blobs(2000)
    w = np.random.default_rng(3).uniform(0, 2, size=len(X))
    model = initial_gmm(ctype)
    fused = model.summarize(X, w, accumulate=False)
    model._fused = False
    generic = model.summarize(X, w, accumulate=False)
    assert fused.allclose(generic, rtol=1e-12, atol=1e-12 * len(X))
    assert float(fused.log_likelihood) == pytest.approx(float(generic.log_likelihood), rel=1e-12)


@pytest.mark.parametrize("ctype", CTYPES)
def test_fused_e_step_is_exact_far_from_the_origin(ctype):
    # The full kernel whitens a block shifted by the mean of the means: its rounding
    # must not grow with the offset of the data, and only mildly with the spread of
    # the means (here 400 standard deviations apart).
    offset = np.array([1e6, -3e5, 2e4])
    X = blobs(1500, offset=offset) + np.repeat(np.array([[0.0, 0, 0], [400, 0, 0], [0, -400, 0]]), 500, 0)
    start = initial_gmm(ctype, offset=offset)
    comps = [ss.MultivariateNormal(d.mean + np.array(shift), d.cov, covariance_type=ctype)
             for d, shift in zip(start.distributions, ([0.0, 0, 0], [400, 0, 0], [0, -400, 0]))]
    model = ss.GeneralMixtureModel(comps, start.weights)
    fused = model.summarize(X, accumulate=False)
    model._fused = False
    generic = model.summarize(X, accumulate=False)
    assert fused.allclose(generic, rtol=1e-11, atol=1e-11 * len(X))
    assert float(fused.log_likelihood) == pytest.approx(float(generic.log_likelihood), rel=1e-12)


@pytest.mark.parametrize("ctype", CTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fused_e_step_names_a_non_finite_row_even_at_zero_weight(ctype, bad):
    X = blobs(1200)
    X[1037, 2] = bad
    w = np.ones(len(X))
    w[1037] = 0.0
    model = initial_gmm(ctype)
    with pytest.raises(ss.DataError, match="at row 1037"):
        model.summarize(X, w)
    assert model.pending is None


def test_fused_e_step_refuses_finite_rows_that_overflow():
    """Issue 12: a finite row whose Mahalanobis distance overflows has density 0 under
    every component; its -inf log-likelihood poisoned the accumulated record (the row
    was silently dropped). Both E-step paths now refuse it, naming the row."""
    X = blobs(600)
    X[5] = 1e200  # finite, but its Mahalanobis distance overflows to inf
    model = initial_gmm("full")
    with pytest.raises(ss.DataError, match=re.escape("zero density under every component (log-likelihood -inf) at row 5")):
        model.summarize(X, accumulate=False)
    model._fused = False
    with pytest.raises(ss.DataError, match=re.escape("at row 5")):
        model.summarize(X, accumulate=False)
    assert model.pending is None


def test_fused_normal_mixture_equals_generic():
    x = np.concatenate([np.random.default_rng(0).normal(-2, 1, 300), np.random.default_rng(1).normal(3, 2, 500)])
    m = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.5)], [0.3, 0.7])
    fused = m.summarize(x, accumulate=False)
    m._fused = False
    assert fused.allclose(m.summarize(x, accumulate=False), rtol=1e-12, atol=1e-10)


def test_log_probability_is_the_weighted_density():
    m = initial_gmm("full")
    X = blobs(200)
    expected = np.log(sum(
        w * stats.multivariate_normal(d.mean, d.cov).pdf(X) for w, d in zip(m.weights, m.distributions)
    ))
    np.testing.assert_allclose(m.log_probability(X), expected, rtol=1e-10)
    np.testing.assert_allclose(m.score_samples(X), expected, rtol=1e-10)
    assert m.score(X) == pytest.approx(expected.mean(), rel=1e-12)
    proba = m.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(m.predict(X), proba.argmax(axis=1))
    assert m.n_features_in_ == 3


@pytest.mark.parametrize("ctype", CTYPES)
def test_agrees_with_scikit_learn_from_the_same_start(ctype):
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    X = blobs(1500)
    ours = initial_gmm(ctype)
    covs = np.array([np.asarray(d.cov) for d in ours.distributions])
    precisions = np.linalg.inv(covs) if ctype == "full" else 1.0 / covs
    sk = sklearn_mixture.GaussianMixture(
        3, covariance_type=ctype, weights_init=ours.weights, means_init=[d.mean for d in ours.distributions],
        precisions_init=precisions, reg_covar=1e-6, max_iter=10, tol=0.0,
    )
    with pytest.warns(Warning):  # sklearn says it did not converge with tol=0
        sk.fit(X)
    ours.fit(X, max_iter=10, tol=None)
    np.testing.assert_allclose(ours.weights, sk.weights_, rtol=1e-8)
    np.testing.assert_allclose([d.mean for d in ours.distributions], sk.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose([d.cov for d in ours.distributions], sk.covariances_, rtol=1e-8)
    assert ours.score(X) == pytest.approx(sk.score(X), rel=1e-8)


def test_one_component_mixture_is_the_single_fit():
    X = blobs(500)
    m = ss.GeneralMixtureModel([ss.MultivariateNormal(np.zeros(3), np.eye(3))]).fit(X, max_iter=2, tol=None)
    single = ss.MultivariateNormal().fit(X)
    np.testing.assert_allclose(m.distributions[0].cov, single.cov, rtol=1e-12)
    assert m.weights.tolist() == [1.0]


def _monotone(history):
    ll = [h["log_likelihood"] for h in history]
    return all(b >= a - 1e-9 * abs(a) for a, b in zip(ll, ll[1:]))


def test_heterogeneous_exponential_gamma_mixture():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.exponential(0.5, 2000), rng.gamma(9.0, 1.0, 2000)])
    m = ss.GeneralMixtureModel([ss.Exponential(1.0), ss.Gamma(2.0, 0.5)])
    m.fit(x, max_iter=60, tol=None, batch_size=700)
    assert _monotone(m.history_)
    assert m.weights == pytest.approx([0.5, 0.5], abs=0.03)
    assert m.distributions[1].shape == pytest.approx(9.0, rel=0.15)


def test_heterogeneous_independent_components_mixture():
    rng = np.random.default_rng(6)
    a = np.column_stack([rng.normal(-3, 1, 1500), rng.poisson(1.0, 1500)])
    b = np.column_stack([rng.normal(3, 1, 1500), rng.poisson(8.0, 1500)])
    X = np.concatenate([a, b])
    comps = [ss.IndependentComponents([ss.Normal(-1.0, 2.0), ss.Poisson(3.0)]),
             ss.IndependentComponents([ss.Normal(1.0, 2.0), ss.Poisson(4.0)])]
    m = ss.GeneralMixtureModel(comps).fit(X, max_iter=30, tol=None, batch_size=512)
    assert _monotone(m.history_)
    means = sorted((d.distributions[0].mean, d.distributions[1].rate) for d in m.distributions)
    assert means[0] == pytest.approx((-3.0, 1.0), abs=0.15)
    assert means[1] == pytest.approx((3.0, 8.0), abs=0.2)


def test_univariate_mixture_takes_1d_or_column_input():
    x = np.concatenate([np.random.default_rng(0).normal(-2, 1, 300), np.random.default_rng(1).normal(3, 1, 300)])
    a = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)]).fit(x, max_iter=5, tol=None)
    b = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)]).fit(x[:, None], max_iter=5, tol=None)
    np.testing.assert_array_equal(params(a), params(b))


def test_component_without_responsibility_warns_once_and_keeps_its_parameters():
    X = blobs(1000)
    far = ss.MultivariateNormal(np.full(3, 1e3), np.eye(3))
    m = ss.GeneralMixtureModel([ss.MultivariateNormal(np.zeros(3), np.eye(3) * 4), far], [0.5, 0.5])
    with pytest.warns(ss.EmptyComponentWarning) as record:
        m.fit(X, max_iter=4, tol=None, batch_size=100)
    assert len([r for r in record if r.category is ss.EmptyComponentWarning]) == 1
    assert m.weights[1] == 0.0
    np.testing.assert_array_equal(m.distributions[1].mean, np.full(3, 1e3))


def test_invalid_component_update_names_the_component_and_changes_nothing():
    X = np.column_stack([np.random.default_rng(0).normal(size=200), np.zeros(200)])
    comps = [ss.MultivariateNormal([0.0, 0.0], np.eye(2), reg_covar=0.0) for _ in range(2)]
    m = ss.GeneralMixtureModel(comps)
    before = params(m)
    with pytest.raises(ss.ParameterError, match=re.escape("component 0 of the mixture") + ".*reg_covar"):
        m.fit(X, max_iter=3)
    np.testing.assert_array_equal(params(m), before)


def test_sample_save_load_and_repr(tmp_path):
    m = initial_gmm("diag")
    X = m.sample(5000, random_state=0)
    assert X.shape == (5000, 3)
    check_sample_statistics(m, X)
    m.save(tmp_path / "gmm.npz")
    back = ss.load(tmp_path / "gmm.npz")
    assert isinstance(back, ss.GeneralMixtureModel)
    np.testing.assert_array_equal(params(back), params(m))
    np.testing.assert_array_equal(back.log_probability(X), m.log_probability(X))
    assert "GeneralMixtureModel" in repr(back)


def check_sample_statistics(m, X, n_se=4.0):
    """Issue 12: a sample's statistics are those of the mixture, within a few standard errors.

    Under the mixture, E[p(k | x)] = w_k and E[p(k | x) x] = w_k mu_k exactly, so the mean
    responsibilities estimate the weights and the responsibility-weighted means estimate the
    component means, however much the components overlap. A sampler that drew the
    components with the wrong weights, mixed up components and parameters, or used the
    wrong covariance (checked through the mean squared deviation) fails.
    """
    n = len(X)
    R = m.predict_proba(X)
    for k, comp in enumerate(m.distributions):
        r = R[:, k]
        assert abs(r.mean() - m.weights[k]) <= n_se * r.std() / np.sqrt(n)
        # ratio estimator: mean_k = sum r x / sum r; its standard error by the delta method
        mean_k = (r[:, None] * X).sum(0) / r.sum()
        resid = r[:, None] * (X - np.asarray(comp.mean)) / r.mean()
        se = resid.std(0) / np.sqrt(n)
        assert np.all(np.abs(mean_k - comp.mean) <= n_se * se), (k, mean_k, comp.mean, se)
        var_k = np.diag(np.atleast_2d(comp.cov)) if comp.covariance_type != "diag" else comp.cov
        sq = r[:, None] * (X - np.asarray(comp.mean)) ** 2 / r.mean()
        assert np.all(np.abs(sq.mean(0) - var_k) <= n_se * sq.std(0) / np.sqrt(n))


def test_from_samples_with_a_template_instance():
    X = blobs(1500)
    m = ss.GeneralMixtureModel.from_samples(
        ss.MultivariateNormal(covariance_type="diag", reg_covar=1e-3), 3, X, random_state=0, max_iter=50
    )
    assert all(d.covariance_type == "diag" and d.reg_covar == 1e-3 for d in m.distributions)
    found = np.array(sorted(tuple(np.round(d.mean)) for d in m.distributions))
    np.testing.assert_allclose(found, sorted(map(tuple, [[0, 0, 0], [4, 4, 0], [-4, 3, 2]])), atol=1.0)
    assert m.converged_ and m.n_iter_ <= 50


@pytest.mark.parametrize("init", ["first-k", "random", "kmeans++", "kmeans", "refined"])
def test_initializations_find_the_blobs(init):
    """Issue 12: every init leads EM to the three blobs (it used to check only that it ran)."""
    X = blobs(600)
    m = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, X, init=init, random_state=2,
                                            max_iter=100)
    assert m.converged_
    found = np.array([d.mean for d in m.distributions])
    order = [int(np.argmin(((found - mu) ** 2).sum(1))) for mu in MEANS]
    assert sorted(order) == [0, 1, 2], (init, found)
    # 600 rows: each blob's mean is known to about 1.2 / sqrt(120) = 0.11 per coordinate
    np.testing.assert_allclose(found[order], MEANS, atol=0.45)
    np.testing.assert_allclose(np.asarray(m.weights)[order], [0.5, 0.3, 0.2], atol=0.07)


def test_bad_mixture_arguments():
    with pytest.raises(ss.ParameterError, match="weights must sum to 1"):
        ss.GeneralMixtureModel([ss.Normal(0, 1), ss.Normal(1, 1)], [0.5, 0.6])
    with pytest.raises(ss.ParameterError, match="one entry per component"):
        ss.GeneralMixtureModel([ss.Normal(0, 1), ss.Normal(1, 1)], [1.0])
    with pytest.raises(ss.ParameterError, match="mix univariate and multivariate"):
        ss.GeneralMixtureModel([ss.Normal(0, 1), ss.MultivariateNormal()])
    with pytest.raises(ss.ParameterError, match="init must be one of"):
        ss.GeneralMixtureModel.from_samples(ss.Normal, 2, np.arange(10.0), init="magic")
    with pytest.raises(ss.ParameterError, match="cannot initialize 5 components from 3 rows"):
        ss.GeneralMixtureModel.from_samples(ss.Normal, 5, np.arange(3.0))
    m = initial_gmm()
    for kwargs, text in [({"max_iter": 0}, "max_iter must be >= 1"), ({"batch_size": 0}, "batch_size must be >= 1"),
                         ({"n_jobs": 0}, "n_jobs must be"), ({"tol": -1.0}, "tol must be >= 0"),
                         ({"batches_per_epoch": 0}, "batches_per_epoch must be >= 1")]:
        with pytest.raises(ss.ParameterError, match=re.escape(text)):
            m.fit(blobs(50), **kwargs)
    with pytest.raises(ss.NotFittedError, match="component 0"):
        ss.GeneralMixtureModel([ss.Normal(), ss.Normal()]).summarize([1.0, 2.0])
