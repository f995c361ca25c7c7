"""Kernels of the streaming agglomerative clusterer (issue 16).

The state of a clusterer is a set of ``m`` slots, each a summary of the points merged
into it: ``counts[s]`` (number of points, or their total weight), ``means[s]`` (d,)
and ``scatter[s]`` ((d, d), the sum of ``w (x - mean)(x - mean)^T`` over its points).
The arrays have room for ``cap >= k + 1`` slots (one spare, for the insert-then-merge
rule and for reducing a union of summaries).

Merge costs: ``D[r, c] = D[c, r]`` is the merge cost of slots ``r`` and ``c`` (for
``r != c < m``): the squared distance of their means summed over the features in
order, times ``n_r n_c / (n_r + n_c)`` for Ward. It is recomputed for every slot
``c`` whenever slot ``r`` changes, so every other use of a cost is a look-up. Only
the upper triangle (``D[r, c]``, ``r < c``) and the rows of the slots that just
changed are ever read, so the faddc kernel writes a changed slot's costs into the
column of the earlier slots only (at ``k = 128`` the strided stores to the later
rows' columns were a fifth of the time); the lower triangle of an unchanged row may
be stale. Ward's
factor is symmetric in floating point (``*`` and ``+`` commute exactly) and so is the
squared difference, so ``D[r, c]`` is bitwise the cost the rule would compute from
the summaries at any time (the earlier kernel computed each cost where it was used;
the slots are bitwise the same).

Nearest-neighbour bookkeeping: ``nn[r]`` is the slot ``c > r`` of smallest merge cost
with ``r`` (the smallest such ``c`` on ties) and ``nnd[r]`` that cost (``nn[r] = -1``,
``nnd[r] = inf`` when ``r`` has no later slot). The closest pair is then the first
``r`` of smallest ``nnd[r]`` with ``nn[r]``: exactly the first pair ``(i, j)``, ``i < j``,
of smallest cost in row-major order. After a merge or an insert the costs of the
changed slots are recomputed (O(k d), in loops over the slots that vectorise); then
only the rows of the changed slots, and the rows whose nearest neighbour changed for
the worse, are rescanned, over ``D`` (O(k) each); every other row compares its
neighbour with the changed slots (O(1), in branch-free passes over the rows).

Where the time goes (faddc, centroid linkage, Gaussian blobs): at ``k = 32`` and
``128`` a point costs two cost rows (``2 k d``), the refresh passes over about ``k``
rows, 4 to 6 rescans of ``k / 2`` costs on average (the two changed rows and 2 to 4
rows whose neighbour moved away) and the search of the closest pair (``k``). Doing
one part twice (the rest unchanged) put, at ``k = 32, d = 2`` (then 175 ns a point),
the rescans at about 60 ns, the listing and closest-pair lanes at 18 and the cost rows
at 9; at ``d = 10`` (about 300 ns) the cost rows at 70, near their arithmetic floor
without fast-math (``2 k d`` subtractions, products and sums in 256-bit vectors). A
rescan of ``k / 3`` costs takes about 12 ns, 8 when every rescan has the same length:
the loops' mispredicted exits (one per variable-length loop, about ten a point by
count) are a good part of what is left, with the chain of dependent steps from one
arrival to the next (closest pair, merge, cost rows, refresh, listing, rescans,
closest pair): shortening it (the column writes after the refresh, the means stored
before the scatter update, the lanes combined pairwise) took ``k = 32, d = 2`` to
about 160 ns.

Once the ``k`` slots are in use, each rule runs in one kernel per batch
(``_faddc_rows``, ``_insert_merge_rows``) with every step written out and no call
per point: in numba a call to another kernel passes each array as a dozen words and
takes and drops a reference to it (atomic operations) unless the reference-count
pruning manages, which it did not for half of the helpers; those calls were a fifth
of the time at ``k = 32``. In the loops, a sampling profile (``perf``) at ``k = 32,
d = 2`` put about half of the time in the refresh (its rescans most of it, a
dependent chain of minima the compiler cannot vectorise without fast-math), a
quarter in the closest-pair search and the merge, the rest in the cost rows; at
``d = 10`` the cost rows are a third. ``benchmarks/RESULTS.md`` has the measurements.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

_ABS = np.int64(0x7FFFFFFFFFFFFFFF)  # all bits but the sign
_INF_BITS = np.int64(0x7FF0000000000000)  # the bits of +inf


@kernel
def _set_costs(cols, counts, m, s, ward, D):
    """Recompute ``D[s, c] = D[c, s]`` for every slot ``c < m`` (``D[s, s]`` is left meaningless).

    ``cols`` is the transpose of the means, (d, cap): the squared distances of slot
    ``s`` to all slots are summed feature by feature, each in order from 0.0, in
    loops over the slots that vectorise.
    """
    row = D[s]
    for c in range(m):
        row[c] = 0.0
    for t in range(cols.shape[0]):
        x = cols[t, s]
        col = cols[t]
        for c in range(m):
            diff = x - col[c]
            row[c] += diff * diff
    if ward:
        ns = counts[s]
        for c in range(m):
            row[c] = (ns * counts[c] / (ns + counts[c])) * row[c]
    for c in range(m):
        D[c, s] = row[c]


@kernel
def _move_costs(D, m, src, dst):
    """Slot ``dst`` takes the costs of slot ``src`` with the slots ``c < m`` (``src`` itself excluded)."""
    for c in range(m):
        if c != dst and c != src:
            v = D[src, c]
            D[dst, c] = v
            D[c, dst] = v


@kernel
def _row_best(D, m, r, nn, nnd):
    """Row ``r``'s nearest later slot from scratch: the first ``c > r`` of smallest cost."""
    if r + 1 >= m:
        nn[r] = -1
        nnd[r] = np.inf
        return
    row = D[r]
    best = row[r + 1]
    arg = r + 1
    for c in range(r + 2, m):
        v = row[c]
        if v < best:
            best = v
            arg = c
    nn[r] = arg
    nnd[r] = best


