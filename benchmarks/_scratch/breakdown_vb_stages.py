"""Where the time of a bench_vb_bnpy.py stage goes: wall time of a few wrapped functions (scratch).

Wraps (inclusive times, summed per fit): the engine's run loop, the passes, the E-step kernel,
the objective and the update. Usage: python benchmarks/_scratch/breakdown_vb_stages.py [--reps 30]
"""
import argparse
import collections
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
import suffstat.fitting.driver as D  # noqa: E402
import suffstat.mixtures.bayesian as BM  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--reps", type=int, default=30)
ap.add_argument("--stage", default=None)
args = ap.parse_args()
acc = collections.defaultdict(float)


def wrap(owner, name, label):
    f = getattr(owner, name)

    def g(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            acc[label] += time.perf_counter() - t
    setattr(owner, name, g)


wrap(D.EMRun, "run", "engine run")
wrap(D.EMRun, "_pass", "passes")
wrap(BM, "gmm_full_estep", "kernel")
wrap(D, "summarize_batch", "local step")
wrap(D, "apply_update", "global step")
wrap(BM.BayesianMixture, "objective", "objective")
wrap(D.EMRun, "_log_pass", "log pass")
import suffstat.fitting.fit as F  # noqa: E402
import suffstat.mixtures.bayesian_gaussian as BG  # noqa: E402
import suffstat.fitting.init as I  # noqa: E402
wrap(BG, "_bnpy_randexamples", "randexamples")
wrap(I, "start_from_rows", "from rows")
wrap(BG.BayesianGaussianMixture, "_set_fitted", "set fitted")
wrap(BG.BayesianGaussianMixture, "_learner", "learner")
wrap(BG.BayesianGaussianMixture, "_priors", "priors")
wrap(F, "prepare", "prepare")
wrap(BM.BayesianMixture, "fit", "learner fit")
wrap(F, "fit_learner", "fit_learner")
import suffstat.statistics as ST  # noqa: E402
wrap(ST.Statistic, "step_toward", "blend")
wrap(D.EMRun, "_stepwise", "stepwise")
wrap(BM.BayesianMixture, "_propose", "propose")
wrap(BM.BayesianMixture, "_set_params", "set params")
wrap(BM.BayesianMixture, "_check_stats", "check stats")

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
for name in [args.stage] if args.stage else STAGES:
    fit = lambda: ss.BayesianGaussianMixture(**common, **STAGES[name]).fit(X)  # noqa: E731
    fit()
    per = collections.defaultdict(list)
    for _ in range(args.reps):
        acc.clear()
        t = time.perf_counter()
        fit()
        acc["fit"] = time.perf_counter() - t
        for key, v in acc.items():
            per[key].append(v)
    print(f"== {name} (median ms per fit over {args.reps})")
    for key in ("fit", "priors", "learner", "randexamples", "from rows", "learner fit", "fit_learner", "prepare",
                "engine run", "passes", "local step", "kernel", "global step", "objective", "log pass", "set fitted", "stepwise", "blend", "propose", "set params",
                "check stats"):
        if key in per:
            print(f"  {key:12s} {statistics.median(per[key]) * 1e3:8.3f}")
