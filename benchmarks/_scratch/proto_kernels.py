"""Prototype E-step kernels (scratch: NOT part of the library; for measurements only).

Same contracts as suffstat/kernels/mixture.py (same arguments, outputs added into
resp_sum / s1 / s2, returns (sum w, sum w log p, sum w H(r))); same numba options as the library
(nogil, cache, error_model="numpy", no fastmath) unless the name says otherwise.

diag_ct      the diagonal kernel with the parameters transposed to (d, k): the inner loops
             run over components, so they are element-wise (no floating-point reduction)
             and LLVM vectorises them without fastmath. Every s1 / s2 element still
             accumulates rows in the same order as the current kernel.
full_t       full kernel working on a transposed block ZT (d, m): the Mahalanobis sum is
             an element-wise accumulation over rows (vectorised), and one GEMM per
             component over an augmented block [Z, 1] gives s2, s1 and sum r together;
             Z is computed once per component and block instead of twice.
full_t_big   full_t with 2048-row blocks.
full_cat     one GEMM across all components per block for the E-step ((m, d) x (d, k d))
             and one for all components' statistics ((k (d+1), m) x (m, d+1)), rows shifted
             by a common point g (the mean of the means) and the statistics re-centred on
             each component's mean at the end: fewer, better-shaped BLAS calls, at the
             price of some cancellation when components are far apart.
full_cat_big full_cat with 2048-row blocks.
diag_blk     diagonal kernel over row blocks: element-wise passes + BLAS GEMVs, per-component
             shifts kept.
diag_gemm    diagonal kernel as two GEMMs per block across all components (common shift g,
             statistics re-centred at the end), the formulation of scikit-learn and mlpack.
*_fastmath   the library's kernels recompiled with fastmath={'reassoc', 'contract'} only.
"""

from __future__ import annotations

import math

import numba
import numpy as np

OPTS = dict(nogil=True, cache=True, error_model="numpy")


@numba.njit(**OPTS)
def _normalise_row(logp, wi):
    """As the library's: responsibilities * wi in place; returns (log p(x), entropy)."""
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
        s += math.exp(logp[c] - mx)
    lse = mx + math.log(s)
    h = 0.0
    for c in range(k):
        lr = logp[c] - lse
        r = math.exp(lr)
        if r > 0.0:
            h -= r * lr
        logp[c] = r * wi
    return lse, h


