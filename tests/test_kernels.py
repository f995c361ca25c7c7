"""Numeric helpers of the fused kernels, against numpy."""

from __future__ import annotations

import numpy as np

from suffstat.kernels.vmath import exp_nonpositive as _exp_nonpositive
from suffstat.kernels.vmath import log_positive, total, weighted_deviation_sums


def test_vectorised_exp_is_within_two_ulps_of_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([-rng.exponential(1.0, 100_000), -rng.uniform(0, 708, 100_000),
                        [0.0, -0.0, -5e-324, -1e-300, -0.5 * np.log(2), -708.0]])
    out = np.empty_like(x)
    _exp_nonpositive(x, out, np.empty(len(x), np.int64))
    ref = np.exp(x)
    assert out[-6] == 1.0 and out[-5] == 1.0
    np.testing.assert_array_less(np.abs(out - ref), 2 * np.spacing(ref))


def test_vectorised_exp_flushes_what_is_below_the_normal_range():
    x = np.array([-708.5, -745.0, -1e300, -np.inf, np.nan])
    out = np.full(len(x), 7.0)
    _exp_nonpositive(x, out, np.empty(len(x), np.int64))
    np.testing.assert_array_equal(out, 0.0)


def test_vectorised_log_is_within_two_ulps_of_numpy():
    rng = np.random.default_rng(1)
    x = np.concatenate([1 + 15 * rng.random(100_000), np.exp(rng.uniform(-700, 700, 100_000)),
                        [1.0, 2.0, 0.5, np.sqrt(2), np.nextafter(np.sqrt(2), 2), 2.2250738585072014e-308,
                         np.finfo(float).max]])
    out = np.empty_like(x)
    log_positive(x, out, np.empty(len(x), np.int64))
    ref = np.log(x)
    assert out[-7] == 0.0 and out[-6] == ref[-6] and out[-5] == ref[-5]
    np.testing.assert_array_less(np.abs(out - ref), 2 * np.spacing(np.abs(ref)) + 1e-300)


def test_reassociated_sums_agree_with_numpy():
    rng = np.random.default_rng(2)
    r, x = rng.random(1001), rng.normal(3.0, 2.0, 1001)
    for m in (0, 1, 7, 8, 33, 1001):
        a, b = weighted_deviation_sums(r, x, 2.5, m)
        np.testing.assert_allclose(a, np.sum(r[:m] * (x[:m] - 2.5)), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(b, np.sum(r[:m] * (x[:m] - 2.5) ** 2), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(total(r, m), np.sum(r[:m]), rtol=1e-13, atol=0)
    assert np.isnan(total(np.array([1.0, np.nan, 2.0]), 3))


def test_full_estep_is_not_thrown_off_by_a_dead_component_far_away():
    """A component of negligible weight whose mean is far from the data (the stepped
    statistics of a dead component, seen in benchmarks/bench_algorithms.py with
    Adadelta: weight 2.5e-298, one mean coordinate 3e18) leaves the other components'
    records as they are without it. The fused E-step used to whiten every component
    about the plain mean of the means, which that coordinate moved to 4e17: all the
    records came out garbage (counts off by 70%, scatter matrices not positive
    definite)."""
    import suffstat as ss

    rng = np.random.default_rng(0)
    d = 10
    means = rng.normal(0, 4, size=(3, d))
    X = np.concatenate([m + rng.standard_normal((400, d)) for m in means])
    comps = [ss.MultivariateNormal(m, np.eye(d)) for m in means]
    far = means[0].copy()
    far[4] = 3e18
    dead = ss.MultivariateNormal(far, np.diag(np.r_[np.ones(d - 1), 1e30]))
    live = ss.GeneralMixtureModel(comps, weights=[0.3, 0.3, 0.4]).summarize(X, accumulate=False)
    with_dead = ss.GeneralMixtureModel(comps + [dead], weights=[0.3, 0.3, 0.4, 1e-298]).summarize(
        X, accumulate=False)
    assert with_dead.resp_sum[3] == 0.0
    np.testing.assert_allclose(with_dead.resp_sum[:3], live.resp_sum, rtol=1e-12)
    for a, b in zip(with_dead.parts[:3], live.parts, strict=True):
        np.testing.assert_allclose(a.xw_sum, b.xw_sum, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(a.xxw_sum, b.xxw_sum, rtol=1e-9, atol=1e-9)


def test_direct_full_estep_equals_the_gemm_kernel():
    """Up to DIRECT_MAX_D features the full-covariance E-step takes its direct path; on
    the same inputs the general (GEMM) kernel gives the same records to rounding: rows
    far from the origin, zero and fractional weights, a component far from the data."""
    from suffstat.kernels import mixture as M

    rng = np.random.default_rng(1)
    for d in range(1, M.DIRECT_MAX_D + 1):
        for n, k in [(7, 1), (1234, 3), (1501, 6)]:
            X = np.ascontiguousarray(rng.normal(size=(n, d)) * rng.uniform(0.5, 3, d) + 1e3)
            w = rng.uniform(0, 2, n)
            w[::5] = 0.0
            means = X[rng.choice(n, k)] + rng.normal(size=(k, d))
            means[-1] += 50.0 if k > 1 else 0.0
            prec = np.zeros((k, d, d))
            for c in range(k):
                A = rng.normal(size=(d, d))
                prec[c] = np.linalg.cholesky(np.linalg.inv(A @ A.T + d * np.eye(d))).T
            log_w = np.log(rng.dirichlet(np.ones(k)))
            log_norms = rng.normal(size=k)
            out = []
            for fn in (M._full_estep_direct, M._full_estep_gemm):
                r, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
                out.append((fn(X, w, log_w, means, prec, log_norms, r, s1, s2), r, s1, s2))
            (sa, ra, a1, a2), (sb, rb, b1, b2) = out
            assert sa[3] and sb[3]
            np.testing.assert_allclose(sa[:3], sb[:3], rtol=1e-12)
            np.testing.assert_allclose(ra, rb, rtol=1e-11, atol=1e-12 * n)
            np.testing.assert_allclose(a1, b1, rtol=1e-9, atol=1e-9 * np.abs(b1).max())
            np.testing.assert_allclose(a2, b2, rtol=1e-9, atol=1e-9 * np.abs(b2).max())
