"""Alternating A/B timing of the library's E-step kernels against the prototypes (scratch).

Single core (BLAS pinned to 1 thread), W1 data (n=557100, d=25, k=4) at parameters after
one EM update; contenders alternate and rotate every round (the machine is shared and its
speed drifts), and the per-round ratio to the library kernel is reported.

Usage: python benchmarks/_scratch/ab_kernels.py [--rounds 9] [--k 4] [--d 25]
"""
import argparse, os, statistics, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE)); sys.path.insert(0, HERE)
import numpy as np
from threadpoolctl import threadpool_limits
import _common as C
import proto_kernels as P
from profile_w1 import kernel_args
from suffstat.kernels.mixture import gmm_diag_estep, gmm_full_estep

ap = argparse.ArgumentParser()
ap.add_argument("--rounds", type=int, default=9)
ap.add_argument("--k", type=int, default=4)
ap.add_argument("--d", type=int, default=25)
ap.add_argument("--n", type=int, default=557_100)
ap.add_argument("--cov", default="full,diag")
a = ap.parse_args()
X = C.blobs(a.n, a.d, 4, 4.0)
with threadpool_limits(1):
    for ctype, lib, protos in (
        ("full", gmm_full_estep, [("full_old (library < 7f16a61)", P.full_old),
                                  ("full_t (512)", P.full_t), ("full_t (2048)", P.full_t_big),
                                  ("full_cat (512)", P.full_cat),
                                  ("full_cat (2048)", P.full_cat_big)]),
        ("diag", gmm_diag_estep, [("diag_blk (256)", P.diag_blk), ("diag_gemm (512)", P.diag_gemm),
                                  ("diag_ct", P.diag_ct)]),
    ):
        if ctype not in a.cov.split(","):
            continue
        model = C.suffstat_gmm(X, a.k, ctype)
        model.fit(X, max_iter=1, tol=None)
        args, outs = kernel_args(model, X, ctype)
        cs = [C.Contender("library " + lib.__name__, lambda lib=lib: lib(*args, *outs()) and None)]
        cs += [C.Contender("proto " + nm, lambda fn=fn: fn(*args, *outs()) and None) for nm, fn in protos]
        res = C.run_rounds(cs, a.rounds, warmup=True, verbose=False)
        base = res[cs[0].name]
        import inspect
        print(f"\nlibrary kernel: {'full_t form (>= 7f16a61)' if 'acc = np.zeros' in inspect.getsource(lib.py_func) else 'two-GEMM form'}" if ctype == "full" else "")
        print(f"{ctype}, n={a.n}, d={a.d}, k={a.k}, 1 thread, {a.rounds} alternating rounds")
        print(f"{'kernel':<32}{'median':>10}{'min':>10}{'speed-up (median of per-round ratios)':>40}")
        for c in cs:
            r = res[c.name]
            ratios = [b / t for b, t in zip(base.times, r.times)]
            print(f"{c.name:<32}{C.fmt_time(r.median):>10}{C.fmt_time(r.min):>10}"
                  f"{statistics.median(ratios):>30.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})")