@numba.njit(**OPTS)
def diag_ct(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    n, d = X.shape
    k = means.shape[0]
    mT = np.ascontiguousarray(means.T)  # (d, k)
    ivT = np.ascontiguousarray(inv_vars.T)
    s1T = np.zeros((d, k))
    s2T = np.zeros((d, k))
    base = np.empty(k)
    for c in range(k):
        base[c] = log_weights[c] + log_norms[c]
    q = np.empty(k)
    r = np.empty(k)
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for i in range(n):
        for c in range(k):
            q[c] = 0.0
        for j in range(d):
            x = X[i, j]
            for c in range(k):
                z = x - mT[j, c]
                q[c] += z * z * ivT[j, c]
        for c in range(k):
            r[c] = base[c] - 0.5 * q[c]
        wi = w[i]
        lse, h = _normalise_row(r, wi)
        w_sum += wi
        if wi > 0.0:
            ll += wi * lse
            ent += wi * h
        for c in range(k):
            resp_sum[c] += r[c]
        for j in range(d):
            x = X[i, j]
            for c in range(k):
                z = x - mT[j, c]
                rz = r[c] * z
                s1T[j, c] += rz
                s2T[j, c] += rz * z
    for c in range(k):
        for j in range(d):
            s1[c, j] += s1T[j, c]
            s2[c, j] += s2T[j, c]
    return w_sum, ll, ent


def _make_full(block):
    @numba.njit(**OPTS)
    def full_t(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
        n, d = X.shape
        k = means.shape[0]
        w_sum = 0.0
        ll = 0.0
        ent = 0.0
        UT = np.empty((k, d, d))
        for c in range(k):
            UT[c] = prec_chols[c].T
        # augmented statistics: [[S, s1], [s1^T, rsum]] per component
        acc = np.zeros((k, d + 1, d + 1))
        for start in range(0, n, block):
            m = min(start + block, n) - start
            logp = np.empty((k, m))
            ZT = np.empty((k, d + 1, m))  # per component: rows z_j, then a row of ones
            for c in range(k):
                for j in range(d):
                    mu = means[c, j]
                    for i in range(m):
                        ZT[c, j, i] = X[start + i, j] - mu
                for i in range(m):
                    ZT[c, d, i] = 1.0
                YT = np.dot(UT[c], ZT[c, :d])  # (d, m) = U^T Z^T
                q = np.zeros(m)
                for j in range(d):
                    for i in range(m):
                        q[i] += YT[j, i] * YT[j, i]
                b = log_weights[c] + log_norms[c]
                for i in range(m):
                    logp[c, i] = b - 0.5 * q[i]
            row = np.empty(k)
            for i in range(m):
                for c in range(k):
                    row[c] = logp[c, i]
                wi = w[start + i]
                lse, h = _normalise_row(row, wi)
                for c in range(k):
                    logp[c, i] = row[c]
                w_sum += wi
                if wi > 0.0:
                    ll += wi * lse
                    ent += wi * h
            RZ = np.empty((d + 1, m))
            for c in range(k):
                Zc = ZT[c]
                for j in range(d + 1):
                    for i in range(m):
                        RZ[j, i] = logp[c, i] * Zc[j, i]
                acc[c] += np.dot(RZ, Zc.T)
        for c in range(k):
            resp_sum[c] += acc[c, d, d]
            for j in range(d):
                s1[c, j] += acc[c, j, d]
                for l in range(d):
                    s2[c, j, l] += acc[c, j, l]
        return w_sum, ll, ent

    return full_t


full_t = _make_full(512)
full_t_big = _make_full(2048)


def _make_full_cat(block):
    @numba.njit(**OPTS)
    def full_cat(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
        """One GEMM across components for the E-step and one for the statistics.

        Rows are shifted by a common point g (the mean of the component means) instead of
        each component's mean; the statistics are accumulated about g, then re-centred on
        each component's mean at the end (so the outputs keep the library's contract).
        Less precise than per-component shifts when components are far apart relative to
        their spread (cancellation ~ (|mu_c - g| / sigma)^2 * eps).
        """
        n, d = X.shape
        k = means.shape[0]
        g = np.zeros(d)
        for c in range(k):
            for j in range(d):
                g[j] += means[c, j] / k
        Ucat = np.empty((d, k * d))
        bcat = np.zeros(k * d)
        for c in range(k):
            for j in range(d):
                for l in range(d):
                    Ucat[j, c * d + l] = prec_chols[c, j, l]
            for j in range(d):
                delta = means[c, j] - g[j]
                for l in range(d):
                    bcat[c * d + l] += delta * prec_chols[c, j, l]
        d1 = d + 1
        acc = np.zeros((k * d1, d1))
        w_sum = 0.0
        ll = 0.0
        ent = 0.0
        row = np.empty(k)
        for start in range(0, n, block):
            m = min(start + block, n) - start
            Z = np.empty((m, d1))
            for i in range(m):
                for j in range(d):
                    Z[i, j] = X[start + i, j] - g[j]
                Z[i, d] = 1.0
            Y = np.dot(Z[:, :d].copy(), Ucat)  # (m, k d)
            W = np.empty((m, k * d1))
            for i in range(m):
                for c in range(k):
                    q = 0.0
                    for l in range(d):
                        y = Y[i, c * d + l] - bcat[c * d + l]
                        q += y * y
                    row[c] = log_weights[c] + log_norms[c] - 0.5 * q
                wi = w[start + i]
                lse, h = _normalise_row(row, wi)
                w_sum += wi
                if wi > 0.0:
                    ll += wi * lse
                    ent += wi * h
                for c in range(k):
                    r = row[c]
                    for j in range(d1):
                        W[i, c * d1 + j] = r * Z[i, j]
            acc += np.dot(W.T.copy(), Z)
        for c in range(k):
            R = acc[c * d1 + d, d]
            resp_sum[c] += R
            # about g: A = sum r z z^T, b = sum r z; re-centre on mu_c (delta = mu_c - g)
            for j in range(d):
                dj = means[c, j] - g[j]
                bj = acc[c * d1 + j, d]
                s1[c, j] += bj - R * dj
                for l in range(d):
                    dl = means[c, l] - g[l]
                    bl = acc[c * d1 + l, d]
                    s2[c, j, l] += acc[c * d1 + j, l] - dj * bl - bj * dl + R * dj * dl
        return w_sum, ll, ent

    return full_cat


full_cat = _make_full_cat(512)
full_cat_big = _make_full_cat(2048)


def _make_diag_blk(block):
    @numba.njit(**OPTS)
    def diag_blk(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
        """Diagonal kernel over blocks of rows: element-wise passes (no reductions in the
        innermost loops, so LLVM vectorises them without fastmath) and BLAS GEMVs for
        the three reductions (q = Z^2 iv, s1 += r^T Z, s2 += r^T Z^2). Shifts stay per
        component (the library's precision)."""
        n, d = X.shape
        k = means.shape[0]
        w_sum = 0.0
        ll = 0.0
        ent = 0.0
        Z = np.empty((k, block, d))
        Z2 = np.empty((k, block, d))
        logp = np.empty((k, block))
        row = np.empty(k)
        r = np.empty(block)
        for start in range(0, n, block):
            m = min(start + block, n) - start
            for c in range(k):
                Zc = Z[c]
                Z2c = Z2[c]
                for i in range(m):
                    for j in range(d):
                        z = X[start + i, j] - means[c, j]
                        Zc[i, j] = z
                        Z2c[i, j] = z * z
                q = np.dot(Z2c[:m], inv_vars[c])
                b = log_weights[c] + log_norms[c]
                for i in range(m):
                    logp[c, i] = b - 0.5 * q[i]
            for i in range(m):
                for c in range(k):
                    row[c] = logp[c, i]
                wi = w[start + i]
                lse, h = _normalise_row(row, wi)
                for c in range(k):
                    logp[c, i] = row[c]
                w_sum += wi
                if wi > 0.0:
                    ll += wi * lse
                    ent += wi * h
            for c in range(k):
                rs = 0.0
                for i in range(m):
                    r[i] = logp[c, i]
                    rs += r[i]
                resp_sum[c] += rs
                s1[c] += np.dot(r[:m], Z[c, :m])
                s2[c] += np.dot(r[:m], Z2[c, :m])
        return w_sum, ll, ent

    return diag_blk


diag_blk = _make_diag_blk(256)
diag_blk_1k = _make_diag_blk(1024)

# The library's own kernels recompiled with two fastmath flags only: 'reassoc' lets LLVM
# vectorise the floating-point reductions, 'contract' allows FMA. No 'nnan' / 'ninf'.
_FM = dict(OPTS, fastmath={"reassoc", "contract"})


def _fastmath_copies():
    from suffstat.kernels.mixture import gmm_diag_estep, gmm_full_estep

    return (numba.njit(**_FM)(gmm_diag_estep.py_func), numba.njit(**_FM)(gmm_full_estep.py_func))


diag_fastmath, full_fastmath = _fastmath_copies()


def _make_diag_gemm(block):
    @numba.njit(**OPTS)
    def diag_gemm(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
        """Diagonal kernel as two small GEMMs per block, all components at once.

        Rows are shifted by a common point g (the mean of the means): F = [z^2, z, 1]
        (m, 2d+1); q = F[:, :2d] @ A with A = [iv; -2 iv delta] (2d, k) plus a constant per
        component; the statistics about g are R^T F (k, 2d+1), re-centred on each mean at
        the end. scikit-learn's / mlpack's formulation, with a cancellation of about
        (|mu_c - g| / sigma)^2 eps where the library's per-component shift has none.
        """
        n, d = X.shape
        k = means.shape[0]
        g = np.zeros(d)
        for c in range(k):
            for j in range(d):
                g[j] += means[c, j] / k
        A = np.empty((2 * d, k))
        base = np.empty(k)
        for c in range(k):
            cst = 0.0
            for j in range(d):
                dl = means[c, j] - g[j]
                iv = inv_vars[c, j]
                A[j, c] = iv
                A[d + j, c] = -2.0 * iv * dl
                cst += iv * dl * dl
            base[c] = log_weights[c] + log_norms[c] - 0.5 * cst
        e = 2 * d + 1
        acc = np.zeros((k, e))
        F = np.empty((block, e))
        FQ = np.empty((block, 2 * d))
        R = np.empty((block, k))
        row = np.empty(k)
        w_sum = 0.0
        ll = 0.0
        ent = 0.0
        for start in range(0, n, block):
            m = min(start + block, n) - start
            for i in range(m):
                for j in range(d):
                    z = X[start + i, j] - g[j]
                    F[i, j] = z * z
                    F[i, d + j] = z
                    FQ[i, j] = z * z
                    FQ[i, d + j] = z
                F[i, 2 * d] = 1.0
            Q = np.dot(FQ[:m], A)
            for i in range(m):
                for c in range(k):
                    row[c] = base[c] - 0.5 * Q[i, c]
                wi = w[start + i]
                lse, h = _normalise_row(row, wi)
                w_sum += wi
                if wi > 0.0:
                    ll += wi * lse
                    ent += wi * h
                for c in range(k):
                    R[i, c] = row[c]
            acc += np.dot(R[:m].T, F[:m])
        for c in range(k):
            Rc = acc[c, 2 * d]
            resp_sum[c] += Rc
            for j in range(d):
                dl = means[c, j] - g[j]
                a = acc[c, j]
                b = acc[c, d + j]
                s1[c, j] += b - Rc * dl
                s2[c, j] += a - 2.0 * dl * b + Rc * dl * dl
        return w_sum, ll, ent

    return diag_gemm


diag_gemm = _make_diag_gemm(512)
diag_gemm_2k = _make_diag_gemm(2048)


@numba.njit(**OPTS)
def full_old(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
    """The library's full kernel before commit 7f16a61 (two GEMMs on (m, d) blocks), kept
    here to compare the adopted full_t form against it."""
    n, d = X.shape
    k = means.shape[0]
    block = 512
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for start in range(0, n, block):
        m = min(start + block, n) - start
        logp = np.empty((m, k))
        Z = np.empty((m, d))
        for c in range(k):
            for i in range(m):
                for j in range(d):
                    Z[i, j] = X[start + i, j] - means[c, j]
            Y = np.dot(Z, prec_chols[c])
            for i in range(m):
                q = 0.0
                for j in range(d):
                    q += Y[i, j] * Y[i, j]
                logp[i, c] = log_weights[c] + log_norms[c] - 0.5 * q
        for i in range(m):
            wi = w[start + i]
            lse, h = _normalise_row(logp[i], wi)
            w_sum += wi
            if wi > 0.0:
                ll += wi * lse
                ent += wi * h
        ZW = np.empty((d, m))
        for c in range(k):
            rs = 0.0
            for i in range(m):
                r = logp[i, c]
                rs += r
                for j in range(d):
                    z = X[start + i, j] - means[c, j]
                    Z[i, j] = z
                    ZW[j, i] = r * z
                    s1[c, j] += r * z
            resp_sum[c] += rs
            s2[c] += np.dot(ZW, Z)
    return w_sum, ll, ent
