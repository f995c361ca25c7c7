"""Hidden Markov model kernels: scaled forward-backward and Viterbi over whole sequences,
and the fused Gaussian emissions.

A batch holds whole sequences, given by their row offsets ``bounds`` (sequence ``s``
is rows ``bounds[s]:bounds[s + 1]``). Emissions come in as log-densities ``logb``
(k, n), computed by the emission distributions, or for Gaussian emissions by one
kernel for all states (:func:`gaussian_full_emissions`, :func:`gaussian_diag_emissions`).
The forward-backward pass works in scaled form (Rabiner, 1989): each row's densities
are divided by their maximum and each forward vector is normalised, so nothing
underflows however long a sequence is, and the log-likelihood is the sum of the logs
of the scales and maxima. Memory is O(l k) per sequence: the forward variables live
in the posterior output until the backward pass overwrites them, and the backward
variables are one vector.

The fused Gaussian kernels work on blocks of rows transposed to (features, rows), so
every per-row loop runs over contiguous rows and vectorises, as in the mixture kernels
(:mod:`suffstat.kernels.mixture`): one call gives the (k, n) log-densities (already
scaled by their row maxima for the forward-backward pass) and one call the k
posterior-weighted moment records, instead of one call per state for each.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .vmath import exp_nonpositive, total, weighted_deviation_sums

# Rows per block of the emission kernels (see FULL_BLOCK in mixture.py: not a power of two).
BLOCK = 500


@kernel
def _scale_block(L, mxs, start, m, tmp, work):
    """Rows start..start+m of L (k, n): mxs[t] = max_j L[j, t], L[j, t] = exp(L[j, t] - mxs[t]).

    A NaN stays NaN (a row whose states are all -inf gives NaN, which the
    forward-backward pass reports through its maximum). tmp (float64) and work (int64)
    hold at least m entries.
    """
    k = L.shape[0]
    for i in range(m):
        mxs[start + i] = -np.inf
    for j in range(k):
        row = L[j]
        for i in range(m):
            v = row[start + i]
            mx = mxs[start + i]
            mxs[start + i] = v if v > mx else mx
    for j in range(k):
        row = L[j, start:start + m]
        for i in range(m):
            tmp[i] = row[i] - mxs[start + i]
        exp_nonpositive(tmp[:m], row, work[:m])
        for i in range(m):
            v = tmp[i]
            row[i] = row[i] if v == v else v


@kernel
def scale_emissions(logb, mxs):
    """Scale log-densities in place: logb (k, n) becomes exp(logb - column max), mxs (n,)
    the maxima."""
    n = logb.shape[1]
    tmp = np.empty(BLOCK)
    work = np.empty(BLOCK, np.int64)
    for start in range(0, n, BLOCK):
        _scale_block(logb, mxs, start, min(start + BLOCK, n) - start, tmp, work)


@kernel
def forward_backward(logb, bounds, start, trans, gamma, xi, first, seq_ll, posteriors):
    """Scaled forward(-backward) over the sequences of a batch, states along rows.

    logb (k, n) C-contiguous float64 log emission densities (state j's row of rows),
    overwritten with exp(logb - column max). The other arguments and the return value
    are those of :func:`forward_backward_scaled`.
    """
    mxs = np.empty(logb.shape[1])
    scale_emissions(logb, mxs)
    return forward_backward_scaled(logb, mxs, bounds, start, trans, gamma, xi, first, seq_ll,
                                   posteriors)


@kernel
def forward_backward_scaled(logb, mxs, bounds, start, trans, gamma, xi, first, seq_ll, posteriors):
    """Scaled forward(-backward) over the sequences of a batch, from scaled densities.

    logb (k, n) C-contiguous float64 emission densities divided by their row maximum
    and mxs (n,) the log of that maximum (as :func:`scale_emissions` leaves them).
    bounds (m + 1,) int64 offsets with bounds[0] = 0, bounds[m] = n. start (k,), trans
    (k, k) probabilities. gamma (k, n) receives the posterior state marginals (the
    scaled forward variables when ``posteriors`` is False); xi (k, k) and first (k,)
    get the expected transition counts and first-state posteriors added; seq_ll (m,)
    receives each sequence's log-likelihood. Returns the first row where every state
    has probability 0 (that sequence's log-likelihood is -inf, its posteriors 0 and it
    adds nothing), or -1.
    """
    k, n = logb.shape
    m = bounds.shape[0] - 1
    trans_t = np.ascontiguousarray(trans.T)
    inv_scale = np.empty(n)
    prev = np.empty(k)
    cur = np.empty(k)
    beta = np.empty(k)
    tmp = np.empty(k)
    bad = -1
    for s in range(m):
        a = bounds[s]
        b = bounds[s + 1]
        ll = 0.0
        failed = False
        for t in range(a, b):
            mx = mxs[t]
            if not mx > -np.inf:  # also NaN
                failed = True
                if bad < 0:
                    bad = t
                break
            c = 0.0
            if t == a:
                for j in range(k):
                    g = start[j] * logb[j, t]
                    cur[j] = g
                    c += g
            else:
                # one dot product per state: independent chains, no store between the
                # terms of a sum (the terms are added in the order of the states)
                for j in range(k):
                    acc = 0.0
                    for i in range(k):
                        acc += prev[i] * trans_t[j, i]
                    g = acc * logb[j, t]
                    cur[j] = g
                    c += g
            if not c > 0.0:
                failed = True
                if bad < 0:
                    bad = t
                break
            inv = 1.0 / c
            inv_scale[t] = inv
            for j in range(k):
                g = cur[j] * inv
                prev[j] = g
                gamma[j, t] = g
            ll += math.log(c) + mx
        if failed:
            seq_ll[s] = -np.inf
            for j in range(k):
                for t in range(a, b):
                    gamma[j, t] = 0.0
            continue
        seq_ll[s] = ll
        if not posteriors:
            continue
        # backward: beta_{b-1} = 1, so the last posterior is the last forward vector
        for j in range(k):
            beta[j] = 1.0
        for t in range(b - 2, a - 1, -1):
            sc = inv_scale[t + 1]
            for j in range(k):
                tmp[j] = logb[j, t + 1] * beta[j] * sc
            tot = 0.0
            for i in range(k):
                ai = gamma[i, t]
                acc = 0.0
                for j in range(k):
                    acc += trans[i, j] * tmp[j]
                for j in range(k):  # apart from the sum, so that it vectorises
                    xi[i, j] += ai * (trans[i, j] * tmp[j])
                beta[i] = acc
                g = ai * acc
                cur[i] = g
                tot += g
            inv = 1.0 / tot if tot > 0.0 else 1.0
            for i in range(k):
                gamma[i, t] = cur[i] * inv
        for j in range(k):
            first[j] += gamma[j, a]
    return bad


@kernel
def viterbi(logb, bounds, log_start, log_trans, path, seq_ll):
    """Most probable state path of each sequence of a batch (log space).

    logb (k, n) log emission densities, states along rows (not modified); bounds
    (m + 1,) int64 row offsets; log_start (k,), log_trans (k, k) log probabilities.
    path (n,) int64 receives the states, seq_ll (m,) each path's log-probability. Ties
    go to the lowest state. Memory: back-pointers of the longest sequence, O(l k).
    """
    k, n = logb.shape
    m = bounds.shape[0] - 1
    longest = 0
    for s in range(m):
        longest = max(longest, bounds[s + 1] - bounds[s])
    back = np.zeros((max(longest, 1), k), dtype=np.int32)
    delta = np.empty(k)
    nd = np.empty(k)
    for s in range(m):
        a = bounds[s]
        b = bounds[s + 1]
        if b <= a:
            seq_ll[s] = 0.0
            continue
        for j in range(k):
            delta[j] = log_start[j] + logb[j, a]
        for t in range(a + 1, b):
            for j in range(k):
                best = -np.inf
                arg = 0
                for i in range(k):
                    v = delta[i] + log_trans[i, j]
                    if v > best:
                        best = v
                        arg = i
                nd[j] = best + logb[j, t]
                back[t - a, j] = arg
            for j in range(k):
                delta[j] = nd[j]
        best = -np.inf
        arg = 0
        for j in range(k):
            if delta[j] > best:
                best = delta[j]
                arg = j
        seq_ll[s] = best
        path[b - 1] = arg
        for t in range(b - 1, a, -1):
            arg = back[t - a, arg]
            path[t - 1] = arg
    return 0


@kernel
def _transpose_block(X, start, m, XT):
    """XT[:, :m] = X[start:start + m].T (X (n, d) C-contiguous, XT (d, B))."""
    d = X.shape[1]
    for i in range(m):
        for j in range(d):
            XT[j, i] = X[start + i, j]


@kernel
def gaussian_full_emissions(X, means, prec_chols, log_norms, out, mxs, scaled):
    """Log-densities of every row under k full-covariance Gaussians, states along rows.

    X (n, d); means (k, d); prec_chols (k, d, d) upper-triangular U_c with precision
    U_c U_c^T; log_norms (k,) = -d/2 log 2 pi + sum log diag U_c. out (k, n) receives
    ``log N(x_t | mu_c, Sigma_c)`` as the single-state kernel computes it
    (``||(x - mu_c) U_c||^2`` with x - mu_c exact), or when ``scaled`` is True its
    exponential relative to the row maximum, with the maximum in mxs (n,) (what
    :func:`forward_backward_scaled` takes), computed while the block is in cache.
    """
    n, d = X.shape
    k = means.shape[0]
    B = BLOCK
    XT = np.empty((d, B))
    Z = np.empty((d, B))
    y = np.empty(B)
    q = np.empty(B)
    tmp = np.empty(B)
    work = np.empty(B, np.int64)
    for start in range(0, n, B):
        m = min(start + B, n) - start
        _transpose_block(X, start, m, XT)
        for c in range(k):
            for j in range(d):
                mu = means[c, j]
                xt = XT[j]
                z = Z[j]
                for i in range(m):
                    z[i] = xt[i] - mu
            for i in range(m):
                q[i] = 0.0
            for col in range(d):
                # column col of (x - mu) U: U is upper triangular, so rows j <= col only
                u = prec_chols[c, 0, col]
                z = Z[0]
                for i in range(m):
                    y[i] = z[i] * u
                for j in range(1, col + 1):
                    u = prec_chols[c, j, col]
                    z = Z[j]
                    for i in range(m):
                        y[i] += z[i] * u
                for i in range(m):
                    q[i] += y[i] * y[i]
            b = log_norms[c]
            o = out[c]
            for i in range(m):
                o[start + i] = b - 0.5 * q[i]
        if scaled:
            _scale_block(out, mxs, start, m, tmp, work)


@kernel
def gaussian_diag_emissions(X, means, inv_vars, log_norms, out, mxs, scaled):
    """Log-densities of every row under k diagonal-covariance Gaussians, states along rows.

    X (n, d); means, inv_vars (k, d); log_norms (k,) = -(d log 2 pi + log det)/2. out
    (k, n) and mxs (n,) as in :func:`gaussian_full_emissions` (the sums are the
    single-state kernel's, in the same order).
    """
    n, d = X.shape
    k = means.shape[0]
    B = BLOCK
    XT = np.empty((d, B))
    q = np.empty(B)
    tmp = np.empty(B)
    work = np.empty(B, np.int64)
    for start in range(0, n, B):
        m = min(start + B, n) - start
        _transpose_block(X, start, m, XT)
        for c in range(k):
            for i in range(m):
                q[i] = 0.0
            for j in range(d):
                mu = means[c, j]
                iv = inv_vars[c, j]
                xt = XT[j]
                for i in range(m):
                    z = xt[i] - mu
                    q[i] += z * z * iv
            b = log_norms[c]
            o = out[c]
            for i in range(m):
                o[start + i] = b - 0.5 * q[i]
        if scaled:
            _scale_block(out, mxs, start, m, tmp, work)


@kernel
def gaussian_full_moments(X, gamma, means, w_sum, s1, s2):
    """Every state's posterior-weighted moments about its mean, full scatter, in one pass.

    X (n, d); gamma (k, n) the weights of the rows (posterior state marginals); means
    (k, d) the reference points. Adds ``sum_t gamma[c, t]`` into w_sum (k,),
    ``sum_t gamma[c, t] (x_t - mu_c)`` into s1 (k, d) and
    ``sum_t gamma[c, t] (x_t - mu_c)(x_t - mu_c)^T`` into s2 (k, d, d).

    One GEMM per block serves all states (as in ``mixture.gmm_full_estep``): the
    stacked weighted deviations ``gamma_c (x - mu_c)`` (exact deviations) times the
    block shifted by the block's occupancy-weighted mean of the means, whose offset is
    taken out per block: ``sum g (x - mu)(x - mu)^T = sum g (x - mu)(x - s)^T
    - s1 (mu - s)^T``. The common shift costs relative rounding of order
    eps * (distance of mu_c from the shift / spread), as any product of shifted data;
    a state of no weight in the block does not move the shift.
    """
    n, d = X.shape
    k = means.shape[0]
    d1 = d + 1
    B = BLOCK
    XT = np.empty((d, B))
    s = np.empty(d)
    occ = np.empty(k)
    for start in range(0, n, B):
        m = min(start + B, n) - start
        _transpose_block(X, start, m, XT)
        tot = 0.0
        for c in range(k):
            oc = total(gamma[c, start:start + m], m)
            occ[c] = oc
            tot += oc
        if not tot > 0.0:
            continue  # no weight in the block (its sequences are impossible)
        for j in range(d):
            a = 0.0
            for c in range(k):
                a += occ[c] * means[c, j]
            s[j] = a / tot
        XS = np.empty((d1, m))  # whole arrays for the GEMM
        V = np.empty((k * d1, m))
        for j in range(d):
            sj = s[j]
            xt = XT[j]
            xs = XS[j]
            for i in range(m):
                xs[i] = xt[i] - sj
        for i in range(m):
            XS[d, i] = 1.0
        for c in range(k):
            r = gamma[c, start:start + m]
            w_sum[c] += occ[c]
            for j in range(d):
                mu = means[c, j]
                v = V[c * d1 + j]
                xt = XT[j]
                for i in range(m):
                    v[i] = r[i] * (xt[i] - mu)
            v = V[c * d1 + d]
            for i in range(m):
                v[i] = r[i]
        G = np.dot(V, XS.T)  # (k d1, d1)
        for c in range(k):
            g = G[c * d1:(c + 1) * d1]
            for j in range(d):
                s1[c, j] += g[j, d]
            for j in range(d):
                for h in range(j + 1):
                    a = g[j, h] - g[j, d] * (means[c, h] - s[h])
                    b = g[h, j] - g[h, d] * (means[c, j] - s[j])
                    v2 = 0.5 * (a + b)
                    s2[c, j, h] += v2
                    if h != j:
                        s2[c, h, j] += v2


@kernel
def gaussian_diag_moments(X, gamma, means, w_sum, s1, s2):
    """Every state's posterior-weighted moments about its mean, diagonal scatter, in one pass.

    X (n, d); gamma (k, n); means (k, d). Adds ``sum_t gamma[c, t]`` into w_sum (k,),
    the weighted deviations into s1 (k, d) and the weighted squared deviations into
    s2 (k, d), each block's rows summed in vector partial sums.
    """
    n, d = X.shape
    k = means.shape[0]
    B = BLOCK
    XT = np.empty((d, B))
    for start in range(0, n, B):
        m = min(start + B, n) - start
        _transpose_block(X, start, m, XT)
        for c in range(k):
            r = gamma[c, start:start + m]
            w_sum[c] += total(r, m)
            for j in range(d):
                a1, a2 = weighted_deviation_sums(r, XT[j], means[c, j], m)
                s1[c, j] += a1
                s2[c, j] += a2
