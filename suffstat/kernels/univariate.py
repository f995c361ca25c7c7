"""Kernels shared by the univariate families: weighted sums of transformed values."""

from __future__ import annotations

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