@kernel
def _improve(D, ch, nn, nnd):
    """Rows ``r < ch``: slot ``ch`` becomes the neighbour if nearer (or as near and earlier)."""
    row = D[ch]
    for r in range(ch):
        v = row[r]
        b = nnd[r]
        a = nn[r]
        take = (v < b) | ((v == b) & (ch < a))
        nnd[r] = v if take else b
        nn[r] = ch if take else a


@kernel
def _refresh(D, m, hi, ch0, ch1, nn, nnd):
    """Repair the bookkeeping of slots ``0..m-1`` after slots ``ch0`` and ``ch1`` (or -1) changed.

    The costs of the changed slots must already be in ``D``. Only the rows ``r < hi``
    are looked at: ``hi = m`` after the number of slots fell (a row's neighbour may be
    the removed last slot), else ``max(ch0, ch1) + 1``, since a later row's neighbour
    is a later, unchanged slot.

    Each row goes through the steps of the rule in order: if its neighbour changed,
    it either moved away (the row is to be rescanned) or not (its new cost is taken);
    then ``ch0``, then ``ch1``, replaces the neighbour if nearer (on a tie, if earlier).
    A row's steps do not depend on the other rows, so they run as passes over the
    rows, the comparisons in a branch-free loop; a row to rescan is marked with
    ``nnd = -inf`` (costs are >= 0 or NaN, and -inf never loses a comparison) and
    rescanned last.
    """
    for r in range(hi):
        old = nn[r]
        if r == ch0 or r == ch1 or old < 0 or old >= m:
            nnd[r] = -np.inf
        elif old == ch0 or old == ch1:
            v = D[r, old]
            if v > nnd[r]:  # its neighbour moved away: another slot may be nearer now
                nnd[r] = -np.inf
            else:
                nnd[r] = v
    if ch0 >= 0:
        _improve(D, ch0, nn, nnd)
    if ch1 >= 0:
        _improve(D, ch1, nn, nnd)
    for r in range(hi):
        if nnd[r] == -np.inf:
            _row_best(D, m, r, nn, nnd)


@kernel
def _closest(nn, nnd, m):
    best = np.inf
    arg = -1
    for r in range(m - 1):
        if nn[r] >= 0 and (arg < 0 or nnd[r] < best):
            best = nnd[r]
            arg = r
    return arg, nn[arg]


@kernel
def _merge_into(counts, means, scatter, cols, i, j):
    """Slot ``i`` becomes the summary of slots ``i`` and ``j`` (slot ``j`` is left as it was)."""
    na = counts[i]
    nb = counts[j]
    n = na + nb
    d = means.shape[1]
    f = na * nb / n
    for a in range(d):
        da = means[i, a] - means[j, a]
        for b in range(d):
            scatter[i, a, b] = scatter[i, a, b] + scatter[j, a, b] + f * (da * (means[i, b] - means[j, b]))
    for a in range(d):
        v = (na * means[i, a] + nb * means[j, a]) / n
        means[i, a] = v
        cols[a, i] = v
    counts[i] = n


@kernel
def _move(counts, means, scatter, cols, src, dst):
    counts[dst] = counts[src]
    for a in range(means.shape[1]):
        means[dst, a] = means[src, a]
        cols[a, dst] = means[src, a]
        for b in range(means.shape[1]):
            scatter[dst, a, b] = scatter[src, a, b]


