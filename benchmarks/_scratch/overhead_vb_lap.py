"""Per-lap overhead of batch VB outside the E-step kernel: the kernel stubbed by a replay (scratch).

Usage: python benchmarks/_scratch/overhead_vb_lap.py [--profile]
"""
import cProfile
import os
import pstats
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_vb_bnpy as B  # noqa: E402
import suffstat as ss  # noqa: E402
import suffstat.mixtures.bayesian as BM  # noqa: E402

X = np.load(B.find_data())["X"]
kw = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
warnings.simplefilter("ignore")
common = dict(n_components=10, covariance_type="full", reg_covar=0.0, random_state=B.SEED, **kw)
real = BM.gmm_full_estep
saved = {}


def replay(X, w, lw, means, prec, ln, rs, s1, s2):
    if "out" not in saved:
        saved["out"] = real(X, w, lw, means, prec, ln, rs, s1, s2)
        saved["arrays"] = (rs.copy(), s1.copy(), s2.copy())
        return saved["out"]
    a, b, c = saved["arrays"]
    rs += a
    s1 += b
    s2 += c
    return saved["out"]


BM.gmm_full_estep = replay


def fit(n):
    return ss.BayesianGaussianMixture(**common, init_params="randexamples", algorithm="vb", max_iter=n,
                                      tol=0.0).fit(X)


def t(n, reps=50):
    fit(n)
    ts = []
    for _ in range(reps):
        a = time.perf_counter()
        fit(n)
        ts.append(time.perf_counter() - a)
    return statistics.median(ts) * 1e6


one, many = t(1), t(51)
print(f"kernel replayed: 1 lap {one:.0f} us, 51 laps {many:.0f} us: {(many - one) / 50:.1f} us per lap")
if "--profile" in sys.argv:
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(20):
        fit(51)
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(45)
