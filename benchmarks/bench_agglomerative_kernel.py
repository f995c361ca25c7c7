"""Issue 16: the agglomerative kernel of this tree against the kernel of an earlier revision.

Both kernels run the faddc rule (centroid linkage) over the same Gaussian-blob stream
from empty slots, in this process, after a warm-up (compilation not counted). Each
round times every contender once, in alternating order (forwards on even rounds,
backwards on odd ones), and the table reports the median over the rounds of the
points per second and of the per-round speed-up. The slots of both kernels are
compared bitwise at the end of every configuration.

The earlier kernel is read with ``git show REV:suffstat/kernels/agglomerative.py``
(its ``from ._jit import kernel`` pointed at this tree's decorator), so the
comparison is of the kernels alone; the estimator around them adds nothing
measurable at these sizes.

    python benchmarks/bench_agglomerative_kernel.py --baseline 7ef5b88 [--rounds 7] [--n 200000]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from suffstat.kernels import agglomerative as current  # noqa: E402


def blobs(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 10.0, (k, d))
    return centers[rng.integers(k, size=n)] + rng.normal(size=(n, d))


def load_baseline(rev):
    src = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:suffstat/kernels/agglomerative.py"],
                         capture_output=True, text=True, check=True).stdout
    src = src.replace("from ._jit import kernel", "from suffstat.kernels._jit import kernel")
    folder = tempfile.mkdtemp(prefix="agglo-baseline-")
    path = os.path.join(folder, "agglo_baseline.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("agglo_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def runner(mod):
    """``run(X, k) -> (seconds, counts, means, scatter)`` for a kernel module of either signature."""
    params = list(inspect.signature(mod.agglomerate.py_func).parameters)

    def run(X, k):
        cap, d = k + 1, X.shape[1]
        counts, means, scatter = np.zeros(cap), np.zeros((cap, d)), np.zeros((cap, d, d))
        nn, nnd = np.full(cap, -1, dtype=np.int64), np.full(cap, np.inf)
        if "D" in params:  # this tree: weights, transposed means and the cost matrix
            cols, D = np.zeros((d, cap)), np.zeros((cap, cap))
            t = time.perf_counter()
            m, _ = mod.agglomerate(X, np.empty(0), counts, means, scatter, cols, D, nn, nnd, 0, k,
                                   False, False)
        else:  # the kernel of issue 16's first round
            t = time.perf_counter()
            m, _ = mod.agglomerate(X, counts, means, scatter, nn, nnd, 0, k, False, False)
        return time.perf_counter() - t, counts[:m], means[:m], scatter[:m]

    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="git revision of the earlier kernel")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--n", type=int, default=200_000)
    args = p.parse_args()
    contenders = [(f"kernel at {args.baseline}", runner(load_baseline(args.baseline))),
                  ("this tree", runner(current))]
    print(f"faddc, centroid linkage, {args.n:,} points, median of {args.rounds} alternating rounds; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'k':>4} {'d':>3}  {contenders[0][0]:>22}  {'this tree':>12}  speed-up (min-max)  same slots")
    for d in (2, 10):
        for k in (8, 32, 128):
            X = blobs(args.n, d, k)
            for _, run in contenders:
                run(X[:2000], k)  # compile
            secs = {name: [] for name, _ in contenders}
            outs = {}
            for r in range(args.rounds):
                for name, run in (contenders if r % 2 == 0 else contenders[::-1]):
                    el, *out = run(X, k)
                    secs[name].append(el)
                    outs[name] = out
            (n0, _), (n1, _) = contenders
            ratio = np.array(secs[n0]) / np.array(secs[n1])
            same = all(np.array_equal(a, b) for a, b in zip(outs[n0], outs[n1], strict=True))
            r0, r1 = args.n / np.median(secs[n0]), args.n / np.median(secs[n1])
            print(f"{k:4d} {d:3d}  {r0:20,.0f}/s  {r1:10,.0f}/s  {np.median(ratio):5.2f}x "
                  f"({ratio.min():.2f}-{ratio.max():.2f})  {same}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
