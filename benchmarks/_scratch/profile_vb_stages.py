"""Profile the three bench_vb_bnpy.py stages of suffstat (cProfile, or plain timings).

Usage: python benchmarks/_scratch/profile_vb_stages.py [--stage cold_vb] [--reps 20] [--profile]
"""
import argparse
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

ap = argparse.ArgumentParser()
ap.add_argument("--stage", default=None)
ap.add_argument("--reps", type=int, default=20)
ap.add_argument("--profile", action="store_true")
ap.add_argument("--sort", default="tottime")
ap.add_argument("--lines", type=int, default=45)
args = ap.parse_args()

X = np.load(B.find_data())["X"]
kw = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
common = dict(n_components=10, covariance_type="full", reg_covar=0.0, random_state=B.SEED, **kw)
warnings.simplefilter("ignore")
cold = ss.BayesianGaussianMixture(**common, init_params="randexamples", algorithm="vb", max_iter=25,
                                  tol=0.0).fit(X)
STAGES = {
    "cold_vb": dict(init_params="randexamples", algorithm="vb", max_iter=25, tol=0.0),
    "warm_vb": dict(init_params=cold, algorithm="vb", max_iter=100, convergence="counts"),
    "warm_sovb": dict(init_params=cold, algorithm="stochastic", batch_size=10, tol=0.0,
                      step=ss.steps.PowerDecay(kappa=B.RHOEXP, delay=B.RHODELAY), max_iter=5),
}
names = [args.stage] if args.stage else list(STAGES)
for name in names:
    fit = lambda: ss.BayesianGaussianMixture(**common, **STAGES[name]).fit(X)  # noqa: E731
    m = fit()
    if args.profile:
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(args.reps):
            fit()
        pr.disable()
        print(f"== {name}: {args.reps} fits")
        pstats.Stats(pr).sort_stats(args.sort).print_stats(args.lines)
    else:
        ts = []
        for _ in range(args.reps):
            t = time.perf_counter()
            fit()
            ts.append(time.perf_counter() - t)
        print(f"{name}: median {statistics.median(ts) * 1e3:.2f} ms, min {min(ts) * 1e3:.2f} ms "
              f"({args.reps} fits, {m.n_iter_} laps, elbo {m.elbo_!r})")
