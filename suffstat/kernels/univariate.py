"""Kernels shared by the univariate families: weighted sums of transformed values."""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel


@kernel
def weighted_sums(w, cols, out):
    """Add sum w and sum w * cols[:, j] for every column j.

    w: (n,); cols: (n, m); out: (m + 1,), out[0] receiving sum w.
    """
    n, m = cols.shape
    for i in range(n):
        wi = w[i]
        out[0] += wi
        for j in range(m):
            out[j + 1] += wi * cols[i, j]


@kernel
def category_counts(codes, w, counts):
    """Add each row's weight to counts[code]. codes: (n,) int64; counts: (K,)."""
    for i in range(codes.shape[0]):
        counts[codes[i]] += w[i]


@kernel
def weighted_min_max(x, w):
    """Minimum and maximum of x over the rows with positive weight (inf, -inf if none)."""
    lo = np.inf
    hi = -np.inf
    for i in range(x.shape[0]):
        if w[i] > 0.0:
            if x[i] < lo:
                lo = x[i]
            if x[i] > hi:
                hi = x[i]
    return lo, hi


@kernel
def count_violations(x):
    """First rows of x that are negative and that are not whole numbers (-1 if none)."""
    neg = -1
    frac = -1
    for i in range(x.shape[0]):
        v = x[i]
        if neg < 0 and v < 0.0:
            neg = i
        if frac < 0 and v != math.floor(v):
            frac = i
        if neg >= 0 and frac >= 0:
            break
    return neg, frac


@kernel
def first_not_binary(x):
    """First row of x that is neither 0 nor 1 (-1 if none)."""
    for i in range(x.shape[0]):
        if x[i] != 0.0 and x[i] != 1.0:
            return i
    return -1


@kernel
def poisson_logpmf(x, rate, out):
    """log p(x) of a Poisson(rate) count; -inf off the support (negative or fractional x)."""
    log_rate = math.log(rate) if rate > 0.0 else -np.inf
    for i in range(x.shape[0]):
        v = x[i]
        if v < 0.0 or v != math.floor(v):
            out[i] = -np.inf
        else:
            t = v * log_rate if v > 0.0 else 0.0  # 0 log 0 = 0 (scipy.special.xlogy)
            out[i] = t - rate - math.lgamma(v + 1.0)


@kernel
def bernoulli_logpmf(x, p, out):
    """log p(x) of a Bernoulli(p) outcome; -inf for values other than 0 and 1."""
    log_p = math.log(p) if p > 0.0 else -np.inf
    log_q = math.log1p(-p) if p < 1.0 else -np.inf
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = log_p if v == 1.0 else (log_q if v == 0.0 else -np.inf)
