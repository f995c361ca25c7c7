"""Time the pieces of one stochastic VB update at AsteriskK8 sizes (batches of 10 rows) (scratch)."""
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
from suffstat.fitting.driver import apply_update, summarize_batch  # noqa: E402

X = np.load(B.find_data())["X"]
kw = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
warnings.simplefilter("ignore")
cold = ss.BayesianGaussianMixture(n_components=10, covariance_type="full", reg_covar=0.0, random_state=B.SEED,
                                  **kw, init_params="randexamples", algorithm="vb", max_iter=25, tol=0.0).fit(X)
m = cold.model_.copy()
S = m.implied_statistics()
Xb = np.ascontiguousarray(X[:10])


def t(fn, reps=5000):
    fn()
    ts = []
    for _ in range(5):
        a = time.perf_counter()
        for _ in range(reps):
            fn()
        ts.append((time.perf_counter() - a) / reps)
    return statistics.median(ts) * 1e6


T = summarize_batch(Xb, None, m)
B2 = m.step_toward(S, T, 0.01, 500.0)
P = m.propose(B2)
print(f"local step  {t(lambda: summarize_batch(Xb, None, m)):.2f} us")
print(f"blend       {t(lambda: m.step_toward(S, T, 0.01, 500.0)):.2f} us")
print(f"propose     {t(lambda: m.propose(B2)):.2f} us")
print(f"commit      {t(lambda: m.commit(P)):.2f} us")
print(f"update      {t(lambda: apply_update(m, B2, None)):.2f} us")
if "--profile" in sys.argv:
    import cProfile
    import pstats
    for name, fn in (("local", lambda: summarize_batch(Xb, None, m)), ("propose", lambda: m.propose(B2)),
                     ("commit", lambda: m.commit(P))):
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(20000):
            fn()
        pr.disable()
        print("==", name)
        pstats.Stats(pr).sort_stats("tottime").print_stats(14)
sh = m._shared_prior()
from suffstat.statistics import GaussianMixtureStats  # noqa: E402
rs = np.asarray(B2.resp_sum)
print(f"  _batch_step     {t(lambda: sh._batch_step(rs, B2.shift, B2.xw_sum, B2.xxw_sum)):.2f} us")
print(f"  posterior       {t(lambda: sh._batch_posterior(rs, B2.shift, B2.xw_sum, B2.xxw_sum)):.2f} us")
post = sh._batch_posterior(rs, B2.shift, B2.xw_sum, B2.xxw_sum)
print(f"  factors         {t(lambda: sh._batch_factors(post)):.2f} us")
from scipy.special import digamma  # noqa: E402
nu = post["degrees_of_freedom"]
print(f"  digamma         {t(lambda: digamma(0.5 * (nu[:, None] + 1.0 - np.arange(1, 3, dtype=np.float64)))):.2f} us")
print(f"  concentration   {t(lambda: m._concentration_for(rs)):.2f} us")
print(f"  min/sum checks  {t(lambda: rs.size and rs.min() >= 0.0 and np.isfinite(rs.sum())):.2f} us")
print(f"  from_parts      {t(lambda: GaussianMixtureStats.from_parts(B2)):.2f} us")
print(f"  any frozen      {t(lambda: any(d.frozen for d in m.__dict__['_components'])):.2f} us")
