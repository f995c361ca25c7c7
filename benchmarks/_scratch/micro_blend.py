"""Time GaussianMixtureStats.step_toward on soVB-sized records (k = 10, d = 2) (scratch)."""
import statistics
import time

import numpy as np

import suffstat as ss

rng = np.random.default_rng(0)
k, d = 10, 2


def rec(n, shift):
    xw = rng.normal(size=(k, d))
    A = rng.normal(size=(k, d, d))
    return ss.GaussianMixtureStats(w_sum=float(n), resp_sum=rng.random(k) * n / k, log_likelihood=-3.0 * n,
                                   entropy=0.5 * n, xw_sum=xw, xxw_sum=A @ A.transpose(0, 2, 1), shift=shift)


S = rec(5000, rng.normal(size=(k, d)))
T = rec(10, rng.normal(size=(k, d)))


def t(fn, reps=20000):
    fn()
    ts = []
    for _ in range(7):
        a = time.perf_counter()
        for _ in range(reps):
            fn()
        ts.append((time.perf_counter() - a) / reps)
    return statistics.median(ts) * 1e6


print(f"step_toward: {t(lambda: S.step_toward(T, 0.01, 500.0)):.2f} us")
ref = (1 - 0.01) * S + 0.01 * (500.0 * T)
assert S.step_toward(T, 0.01, 500.0).allclose(ref, rtol=0, atol=0)

# the learner's kernel blend against the records' algebra (bits)
from suffstat.mixtures.bayesian import BayesianMixture  # noqa: E402

blend = BayesianMixture.step_toward
for rho, scale in ((0.01, 500.0), (0.3, 1.0), (0.9, 3.0)):
    for T2 in (T, rec(10, S.shift), rec(4000, rng.normal(size=(k, d)))):
        mine, theirs = blend(None, S, T2, rho, scale), S.step_toward(T2, rho, scale)
        for f in mine._fields:
            assert np.array_equal(getattr(mine, f), getattr(theirs, f)), f
        assert (mine.shift is S.shift) == (theirs.shift is S.shift)
print(f"learner blend: {t(lambda: blend(None, S, T, 0.01, 500.0)):.2f} us (same bits)")
