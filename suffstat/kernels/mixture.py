"""Fused E-step kernels for Gaussian mixtures.

One pass over a batch computes every component's log-density, the log-sum-exp
responsibilities, the batch log-likelihood and each component's shifted statistics
(about its current mean). All arrays are C-contiguous float64; sums are added into
the output arrays; the return value is ``(sum w, sum w log p(x), sum w H(r), finite)``
with ``H(r)`` the entropy of a row's responsibilities (for the free energy of memoized
EM) and ``finite`` False when some row gave a non-finite Mahalanobis distance (a NaN
or infinite value in X, or an overflow): the caller then checks X itself, so valid
data is read once.

Rows are handled in blocks transposed to (features, rows), so the per-row work runs
over contiguous rows and vectorises without reassociating any sum.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel

# Rows per block. Not a power of two: a (d, 512) float64 block puts every row on
# the same 4 KiB cache alias and OpenBLAS slowed to a third on it (d = 50).
FULL_BLOCK = 500
DIAG_BLOCK = 256


@kernel
def _responsibilities(Q, E, w, m, start):
    """Joint log-densities -> weighted responsibilities, for rows 0..m of a block.

    Q (k, B) holds log w_c + log p_c(x) and is overwritten with log r + log p(x) - max;
    E (k, B) receives w_i r_ic. One exp per (row, component) and one log per row.
    Returns (sum w, sum w log p(x), sum w H(r)).
    """
    k = Q.shape[0]
    mx = np.empty(m)
    s = np.zeros(m)
    for i in range(m):
        mx[i] = Q[0, i]
    for c in range(1, k):
        for i in range(m):
            if Q[c, i] > mx[i]:
                mx[i] = Q[c, i]
    for c in range(k):
        for i in range(m):
            t = Q[c, i] - mx[i]
            Q[c, i] = t
            e = math.exp(t)
            E[c, i] = e
            s[i] += e
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for i in range(m):
        wi = w[start + i]
        w_sum += wi
        if mx[i] == -np.inf:  # no component can produce this row
            for c in range(k):
                E[c, i] = 0.0
            if wi > 0.0:
                ll += -np.inf
            continue
        ls = math.log(s[i])
        inv = 1.0 / s[i]
        h = 0.0
        for c in range(k):
            r = E[c, i] * inv
            if r > 0.0:
                h += r * (ls - Q[c, i])  # -r log r
            E[c, i] = r * wi
        if wi > 0.0:
            ll += wi * (mx[i] + ls)
            ent += wi * h
    return w_sum, ll, ent


@kernel
def gmm_full_estep(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
    """Fused E-step of a full-covariance Gaussian mixture.

    X (n, d); w (n,); log_weights, log_norms (k,); means (k, d); prec_chols (k, d, d)
    upper factors U of the precisions. Adds into resp_sum (k,), s1 (k, d), s2 (k, d, d).
    Returns (sum w, sum w log p(x), sum w H(r), finite).

    Two GEMMs per block serve all components at once: the stacked U_c^T whiten the
    block shifted by the mean of the means, and the stacked r-weighted deviations
    x - mu_c multiply the shifted block to give every component's moments. The
    deviations from each mean are exact; the common shift costs relative rounding of
    order eps * (distance between means / spread), as any product of shifted data.
    """
    n, d = X.shape
    k = means.shape[0]
    d1 = d + 1
    B = FULL_BLOCK
    s = np.zeros(d)
    for c in range(k):
        for j in range(d):
            s[j] += means[c, j]
    for j in range(d):
        s[j] /= k
    UT = np.empty((k * d, d))  # row c d + l: column l of U_c
    off = np.zeros((k, d))  # U_c^T (mu_c - s)
    for c in range(k):
        for l in range(d):
            a = 0.0
            for j in range(d):
                u = prec_chols[c, j, l]
                UT[c * d + l, j] = u
                a += u * (means[c, j] - s[j])
            off[c, l] = a
    G = np.zeros((k * d1, d1))  # per component: sum r [x - mu; 1] [x - s; 1]^T
    Q = np.empty((k, B))
    E = np.empty((k, B))
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    chk = 0.0
    for start in range(0, n, B):
        m = min(start + B, n) - start
        XR = np.empty((d, m))
        XS = np.empty((d1, m))
        for i in range(m):
            for j in range(d):
                XR[j, i] = X[start + i, j]
        for j in range(d):
            sj = s[j]
            for i in range(m):
                XS[j, i] = XR[j, i] - sj
        for i in range(m):
            XS[d, i] = 1.0
        Y = np.dot(UT, XS[:d])  # (k d, m): U_c^T (x - s)
        for c in range(k):
            q = Q[c]
            for i in range(m):
                q[i] = 0.0
            for l in range(d):
                o = off[c, l]
                yl = Y[c * d + l]
                for i in range(m):
                    y = yl[i] - o
                    q[i] += y * y
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
        V = np.empty((k * d1, m))
        for c in range(k):
            r = E[c]
            rs = 0.0
            for i in range(m):
                rs += r[i]
            resp_sum[c] += rs
            for j in range(d):
                mu = means[c, j]
                v = V[c * d1 + j]
                xr = XR[j]
                for i in range(m):
                    v[i] = r[i] * (xr[i] - mu)
            v = V[c * d1 + d]
            for i in range(m):
                v[i] = r[i]
        G += np.dot(V, XS.T)
    for c in range(k):
        g = G[c * d1:(c + 1) * d1]
        for j in range(d):
            s1[c, j] += g[j, d]
        for j in range(d):
            for l in range(j + 1):
                # sum r (x - mu)_j (x - mu)_l = sum r (x - mu)_j (x - s)_l - s1_j (mu - s)_l
                a = g[j, l] - g[j, d] * (means[c, l] - s[l])
                b = g[l, j] - g[l, d] * (means[c, j] - s[j])
                v = 0.5 * (a + b)
                s2[c, j, l] += v
                if l != j:
                    s2[c, l, j] += v
    return w_sum, ll, ent, math.isfinite(chk)


@kernel
def gmm_diag_estep(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    """Fused E-step of a diagonal (or spherical, or univariate) Gaussian mixture.

    X (n, d); w (n,); log_weights, log_norms (k,); means, inv_vars (k, d).
    Adds into resp_sum (k,), s1 (k, d) and s2 (k, d) (diagonal scatter).
    Returns (sum w, sum w log p(x), sum w H(r), finite).
    """
    n, d = X.shape
    k = means.shape[0]
    B = DIAG_BLOCK
    XT = np.empty((d, B))
    Q = np.empty((k, B))
    E = np.empty((k, B))
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
        # Statistics row by row: the loop over features is contiguous in X and in
        # the outputs, so it vectorises (a reduction over rows would not).
        for i in range(m):
            x = X[start + i]
            for c in range(k):
                r = E[c, i]
                if r == 0.0:
                    continue
                resp_sum[c] += r
                mu = means[c]
                a1 = s1[c]
                a2 = s2[c]
                for j in range(d):
                    z = x[j] - mu[j]
                    rz = r * z
                    a1[j] += rz
                    a2[j] += rz * z
    return w_sum, ll, ent, math.isfinite(chk)
