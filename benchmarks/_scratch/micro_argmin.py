"""Scratch: the first smallest cost of a row tail, scalar two-lane scan vs two integer-key passes.

    python benchmarks/_scratch/micro_argmin.py
"""
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from suffstat.kernels._jit import kernel  # noqa: E402

_ABS = np.int64(0x7FFFFFFFFFFFFFFF)
_BIG = np.int64(0x7FFFFFFFFFFFFFFF)


@kernel
def scalar(D, rows, m, out):
    acc = 0
    for q in range(rows.shape[0]):
        r = rows[q]
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
        if c < m:
            v = D[r, c]
            take = v < cost
            cost = v if take else cost
            cand = c if take else cand
        take = (cand1 >= 0) & ((cost1 < cost) | ((cost1 == cost) & (cand1 < cand)))
        out[q] = cand1 if take else cand
    return acc


@kernel
def intkey_full(D, rows, m, out):
    n = D.shape[1]
    Dk = D.reshape(D.shape[0] * n).view(np.int64)
    for q in range(rows.shape[0]):
        r = rows[q]
        base = r * n
        best = _BIG
        for c in range(m):
            key = Dk[base + c] & _ABS
            key = key if c > r else _BIG
            best = key if key < best else best
        first = m
        for c in range(m):
            key = Dk[base + c] & _ABS
            cc = c if (key == best) & (c > r) else m
            first = cc if cc < first else first
        out[q] = first
    return 0


@kernel
def intkey_tail(D, rows, m, out):
    n = D.shape[1]
    Dk = D.reshape(D.shape[0] * n).view(np.int64)
    for q in range(rows.shape[0]):
        r = rows[q]
        base = r * n
        best = _BIG
        for c in range(r + 1, m):
            key = Dk[base + c] & _ABS
            best = key if key < best else best
        first = m
        for c in range(r + 1, m):
            key = Dk[base + c] & _ABS
            cc = c if key == best else m
            first = cc if cc < first else first
        out[q] = first
    return 0


if __name__ == "__main__" and not os.environ.get("MAIN2"):
    for k in (32, 128):
        rng = np.random.default_rng(0)
        D = rng.random((k + 1, k + 1)) * 100
        rows = rng.integers(0, k - 1, size=200_000)
        rows = np.minimum(rows, rng.integers(0, k - 1, size=rows.size))  # like i: skewed low
        outs = {}
        for name, f in (("scalar", scalar), ("intkey_full", intkey_full), ("intkey_tail", intkey_tail)):
            o = np.zeros(rows.size, dtype=np.int64)
            f(D, rows[:10], k, o[:10])
            ts = []
            for _ in range(7):
                t = time.perf_counter()
                f(D, rows, k, o)
                ts.append(time.perf_counter() - t)
            outs[name] = o
            print(f"k={k} {name:12s} {np.median(ts) / rows.size * 1e9:6.1f} ns/row  same={np.array_equal(o, outs['scalar'])}")


@kernel
def scalar4(D, rows, m, out):
    for q in range(rows.shape[0]):
        r = rows[q]
        if r < 0:
            continue
        e0 = D[r, r + 1]
        c0 = r + 1
        e1 = np.inf
        c1 = -1
        e2 = np.inf
        c2 = -1
        e3 = np.inf
        c3 = -1
        c = r + 2
        while c + 3 < m:
            v = D[r, c]
            take = v < e1
            e1 = v if take else e1
            c1 = c if take else c1
            v = D[r, c + 1]
            take = v < e2
            e2 = v if take else e2
            c2 = c + 1 if take else c2
            v = D[r, c + 2]
            take = v < e3
            e3 = v if take else e3
            c3 = c + 2 if take else c3
            v = D[r, c + 3]
            take = v < e0
            e0 = v if take else e0
            c0 = c + 3 if take else c0
            c += 4
        while c < m:
            v = D[r, c]
            take = v < e1
            e1 = v if take else e1
            c1 = c if take else c1
            c += 1
        take = (c1 >= 0) & ((e1 < e0) | ((e1 == e0) & (c1 < c0)))
        e0 = e1 if take else e0
        c0 = c1 if take else c0
        take = (c2 >= 0) & ((e2 < e0) | ((e2 == e0) & (c2 < c0)))
        e0 = e2 if take else e0
        c0 = c2 if take else c0
        take = (c3 >= 0) & ((e3 < e0) | ((e3 == e0) & (c3 < c0)))
        c0 = c3 if take else c0
        out[q] = c0
    return 0


