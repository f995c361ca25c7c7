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
over contiguous rows and vectorises. Sums over the rows of a block are taken in vector
partial sums (``vmath.total`` and ``vmath.weighted_deviation_sums``, the only
reassociated code) and added to the outputs once per block.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .vmath import (exp_shifted_sum, log_positive, total, weighted_deviation_sums, weighted_moments2,
                    weighted_product_sum)

# Rows per block. Not a power of two: rows of a (d, 256) or (d, 512) float64 block
# fall into two L1 sets, and the transposition into them ran 7x slower at d = 50
# (OpenBLAS products on such blocks ran at a third of their speed). For the diagonal
# kernel 500 beat 250 and 1000 at W1 (d = 25, k = 4) and at d = 50; 1000 is faster at
# k = 16 (49 against 58 ms per 557k rows on one core).
FULL_BLOCK = 500
DIAG_BLOCK = 500
#: Up to this many features the full-covariance E-step works on each component's
#: deviations directly (:func:`_full_estep_direct`) instead of through two GEMMs.
DIRECT_MAX_D = 4


@kernel
def _responsibilities(Q, E, mx, w, m, start, W, work):
    """Joint log-densities -> weighted responsibilities, for rows 0..m of a block.

    Q (k, B) holds log w_c + log p_c(x) and is overwritten with log w_c p_c(x) - max_c;
    mx (B,) holds max_c (:func:`_joint_log_density` keeps it); E (k, B) receives
    w_i r_ic. Every loop runs over rows and vectorises. Returns (sum w, sum w log p(x),
    sum w H(r)), with H(r) = log s - sum_c r_c q_c for s = sum_c exp(q_c) (the q_c
    shifted by their maximum, so that s >= 1). W (3, B) float64 and work (B,)
    int64 are work space.
    """
    k = Q.shape[0]
    s = W[0]
    for i in range(m):
        s[i] = 0.0
    for c in range(k):
        exp_shifted_sum(Q[c], mx, E[c], s, work, m)
    return _normalised(Q, E, mx, s, w, m, start, W[1], W[2], work)


@kernel
def _normalised(Q, E, mx, s, w, m, start, t, ls, work):
    """The rest of :func:`_responsibilities` once E holds exp(Q) and s (m,) its sum over c.

    Q holds the shifted joint log-densities (-inf or values <= -708 where E is 0);
    s is overwritten; t, ls (B,) float64 and work (B,) int64 are work space. Returns
    (sum w, sum w log p(x), sum w H(r)).
    """
    k = Q.shape[0]
    for i in range(m):
        t[i] = 0.0
    log_positive(s[:m], ls[:m], work[:m])
    for i in range(m):
        s[i] = 1.0 / s[i]
    for c in range(k):
        q = Q[c]
        e = E[c]
        for i in range(m):
            r = e[i] * s[i]
            t[i] += r * q[i] if r > 0.0 else 0.0  # 0 * -inf would be NaN
            e[i] = r * w[start + i]
    # each row's terms (in ls and t), then their sums in vector partial sums
    unreachable = 0  # rows that no component can produce
    impossible = 0  # ... with positive weight
    for i in range(m):
        wi = w[start + i]
        none = mx[i] == -np.inf
        pos = wi > 0.0
        ok = pos & (not none)
        unreachable += 1 if none else 0
        impossible += 1 if none & pos else 0
        lsi = ls[i]
        ls[i] = wi * (mx[i] + lsi) if ok else 0.0
        t[i] = wi * (lsi - t[i]) if ok else 0.0
    w_sum = total(w[start:], m)
    ll = total(ls, m)
    ent = total(t, m)
    if impossible:
        ll = -np.inf
    if unreachable:
        for i in range(m):
            if mx[i] == -np.inf:
                for c in range(k):
                    E[c, i] = 0.0
    return w_sum, ll, ent


@kernel
def _joint_log_density(q, m, b, c, mx):
    """Turn component c's Mahalanobis sums q[:m] into log w_c + log p_c(x) = b - q / 2.

    Keeps mx[:m] the maximum over the components so far (set at c == 0). Returns the
    sum of the Mahalanobis sums when c == 0 (0 otherwise): every feature enters them,
    so the sum is finite unless X holds a NaN or an infinity (or one overflows), which
    is how the kernels flag non-finite rows without another pass.
    """
    chk = 0.0
    if c == 0:
        for i in range(m):
            chk += q[i]
        for i in range(m):
            v = b - 0.5 * q[i]
            q[i] = v
            mx[i] = v
    else:
        for i in range(m):
            v = b - 0.5 * q[i]
            q[i] = v
            mx[i] = v if v > mx[i] else mx[i]
    return chk


