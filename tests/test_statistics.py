"""The algebra of the statistic records: identity, commutativity, scaling, re-centring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from cases import CASES, IDS

import suffstat as ss
from suffstat.statistics import Statistic


def record(case, seed=0, n=40):
    return case.make().summarize(case.draw(np.random.default_rng(seed), n), accumulate=False)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_identity_commutativity_and_associativity(case):
    a, b, c = (record(case, s) for s in range(3))
    assert (0 + a) is a and (a + 0) is a
    assert (a + a.zeros_like()).allclose(a, rtol=0, atol=0)
    assert (a + b).allclose(b + a, rtol=1e-14, atol=1e-12)
    assert ((a + b) + c).allclose(a + (b + c), rtol=1e-13, atol=1e-12)
    assert sum([a, b, c]).allclose(a + b + c, rtol=1e-14, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scaling(case):
    a = record(case)
    assert (2 * a).allclose(a + a, rtol=1e-14, atol=1e-12)
    assert (a * 0.5).weight == pytest.approx(a.weight / 2)
    with pytest.raises(ValueError, match="finite"):
        a * np.inf


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_records_are_immutable_and_round_trip_through_dicts(case):
    a = record(case)
    with pytest.raises(AttributeError):
        a.w_sum = 3.0
    first = a._fields[0] if a._fields else None
    if first is not None:
        with pytest.raises(ValueError):
            getattr(a, first)[...] = 1.0
    back = Statistic.from_dict(a.to_dict())
    assert type(back) is type(a) and back.allclose(a, rtol=0, atol=0)


shifts = st.floats(-1e3, 1e3, allow_nan=False)


@given(k1=shifts, k2=shifts)
def test_recentering_is_exact_in_exact_arithmetic(k1, k2):
    x = np.random.default_rng(1).normal(10.0, 3.0, size=(50, 3))
    full = ss.MultivariateNormal(np.full(3, k1), np.eye(3)).summarize(x, accumulate=False)
    moved = full.recentered(np.full(3, k2))
    direct = ss.MultivariateNormal(np.full(3, k2), np.eye(3)).summarize(x, accumulate=False)
    scale = 50 * (abs(k1) + abs(k2) + 20) ** 2
    np.testing.assert_allclose(moved.xxw_sum, direct.xxw_sum, rtol=1e-12, atol=1e-13 * scale)
    np.testing.assert_allclose(moved.xw_sum, direct.xw_sum, rtol=1e-12, atol=1e-13 * scale)
    diag = ss.MultivariateNormal(np.full(3, k1), np.ones(3), covariance_type="diag")
    moved = diag.summarize(x, accumulate=False).recentered(np.full(3, k2))
    np.testing.assert_allclose(moved.xxw_sum, np.diag(direct.xxw_sum), rtol=1e-12, atol=1e-13 * scale)


def test_sum_of_records_with_different_shifts_equals_the_whole():
    x = np.random.default_rng(2).normal(5.0, 2.0, size=300)
    parts = [ss.Normal(m, 1.0).summarize(p, accumulate=False)
             for m, p in zip([-3.0, 5.0, 40.0], np.split(x, [100, 200]))]
    whole = ss.Normal(5.0, 1.0).summarize(x, accumulate=False)
    assert whole.allclose(sum(parts), rtol=1e-12, atol=1e-9)


def test_categorical_records_of_different_lengths_pad():
    a = ss.CategoricalStats(counts=[1.0, 2.0])
    b = ss.CategoricalStats(counts=[0.0, 1.0, 4.0])
    np.testing.assert_array_equal((a + b).counts, [1.0, 3.0, 4.0])


def test_uniform_records_combine_by_min_and_max():
    a = ss.Uniform().summarize([1.0, 3.0], accumulate=False)
    b = ss.Uniform().summarize([-2.0, 0.5], accumulate=False)
    s = a + b
    assert (float(s.low), float(s.high), s.weight) == (-2.0, 3.0, 4.0)
    z = a.zeros_like()
    assert (z + a).allclose(a, rtol=0, atol=0)


def test_mismatched_records_are_refused():
    a = ss.MultivariateNormal(np.zeros(2), np.eye(2)).summarize(np.ones((3, 2)), accumulate=False)
    b = ss.MultivariateNormal(np.zeros(3), np.eye(3)).summarize(np.ones((3, 3)), accumulate=False)
    with pytest.raises(ValueError, match="shapes"):
        a + b
    with pytest.raises(TypeError):
        a + 1
    with pytest.raises(TypeError, match="takes fields"):
        ss.CountStats(w_sum=1.0)


@pytest.mark.parametrize("full", [True, False])
def test_gaussian_mixture_records_summed_at_once_equal_their_left_to_right_sum(full):
    """GaussianMixtureStats.sum_of (stochastic VB's lap record) recentres every record at once."""
    rng = np.random.default_rng(7)
    k, d = 4, 3

    def record(j):
        X = rng.normal(size=(12, d)) + j
        r = rng.dirichlet(np.ones(k), size=12)
        r[:, 1] = 0.0 if j % 3 == 0 else r[:, 1]  # a component some records leave empty
        shift = rng.normal(size=(k, d))
        dev = X[None] - shift[:, None]
        s2 = np.einsum("nk,kni,knj->kij", r, dev, dev) if full else np.einsum("nk,kni->ki", r, dev ** 2)
        return ss.GaussianMixtureStats(w_sum=12.0, resp_sum=r.sum(0), log_likelihood=-3.0 * j, entropy=0.5 * j,
                                       xw_sum=np.einsum("nk,kni->ki", r, dev), xxw_sum=s2, shift=shift)

    records = [record(j) for j in range(9)]
    start = record(9)
    at_once = ss.GaussianMixtureStats.sum_of(records, start)
    assert type(at_once) is ss.GaussianMixtureStats and not at_once.xxw_sum.flags.writeable
    assert at_once.allclose(sum(records, start), rtol=1e-12, atol=1e-12)
    assert ss.GaussianMixtureStats.sum_of(records).allclose(sum(records[1:], records[0]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rho", [0.0, 0.3, 1.0])
def test_step_toward_is_the_blend_of_scaled_records(rho):
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(30, 2)) + 1.0
    models = [ss.Normal(0.0, 1.0), ss.MultivariateNormal(np.zeros(2), np.eye(2)),
              ss.GeneralMixtureModel([ss.MultivariateNormal(np.zeros(2), np.eye(2)),
                                      ss.MultivariateNormal(np.ones(2), np.eye(2))])]
    for model in models:
        data = (X[:, 0], Y[:, 0]) if isinstance(model, ss.Normal) else (X, Y)
        a, b = (model.summarize(x, accumulate=False) for x in data)
        assert a.step_toward(b, rho).allclose((1.0 - rho) * a + rho * b, rtol=0, atol=0)
        assert a.step_toward(b, rho, 7.5).allclose((1.0 - rho) * a + rho * (7.5 * b), rtol=0, atol=0)
