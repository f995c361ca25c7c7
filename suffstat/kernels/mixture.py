"""Fused E-step kernels for Gaussian mixtures.

One pass over a batch computes every component's log-density, the log-sum-exp
responsibilities, the batch log-likelihood and each component's shifted statistics
(about its current mean). All arrays are C-contiguous float64; sums are added into
the output arrays; the return value is ``(sum w, sum w log p(x), sum w H(r))`` with
``H(r)`` the entropy of a row's responsibilities (for the free energy of memoized EM).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .gaussian import BLOCK


@kernel
def _normalise_row(logp, wi):
    """Turn a row of joint log-densities into weighted responsibilities.

    Returns (log p(x), entropy of the responsibilities).
    """
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


@kernel
def gmm_full_estep(X, w, log_weights, means, prec_chols, log_norms, resp_sum, s1, s2):
    """Fused E-step of a full-covariance Gaussian mixture.

    X (n, d); w (n,); log_weights, log_norms (k,); means (k, d); prec_chols (k, d, d)
    upper factors of the precisions. Adds into resp_sum (k,), s1 (k, d), s2 (k, d, d).
    Returns (sum w, sum w log p(x), sum w H(r)).
    """
    n, d = X.shape
    k = means.shape[0]
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    for start in range(0, n, BLOCK):
        m = min(start + BLOCK, n) - start
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


@kernel
def gmm_diag_estep(X, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2):
    """Fused E-step of a diagonal (or spherical, or univariate) Gaussian mixture.

    X (n, d); w (n,); log_weights, log_norms (k,); means, inv_vars (k, d).
    Adds into resp_sum (k,), s1 (k, d) and s2 (k, d) (diagonal scatter).
    Returns (sum w, sum w log p(x), sum w H(r)).
    """
    n, d = X.shape
    k = means.shape[0]
    w_sum = 0.0
    ll = 0.0
    ent = 0.0
    logp = np.empty(k)
    for i in range(n):
        for c in range(k):
            q = 0.0
            for j in range(d):
                z = X[i, j] - means[c, j]
                q += z * z * inv_vars[c, j]
            logp[c] = log_weights[c] + log_norms[c] - 0.5 * q
        wi = w[i]
        lse, h = _normalise_row(logp, wi)
        w_sum += wi
        if wi > 0.0:
            ll += wi * lse
            ent += wi * h
        for c in range(k):
            r = logp[c]
            if r == 0.0:
                continue
            resp_sum[c] += r
            for j in range(d):
                z = X[i, j] - means[c, j]
                rz = r * z
                s1[c, j] += rz
                s2[c, j] += rz * z
    return w_sum, ll, ent