def gmm_full_estep(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
    """Fused E-step of a full-covariance Gaussian mixture.

    X (n, d); w (n,); log_weights, log_norms (k,); means (k, d); prec_chols (k, d, d)
    upper factors U of the precisions. Adds into resp_sum (k,), s1 (k, d), s2 (k, d, d).
    Returns (sum w, sum w log p(x), sum w H(r), finite).

    Up to :data:`DIRECT_MAX_D` features it works on each component's deviations
    (:func:`_full_estep_direct`), otherwise through two GEMMs per block
    (:func:`_full_estep_gemm`). The choice is made here, in Python, so that a first
    call compiles only the kernel it runs (compiling both made the first small fit in
    a fresh process, ``benchmarks/bench_first_call.py`` with a cold cache, 7.5 s
    instead of 5.1 s).
    """
    if X.shape[1] <= DIRECT_MAX_D:
        return _full_estep_direct(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2)
    return _full_estep_gemm(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2)


@kernel
def _full_estep_gemm(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
    """:func:`gmm_full_estep` through two GEMMs per block (any number of features).

    Two GEMMs per block serve all components at once: the stacked U_c^T whiten the
    block shifted by the mean of the means weighted by the mixture weights, and the
    stacked r-weighted deviations x - mu_c multiply the shifted block to give every
    component's moments. The deviations from each mean are exact; the common shift
    costs relative rounding of order eps * (distance from the shift / spread), as any
    product of shifted data.
    """
    n, d = X.shape
    k = means.shape[0]
    d1 = d + 1
    B = FULL_BLOCK
    # The shift is the weighted mean of the means: a component of negligible weight,
    # whose mean may be anywhere (stepped statistics of a dead component), must not
    # move it away from the data, where its rounding would reach every component.
    top = -np.inf
    for c in range(k):
        top = log_weights[c] if log_weights[c] > top else top
    s = np.zeros(d)
    tot = 0.0
    for c in range(k):
        pc = math.exp(log_weights[c] - top) if top > -np.inf else 1.0
        if pc > 0.0:
            tot += pc
            for j in range(d):
                s[j] += pc * means[c, j]
    for j in range(d):
        s[j] /= tot
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
    mx = np.empty(B)
    W = np.empty((3, B))
    IW = np.empty(B, np.int64)
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
            chk += _joint_log_density(q, m, log_weights[c] + log_norms[c], c, mx)
        a, b_, e = _responsibilities(Q, E, mx, w, m, start, W, IW)
        w_sum += a
        ll += b_
        ent += e
        V = np.empty((k * d1, m))
        for c in range(k):
            r = E[c]
            resp_sum[c] += total(r, m)
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
def _transposed(X, start, m, XT):
    """XT[:, :m] = X[start:start + m].T."""
    d = X.shape[1]
    for i in range(m):
        for j in range(d):
            XT[j, i] = X[start + i, j]


@kernel
def _direct_densities(XT, Z, m, log_weights, means, prec_chols, log_norms, Q, mx):
    """Joint log-densities Q[:, :m] and their maxima mx[:m] from the rows XT[:, :m] (d, m).

    Each component's deviations z = x - mu_c, whitened y = U_c^T z (U_c upper
    triangular) and Mahalanobis sums, as loops over the rows (one loop for d <= 2).
    Z is (d, B) work space. Returns the check sum of :func:`_joint_log_density`.
    """
    d = XT.shape[0]
    k = means.shape[0]
    chk = 0.0
    for c in range(k):
        q = Q[c]
        b = log_weights[c] + log_norms[c]
        if d == 1:
            mu0 = means[c, 0]
            u00 = prec_chols[c, 0, 0]
            x0 = XT[0]
            for i in range(m):
                y0 = u00 * (x0[i] - mu0)
                q[i] = y0 * y0
        elif d == 2:
            mu0 = means[c, 0]
            mu1 = means[c, 1]
            u00 = prec_chols[c, 0, 0]
            u01 = prec_chols[c, 0, 1]
            u11 = prec_chols[c, 1, 1]
            x0 = XT[0]
            x1 = XT[1]
            for i in range(m):
                z0 = x0[i] - mu0
                z1 = x1[i] - mu1
                y0 = u00 * z0
                y1 = u11 * z1 + u01 * z0
                q[i] = y0 * y0 + y1 * y1
        else:
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                xt = XT[j]
                z = Z[j]
                for i in range(m):
                    z[i] = xt[i] - mu
            y = Z[d]
            for l in range(d):
                # y_l = U[l, l] z_l + sum_{j < l} U[j, l] z_j
                u = prec_chols[c, l, l]
                zl = Z[l]
                for i in range(m):
                    y[i] = u * zl[i]
                for j in range(l):
                    u = prec_chols[c, j, l]
                    zj = Z[j]
                    for i in range(m):
                        y[i] += u * zj[i]
                for i in range(m):
                    q[i] += y[i] * y[i]
        chk += _joint_log_density(q, m, b, c, mx)
    return chk


@kernel
def _direct_moments(XT, Z, E, m, means, resp_sum, s1, s2):
    """Add each component's sums of r, r z and r z z^T (z = x - mu_c) over rows XT[:, :m]."""
    d = XT.shape[0]
    k = means.shape[0]
    for c in range(k):
        r = E[c]
        resp_sum[c] += total(r, m)
        if d == 2:
            a0, a1, b00, b01, b11 = weighted_moments2(r, XT[0], XT[1], means[c, 0], means[c, 1], m)
            s1[c, 0] += a0
            s1[c, 1] += a1
            s2[c, 0, 0] += b00
            s2[c, 0, 1] += b01
            s2[c, 1, 0] += b01
            s2[c, 1, 1] += b11
            continue
        for j in range(d):
            mu = means[c, j]
            xt = XT[j]
            z = Z[j]
            for i in range(m):
                z[i] = xt[i] - mu
        for j in range(d):
            a1, a2 = weighted_deviation_sums(r, XT[j], means[c, j], m)
            s1[c, j] += a1
            s2[c, j, j] += a2
            for l in range(j):
                v = weighted_product_sum(r, Z[j], Z[l], m)
                s2[c, j, l] += v
                s2[c, l, j] += v


@kernel
def _full_estep_direct(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
    """:func:`gmm_full_estep` for a few features: each component's deviations directly.

    Per block and component the deviations z = x - mu_c, the whitened y = U_c^T z and
    the Mahalanobis sums are loops over the rows (:func:`_direct_densities`); the
    moments are sums of r z_j and r z_j z_l in vector partial sums
    (:func:`_direct_moments`). At small d this beats the two GEMMs of the general
    path, whose calls and shifted corrections cost more than the arithmetic.
    """
    n, d = X.shape
    k = means.shape[0]
    B = min(FULL_BLOCK, max(n, 1))  # small batches (stochastic VB) allocate what they use
    XT = np.empty((d, B))
    Z = np.empty((d + 1, B))
    Q = np.empty((k, B))
    E = np.empty((k, B))
    mx = np.empty(B)
    W = np.empty((3, B))
    IW = np.empty(B, np.int64)
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    chk = 0.0
    for start in range(0, n, B):
        m = min(start + B, n) - start
        _transposed(X, start, m, XT)
        chk += _direct_densities(XT, Z, m, log_weights, means, prec_chols, log_norms, Q, mx)
        a, b_, e = _responsibilities(Q, E, mx, w, m, start, W, IW)
        w_sum += a
        ll += b_
        ent += e
        _direct_moments(XT, Z, E, m, means, resp_sum, s1, s2)
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
    mx = np.empty(B)
    W = np.empty((3, B))
    IW = np.empty(B, np.int64)
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
            chk += _joint_log_density(q, m, log_weights[c] + log_norms[c], c, mx)
        a, b_, e = _responsibilities(Q, E, mx, w, m, start, W, IW)
        w_sum += a
        ll += b_
        ent += e
        for c in range(k):
            r = E[c]
            resp_sum[c] += total(r, m)
            for j in range(d):
                a1, a2 = weighted_deviation_sums(r, XT[j], means[c, j], m)
                s1[c, j] += a1
                s2[c, j] += a2
    return w_sum, ll, ent, math.isfinite(chk)


@kernel
def move_entropies(r, w, pair_a, pair_b, comp_out, pair_out):
    """Add each component's and each planned pair's share of the responsibility entropy.

    r (n, k) responsibilities; w (n,) weights; pair_a, pair_b (p,) int64 component
    indices. Adds -sum_i w_i r_ik log r_ik into comp_out (k,) and
    -sum_i w_i s_i log s_i, s_i = r_ia + r_ib, into pair_out (p,): the terms merge moves
    of memoized VB judge, in one pass without (n, p) temporaries. Values below the
    smallest normal number count as 0 (their terms are below 1e-305).
    """
    n, k = r.shape
    p = pair_a.shape[0]
    m = k + p
    v = np.empty(m)
    lv = np.empty(m)
    work = np.empty(m, dtype=np.int64)
    tiny = 2.2250738585072014e-308
    for i in range(n):
        for c in range(k):
            q = r[i, c]
            v[c] = q if q >= tiny else 1.0
        for j in range(p):
            q = r[i, pair_a[j]] + r[i, pair_b[j]]
            v[k + j] = q if q >= tiny else 1.0
        log_positive(v, lv, work)
        wi = w[i]
        for c in range(k):
            comp_out[c] -= wi * v[c] * lv[c]
        for j in range(p):
            pair_out[j] -= wi * v[k + j] * lv[k + j]


@kernel
def responsibilities_from(logp, log_weights, out):
    """out (n, k) = softmax over c of logp[c, i] + log_weights[c] (logp is (k, n)).

    A row with no finite entry gets zeros. The rows a structure move looks at.
    """
    k, n = logp.shape
    for i in range(n):
        top = -np.inf
        for c in range(k):
            v = logp[c, i] + log_weights[c]
            out[i, c] = v
            if v > top:
                top = v
        if not np.isfinite(top):
            for c in range(k):
                out[i, c] = 0.0
            continue
        tot = 0.0
        for c in range(k):
            e = math.exp(out[i, c] - top)
            out[i, c] = e
            tot += e
        for c in range(k):
            out[i, c] /= tot
