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

# Rows per block. Not a power of two: rows of a (d, 256) or (d, 512) float64 block
# fall into two L1 sets, and the transposition into them ran 7x slower at d = 50
# (OpenBLAS products on such blocks ran at a third of their speed). 500 rather than
# 250 for the diagonal kernel: 8% faster at W1 and k = 16, the same at d = 50.
FULL_BLOCK = 500
DIAG_BLOCK = 500

LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10


@kernel
def _exp_nonpositive(x, out, scale):
    """out = exp(x) for x <= 0, in a loop LLVM vectorises.

    libm's exp is one call per element (3.2 ns here against 1.4 ns). Cody-Waite
    reduction and a degree-13 Taylor polynomial, within about 1 ulp of libm; x below
    -708 (exp under 2^-1022) and NaN give 0. scale is int64 work space of x's length.
    """
    n = x.shape[0]
    for i in range(n):
        v = x[i]
        ok = v >= -708.0
        v = v if ok else 0.0
        nf = math.floor(v * LOG2E + 0.5)
        r = (v - nf * LN2_HI) - nf * LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        out[i] = p if ok else 0.0
        scale[i] = (np.int64(nf) + 1023 if ok else 1023) << 52
    two_n = scale.view(np.float64)  # 2^nf, built in the exponent bits
    for i in range(n):
        out[i] *= two_n[i]


@kernel
def _responsibilities(Q, E, w, m, start):
    """Joint log-densities -> weighted responsibilities, for rows 0..m of a block.

    Q (k, B) holds log w_c + log p_c(x) and is overwritten with log w_c p_c(x) - max_c;
    E (k, B) receives w_i r_ic. Every loop runs over rows, so all of it vectorises but
    the one log per row. Returns (sum w, sum w log p(x), sum w H(r)).
    """
    k = Q.shape[0]
    mx = np.empty(m)
    s = np.zeros(m)
    h = np.zeros(m)
    work = np.empty(m, np.int64)
    for i in range(m):
        mx[i] = Q[0, i]
    for c in range(1, k):
        for i in range(m):
            v = Q[c, i]
            mx[i] = v if v > mx[i] else mx[i]
    for c in range(k):
        q = Q[c, :m]
        e = E[c, :m]
        for i in range(m):
            q[i] -= mx[i]
        _exp_nonpositive(q, e, work)
        for i in range(m):
            s[i] += e[i]
    ls = np.empty(m)
    for i in range(m):
        ls[i] = math.log(s[i])
        s[i] = 1.0 / s[i]
    for c in range(k):
        q = Q[c]
        e = E[c]
        for i in range(m):
            r = e[i] * s[i]
            h[i] += r * (ls[i] - q[i]) if r > 0.0 else 0.0
            e[i] = r * w[start + i]
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
        elif wi > 0.0:
            ll += wi * (mx[i] + ls[i])
            ent += wi * h[i]
    return w_sum, ll, ent


@kernel
def _joint_log_density(q, m, b, c):
    """Turn component c's Mahalanobis sums q[:m] into log w_c + log p_c(x) = b - q / 2.

    Returns the sum of the Mahalanobis sums when c == 0 (0 otherwise): every feature
    enters them, so the sum is finite unless X holds a NaN or an infinity (or one
    overflows), which is how the kernels flag non-finite rows without another pass.
    """
    chk = 0.0
    if c == 0:
        for i in range(m):
            chk += q[i]
    for i in range(m):
        q[i] = b - 0.5 * q[i]
    return chk


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
            chk += _joint_log_density(q, m, log_weights[c] + log_norms[c], c)
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
            chk += _joint_log_density(q, m, log_weights[c] + log_norms[c], c)
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
