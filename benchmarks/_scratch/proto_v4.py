"""Third round of E-step prototypes (scratch): two other forms of the diagonal
statistics, both slower than the library's row-wise loop and not used: one GEMV per
block (``diag_v5``) and pairwise folding over rows (``diag_v6``). They share the
library's responsibilities; compare them with ``ab_v2.py``."""
import math

import numba
import numpy as np

from suffstat.kernels.mixture import DIAG_BLOCK, _responsibilities

kernel = numba.njit(nogil=True, error_model="numpy", cache=True)


@kernel
def diag_v5(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    """diag with the statistics as one GEMV per block: rows r (x - mu) and r (x - mu)^2
    of every component, summed over the block's rows by BLAS."""
    n, d = X.shape
    k = means.shape[0]
    B = DIAG_BLOCK
    XT = np.empty((d, B))
    Q = np.empty((k, B))
    E = np.empty((k, B))
    ones = np.ones(B)
    acc = np.zeros(2 * k * d)
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    chk = 0.0
    for start in range(0, n, B):
        m = min(start + B, n) - start
        Z = np.empty((2 * k * d, m))  # rows c d + j: x_j - mu_cj, then r-weighted
        for i in range(m):
            for j in range(d):
                XT[j, i] = X[start + i, j]
        for c in range(k):
            q = Q[c]
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                iv = inv_vars[c, j]
                xt = XT[j]
                z_ = Z[c * d + j]
                for i in range(m):
                    z = xt[i] - mu
                    z_[i] = z
                    q[i] += z * z * iv
            if c == 0:
                for i in range(m):
                    chk += q[i]
            b = log_weights[c] + log_norms[c]
            for i in range(m):
                q[i] = b - 0.5 * q[i]
        a, b_, e = _responsibilities(Q, E, w, m, start)
        w_sum += a
        ll += b_
        ent += e
        kd = k * d
        for c in range(k):
            r = E[c]
            rs = 0.0
            for i in range(m):
                rs += r[i]
            resp_sum[c] += rs
            for j in range(d):
                z_ = Z[c * d + j]
                z2 = Z[kd + c * d + j]
                for i in range(m):
                    rz = r[i] * z_[i]
                    z2[i] = rz * z_[i]
                    z_[i] = rz
        acc += np.dot(Z, ones[:m])
    for c in range(k):
        for j in range(d):
            s1[c, j] += acc[c * d + j]
            s2[c, j] += acc[k * d + c * d + j]
    return w_sum, ll, ent, math.isfinite(chk)


@kernel
def _fold_sum(u, n):
    """Pairwise sum of u[:n] (n a power of two >= 8) by halving in place: every step is
    an element-wise add of two contiguous halves, so it vectorises without reassociating
    anything LLVM would have to prove; the order is fixed."""
    h = n // 2
    while h >= 8:
        for t in range(h):
            u[t] += u[t + h]
        h //= 2
    return ((u[0] + u[1]) + (u[2] + u[3])) + ((u[4] + u[5]) + (u[6] + u[7]))


@kernel
def diag_v6(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    """The library diag kernel with the statistics summed over rows by pairwise folding
    of r (x - mu) and r (x - mu)^2 rows of the transposed block (padded to a power of two)."""
    n, d = X.shape
    k = means.shape[0]
    B = DIAG_BLOCK
    P = 8
    while P < B:  # the rows of a block, padded to a power of two
        P *= 2
    XT = np.empty((d, B))
    Q = np.empty((k, B))
    E = np.empty((k, B))
    u = np.zeros(P)
    u2 = np.zeros(P)
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    chk = 0.0
    for start in range(0, n, B):
        m = min(start + B, n) - start
        for i in range(m):
            for j in range(d):
                XT[j, i] = X[start + i, j]
        for c in range(k):
            q = Q[c]
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                iv = inv_vars[c, j]
                xt = XT[j]
                for i in range(m):
                    z = xt[i] - mu
                    q[i] += z * z * iv
            if c == 0:
                for i in range(m):
                    chk += q[i]
            b = log_weights[c] + log_norms[c]
            for i in range(m):
                q[i] = b - 0.5 * q[i]
        a, b_, e = _responsibilities(Q, E, w, m, start)
        w_sum += a
        ll += b_
        ent += e
        for c in range(k):
            r = E[c]
            rs = 0.0
            for i in range(m):
                rs += r[i]
            resp_sum[c] += rs
            for j in range(d):
                mu = means[c, j]
                xt = XT[j]
                for i in range(m):
                    z = xt[i] - mu
                    rz = r[i] * z
                    u[i] = rz
                    u2[i] = rz * z
                for i in range(m, P):
                    u[i] = 0.0
                    u2[i] = 0.0
                s1[c, j] += _fold_sum(u, P)
                s2[c, j] += _fold_sum(u2, P)
    return w_sum, ll, ent, math.isfinite(chk)