@kernel
def _put(X, t, wt, counts, means, scatter, cols, s):
    """Slot ``s`` becomes the summary of row ``t`` alone, of count ``wt``."""
    counts[s] = wt
    for a in range(X.shape[1]):
        means[s, a] = X[t, a]
        cols[a, s] = X[t, a]
        for b in range(X.shape[1]):
            scatter[s, a, b] = 0.0


@kernel
def _reduce_one(counts, means, scatter, cols, D, nn, nnd, m, ward):
    """Merge the closest pair ``(i, j)`` into ``i``; the last slot moves into ``j``. Returns m - 1."""
    i, j = _closest(nn, nnd, m)
    _merge_into(counts, means, scatter, cols, i, j)
    last = m - 1
    if j < last:
        _move(counts, means, scatter, cols, last, j)
        _move_costs(D, last, last, j)  # the costs of the moved slot with the unchanged ones
        _set_costs(cols, counts, last, i, ward, D)
        _refresh(D, last, last, i, j, nn, nnd)
    else:
        _set_costs(cols, counts, last, i, ward, D)
        _refresh(D, last, last, i, -1, nn, nnd)
    return last


@kernel
def init_neighbours(counts, means, cols, m, ward, D, nn, nnd):
    """Fill ``cols``, the costs and the bookkeeping of slots ``0..m-1`` from scratch (O(m^2 d))."""
    for r in range(m):
        for a in range(means.shape[1]):
            cols[a, r] = means[r, a]
    for r in range(m):
        _set_costs(cols, counts, r + 1, r, ward, D)  # the costs with the slots before r
    for r in range(m):
        _row_best(D, m, r, nn, nnd)


@kernel
def reduce_to(counts, means, scatter, cols, D, nn, nnd, m, k, ward):
    """Merge closest pairs until ``k`` slots remain; ``D``, ``nn``, ``nnd`` must be filled. Returns the new m."""
    while m > k:
        m = _reduce_one(counts, means, scatter, cols, D, nn, nnd, m, ward)
    return m


@kernel
def _first_nonfinite_row(X):
    """The first row of ``X`` (C-contiguous) holding NaN or infinity, or -1.

    A float is NaN or infinite when its exponent bits are all set: the bits with the
    sign cleared, as an integer, are then ``>=`` those of ``+inf``. Blocks of rows are
    checked with an integer maximum, in a loop that vectorises; a block with such a
    value is then searched row by row.
    """
    n, d = X.shape
    flat = X.reshape(n * d).view(np.int64)
    block = 256
    for t0 in range(0, n, block):
        t1 = min(n, t0 + block)
        top = np.int64(0)
        for q in range(t0 * d, t1 * d):
            key = flat[q] & _ABS
            top = key if key > top else top
        if top >= _INF_BITS:
            for t in range(t0, t1):
                for a in range(d):
                    if not np.isfinite(X[t, a]):
                        return t
    return -1


