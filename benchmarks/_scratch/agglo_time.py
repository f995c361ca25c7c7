"""Scratch: time the agglomerative kernel (faddc or insert-merge) on a Gaussian-blob stream.

    python benchmarks/_scratch/agglo_time.py [--k 32] [--d 2] [--n 1000000] [--reps 5] [--rule faddc] [--ward]
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from suffstat.kernels import agglomerative as K  # noqa: E402


def blobs(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 10.0, (k, d))
    return centers[rng.integers(k, size=n)] + rng.normal(size=(n, d))


def run(X, k, insert_first, ward):
    cap, d = k + 1, X.shape[1]
    counts, means, scatter = np.zeros(cap), np.zeros((cap, d)), np.zeros((cap, d, d))
    nn, nnd = np.full(cap, -1, dtype=np.int64), np.full(cap, np.inf)
    cols, D = np.zeros((d, cap)), np.zeros((cap, cap))
    t = time.perf_counter()
    K.agglomerate(X, np.empty(0), counts, means, scatter, cols, D, nn, nnd, 0, k, insert_first, ward)
    return time.perf_counter() - t


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--k", type=int, default=32)
    p.add_argument("--d", type=int, default=2)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rule", default="faddc")
    p.add_argument("--ward", action="store_true")
    a = p.parse_args()
    X = blobs(a.n, a.d, a.k)
    run(X[:2000], a.k, a.rule != "faddc", a.ward)
    ts = [run(X, a.k, a.rule != "faddc", a.ward) for _ in range(a.reps)]
    med = float(np.median(ts))
    print(f"k={a.k} d={a.d} {a.rule} ward={a.ward}: {a.n / med:,.0f} pts/s, {med / a.n * 1e9:.1f} ns/pt "
          f"(min {min(ts) / a.n * 1e9:.1f}) load {os.getloadavg()[0]:.2f}")
