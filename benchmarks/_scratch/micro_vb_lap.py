"""Time the pieces of one batch VB lap at AsteriskK8 (5000 x 2, K = 10) outside the kernel (scratch)."""
import os
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_vb_bnpy as B  # noqa: E402
import suffstat as ss  # noqa: E402
from suffstat.fitting.driver import summarize_batch  # noqa: E402

X = np.load(B.find_data())["X"]
kw = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
warnings.simplefilter("ignore")
common = dict(n_components=10, covariance_type="full", reg_covar=0.0, random_state=B.SEED, **kw)
cold = ss.BayesianGaussianMixture(**common, init_params="randexamples", algorithm="vb", max_iter=25, tol=0.0).fit(X)
m = cold.model_.copy()


def t(fn, reps=2000):
    fn()
    ts = []
    for _ in range(5):
        a = time.perf_counter()
        for _ in range(reps):
            fn()
        ts.append((time.perf_counter() - a) / reps)
    return statistics.median(ts) * 1e6


S = summarize_batch(X, None, m)
P = m.propose(S)
print(f"local step  {t(lambda: summarize_batch(X, None, m), 300):.2f} us")
print(f"propose     {t(lambda: m.propose(S)):.2f} us")
print(f"commit      {t(lambda: m.commit(P)):.2f} us")
print(f"objective   {t(lambda: m.objective(S)):.2f} us")
print(f"trace       {t(lambda: m.trace_values()):.2f} us")
est = ss.BayesianGaussianMixture(**common, init_params="randexamples", algorithm="vb", max_iter=25, tol=0.0)
print(f"cold fit    {t(lambda: ss.BayesianGaussianMixture(**common, init_params='randexamples', algorithm='vb', max_iter=25, tol=0.0).fit(X), 30):.1f} us")
print(f"1-lap fit   {t(lambda: ss.BayesianGaussianMixture(**common, init_params='randexamples', algorithm='vb', max_iter=1, tol=0.0).fit(X), 100):.1f} us")
from suffstat.kernels.mixture import gmm_full_estep  # noqa: E402
run = m._fused_estep()[0]
w1 = np.ones(len(X))
print(f"  run closure {t(lambda: run(X, w1, m._log_weights, None), 300):.2f} us")
mm, U, ln = [np.ascontiguousarray(a) for a in (np.array([c.mean for c in m.distributions]),
                                                np.array([c._cache['U'] for c in m.distributions]),
                                                np.array([c._cache['log_norm'] for c in m.distributions]))]
k, d = mm.shape
print(f"  kernel      {t(lambda: gmm_full_estep(X, w1, m._log_weights, mm, U, ln, np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))), 300):.2f} us")
print(f"  np.ones     {t(lambda: np.ones(len(X))):.2f} us")
print(f"warm fit    {t(lambda: ss.BayesianGaussianMixture(**common, init_params=cold, algorithm='vb', max_iter=100, convergence='counts').fit(X), 30):.1f} us")
print(f"warm 1 lap  {t(lambda: ss.BayesianGaussianMixture(**common, init_params=cold, algorithm='vb', max_iter=1, convergence='counts').fit(X), 100):.1f} us")