@kernel
def _faddc_rows(X, w, t0, t1, counts, means, scatter, cols, D, nn, nnd, m, ward):
    """The faddc rule on rows ``t0..t1-1`` of ``X`` (finite), with all ``m = k`` slots in use.

    Each arrival: the closest pair ``(i, j)`` merges into ``i`` (``_merge_into``), the
    point takes slot ``j`` (``_put``), the costs of ``i`` and ``j`` are recomputed
    (``_set_costs`` for both) and the bookkeeping is repaired (``_refresh(D, m, j + 1,
    i, j, nn, nnd)``): the same steps and the same numbers, written out in one loop
    with no call. A call to a kernel passes every array and, unless numba's
    reference-count pruning manages, takes and drops a reference to each (atomic
    operations): the calls were a fifth of the time per point at ``k = 32``.

    - Closest pair: ``_closest``'s scan (every row ``r < m - 1`` has a later slot, so
      ``nn[r] >= 0``) finds the first of the smallest non-NaN ``nnd``, or row 0 if its
      ``nnd`` is NaN. For the first arrival it runs as four interleaved branch-free
      scans, lane 0 from row 0 and the others from ``(inf, -1)``, combined with the
      earlier row on a tie; for the next ones the lanes are filled by the refresh (the
      rows not rescanned as the rows are listed, the rescanned ones in a fifth lane as
      they are rescanned), each lane in increasing row order, so no pass of its own.
    - Costs: both rows in one pass over the slots for the first two features, then
      per four features, the squares added in the order of the features (the first
      feature's squares stored rather than added to 0.0: the same number, a square is
      never -0.0).
    - Bookkeeping: a row's steps do not depend on the other rows. A first pass runs
      every row's steps without a branch, so that it vectorises: its neighbour's new
      cost if the neighbour is ``i`` or ``j``, then the comparisons with ``i``, then
      ``j`` (both costs read from the rows of ``i`` and ``j``: ``D`` is symmetric),
      marking the rows to rescan with ``nnd = -inf`` (slots ``i`` and ``j``, and the
      rows whose neighbour moved away). A second lists the marked rows, without a
      branch either; the third rescans them, each in two interleaved scans combined
      as the closest pair's lanes (``_row_best``'s first smallest cost).
    """
    d = X.shape[1]
    weighted = w.shape[0] > 0
    todo = np.empty(m, dtype=np.int64)  # the rows to rescan
    # the column writes in one loop when D (m x m floats) fits in the L1 cache (32 KiB);
    # at m = 8 the one loop measured 5% slower (0.95x), at m = 128 14% (0.86x)
    small = 16 <= m <= 64
    dif = np.empty(d)  # the difference of two means
    dd = d * d
    flat = scatter.reshape(scatter.shape[0] * dd)  # the scatter matrices, one after another
    # the closest pair of the first arrival (then found in the refresh of each arrival)
    b0 = nnd[0]
    i = 0
    b1 = np.inf
    i1 = -1
    b2 = np.inf
    i2 = -1
    b3 = np.inf
    i3 = -1
    r = 1
    while r + 3 < m - 1:
        v = nnd[r]
        take = v < b1
        b1 = v if take else b1
        i1 = r if take else i1
        v = nnd[r + 1]
        take = v < b2
        b2 = v if take else b2
        i2 = r + 1 if take else i2
        v = nnd[r + 2]
        take = v < b3
        b3 = v if take else b3
        i3 = r + 2 if take else i3
        v = nnd[r + 3]
        take = v < b0
        b0 = v if take else b0
        i = r + 3 if take else i
        r += 4
    while r < m - 1:
        v = nnd[r]
        take = v < b1
        b1 = v if take else b1
        i1 = r if take else i1
        r += 1
    take = (i1 >= 0) & ((b1 < b0) | ((b1 == b0) & (i1 < i)))
    b0 = b1 if take else b0
    i = i1 if take else i
    take = (i2 >= 0) & ((b2 < b0) | ((b2 == b0) & (i2 < i)))
    b0 = b2 if take else b0
    i = i2 if take else i
    take = (i3 >= 0) & ((b3 < b0) | ((b3 == b0) & (i3 < i)))
    i = i3 if take else i
    for t in range(t0, t1):
        wt = 1.0
        if weighted:
            wt = w[t]
            if wt == 0.0:
                continue
        j = nn[i]  # the closest pair (i, j), i < j
        # slot i: the summary of slots i and j; slot j: the point alone
        na = counts[i]
        nb = counts[j]
        nab = na + nb
        f = na * nb / nab
        for a in range(d):
            dif[a] = means[i, a] - means[j, a]
        # the new means, columns and counts first: the scatter update between their
        # stores and the cost rows' vector loads of cols and counts
        for a in range(d):
            v = (na * means[i, a] + nb * means[j, a]) / nab
            means[i, a] = v
            cols[a, i] = v
            means[j, a] = X[t, a]
            cols[a, j] = X[t, a]
        counts[i] = nab
        counts[j] = wt
        for a in range(d):  # (i != j: the loops vectorise)
            da = dif[a]
            for b in range(d):
                scatter[i, a, b] = scatter[i, a, b] + scatter[j, a, b] + f * (da * dif[b])
        base = j * dd
        for q in range(dd):  # (one memset: row by row, LLVM called memset for each)
            flat[base + q] = 0.0
        # the costs of slots i and j with every slot
        if d == 0:
            for c in range(m):
                D[i, c] = 0.0
                D[j, c] = 0.0
            q = 0
        elif d == 1:
            x = cols[0, i]
            y = cols[0, j]
            for c in range(m):
                e = cols[0, c]
                diff = x - e
                D[i, c] = diff * diff
                diff = y - e
                D[j, c] = diff * diff
            q = 1
        else:  # the first two features in one pass
            x0 = cols[0, i]
            x1 = cols[1, i]
            y0 = cols[0, j]
            y1 = cols[1, j]
            for c in range(m):
                e0 = cols[0, c]
                e1 = cols[1, c]
                diff = x0 - e0
                acc = diff * diff
                diff = x1 - e1
                acc += diff * diff
                D[i, c] = acc
                diff = y0 - e0
                acc = diff * diff
                diff = y1 - e1
                acc += diff * diff
                D[j, c] = acc
            q = 2
        while q + 4 <= d:
            x0 = cols[q, i]
            x1 = cols[q + 1, i]
            x2 = cols[q + 2, i]
            x3 = cols[q + 3, i]
            y0 = cols[q, j]
            y1 = cols[q + 1, j]
            y2 = cols[q + 2, j]
            y3 = cols[q + 3, j]
            for c in range(m):
                e0 = cols[q, c]
                e1 = cols[q + 1, c]
                e2 = cols[q + 2, c]
                e3 = cols[q + 3, c]
                acc = D[i, c]
                diff = x0 - e0
                acc += diff * diff
                diff = x1 - e1
                acc += diff * diff
                diff = x2 - e2
                acc += diff * diff
                diff = x3 - e3
                acc += diff * diff
                D[i, c] = acc
                acc = D[j, c]
                diff = y0 - e0
                acc += diff * diff
                diff = y1 - e1
                acc += diff * diff
                diff = y2 - e2
                acc += diff * diff
                diff = y3 - e3
                acc += diff * diff
                D[j, c] = acc
            q += 4
        while q < d:
            x = cols[q, i]
            y = cols[q, j]
            for c in range(m):
                e = cols[q, c]
                diff = x - e
                D[i, c] += diff * diff
                diff = y - e
                D[j, c] += diff * diff
            q += 1
        if ward:
            for c in range(m):
                nc = counts[c]
                D[i, c] = (nab * nc / (nab + nc)) * D[i, c]
                D[j, c] = (wt * nc / (wt + nc)) * D[j, c]
        # the bookkeeping of rows 0..j (a later row's neighbour is a later, unchanged slot)
        for r in range(j + 1):
            cand = nn[r]
            cost = nnd[r]
            vi = D[i, r]
            vj = D[j, r]
            moved = (cand == i) | (cand == j)
            v = vi if cand == i else vj
            scan = (r == i) | (r == j) | (cand < 0) | (cand >= m) | (moved & (v > cost))
            cost = v if moved else cost
            take = (r < i) & ((vi < cost) | ((vi == cost) & (i < cand)))
            cost = vi if take else cost
            cand = i if take else cand
            take = (vj < cost) | ((vj == cost) & (j < cand))
            cost = vj if take else cost
            nn[r] = j if take else cand
            nnd[r] = -np.inf if scan else cost
        # the upper triangle: the columns of the rows before i and j (see above), for
        # the rescans; after the refresh pass, which reads rows i and j in vectors (a
        # vector load over a just-stored scalar, D[i, j], would wait for the store)
        if small:  # one loop (one exit to predict); c >= i writes a stale lower triangle
            for c in range(j):
                D[c, i] = D[i, c]
                D[c, j] = D[j, c]
        else:  # the fewest strided stores, D being larger than the L1 cache
            for c in range(i):
                D[c, i] = D[i, c]
            for c in range(j):
                D[c, j] = D[j, c]
        # the marked rows listed; the rows r >= 1 not marked go to four lanes of the
        # next closest pair (rows m - 1 and beyond j are never marked)
        todo[0] = 0
        cnt = 1 if nnd[0] == -np.inf else 0
        b1 = np.inf
        i1 = -1
        b2 = np.inf
        i2 = -1
        b3 = np.inf
        i3 = -1
        b4 = np.inf
        i4 = -1
        r = 1
        while r <= j and r + 3 < m - 1:  # (up to three rows beyond j: never marked)
            v = nnd[r]
            todo[cnt] = r
            cnt += v == -np.inf
            take = (v < b1) & (v > -np.inf)
            b1 = v if take else b1
            i1 = r if take else i1
            v = nnd[r + 1]
            todo[cnt] = r + 1
            cnt += v == -np.inf
            take = (v < b2) & (v > -np.inf)
            b2 = v if take else b2
            i2 = r + 1 if take else i2
            v = nnd[r + 2]
            todo[cnt] = r + 2
            cnt += v == -np.inf
            take = (v < b3) & (v > -np.inf)
            b3 = v if take else b3
            i3 = r + 2 if take else i3
            v = nnd[r + 3]
            todo[cnt] = r + 3
            cnt += v == -np.inf
            take = (v < b4) & (v > -np.inf)
            b4 = v if take else b4
            i4 = r + 3 if take else i4
            r += 4
        while r < m - 1:  # the rest of the rows, one loop
            v = nnd[r]
            todo[cnt] = r
            cnt += v == -np.inf
            take = (v < b1) & (v > -np.inf)
            b1 = v if take else b1
            i1 = r if take else i1
            r += 1
        if m >= 2:  # the last row (marked when it is j), never a lane: no later slot
            todo[cnt] = m - 1
            cnt += nnd[m - 1] == -np.inf
        # lanes 1 to 4 combined (pairwise, while the rescans run): lane 1 the smallest
        # (cost, row) of the rows not rescanned but row 0, or none (-1)
        take = (i2 >= 0) & ((i1 < 0) | (b2 < b1) | ((b2 == b1) & (i2 < i1)))
        b1 = b2 if take else b1
        i1 = i2 if take else i1
        take = (i4 >= 0) & ((i3 < 0) | (b4 < b3) | ((b4 == b3) & (i4 < i3)))
        b3 = b4 if take else b3
        i3 = i4 if take else i3
        take = (i3 >= 0) & ((i1 < 0) | (b3 < b1) | ((b3 == b1) & (i3 < i1)))
        b1 = b3 if take else b1
        i1 = i3 if take else i1
        b5 = np.inf  # the fifth lane: the rescanned rows
        i5 = -1
        for q in range(cnt):
            r = todo[q]
            if r < 0:  # never (0 <= r <= j): lets LLVM drop numba's negative-index wraparound
                continue
            if r + 1 >= m:
                nn[r] = -1
                nnd[r] = np.inf
            else:  # two interleaved scans, combined as the closest pair's lanes
                cost = D[r, r + 1]
                cand = r + 1
                cost1 = np.inf
                cand1 = -1
                c = r + 2
                while c + 1 < m:
                    v = D[r, c]
                    take = v < cost1
                    cost1 = v if take else cost1
                    cand1 = c if take else cand1
                    v = D[r, c + 1]
                    take = v < cost
                    cost = v if take else cost
                    cand = c + 1 if take else cand
                    c += 2
                v = D[r, c if c < m else m - 1]  # the last slot, if left: without a branch
                take = (c < m) & (v < cost)
                cost = v if take else cost
                cand = c if take else cand
                take = (cand1 >= 0) & ((cost1 < cost) | ((cost1 == cost) & (cand1 < cand)))
                nn[r] = cand1 if take else cand
                cost = cost1 if take else cost
                nnd[r] = cost
                take = (r >= 1) & (r < m - 1) & (cost < b5)
                b5 = cost if take else b5
                i5 = r if take else i5
        # the next closest pair: row 0, or the first of the smallest of the lanes (the
        # smallest (cost, row) of those that took a row; a lane's costs are < inf)
        take = (i5 >= 0) & ((i1 < 0) | (b5 < b1) | ((b5 == b1) & (i5 < i1)))
        b1 = b5 if take else b1
        i1 = i5 if take else i1
        i = 0
        b0 = nnd[0]
        if b0 == b0:  # else a NaN: the scan keeps row 0
            take = (i1 >= 0) & (b1 < b0)  # (a tie goes to row 0)
            i = i1 if take else i