@kernel
def scalar2m(D, rows, m, out):
    for q in range(rows.shape[0]):
        r = rows[q]
        if r < 0:
            continue
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
        cc = c if c < m else m - 1  # the last slot, if any: without a branch
        v = D[r, cc]
        take = (c < m) & (v < cost)
        cost = v if take else cost
        cand = c if take else cand
        take = (cand1 >= 0) & ((cost1 < cost) | ((cost1 == cost) & (cand1 < cand)))
        out[q] = cand1 if take else cand
    return 0


@kernel
def scalar4m(D, rows, m, out):
    for q in range(rows.shape[0]):
        r = rows[q]
        if r < 0:
            continue
        e0 = D[r, r + 1]
        c0 = r + 1
        e1 = np.inf
        c1 = -1
        e2 = np.inf
        c2 = -1
        e3 = np.inf
        c3 = -1
        c = r + 2
        while c + 3 < m:
            v = D[r, c]
            take = v < e1
            e1 = v if take else e1
            c1 = c if take else c1
            v = D[r, c + 1]
            take = v < e2
            e2 = v if take else e2
            c2 = c + 1 if take else c2
            v = D[r, c + 2]
            take = v < e3
            e3 = v if take else e3
            c3 = c + 2 if take else c3
            v = D[r, c + 3]
            take = v < e0
            e0 = v if take else e0
            c0 = c + 3 if take else c0
            c += 4
        last = m - 1
        v = D[r, c if c < m else last]
        take = (c < m) & (v < e1)
        e1 = v if take else e1
        c1 = c if take else c1
        v = D[r, c + 1 if c + 1 < m else last]
        take = (c + 1 < m) & (v < e2)
        e2 = v if take else e2
        c2 = c + 1 if take else c2
        v = D[r, c + 2 if c + 2 < m else last]
        take = (c + 2 < m) & (v < e3)
        e3 = v if take else e3
        c3 = c + 2 if take else c3
        take = (c1 >= 0) & ((e1 < e0) | ((e1 == e0) & (c1 < c0)))
        e0 = e1 if take else e0
        c0 = c1 if take else c0
        take = (c2 >= 0) & ((e2 < e0) | ((e2 == e0) & (c2 < c0)))
        e0 = e2 if take else e0
        c0 = c2 if take else c0
        take = (c3 >= 0) & ((e3 < e0) | ((e3 == e0) & (c3 < c0)))
        c0 = c3 if take else c0
        out[q] = c0
    return 0


def main2():
    for k in (32, 128):
        rng = np.random.default_rng(0)
        D = rng.random((k + 1, k + 1)) * 100
        rows = rng.integers(0, k - 1, size=200_000)
        if k == 32:
            rows = np.maximum(rows, rng.integers(0, k - 1, size=rows.size))  # tails ~11, like the kernel's
        outs = {}
        for name, f in (("scalar", scalar), ("scalar2m", scalar2m), ("scalar4", scalar4), ("scalar4m", scalar4m)):
            o = np.zeros(rows.size, dtype=np.int64)
            f(D, rows[:10], k, o[:10])
            ts = []
            for _ in range(7):
                t = time.perf_counter()
                f(D, rows, k, o)
                ts.append(time.perf_counter() - t)
            outs[name] = o
            print(f"k={k} mean tail {np.mean(k - 1 - rows):.1f} {name:12s} {np.median(ts) / rows.size * 1e9:6.1f} ns/row  "
                  f"same={np.array_equal(o, outs['scalar'])}")


if __name__ == "__main__" and os.environ.get("MAIN2"):
    main2()
