"""Numeric helpers of the fused kernels, against numpy."""

from __future__ import annotations

import numpy as np

from suffstat.kernels.mixture import _exp_nonpositive


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
