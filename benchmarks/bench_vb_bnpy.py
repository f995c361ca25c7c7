"""Issue 13's gallery stages beside bnpy 0.1.7: cold VB, warm VB, warm soVB on AsteriskK8.

Stages (bnpy's own warm-start gallery, ``../shared/peers/bnpy/gallery.py``), prior
``sF=0.1, ECovMat='eye'`` (``covariance_prior = 0.1 I``, ``degrees_of_freedom_prior = 4``,
``mean_precision_prior = 1e-4``, ``mean_prior = 0``), finite mixture ``gamma = 1``:

1. cold VB: K=10, ``randexamples``, 25 laps;
2. warm VB from stage 1, up to 100 laps (bnpy stops when max |delta N_k| < 0.05);
3. warm soVB from stage 1: 500 batches of 10 rows, 5 laps, ``rhoexp=0.55, rhodelay=1``.

bnpy runs in a subprocess with the python of a venv holding bnpy (``$BNPY_PYTHON``, else
``../bnpy-venv/bin/python`` or ``../../bnpy-venv/bin/python`` from the repository); it is
skipped with a note when there is none. suffstat runs in this process through
``ss.BayesianGaussianMixture`` (skipped with a note while it does not exist). The rounds
alternate the contenders (the first one rotates) and the table reports, per stage, the laps,
K, the loss (bnpy's ``-ELBO / (N D)``; ours from ``model.elbo_``), the median seconds of the
rounds and the ratio bnpy / suffstat.

bnpy's finite-mixture losses carry the offset of its 0.1.7 bug (``FiniteMixtureModel.
calc_evidence`` calls ``Lalloc`` without ``gamma``, so ``gamma=0.5`` enters); the column
``loss as bnpy`` adds that offset to ours, ``(c_Dir(gamma/K 1) - c_Dir(0.5/K 1) + (gamma -
0.5)/K sum_k E[log w_k]) / (N D)`` subtracted from our ELBO, so the two columns compare.

Seeds: bnpy's run seed of ``taskid=1`` is ``1607680`` (``Runner.createUniqueRandomSeed``); the
same integer is our ``random_state``, and bnpy's ``randexamples`` is
``RandomState(seed).permutation(N)[:K]``. soVB: bnpy's rate of update ``t = 1, 2, ...`` is
``(t + rhodelay) ** -rhoexp`` = ``ss.steps.PowerDecay(kappa=rhoexp, delay=rhodelay)``.

Usage: ``python benchmarks/bench_vb_bnpy.py [--rounds 3] [--json out.json] [--bnpy-only]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SEED = 1607680  # bnpy: Runner.createUniqueRandomSeed('none', taskID=1)
RHOEXP, RHODELAY = 0.55, 1.0
STAGES = ("cold_vb", "warm_vb", "warm_sovb")
LABELS = {"cold_vb": "cold VB, K=10, randexamples, 25 laps",
          "warm_vb": "warm VB from the cold run",
          "warm_sovb": "warm soVB, 500 batches of 10, 5 laps"}


def _up(*parts):
    for up in ((), ("..",)):
        p = os.path.normpath(os.path.join(ROOT, "..", *up, *parts))
        if os.path.exists(p):
            return p
    return None


def find_data():
    return os.environ.get("SUFFSTAT_ASTERISK") or _up("shared", "data", "asterisk_k8.npz")


def find_bnpy_python():
    p = os.environ.get("BNPY_PYTHON")
    if p:
        return p if os.path.exists(p) else None
    return _up("bnpy-venv", "bin", "python")


# -- the bnpy side (runs under the bnpy venv's python: numpy + bnpy only) -------------------


def bnpy_worker(data_path, out_json, trace):
    import inspect
    import logging

    if not hasattr(inspect, "getargspec"):  # bnpy 0.1.7 on Python 3.11
        inspect.getargspec = lambda f: tuple(inspect.getfullargspec(f)[:4])
    import bnpy

    X = np.load(data_path)["X"]
    ds = bnpy.data.XData(X)
    tmp = tempfile.TemporaryDirectory(prefix="bnpy-bench-")
    out = tmp.name
    common = dict(sF=0.1, ECovMat="eye", printEvery=1 if trace else 100, doWriteStdOut=trace)
    res = {}

    def stage(name, *args, **kw):
        t = time.perf_counter()
        model, info = bnpy.run(ds, *args, output_path=os.path.join(out, name), **common, **kw)
        el = time.perf_counter() - t
        res[name] = dict(seconds=el, laps=float(info["lap_history"][-1]),
                         loss=float(info["loss_history"][-1]), K=int(info["K_history"][-1]),
                         status=info["status"])
        return info

    ci = stage("cold_vb", "FiniteMixtureModel", "Gauss", "VB", nLap=25, K=10,
               initname="randexamples")
    stage("warm_vb", "FiniteMixtureModel", "Gauss", "VB", nLap=100, initname=ci["task_output_path"])
    stage("warm_sovb", "FiniteMixtureModel", "Gauss", "soVB", nLap=5, nTask=1, nBatch=500,
          rhoexp=RHOEXP, rhodelay=RHODELAY, initname=ci["task_output_path"])
    logging.getLogger("bnpy").handlers.clear()
    with open(out_json, "w") as f:
        json.dump(res, f)
    tmp.cleanup()


def run_bnpy_round(py, data_path, trace=False):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bnpy.json")
        cmd = [py, os.path.abspath(__file__), "--bnpy-worker", data_path, out]
        if trace:
            cmd.append("--trace")
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        p = subprocess.run(cmd, env=env, stdout=None if trace else subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"bnpy worker failed:\n{p.stderr[-3000:]}")
        with open(out) as f:
            return json.load(f)


# -- our side ------------------------------------------------------------------------------


def finite_bug_offset(model, N, D, gamma=1.0):
    """What to add to our finite-mixture loss to get bnpy's for the same state (its 0.5 bug).

    ``loss_bnpy = -(elbo_ours - diff) / (N D) = loss_ours + diff / (N D)``.
    """
    from scipy.special import digamma, gammaln

    theta = np.asarray(model.weight_concentration_, dtype=float)
    K = theta.size

    def c_dir(a):
        return gammaln(a.sum()) - gammaln(a).sum()

    Elogw = digamma(theta) - digamma(theta.sum())
    ours_minus_bnpy = (c_dir(gamma / K * np.ones(K)) - c_dir(0.5 / K * np.ones(K))
                       + (gamma - 0.5) / K * Elogw.sum())
    return ours_minus_bnpy / (N * D)


def suffstat_round(ss, X):
    N, D = X.shape
    kw = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
    # bnpy has no reg_covar; its cold and soVB stages run a fixed number of laps and its
    # warm VB stops on the counts (max |delta N_k| < 0.05)
    common = dict(n_components=10, covariance_type="full", reg_covar=0.0, random_state=SEED, **kw)
    res = {}

    def stage(name, **fit_kw):
        t = time.perf_counter()
        model = ss.BayesianGaussianMixture(**common, **fit_kw).fit(X)
        el = time.perf_counter() - t
        loss = -float(model.elbo_) / (N * D)
        K = int(getattr(model, "n_components_", np.size(model.weights_)))
        res[name] = dict(seconds=el, laps=float(model.n_iter_), loss=loss, K=K,
                         loss_as_bnpy=loss + finite_bug_offset(model, N, D))
        return model

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixed lap counts: not converging is expected
        cold = stage("cold_vb", init_params="randexamples", algorithm="vb", max_iter=25, tol=0.0)
        stage("warm_vb", init_params=cold, algorithm="vb", max_iter=100, convergence="counts")
        stage("warm_sovb", init_params=cold, algorithm="stochastic", batch_size=10, tol=0.0,
              step=ss.steps.PowerDecay(kappa=RHOEXP, delay=RHODELAY), max_iter=5)
    return res


# -- driver --------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--bnpy-only", action="store_true", help="skip suffstat")
    ap.add_argument("--trace", action="store_true", help="print bnpy's per-lap trace (first round)")
    ap.add_argument("--bnpy-worker", nargs=2, metavar=("DATA", "OUT_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bnpy_worker:
        return bnpy_worker(*args.bnpy_worker, trace=args.trace)

    data = find_data()
    if data is None:
        print("AsteriskK8 not found (../shared/data/asterisk_k8.npz or $SUFFSTAT_ASTERISK): "
              "nothing to do")
        return 0
    X = np.load(data)["X"]
    py = find_bnpy_python()
    notes = []
    if py is None:
        notes.append("bnpy: skipped (no venv python; set BNPY_PYTHON, see ../shared/peers/bnpy/)")
    ss = None
    if not args.bnpy_only:
        if ROOT not in sys.path:
            sys.path.insert(0, ROOT)
        import suffstat as ss_mod

        if hasattr(ss_mod, "BayesianGaussianMixture"):
            ss = ss_mod
        else:
            print("suffstat BayesianGaussianMixture not available")
            notes.append("suffstat: skipped (ss.BayesianGaussianMixture not available)")

    contenders = []
    if py is not None:
        contenders.append(("bnpy", lambda r: run_bnpy_round(py, data, trace=args.trace and r == 0)))
    if ss is not None:
        contenders.append(("suffstat", lambda r: suffstat_round(ss, X)))
    if ss is not None:  # warm-up (JIT compilation) outside the timed rounds
        suffstat_round(ss, X)
    rounds = {name: [] for name, _ in contenders}
    for r in range(args.rounds):
        k = r % max(1, len(contenders))
        for name, fn in contenders[k:] + contenders[:k]:
            rounds[name].append(fn(r))

    rows = []
    for st in STAGES:
        per = {}
        for name, rs in rounds.items():
            if rs:
                last = rs[-1][st]
                per[name] = dict(last, seconds=statistics.median(x[st]["seconds"] for x in rs),
                                 times=[x[st]["seconds"] for x in rs])
        rows.append((st, per))

    print(f"# AsteriskK8 gallery stages ({X.shape[0]} x {X.shape[1]}), median of {args.rounds} "
          f"alternating rounds; bnpy python: {py or '-'}")
    hdr = "| stage | contender | laps | K | loss | loss as bnpy | seconds | bnpy / suffstat |"
    print(hdr)
    print("|" + "|".join("---" for _ in range(hdr.count("|") - 1)) + "|")
    for st, per in rows:
        for name, v in per.items():
            ratio = "-"
            if name == "bnpy" and "suffstat" in per and per["suffstat"]["seconds"] > 0:
                ratio = f"{v['seconds'] / per['suffstat']['seconds']:.1f}x"
            lab = v.get("loss_as_bnpy", v["loss"])
            print(f"| {LABELS[st]} | {name} | {v['laps']:g} | {v['K']} | {v['loss']:.9g} "
                  f"| {lab:.9g} | {v['seconds']:.3f} | {ratio} |")
    for n in notes:
        print("note:", n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rounds=rounds, notes=notes), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
