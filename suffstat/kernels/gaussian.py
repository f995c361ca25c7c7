"""Gaussian kernels: shifted weighted moments and log-densities.

All arrays are C-contiguous float64. Full-covariance work runs over blocks of rows
so the inner products go to BLAS (``np.dot`` in nopython mode).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel

LOG_2PI = math.log(2.0 * math.pi)
BLOCK = 500  # not a power of two: see FULL_BLOCK in mixture.py


@kernel
def moments_1d(x, w, shift):
    """Shifted moments of a 1-D sample.

    x, w: (n,) float64. Returns (sum w, sum w (x - shift), sum w (x - shift)^2).
    """
    w_sum = 0.0
    s1 = 0.0
    s2 = 0.0
    for i in range(x.shape[0]):
        z = x[i] - shift
        wz = w[i] * z
        w_sum += w[i]
        s1 += wz
        s2 += wz * z
    return w_sum, s1, s2


@kernel
def moments_diag(X, w, shift, s1, s2):
    """Shifted moments of the columns of X (diagonal scatter).

    X: (n, d); w: (n,); shift: (d,). Adds into s1 (d,) and s2 (d,); returns sum w.
    """
    n, d = X.shape
    w_sum = 0.0
    for i in range(n):
        wi = w[i]
        w_sum += wi
        for j in range(d):
            z = X[i, j] - shift[j]
            wz = wi * z
            s1[j] += wz
            s2[j] += wz * z
    return w_sum


@kernel
def moments_full(X, w, shift, s1, s2):
    """Shifted moments of the rows of X with the full scatter matrix.

    X: (n, d); w: (n,); shift: (d,). Adds into s1 (d,) and s2 (d, d); returns sum w.
    """
    n, d = X.shape
    w_sum = 0.0
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        m = stop - start
        Z = np.empty((m, d))
        ZW = np.empty((d, m))
        for i in range(m):
            wi = w[start + i]
            w_sum += wi
            for j in range(d):
                z = X[start + i, j] - shift[j]
                Z[i, j] = z
                ZW[j, i] = wi * z
                s1[j] += wi * z
        s2 += np.dot(ZW, Z)
    return w_sum


@kernel
def nearest_values(X, w, target, out):
    """For each column j, the row of X[:, j] nearest to target[j] among the rows of
    positive weight, into out[j] (-1 if no row has positive weight).

    X: (n, d) C-contiguous; w: (n,); target: (d,); out: (d,) int64. Ties go to the
    first row.
    """
    n, d = X.shape
    gap = np.full(d, np.inf)
    for j in range(d):
        out[j] = -1
    for i in range(n):
        if w[i] > 0.0:
            for j in range(d):
                g = abs(X[i, j] - target[j])
                if out[j] < 0 or g < gap[j]:
                    out[j] = i
                    gap[j] = g


@kernel
def normal_logpdf(x, mean, std, out):
    """Univariate normal log-density of each x into out (both (n,))."""
    c = -math.log(std) - 0.5 * LOG_2PI
    inv = 1.0 / std
    for i in range(x.shape[0]):
        z = (x[i] - mean) * inv
        out[i] = c - 0.5 * z * z


@kernel
def mvn_diag_logpdf(X, mean, inv_var, log_norm, out):
    """Diagonal-covariance normal log-density of each row of X into out.

    X: (n, d); mean, inv_var: (d,); log_norm: the constant -0.5 (d log 2 pi + log det).
    """
    n, d = X.shape
    for i in range(n):
        q = 0.0
        for j in range(d):
            z = X[i, j] - mean[j]
            q += z * z * inv_var[j]
        out[i] = log_norm - 0.5 * q


@kernel
def mvn_full_logpdf(X, mean, prec_chol, log_norm, out):
    """Full-covariance normal log-density of each row of X into out.

    prec_chol: (d, d) upper-triangular U with precision = U U^T, so the Mahalanobis
    term is ||(x - mean) U||^2; log_norm = -0.5 d log 2 pi + sum log diag U.
    """
    n, d = X.shape
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        m = stop - start
        Z = np.empty((m, d))
        for i in range(m):
            for j in range(d):
                Z[i, j] = X[start + i, j] - mean[j]
        Y = np.dot(Z, prec_chol)
        for i in range(m):
            q = 0.0
            for j in range(d):
                q += Y[i, j] * Y[i, j]
            out[start + i] = log_norm - 0.5 * q
