"""How much of the diagonal E-step is the log-sum-exp normalisation? (scratch)"""
import math, sys, time
import numba, numpy as np
sys.path.insert(0, "benchmarks"); sys.path.insert(0, "benchmarks/_scratch")
import _common as C
from suffstat.kernels.mixture import _normalise_row

OPTS = dict(nogil=True, cache=True, error_model="numpy")


@numba.njit(**OPTS)
def lib_rows(L, w):
    t = 0.0
    for i in range(L.shape[0]):
        lse, h = _normalise_row(L[i], w[i])
        t += lse + h
    return t


@numba.njit(**OPTS)
def _one_exp_row(logp, wi, e):
    """Same outputs with one exp per component: r = e_c / s; entropy = lse - sum r logp."""
    k = logp.shape[0]
    mx = -np.inf
    for c in range(k):
        if logp[c] > mx:
            mx = logp[c]
    if mx == -np.inf:
        for c in range(k):
            logp[c] = 0.0
        return -np.inf, 0.0
    s = 0.0
    for c in range(k):
        e[c] = math.exp(logp[c] - mx)
        s += e[c]
    lse = mx + math.log(s)
    inv = 1.0 / s
    h = lse
    for c in range(k):
        r = e[c] * inv
        if r > 0.0:
            h -= r * logp[c]
        logp[c] = r * wi
    return lse, h


@numba.njit(**OPTS)
def one_exp_rows(L, w):
    t = 0.0
    e = np.empty(L.shape[1])
    for i in range(L.shape[0]):
        lse, h = _one_exp_row(L[i], w[i], e)
        t += lse + h
    return t


n, k = 557100, 4
rng = np.random.default_rng(0)
L0 = rng.normal(-80, 20, (n, k))
w = np.ones(n)
for name, fn in (("library _normalise_row (2 exp / component)", lib_rows),
                 ("one exp / component (entropy as lse - sum r logp)", one_exp_rows)):
    fn(L0.copy(), w)
    ts = []
    for _ in range(7):
        L = L0.copy()
        C.wait_for_quiet(3)
        t = time.perf_counter(); fn(L, w); ts.append(time.perf_counter() - t)
    print(f"{name}: median {np.median(ts)*1e3:.1f} ms, min {min(ts)*1e3:.1f} ms for n={n}, k={k}")

# agreement of the two forms
A, B = L0.copy(), L0.copy()
ta, tb = lib_rows(A, w), one_exp_rows(B, w)
print("max |r difference|", float(np.max(np.abs(A - B))), "; sum(lse + h) rel diff", abs(ta - tb) / abs(ta))
