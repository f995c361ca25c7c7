"""Alternating A/B timing of a Gaussian E-step kernel: a git revision against the working tree (scratch).

One core (BLAS pinned to 1 thread), blobs of n x d at the parameters after one EM update.
The revision's ``suffstat/kernels`` package is exported to a temporary folder and imported
under another name; prints both kernels' return values, the largest relative difference
of their statistics, then median / min times over alternating rounds.

Usage: python benchmarks/_scratch/ab_revision.py REV N D K {full|diag} [ROUNDS]
(e.g. ``ab_revision.py HEAD~3 557100 25 4 diag``).
"""
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import _common as C  # noqa: E402
from profile_w1 import kernel_args  # noqa: E402

import suffstat.kernels.mixture as current  # noqa: E402

rev, n, d, k, ctype = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 9
tmp = tempfile.mkdtemp()
pkg = os.path.join(tmp, "old_kernels")
os.makedirs(pkg)
files = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:suffstat/kernels"], cwd=ROOT,
                       capture_output=True, text=True, check=True).stdout.split()
for f in files:
    if f.endswith(".py"):
        src = subprocess.run(["git", "show", f"{rev}:suffstat/kernels/{f}"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        with open(os.path.join(pkg, f), "w") as fh:
            fh.write(src)
sys.path.insert(0, tmp)
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tmp, "numba"))
old = importlib.import_module("old_kernels.mixture")

name = f"gmm_{ctype}_estep"
X = C.blobs(n, d, 4, 4.0)
with threadpool_limits(1):
    model = C.suffstat_gmm(X, k, ctype)
    model.fit(X, max_iter=1, tol=None)
    args, outs = kernel_args(model, X, ctype)
    cont = [(rev, getattr(old, name)), ("working tree", getattr(current, name))]
    res = []
    for _, f in cont:
        o = list(outs())
        res.append((f(*args, *o), o))
    print("returns:", *(r for r, _ in res))
    print("largest relative difference of the statistics:",
          [float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(res[0][1], res[1][1])])
    times = {nm: [] for nm, _ in cont}
    for rnd in range(rounds):
        for nm, f in (cont if rnd % 2 == 0 else cont[::-1]):
            o = list(outs())
            t = time.perf_counter()
            f(*args, *o)
            times[nm].append(time.perf_counter() - t)
    for nm, _ in cont:
        print(f"{nm:14s} median {1e3 * statistics.median(times[nm]):8.2f} ms  min {1e3 * min(times[nm]):8.2f}")