@kernel
def _insert_merge_rows(X, w, t0, t1, counts, means, scatter, cols, D, nn, nnd, k, ward):
    """The insert-merge rule on rows ``t0..t1-1`` of ``X`` (finite), with ``k`` slots in use.

    Each arrival: the point takes the spare slot ``k`` (``_put``), gets its costs
    (``_set_costs``) and the bookkeeping of the ``k + 1`` slots is repaired
    (``_refresh(D, k + 1, k + 1, k, -1, nn, nnd)``); then ``_reduce_one``: the closest
    pair ``(i, j)`` merges into ``i``, slot ``k`` moves into ``j`` (if ``j < k``), slot
    ``i`` gets its costs and the bookkeeping of the ``k`` slots is repaired. The same
    steps and numbers, written out in one loop with no call (see ``_faddc_rows``: the
    refreshes run as its branch-free pass, list and rescans; the closest pair as its
    four lanes).
    """
    d = X.shape[1]
    weighted = w.shape[0] > 0
    todo = np.empty(k + 1, dtype=np.int64)  # the rows to rescan
    dif = np.empty(d)  # the difference of two means
    dd = d * d
    flat = scatter.reshape(scatter.shape[0] * dd)  # the scatter matrices, one after another
    m1 = k + 1
    for t in range(t0, t1):
        wt = 1.0
        if weighted:
            wt = w[t]
            if wt == 0.0:
                continue
        # the point in slot k, its costs with the k + 1 slots, the bookkeeping
        counts[k] = wt
        for a in range(d):
            means[k, a] = X[t, a]
            cols[a, k] = X[t, a]
        base = k * dd
        for q in range(dd):
            flat[base + q] = 0.0
        for c in range(m1):
            D[k, c] = 0.0
        for q in range(d):
            x = cols[q, k]
            for c in range(m1):
                diff = x - cols[q, c]
                D[k, c] += diff * diff
        if ward:
            ns = counts[k]
            for c in range(m1):
                D[k, c] = (ns * counts[c] / (ns + counts[c])) * D[k, c]
        for c in range(m1):
            D[c, k] = D[k, c]
        for r in range(m1):
            cand = nn[r]
            cost = nnd[r]
            vi = D[k, r]
            vj = D[k, r]
            moved = (cand == k) | ((-1 >= 0) & (cand == -1))
            v = vi if cand == k else vj
            scan = (r == k) | (r == -1) | (cand < 0) | (cand >= m1) | (moved & (v > cost))
            cost = v if moved else cost
            take = (r < k) & ((vi < cost) | ((vi == cost) & (k < cand)))
            cost = vi if take else cost
            cand = k if take else cand
            take = (r < -1) & ((vj < cost) | ((vj == cost) & (-1 < cand)))
            cost = vj if take else cost
            nn[r] = -1 if take else cand
            nnd[r] = -np.inf if scan else cost
        cnt = 0
        for r in range(m1):
            todo[cnt] = r
            cnt += nnd[r] == -np.inf
        for q in range(cnt):
            r = todo[q]
            if r < 0:  # never: lets LLVM drop numba's negative-index wraparound
                continue
            if r + 1 >= m1:
                nn[r] = -1
                nnd[r] = np.inf
            else:
                cost = D[r, r + 1]
                cand = r + 1
                cost1 = np.inf
                cand1 = -1
                c = r + 2
                while c + 1 < m1:
                    v = D[r, c]
                    take = v < cost1
                    cost1 = v if take else cost1
                    cand1 = c if take else cand1
                    v = D[r, c + 1]
                    take = v < cost
                    cost = v if take else cost
                    cand = c + 1 if take else cand
                    c += 2
                if c < m1:
                    v = D[r, c]
                    take = v < cost
                    cost = v if take else cost
                    cand = c if take else cand
                take = (cand1 >= 0) & ((cost1 < cost) | ((cost1 == cost) & (cand1 < cand)))
                nn[r] = cand1 if take else cand
                nnd[r] = cost1 if take else cost
        # the closest pair (i, j) of the k + 1 slots (every row r < k has a later slot)
        b0 = nnd[0]
        i = 0
        b1 = np.inf
        i1 = -1
        b2 = np.inf
        i2 = -1
        b3 = np.inf
        i3 = -1
        r = 1
        while r + 3 < k:
            v = nnd[r]
            take = v < b1
            b1 = v if take else b1
            i1 = r if take else i1
            v = nnd[r + 1]
            take = v < b2
            b2 = v if take else b2
            i2 = r + 1 if take else i2
            v = nnd[r + 2]
            take = v < b3
            b3 = v if take else b3
            i3 = r + 2 if take else i3
            v = nnd[r + 3]
            take = v < b0
            b0 = v if take else b0
            i = r + 3 if take else i
            r += 4
        while r < k:
            v = nnd[r]
            take = v < b1
            b1 = v if take else b1
            i1 = r if take else i1
            r += 1
        take = (i1 >= 0) & ((b1 < b0) | ((b1 == b0) & (i1 < i)))
        b0 = b1 if take else b0
        i = i1 if take else i
        take = (i2 >= 0) & ((b2 < b0) | ((b2 == b0) & (i2 < i)))
        b0 = b2 if take else b0
        i = i2 if take else i
        take = (i3 >= 0) & ((b3 < b0) | ((b3 == b0) & (i3 < i)))
        i = i3 if take else i
        j = nn[i]
        # slot i: the summary of slots i and j
        na = counts[i]
        nb = counts[j]
        nab = na + nb
        f = na * nb / nab
        for a in range(d):
            dif[a] = means[i, a] - means[j, a]
        for a in range(d):  # (i != j: the loop vectorises)
            da = dif[a]
            for b in range(d):
                scatter[i, a, b] = scatter[i, a, b] + scatter[j, a, b] + f * (da * dif[b])
        for a in range(d):
            v = (na * means[i, a] + nb * means[j, a]) / nab
            means[i, a] = v
            cols[a, i] = v
        counts[i] = nab
        jj = -1
        if j < k:  # slot k moves into j, with its costs
            jj = j
            counts[j] = counts[k]
            for a in range(d):
                means[j, a] = means[k, a]
                cols[a, j] = means[k, a]
            src = k * dd
            dst = j * dd
            for q in range(dd):
                flat[dst + q] = flat[src + q]
            for c in range(k):
                if c != j:
                    v = D[k, c]
                    D[j, c] = v
                    D[c, j] = v
        for c in range(k):
            D[i, c] = 0.0
        for q in range(d):
            x = cols[q, i]
            for c in range(k):
                diff = x - cols[q, c]
                D[i, c] += diff * diff
        if ward:
            ns = counts[i]
            for c in range(k):
                D[i, c] = (ns * counts[c] / (ns + counts[c])) * D[i, c]
        for c in range(k):
            D[c, i] = D[i, c]
        jr = jj if jj >= 0 else i
        for r in range(k):
            cand = nn[r]
            cost = nnd[r]
            vi = D[i, r]
            vj = D[jr, r]
            moved = (cand == i) | ((jj >= 0) & (cand == jj))
            v = vi if cand == i else vj
            scan = (r == i) | (r == jj) | (cand < 0) | (cand >= k) | (moved & (v > cost))
            cost = v if moved else cost
            take = (r < i) & ((vi < cost) | ((vi == cost) & (i < cand)))
            cost = vi if take else cost
            cand = i if take else cand
            take = (r < jj) & ((vj < cost) | ((vj == cost) & (jj < cand)))
            cost = vj if take else cost
            nn[r] = jj if take else cand
            nnd[r] = -np.inf if scan else cost
        cnt = 0
        for r in range(k):
            todo[cnt] = r
            cnt += nnd[r] == -np.inf
        for q in range(cnt):
            r = todo[q]
            if r < 0:  # never: lets LLVM drop numba's negative-index wraparound
                continue
            if r + 1 >= k:
                nn[r] = -1
                nnd[r] = np.inf
            else:
                cost = D[r, r + 1]
                cand = r + 1
                cost1 = np.inf
                cand1 = -1
                c = r + 2
                while c + 1 < k:
                    v = D[r, c]
                    take = v < cost1
                    cost1 = v if take else cost1
                    cand1 = c if take else cand1
                    v = D[r, c + 1]
                    take = v < cost
                    cost = v if take else cost
                    cand = c + 1 if take else cand
                    c += 2
                if c < k:
                    v = D[r, c]
                    take = v < cost
                    cost = v if take else cost
                    cand = c if take else cand
                take = (cand1 >= 0) & ((cost1 < cost) | ((cost1 == cost) & (cand1 < cand)))
                nn[r] = cand1 if take else cand
                nnd[r] = cost1 if take else cost


