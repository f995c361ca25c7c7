"""Issue 14's benchmarks: DP mixtures with birth / merge moves, beside bnpy and scikit-learn.

``gallery`` (default): bnpy 0.1.7's two DP stages on AsteriskK8 (``sF=0.1``,
``ECovMat='eye'``, ``gamma0=1``), both starting from the same cold finite VB run (K=10,
``randexamples``, 25 laps; not timed):

1. memoized DP VB warm-started from the cold run, ``moves='birth,merge,shuffle',
   m_startLap=5, b_startLap=2, b_Kfresh=4``, one batch;
2. 100 points from ``RandomState(0).multivariate_normal([1, 1], 0.2 I)`` appended, warm
   start from stage 1, ``b_startLap=0``.

bnpy runs in a subprocess under its venv's python (``$BNPY_PYTHON``, else ``../bnpy-venv``;
see ``bench_vb_bnpy.py``); it always writes its run folder, so ours is timed writing one too
(``output_path``, a snapshot per lap and ``moves.csv``) and also without (``suffstat (no
folder)``). Rounds alternate the contenders; the table has laps, K, the loss (``-ELBO / (N
D)``), the median seconds and the ratio bnpy / suffstat.

``--stream``: a 2,000,000 x 10 ``.npy`` (25 Gaussian clusters, random full covariances),
ours from a cold K=5 ``randexamples`` DP start, memoized VB in batches of
``--batch-size`` rows with ``n_jobs=2`` and ``moves='birth,merge,shuffle'``; scikit-learn's
truncated DP ``BayesianGaussianMixture(n_components=50)`` on the array in memory (its
defaults: ``kmeans`` init, ``max_iter=100``, ``tol=1e-3``). Reported: the seconds until the
number of components with an expected count of at least 1 first equals the true 25 (ours
from ``history_``; scikit-learn's after the fit, counted at its end), the total seconds,
the final K and the ELBO per row under the same prior (scikit-learn's model scored by
our ELBO of its responsibilities' record), and peak RSS.

Usage: ``python benchmarks/bench_dp_moves.py [--rounds 3] | --stream [--rows 2000000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench_vb_bnpy import find_bnpy_python, find_data  # noqa: E402

STAGES = ("dp", "extra")
LABELS = {"dp": "DP memoVB from the cold run (K=8 expected)",
          "extra": "+100 points, warm from the DP run (K=9 expected)"}


def extra_points():
    return np.random.RandomState(0).multivariate_normal([1.0, 1.0], 0.2 * np.eye(2), size=100)


# -- bnpy (under the bnpy venv) ------------------------------------------------------------
def bnpy_worker(data_path, out_json):
    import inspect
    import logging

    if not hasattr(inspect, "getargspec"):  # bnpy 0.1.7 on Python 3.11
        inspect.getargspec = lambda f: tuple(inspect.getfullargspec(f)[:4])
    import bnpy

    X = np.load(data_path)["X"]
    ds = bnpy.data.XData(X)
    tmp = tempfile.TemporaryDirectory(prefix="bnpy-bench-")
    common = dict(sF=0.1, ECovMat="eye", printEvery=100, doWriteStdOut=False)
    res = {}

    def stage(name, data, *args, **kw):
        t = time.perf_counter()
        model, info = bnpy.run(data, *args, output_path=os.path.join(tmp.name, name), **common, **kw)
        res[name] = dict(seconds=time.perf_counter() - t, laps=float(info["lap_history"][-1]),
                         loss=float(info["loss_history"][-1]), K=int(info["K_history"][-1]))
        return info

    ci = stage("cold", ds, "FiniteMixtureModel", "Gauss", "VB", nLap=25, K=10, initname="randexamples")
    moves = dict(moves="birth,merge,shuffle", m_startLap=5, b_Kfresh=4, nTask=1, nBatch=1, nLap=100)
    di = stage("dp", ds, "DPMixtureModel", "Gauss", "memoVB", initname=ci["task_output_path"], b_startLap=2,
               **moves)
    comb = bnpy.data.XData(np.vstack([X, extra_points()]))
    stage("extra", comb, "DPMixtureModel", "Gauss", "memoVB", initname=di["task_output_path"], b_startLap=0,
          **moves)
    logging.getLogger("bnpy").handlers.clear()
    with open(out_json, "w") as f:
        json.dump(res, f)
    tmp.cleanup()


def bnpy_round(py, data_path):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bnpy.json")
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        p = subprocess.run([py, os.path.abspath(__file__), "--bnpy-worker", data_path, out], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"bnpy worker failed:\n{p.stderr[-3000:]}")
        with open(out) as f:
            return json.load(f)


# -- suffstat -----------------------------------------------------------------------------
def suffstat_round(ss, X, folder: bool, seed=0):
    N, D = X.shape
    finite = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
    dp = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", gamma=1.0, dp=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 25 laps, tol=0: not converged, as in bnpy
        cold = ss.BayesianGaussianMixture(n_components=10, init_params="randexamples", random_state=seed,
                                          max_iter=25, tol=0.0, reg_covar=0.0, **finite).fit(X)
    kw = dict(n_components=10, reg_covar=0.0, algorithm="memoized", moves="birth,merge,shuffle",
              merge_start_lap=5, birth_n_fresh=4, max_iter=100, convergence="counts", **dp)
    res = {}
    with tempfile.TemporaryDirectory() as d:
        def stage(name, data, **more):
            t = time.perf_counter()
            est = ss.BayesianGaussianMixture(**kw, **more, output_path=os.path.join(d, name) if folder else None)
            est.fit(data)
            res[name] = dict(seconds=time.perf_counter() - t, laps=float(est.n_iter_),
                             loss=float(est.history_[-1]["loss"]), K=int(est.n_components_))
            return est

        first = stage("dp", X, init_params=cold, birth_start_lap=2)
        stage("extra", np.vstack([X, extra_points()]), init_params=first, birth_start_lap=0)
    return res


def gallery(args):
    data = find_data()
    if data is None:
        print("AsteriskK8 not found (../shared/data/asterisk_k8.npz or $SUFFSTAT_ASTERISK): nothing to do")
        return 0
    X = np.load(data)["X"]
    sys.path.insert(0, ROOT)
    import suffstat as ss

    py = find_bnpy_python()
    contenders = [("suffstat", lambda: suffstat_round(ss, X, True)),
                  ("suffstat (no folder)", lambda: suffstat_round(ss, X, False))]
    if py is not None:
        contenders.insert(0, ("bnpy", lambda: bnpy_round(py, data)))
    suffstat_round(ss, X, False)  # JIT compilation outside the timed rounds
    rounds = {name: [] for name, _ in contenders}
    for r in range(args.rounds):
        k = r % len(contenders)
        for name, fn in contenders[k:] + contenders[:k]:
            rounds[name].append(fn())
    print(f"# bnpy gallery DP stages on AsteriskK8 ({X.shape[0]} x {X.shape[1]}), median of {args.rounds} "
          f"alternating rounds; load average before: {os.getloadavg()[0]:.2f}")
    print("| stage | contender | laps | K | loss | seconds | bnpy / this |")
    print("|---|---|---|---|---|---|---|")
    for st in STAGES:
        med = {n: statistics.median(r[st]["seconds"] for r in rs) for n, rs in rounds.items()}
        for name, rs in rounds.items():
            v = rs[-1][st]
            ratio = f"{med['bnpy'] / med[name]:.1f}x" if "bnpy" in med and name != "bnpy" else "-"
            print(f"| {LABELS[st]} | {name} | {v['laps']:g} | {v['K']} | {v['loss']:.7f} | {med[name]:.3f} "
                  f"| {ratio} |")
    both = {n: statistics.median(r["dp"]["seconds"] + r["extra"]["seconds"] for r in rs) for n, rs in rounds.items()}
    if "bnpy" in both:
        print("both stages: " + ", ".join(f"{n} {s:.3f} s ({both['bnpy'] / s:.1f}x)" for n, s in both.items()
                                          if n != "bnpy") + f"; bnpy {both['bnpy']:.3f} s")
    return 0


# -- the 2M x 10 stream -------------------------------------------------------------------------
def make_stream(path, n, seed=0, k=25, d=10):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, (k, d))
    A = rng.normal(0, 0.5, (k, d, d))
    chol = np.linalg.cholesky(A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d))
    weights = rng.dirichlet(np.full(k, 5.0))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    for start in range(0, n, 500_000):
        m = min(n, start + 500_000) - start
        z = rng.choice(k, m, p=weights)
        out[start:start + m] = means[z] + np.einsum("nij,nj->ni", chol[z], rng.normal(size=(m, d)))
    out.flush()
    del out


def elbo_per_row(ss, prior, X, resp_fn, batch=200_000):
    """Our ELBO per row of the record that ``resp_fn`` (rows -> responsibilities) gives."""
    from suffstat.statistics import GaussianMixtureStats, MixtureStats

    total = None
    comps = None
    for s in range(0, len(X), batch):
        x = np.ascontiguousarray(X[s:s + batch])
        r = resp_fn(x)
        if comps is None:
            comps = [ss.priors.NormalWishart(prior["mean_prior"], prior["covariance_prior"],
                                             mean_precision_prior=prior["mean_precision_prior"],
                                             degrees_of_freedom_prior=prior["degrees_of_freedom_prior"])
                     for _ in range(r.shape[1])]
        parts = [c.summarize(x, np.ascontiguousarray(r[:, j]), accumulate=False) for j, c in enumerate(comps)]
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -float(np.sum(np.where(r > 0, r * np.log(np.where(r > 0, r, 1.0)), 0.0)))
        rec = GaussianMixtureStats.from_parts(MixtureStats(w_sum=float(len(x)), resp_sum=r.sum(0),
                                                           log_likelihood=0.0, entropy=ent, parts=parts))
        total = rec if total is None else total + rec
    keep = np.flatnonzero(total.resp_sum > 0)
    mix = ss.BayesianMixture([comps[j] for j in keep], weight_concentration_prior=prior["weight_concentration_prior"])
    rec = GaussianMixtureStats(w_sum=total.w_sum, resp_sum=total.resp_sum[keep], log_likelihood=0.0,
                               entropy=total.entropy, xw_sum=total.xw_sum[keep], xxw_sum=total.xxw_sum[keep],
                               shift=total.shift[keep])
    return mix._elbo_at_step(rec) / len(X)


def stream(args):
    sys.path.insert(0, ROOT)
    import suffstat as ss

    path = os.path.join(args.workdir, f"dp_stream_{args.rows}.npy")
    if not os.path.exists(path):
        make_stream(path, args.rows)
    X = np.load(path, mmap_mode="r")
    for s in range(0, len(X), 1_000_000):  # warm the page cache before timing a stream over it
        float(np.asarray(X[s:s + 1_000_000]).sum())
    D = X.shape[1]
    prior = ss.BayesianGaussianMixture.bnpy_prior(D, sF=1.0, ECovMat="eye", gamma=1.0, dp=True)
    print(f"# {len(X):,} x {D} stream, 25 true clusters; load average before: {os.getloadavg()[0]:.2f}")
    print("| contender | seconds to K = 25 | seconds | laps / iterations | final K | ELBO per row | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|", flush=True)
    if not args.no_suffstat:
        stream_ours(ss, X, prior, args)
    if not args.no_sklearn:
        stream_sklearn(ss, X, prior, args)
    return 0


def stream_ours(ss, X, prior, args):
    t = time.perf_counter()
    ours = ss.BayesianGaussianMixture(n_components=5, init_params="randexamples", random_state=0,
                                      algorithm="memoized", batch_size=args.batch_size, n_jobs=2,
                                      moves="birth,merge,shuffle", convergence="counts", max_iter=100,
                                      reg_covar=0.0, **prior).fit(X)
    ours_s = time.perf_counter() - t
    to_k = next((h["elapsed"] for h in ours.history_ if h["K"] == 25), float("nan"))
    ours_elbo = ours.history_[-1]["elbo"] / len(X)
    ours_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| suffstat memoVB, K=5 cold, batches of {args.batch_size:,}, n_jobs=2 | {to_k:.1f} | {ours_s:.1f} "
          f"| {ours.n_iter_} | {ours.n_components_} | {ours_elbo:.6f} | {ours_rss:.0f} |", flush=True)


def stream_sklearn(ss, X, prior, args):
    from sklearn.mixture import BayesianGaussianMixture

    Xm = np.ascontiguousarray(X)
    sk = BayesianGaussianMixture(n_components=50, weight_concentration_prior_type="dirichlet_process",
                                 weight_concentration_prior=1.0, mean_precision_prior=prior["mean_precision_prior"],
                                 mean_prior=prior["mean_prior"], degrees_of_freedom_prior=prior["degrees_of_freedom_prior"],
                                 covariance_prior=prior["covariance_prior"], random_state=0, max_iter=args.sk_iter,
                                 verbose=2, verbose_interval=1)  # its per-iteration times, in case it is cut
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(Xm)
    sk_s = time.perf_counter() - t
    counts = sk.weights_ * len(X)
    sk_k = int(np.count_nonzero(counts >= 1.0))
    sk_elbo = elbo_per_row(ss, prior, X, sk.predict_proba)
    sk_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| scikit-learn BGM(n_components=50), in memory | {sk_s if sk_k == 25 else float('nan'):.1f} "
          f"| {sk_s:.1f} | {sk.n_iter_} | {sk_k} | {sk_elbo:.6f} | {sk_rss:.0f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--batch-size", type=int, default=200_000)
    ap.add_argument("--sk-iter", type=int, default=100)
    ap.add_argument("--no-sklearn", action="store_true")
    ap.add_argument("--no-suffstat", action="store_true")
    ap.add_argument("--workdir", default=tempfile.gettempdir())
    ap.add_argument("--bnpy-worker", nargs=2, metavar=("DATA", "OUT_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bnpy_worker:
        return bnpy_worker(*args.bnpy_worker)
    return stream(args) if args.stream else gallery(args)


if __name__ == "__main__":
    sys.exit(main())
