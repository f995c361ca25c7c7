"""Kernels shared by the univariate families: weighted sums of transformed values."""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel


@kernel(reassociate=True)
def weighted_sums(w, cols, out):
    """Add sum w and sum w * cols[j] for every column j, in vector partial sums.

    w: (n,); cols: a tuple of (n,) arrays; out: (len(cols) + 1,), out[0] receiving sum w.
    """
    n = w.shape[0]
    s = 0.0
    for i in range(n):
        s += w[i]
    out[0] += s
    for j in range(len(cols)):
        col = cols[j]
        s = 0.0
        for i in range(n):
            s += w[i] * col[i]
        out[j + 1] += s


@kernel
def compensated_sums(w, cols, out):
    """Add sum w and sum w * cols[j] for every column j, in compensated (Neumaier) sums.

    The same contract as :func:`weighted_sums`, but each sum is accurate to a few
    rounding errors whatever the number of rows (plain summation errs by up to n of
    them). The Gamma and Beta estimates take a difference of two nearly equal means,
    which must be exactly 0 for constant data: their statistics are summed this way.
    Not reassociated (reassociation would cancel the compensation).
    """
    n = w.shape[0]
    s = 0.0
    c = 0.0
    for i in range(n):
        v = w[i]
        t = s + v
        c += (s - t) + v if abs(s) >= abs(v) else (v - t) + s
        s = t
    out[0] += s + c
    for j in range(len(cols)):
        col = cols[j]
        s = 0.0
        c = 0.0
        for i in range(n):
            v = w[i] * col[i]
            t = s + v
            c += (s - t) + v if abs(s) >= abs(v) else (v - t) + s
            s = t
        out[j + 1] += s + c


@kernel
def category_counts(x, w, counts):
    """Add each row's weight to counts[x]; return the first row whose code is invalid.

    x: (n,) float64 codes; w: (n,); counts: (K,). Rows of weight 0 are skipped. Every
    other row's code is checked before it is used as an index (a whole number in
    0..K-1, NaN excluded), so no call writes outside counts, whatever the data: the
    first invalid row's index is returned (counts then holds the rows before it),
    -1 when every row was counted.
    """
    k = counts.shape[0]
    for i in range(x.shape[0]):
        if w[i] == 0.0:
            continue
        v = x[i]
        if not (v >= 0.0 and v < k and v == math.floor(v)):
            return i
        counts[int(v)] += w[i]
    return -1


@kernel
def first_at_least(x, bound):
    """First row of x that is >= bound (-1 if none); a branch-free scan first."""
    bad = False
    for i in range(x.shape[0]):
        bad |= x[i] >= bound
    if bad:
        for i in range(x.shape[0]):
            if x[i] >= bound:
                return i
    return -1


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
    """First rows of x that are negative and that are not whole numbers (-1 if none).

    The first loop is a branch-free OR over all rows (it vectorises); only a batch
    that fails is scanned again for the rows.
    """
    neg = False
    frac = False
    for i in range(x.shape[0]):
        v = x[i]
        neg |= v < 0.0
        frac |= v != math.floor(v)
    first_neg = -1
    first_frac = -1
    if neg or frac:
        for i in range(x.shape[0]):
            v = x[i]
            if first_neg < 0 and v < 0.0:
                first_neg = i
            if first_frac < 0 and v != math.floor(v):
                first_frac = i
    return first_neg, first_frac


@kernel
def first_not_binary(x):
    """First row of x that is neither 0 nor 1 (-1 if none); a branch-free scan first."""
    bad = False
    for i in range(x.shape[0]):
        v = x[i]
        bad |= (v != 0.0) & (v != 1.0)
    if bad:
        for i in range(x.shape[0]):
            if x[i] != 0.0 and x[i] != 1.0:
                return i
    return -1


@kernel
def poisson_logpmf(x, rate, log_factorials, out):
    """log p(x) of a Poisson(rate) count; -inf off the support (negative or fractional x).

    log_factorials[j] = log j! for the small counts most data hold: a table lookup
    instead of an lgamma call (14x faster per million counts of mean 3); larger counts
    call lgamma.
    """
    log_rate = math.log(rate) if rate > 0.0 else -np.inf
    top = log_factorials.shape[0]
    for i in range(x.shape[0]):
        v = x[i]
        if v < 0.0 or v != math.floor(v):
            out[i] = -np.inf
        else:
            t = v * log_rate if v > 0.0 else 0.0  # 0 log 0 = 0 (scipy.special.xlogy)
            lf = log_factorials[int(v)] if v < top else math.lgamma(v + 1.0)
            out[i] = t - rate - lf


@kernel
def bernoulli_logpmf(x, p, out):
    """log p(x) of a Bernoulli(p) outcome; -inf for values other than 0 and 1."""
    log_p = math.log(p) if p > 0.0 else -np.inf
    log_q = math.log1p(-p) if p < 1.0 else -np.inf
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = log_p if v == 1.0 else (log_q if v == 0.0 else -np.inf)
