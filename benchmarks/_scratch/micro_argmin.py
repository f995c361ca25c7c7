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


if __name__ == "__main__":
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
