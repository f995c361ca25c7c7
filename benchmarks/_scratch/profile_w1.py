"""Where does suffstat spend one W1 EM iteration? (scratch profiling; not a benchmark script)

Breaks one in-memory iteration (``fit(X, max_iter=1, tol=None)``) into: input validation
(check_X: asarray + isfinite), weights, the fused numba kernel, statistics records, the
M-step (``_propose`` + ``_set_params``) and the rest (driver), then times the kernel with
scipy's OpenBLAS at 1 and 2 threads (numba's np.dot calls it), the CPU/wall ratio of the
kernel (whether BLAS threads are used) and the arithmetic bound. To time an older kernel
against the current one, use ``ab_revision.py``.

Usage: python benchmarks/_scratch/profile_w1.py [--n 557100] [--reps 7] [--k 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import _common as C  # noqa: E402

import suffstat as ss  # noqa: E402
from suffstat._validation import check_weights, check_X  # noqa: E402
from suffstat.kernels.mixture import gmm_diag_estep, gmm_full_estep  # noqa: E402
from suffstat.statistics import MixtureStats, MultivariateNormalStats  # noqa: E402


def timeit(fn, reps):
    ts, cpu = [], []
    fn()
    for _ in range(reps):
        C.wait_for_quiet(5.0)
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    i = int(np.argsort(ts)[len(ts) // 2])
    return statistics.median(ts), min(ts), cpu[i] / ts[i]


def kernel_args(model, X, ctype):
    dists = model.distributions
    k, d = len(dists), X.shape[1]
    means = np.ascontiguousarray([q.mean for q in dists])
    log_norms = np.array([q._log_norm for q in dists])
    w = np.ones(X.shape[0])
    if ctype == "full":
        par = np.ascontiguousarray([q._prec_chol for q in dists])
        outs = lambda: (np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d)))  # noqa: E731
    else:
        par = np.ascontiguousarray([q._inv_var for q in dists])
        outs = lambda: (np.zeros(k), np.zeros((k, d)), np.zeros((k, d)))  # noqa: E731
    return (X, w, model._log_weights, means, par, log_norms), outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=557_100)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--d", type=int, default=25)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--cov", default="full,diag")
    a = ap.parse_args()
    C.set_threads(2)
    X = C.blobs(a.n, a.d, 4, 4.0)
    n, d, k = X.shape[0], X.shape[1], a.k
    peak2 = C.gemm_peak_gflops(2)
    peak1 = C.gemm_peak_gflops(1)
    print(f"n={n} d={d} k={k}; GEMM peak {peak1:.1f} GFLOP/s (1 thread), {peak2:.1f} (2 threads)")
    for ctype in a.cov.split(","):
        print(f"\n=== {ctype} ===")
        model = C.suffstat_gmm(X, k, ctype)
        model.fit(X, max_iter=1, tol=None)  # realistic parameters (after one update)
        rows = []

        def one_iter():
            model.fit(X, max_iter=1, tol=None)

        t_iter, _, r_iter = timeit(one_iter, a.reps)
        rows.append(("fit(max_iter=1): one whole iteration", t_iter, r_iter))
        rows.append(("  check_X (asarray + isfinite + first-bad-row)",
                     *timeit(lambda: check_X(X, ndim=2, n_features=d, allow_empty=True), a.reps)[::2]))
        rows.append(("  check_weights(None) (np.ones)", *timeit(lambda: check_weights(None, n), a.reps)[::2]))
        args, outs = kernel_args(model, X, ctype)
        kern = gmm_full_estep if ctype == "full" else gmm_diag_estep
        t_k, t_kmin, r_k = timeit(lambda: kern(*args, *outs()), a.reps)
        rows.append(("  fused kernel (" + kern.__name__ + ")", t_k, r_k))
        rs, s1, s2 = outs()
        w_sum, ll, ent, _ = kern(*args, rs, s1, s2)
        means = args[3]

        def make_stats():
            parts = [MultivariateNormalStats(w_sum=rs[c], xw_sum=s1[c], xxw_sum=s2[c], shift=means[c])
                     for c in range(k)]
            return MixtureStats(w_sum=w_sum, resp_sum=rs, log_likelihood=ll, entropy=ent, parts=parts)

        rows.append(("  statistics records (k + 1 objects)", *timeit(make_stats, a.reps)[::2]))
        stats = make_stats()
        rows.append(("  M-step: _propose (mean, cov, Cholesky, checks)",
                     *timeit(lambda: model._propose(stats), a.reps)[::2]))
        new = model._propose(stats)
        rows.append(("  commit: _set_params", *timeit(lambda: model._set_params(new), a.reps)[::2]))
        parts = sum(r[1] for r in rows[1:])
        rows.append(("  rest (driver, sources, record sums, history)", t_iter - parts, float("nan")))
        print(f"{'part':<52} {'median':>10} {'share':>7} {'cpu/wall':>8}")
        for name, t, r in rows:
            print(f"{name:<52} {C.fmt_time(t):>10} {100 * t / t_iter:6.1f}% {r:8.2f}")

        # BLAS threads inside numba's np.dot
        for nt in (1, 2):
            with threadpool_limits(nt):
                t, tmin, r = timeit(lambda: kern(*args, *outs()), a.reps)
            print(f"kernel with scipy OpenBLAS at {nt} thread(s): median {C.fmt_time(t)} "
                  f"(min {C.fmt_time(tmin)}), cpu/wall {r:.2f}")

        flops = 4.0 * n * k * d * d if ctype == "full" else 6.0 * n * k * d
        print(f"arithmetic: {flops / 1e9:.2f} GFLOP -> bound {C.fmt_time(flops / (peak2 * 1e9))} at "
              f"2-thread peak, {C.fmt_time(flops / (peak1 * 1e9))} at 1-thread peak; kernel at "
              f"{flops / t_k / 1e9:.1f} GFLOP/s")
        # BLAS-only floor with numpy: the GEMMs the full kernel does, as whole-array calls
        if ctype == "full":
            U = args[4]

            def blas_only():
                for c in range(k):
                    Z = X - means[c]
                    Y = Z @ U[c]
                    _ = (Z * Y[:, :1]).T @ Z
            print(f"numpy whole-array GEMM equivalent (k x [Z@U, (rZ)^T Z]): "
                  f"{C.fmt_time(timeit(blas_only, 3)[0])}")

if __name__ == "__main__":
    main()
