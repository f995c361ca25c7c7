"""Time the full-covariance E-step kernel and its parts at 5000 x 2, K = 10 (scratch)."""
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_vb_bnpy as B  # noqa: E402
from suffstat.kernels import mixture as M  # noqa: E402
from suffstat.kernels.vmath import exp_nonpositive  # noqa: E402

X = np.load(B.find_data())["X"]
n, d = X.shape
k = 10
rng = np.random.default_rng(0)
means = np.ascontiguousarray(X[rng.choice(n, k, replace=False)])
U = np.zeros((k, d, d))
for c in range(k):
    U[c] = np.linalg.cholesky(np.linalg.inv(np.cov(X.T) * 0.2)).T
lw = np.log(np.full(k, 1.0 / k))
ln = np.zeros(k)
w = np.ones(n)


def t(fn, reps=300):
    fn()
    ts = []
    for _ in range(reps):
        a = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - a)
    return statistics.median(ts) * 1e6


def est():
    rs, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    return M.gmm_full_estep(X, w, lw, means, U, ln, rs, s1, s2)


print(f"gmm_full_estep: {t(est):.1f} us")
q = -rng.random(n * k) * 20
o = np.empty_like(q)
wk = np.empty(n * k, np.int64)
print(f"exp_nonpositive over n k: {t(lambda: exp_nonpositive(q, o, wk)):.1f} us")
if hasattr(M, "gmm_full_estep_small"):
    print(f"gmm_full_estep_small: {t(lambda: M.gmm_full_estep_small(X, w, lw, means, U, ln, np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d)))):.1f} us")
