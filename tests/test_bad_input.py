"""Bad input raises a clear ValueError naming the problem (and row); the model is unchanged."""

from __future__ import annotations

import re

import numpy as np
import pytest
from cases import CASES, IDS

import suffstat as ss


def snapshot(d):
    return repr(d), repr(d.to_dict()), d.pending


def assert_unchanged(d, before):
    after = snapshot(d)
    assert after[:2] == before[:2]
    assert after[2] is before[2]


def valid(case, n=10):
    return case.draw(np.random.default_rng(3), n)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("bad, kind", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_non_finite_data_names_the_row(case, bad, kind):
    d = case.make()
    d.summarize(valid(case))  # a pending summary that must survive
    before = snapshot(d)
    X = valid(case).copy()
    if X.ndim == 1:
        X[4] = bad
    else:
        X[4, 1] = bad
    for call in (lambda: d.summarize(X), lambda: d.fit(X), lambda: d.log_probability(X)):
        with pytest.raises(ss.DataError, match=re.escape(f"X contains {kind} at row 4")) as e:
            call()
        assert e.value.row == 4
        assert isinstance(e.value, ValueError)
    assert_unchanged(d, before)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_weights(case):
    d = case.make()
    before = snapshot(d)
    X = valid(case)
    w = np.ones(len(X))
    w[6] = -0.5
    with pytest.raises(ss.DataError, match=re.escape("sample_weight must be non-negative; got -0.5 at row 6")):
        d.summarize(X, w)
    w[6] = np.nan
    with pytest.raises(ss.DataError, match=re.escape("sample_weight must be finite; got nan at row 6")):
        d.fit(X, w)
    with pytest.raises(ss.DataError, match=re.escape(f"sample_weight must have shape ({len(X)},)")):
        d.fit(X, np.ones(len(X) + 1))
    assert_unchanged(d, before)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_empty_and_non_numeric_input(case):
    d = case.make()
    before = snapshot(d)
    X = valid(case)
    with pytest.raises(ss.DataError, match="X is empty"):
        d.fit(X[:0])
    with pytest.raises(ss.DataError, match="numeric dtype"):
        d.fit(X.astype(str))
    with pytest.raises(ss.DataError, match="numeric dtype"):
        d.summarize([{"a": 1}] * 3)
    assert_unchanged(d, before)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_wrong_dimensions(case):
    d = case.make()
    before = snapshot(d)
    X = valid(case)
    with pytest.raises(ss.DataError, match="got 3 dimension|got shape"):
        d.summarize(np.zeros((2, 2, 2)))
    if X.ndim == 1:
        with pytest.raises(ss.DataError, match=re.escape("shape (n_samples,) or (n_samples, 1)")):
            d.fit(np.column_stack([X, X]))
    else:
        k = X.shape[1]
        with pytest.raises(ss.DataError, match=re.escape(f"X must have {k} features (the model has {k}); got {k + 1}")):
            d.fit(np.column_stack([X, X[:, :1]]))
    assert_unchanged(d, before)


SUPPORT = [
    (ss.Poisson(2.0), [1, 3, -1, 2], 2, "non-negative counts"),
    (ss.Poisson(2.0), [1, 3, 2.5], 2, "whole-number counts"),
    (ss.Poisson(2.0), [1, 0.5, 3, -2, -1], 3, "non-negative counts"),  # negatives are named first
    (ss.Bernoulli(0.5), [0, 1, 1, 0, 0.5, 2], 4, "0 or 1 for Bernoulli; got 0.5"),
    (ss.Categorical([0.5, 0.5]), [0, 1, 1, 2], 3, "a code below 2 (the number of categories); got 2"),
    (ss.Categorical([0.5, 0.5]), [0, -1], 1, "non-negative integer codes"),
    (ss.Gamma(2.0, 1.0), [1.0, 0.0], 1, "positive for Gamma; got 0"),
    (ss.LogNormal(0.0, 1.0), [1.0, 2.0, -3.0], 2, "positive for LogNormal; got -3"),
    (ss.Exponential(1.0), [1.0, -0.1], 1, "non-negative for Exponential"),
    (ss.Beta(2.0, 2.0), [0.5, 1.0], 1, "strictly between 0 and 1"),
    (ss.Bernoulli(0.5), [0, 1, 2], 2, "0 or 1 for Bernoulli"),
    (ss.IndependentComponents([ss.Normal(0, 1), ss.Poisson(1.0)]), [[0.0, 1], [0.3, -2]], 1,
     "column 1: X must be non-negative counts"),
]


@pytest.mark.parametrize("d, x, row, text", SUPPORT, ids=[f"{type(s[0]).__name__}-{s[3][:12]}" for s in SUPPORT])
def test_values_outside_the_support(d, x, row, text):
    d = d.copy()
    before = snapshot(d)
    with pytest.raises(ss.DataError, match=re.escape(text)) as e:
        d.summarize(x)
    assert e.value.row == row
    assert f"at row {row}" in str(e.value)
    with pytest.raises(ss.DataError):
        d.fit(x)
    assert_unchanged(d, before)


@pytest.mark.parametrize(
    "make, text",
    [
        (lambda: ss.Normal(0.0, 0.0), "std must be > 0.0; got 0"),
        (lambda: ss.Normal(0.0, -1.0), "std must be > 0.0; got -1"),
        (lambda: ss.Normal(np.nan, 1.0), "mean must be finite"),
        (lambda: ss.Exponential(-2.0), "rate must be > 0.0"),
        (lambda: ss.Bernoulli(1.5), "p must be <= 1.0; got 1.5"),
        (lambda: ss.Categorical([0.5, 0.6]), "probs must sum to 1; got a sum of 1.1"),
        (lambda: ss.Categorical([-0.2, 1.2]), "probs must be >= 0.0; got -0.2 at index 0"),
        (lambda: ss.Uniform(2.0, 1.0), "high must be > low; got low=2, high=1"),
        (lambda: ss.Gamma(shape=0.0), "shape must be > 0.0"),
        (lambda: ss.MultivariateNormal([0, 0], [[1, 2], [2, 1]]), "not positive definite"),
        (lambda: ss.MultivariateNormal([0, 0], [[1, 0.5], [0.4, 1]]), "cov must be symmetric"),
        (lambda: ss.MultivariateNormal([0, 0], np.eye(3)), "cov must have shape (2, 2)"),
        (lambda: ss.MultivariateNormal([0, 0], [1, 1], covariance_type="diag", reg_covar=-1), "reg_covar must be >= 0"),
        (lambda: ss.MultivariateNormal(covariance_type="tied"), "covariance_type must be one of"),
        (lambda: ss.Normal(inertia=1.5), "inertia must be <= 1.0; got 1.5"),
        (lambda: ss.IndependentComponents([]), "at least one distribution"),
        (lambda: ss.IndependentComponents([ss.MultivariateNormal()]), "univariate Distribution"),
    ],
)
def test_invalid_parameters(make, text):
    with pytest.raises(ss.ParameterError, match=re.escape(text)) as e:
        make()
    assert isinstance(e.value, ValueError)


def test_failed_estimate_in_one_component_leaves_every_component_unchanged():
    d = ss.IndependentComponents([ss.Normal(0.0, 1.0), ss.Normal(5.0, 1.0)])
    before = snapshot(d)
    X = np.column_stack([np.arange(5.0), np.full(5, 3.0)])  # column 1 has zero variance
    with pytest.raises(ss.ParameterError, match=re.escape("component 1 (Normal)")):
        d.fit(X)
    assert_unchanged(d, before)


def test_statistics_of_another_family_are_refused():
    stats = ss.Poisson(1.0).summarize([1, 2], accumulate=False)
    d = ss.Normal(0.0, 1.0)
    with pytest.raises(TypeError, match="Normal needs NormalStats statistics; got CountStats"):
        d.from_summaries(stats)
    with pytest.raises(TypeError, match="cannot add"):
        stats + ss.Normal(0.0, 1.0).summarize([1.0], accumulate=False)


def test_bad_sample_size_and_seed():
    d = ss.Normal(0.0, 1.0)
    with pytest.raises(ss.ParameterError, match="n must be >= 0; got -1"):
        d.sample(-1)
    with pytest.raises(ss.ParameterError, match="n must be an integer"):
        d.sample(2.5)
    with pytest.raises(ss.ParameterError, match="random_state must be"):
        d.sample(2, random_state="seed")
