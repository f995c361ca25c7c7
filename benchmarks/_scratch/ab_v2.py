"""Alternating A/B timing of the library's E-step kernel against prototypes (scratch).

One core (BLAS pinned to 1 thread), blobs of n x d at the parameters after one EM update;
prints each prototype's largest relative difference from the library kernel, then
median / min times over 7 alternating rounds.

Usage: python benchmarks/_scratch/ab_v2.py N D K {full|diag} name[,name...]
(names of functions in proto_v4.py, e.g. ``ab_v2.py 557100 25 4 diag diag_v5,diag_v6``).
"""
import os, sys, time, statistics
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE)); sys.path.insert(0, HERE)
import numpy as np
from threadpoolctl import threadpool_limits
import _common as C
import proto_v4 as P
from profile_w1 import kernel_args
from suffstat.kernels.mixture import gmm_diag_estep, gmm_full_estep
n, d, k = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctype = sys.argv[4]
names = sys.argv[5].split(",")
X = C.blobs(n, d, 4, 4.0)
lib = gmm_full_estep if ctype == "full" else gmm_diag_estep
with threadpool_limits(1):
    model = C.suffstat_gmm(X, k, ctype)
    model.fit(X, max_iter=1, tol=None)
    args, outs = kernel_args(model, X, ctype)
    cont = [("lib", lib)] + [(nm, getattr(P, nm)) for nm in names]
    ref = None
    for nm, f in cont:
        o = list(outs())
        r = f(*args, *o)
        if ref is None:
            ref = (r, o)
        else:
            print(nm, "ret diff", np.max(np.abs(np.array(r) - np.array(ref[0])) / np.abs(np.array(ref[0]))),
                  [float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(o, ref[1])])
    times = {nm: [] for nm, _ in cont}
    for rnd in range(7):
        for nm, f in (cont if rnd % 2 == 0 else cont[::-1]):
            o = list(outs())
            t = time.perf_counter(); f(*args, *o); times[nm].append(time.perf_counter() - t)
    for nm, _ in cont:
        print(f"{nm:12s} median {1e3*statistics.median(times[nm]):8.1f} ms  min {1e3*min(times[nm]):8.1f}")