@kernel
def agglomerate(X, w, counts, means, scatter, cols, D, nn, nnd, m, k, insert_first, ward):
    """Feed the rows of ``X`` to the clusterer, in order.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        C-contiguous float64 rows.
    w : ndarray of shape (n,) or (0,)
        Non-negative finite weights, or an empty array for weight 1. A row of weight
        ``w`` arrives as one summary of count ``w``; a row of weight 0 is skipped.
    counts, means, scatter : ndarray
        The slot summaries, with room for ``k + 1`` slots; updated in place.
    cols : ndarray of shape (d, k + 1)
        The transpose of ``means``, kept in step with it.
    D, nn, nnd : ndarray
        The merge costs and the nearest-neighbour bookkeeping of the ``m`` slots in
        use; updated in place.
    m : int
        Slots in use.
    k : int
        Number of clusters.
    insert_first : bool
        The ``'insert-merge'`` rule (else ``'faddc'``).
    ward : bool
        Ward linkage (else centroid).

    Returns
    -------
    m : int
        Slots in use afterwards.
    bad : int
        The first row holding NaN or infinity (its predecessors were fed), or -1.
    """
    n, d = X.shape
    weighted = w.shape[0] > 0
    bad = _first_nonfinite_row(X)
    for t in range(n if bad < 0 else bad):
        wt = 1.0
        if weighted:
            wt = w[t]
            if wt == 0.0:
                continue
        if m < k:  # a free slot: the lowest one
            _put(X, t, wt, counts, means, scatter, cols, m)
            _set_costs(cols, counts, m + 1, m, ward, D)
            m += 1
            _refresh(D, m, m, m - 1, -1, nn, nnd)
        elif insert_first:  # once the k slots are in use: the rest of the rows in one call
            _insert_merge_rows(X, w, t, n if bad < 0 else bad, counts, means, scatter, cols, D, nn,
                               nnd, k, ward)
            break
        else:  # faddc, once the k slots are in use: the rest of the rows in one call
            _faddc_rows(X, w, t, n if bad < 0 else bad, counts, means, scatter, cols, D, nn, nnd, m,
                        ward)
            break
    return m, bad


@kernel
def squared_distances(X, centers, out):
    """``out[t, c] = |X[t] - centers[c]|^2``, summed over the features in order."""
    for t in range(X.shape[0]):
        for c in range(centers.shape[0]):
            s = 0.0
            for a in range(X.shape[1]):
                diff = X[t, a] - centers[c, a]
                s += diff * diff
            out[t, c] = s
