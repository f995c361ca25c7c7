"""Issue 16: points per second of StreamingAgglomerative against the published faddc loop and peers.

Contenders, each fed the same Gaussian-blob stream (k blobs in d dimensions):

- suffstat: ``StreamingAgglomerative(k).fit(X)``, the faddc rule with centroid linkage
  (sequential; one numba kernel, nearest-neighbour bookkeeping, full scatter records);
- published: the published rule's pure-Python loop, re-implemented here as published
  (k slots at the origin with count 0; per point the full k x k distance matrix in
  Python loops, the closest pair merged into a weighted centroid, the point taking the
  freed slot; only centroid and count kept). Its cost per point is the same for every
  point, so it is timed on the first points of the stream: as many as take about
  ``--published-seconds`` (0.5 s; measured on 10 points first), which keeps the
  timer's and the machine's noise small (the earlier fixed counts, 20 to 1,200 points,
  took 7 to 30 ms at k >= 32 and moved by up to 2x between runs);
- triangle: the same loop computing only the upper triangle of the distances (i < j),
  the closest pair taken as they are computed: about half the published loop's work,
  so a faster peer than the loop as published (the published column of this
  benchmark's tables before 2026-12-02 was this loop);
- published+numpy: the same O(k^2 d) rule with the distance matrix computed by numpy
  per point (a fairer peer than pure Python);
- Birch: ``sklearn.cluster.Birch(n_clusters=None).partial_fit`` over chunks of 10,000 rows;
- MiniBatchKMeans: ``sklearn.cluster.MiniBatchKMeans(k, n_init=1).partial_fit`` over
  chunks of 1,024 rows.

Each is timed after a warm-up (the numba compilation is not counted), ``--rounds``
times per configuration in alternating order; the medians are reported, with the
spread (min-max) of the published loop's rate. suffstat is timed on 1,000,000 points
(100,000 with ``--quick``). ``--stream`` also
writes a 10M x 10 ``.npy`` and streams it once with ``batch_size=100_000, n_jobs=2``
in a subprocess, reporting the time and the peak resident memory (VmHWM).

    python benchmarks/bench_agglomerative.py [--quick] [--rounds 3] [--sklearn-threads 1] [--stream]

``--sklearn-threads 1`` keeps scikit-learn to one thread while it is timed: on a
loaded 2-core machine its OpenMP threads otherwise wait on each other
(MiniBatchKMeans slowed 10 to 100 times in our runs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import suffstat as ss  # noqa: E402


def blobs(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 10.0, (k, d))
    return centers[rng.integers(k, size=n)] + rng.normal(size=(n, d))


def published_loop(X, k):
    """The published faddc loop: pure Python, O(k^2 d) per point, centroid and count only.

    As published, the full k x k distance matrix is recomputed for every point (each pair
    twice, and the diagonal), then the closest pair (i, j), i < j, is found in it in
    row-major order.
    """
    d = len(X[0])
    cents = [[0.0] * d for _ in range(k)]
    counts = [0] * k
    for x in X:
        dist = []
        for i in range(k):
            ci = cents[i]
            row = []
            for j in range(k):
                cj = cents[j]
                s = 0.0
                for t in range(d):
                    diff = ci[t] - cj[t]
                    s += diff * diff
                row.append(s)
            dist.append(row)
        best, bi, bj = float("inf"), 0, 1
        for i in range(k):
            row = dist[i]
            for j in range(i + 1, k):
                if row[j] < best:
                    best, bi, bj = row[j], i, j
        n = counts[bi] + counts[bj]
        if n > 0:
            cents[bi] = [(counts[bi] * a + counts[bj] * b) / n for a, b in zip(cents[bi], cents[bj])]
        counts[bi] = n
        cents[bj] = [float(v) for v in x]
        counts[bj] = 1
    return cents, counts


def published_triangle(X, k):
    """The published loop with only the upper triangle of the distances computed, the
    minimum taken as they are: about half of its work (a faster peer than published)."""
    d = len(X[0])
    cents = [[0.0] * d for _ in range(k)]
    counts = [0] * k
    for x in X:
        best, bi, bj = float("inf"), 0, 1
        for i in range(k):
            ci = cents[i]
            for j in range(i + 1, k):
                cj = cents[j]
                s = 0.0
                for t in range(d):
                    diff = ci[t] - cj[t]
                    s += diff * diff
                if s < best:
                    best, bi, bj = s, i, j
        n = counts[bi] + counts[bj]
        if n > 0:
            cents[bi] = [(counts[bi] * a + counts[bj] * b) / n for a, b in zip(cents[bi], cents[bj])]
        counts[bi] = n
        cents[bj] = [float(v) for v in x]
        counts[bj] = 1
    return cents, counts


def published_numpy(X, k):
    """The same rule with the k x k distance matrix computed by numpy for each point."""
    cents = np.zeros((k, X.shape[1]))
    counts = np.zeros(k)
    iu = np.triu_indices(k, 1)
    for x in X:
        D = ((cents[:, None, :] - cents[None, :, :]) ** 2).sum(axis=2)[iu]
        p = int(np.argmin(D))
        i, j = iu[0][p], iu[1][p]
        n = counts[i] + counts[j]
        if n > 0:
            cents[i] = (counts[i] * cents[i] + counts[j] * cents[j]) / n
        counts[i] = n
        cents[j] = x
        counts[j] = 1
    return cents, counts


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def published_count(probe, k, seconds, n_max, fn):
    """How many rows the published loop ``fn`` takes about ``seconds`` on (timed on ``probe``)."""
    el = timed(lambda: fn(probe, k))
    return int(min(n_max, max(20, seconds / max(el / len(probe), 1e-9))))


def run_table(quick, rounds, sklearn_threads=None, published_seconds=0.5):
    """Each configuration: ``rounds`` rounds, each timing every contender once in alternating
    order (forwards, then backwards); the medians of the points per second are printed."""
    from sklearn.cluster import Birch, MiniBatchKMeans

    import contextlib

    from threadpoolctl import threadpool_limits

    def limits():
        if sklearn_threads is None:
            return contextlib.nullcontext()
        return threadpool_limits(sklearn_threads)

    n_ours = 100_000 if quick else 1_000_000
    n_sk = 10_000 if quick else 50_000
    rows = []
    print(f"median of {rounds} alternating rounds; load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on {os.cpu_count()} cores", flush=True)
    for d in (2, 10):
        for k in (8, 32, 128):
            X = blobs(n_ours, d, k)
            ss.StreamingAgglomerative(k).fit(X[:1000])  # compile
            seconds = published_seconds / (5 if quick else 1)
            n_pub = published_count(X[:10].tolist(), k, seconds, len(X), published_loop)
            n_tri = published_count(X[:10].tolist(), k, seconds, len(X), published_triangle)
            n_np = published_count(X[:10], k, seconds, len(X), published_numpy)
            Xl = X[:n_pub].tolist()
            Xt = X[:n_tri].tolist()
            probe = X[:200].tolist()  # the two pure-Python loops are the same rule
            assert published_loop(probe, k) == published_triangle(probe, k)
            Xs = X[:n_sk]

            def birch():
                with limits():
                    b = Birch(n_clusters=None)
                    for a in range(0, n_sk, 10_000):
                        b.partial_fit(Xs[a : a + 10_000])

            def mbk():
                with limits():
                    m = MiniBatchKMeans(k, n_init=1, random_state=0)
                    for a in range(0, n_sk, 1024):
                        m.partial_fit(Xs[a : a + 1024])

            contenders = [
                ("suffstat", n_ours, lambda: ss.StreamingAgglomerative(k).fit(X)),
                ("published", n_pub, lambda: published_loop(Xl, k)),
                ("triangle", n_tri, lambda: published_triangle(Xt, k)),
                ("published+numpy", n_np, lambda: published_numpy(X[:n_np], k)),
                ("Birch", n_sk, birch),
                ("MiniBatchKMeans", n_sk, mbk),
            ]
            secs = {name: [] for name, _, _ in contenders}
            for r in range(rounds):
                for name, _, fn in (contenders if r % 2 == 0 else contenders[::-1]):
                    secs[name].append(timed(fn))
            rate = {name: n / float(np.median(secs[name])) for name, n, _ in contenders}
            ours, pub, tri, pub_np, br, mb = (rate[c[0]] for c in contenders)
            pub_lo, pub_hi = n_pub / max(secs["published"]), n_pub / min(secs["published"])
            rows.append((k, d, ours, pub, tri, pub_np, br, mb))
            print(f"k={k:4d} d={d:3d}  suffstat {ours:12,.0f}/s  published {pub:9,.0f}/s "
                  f"({pub_lo:,.0f}-{pub_hi:,.0f}, {n_pub:,} points) (x{ours / pub:,.0f})  "
                  f"triangle {tri:9,.0f}/s (x{ours / tri:,.0f})  "
                  f"published+numpy {pub_np:9,.0f}/s (x{ours / pub_np:,.0f})  "
                  f"Birch {br:10,.0f}/s (x{ours / br:,.1f})  MiniBatchKMeans {mb:10,.0f}/s "
                  f"(x{ours / mb:,.1f})  [load {os.getloadavg()[0]:.2f}]", flush=True)
    return rows


STREAM_CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
import suffstat as ss
ss.StreamingAgglomerative(32, batch_size=1000).fit(__import__("numpy").zeros((3000, 10)) + __import__("numpy").arange(3000)[:, None])
t = time.perf_counter()
m = ss.StreamingAgglomerative(32, batch_size=100_000, n_jobs=2).fit(sys.argv[1])
el = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(el, int(hwm) / 1024, int(m.counts_.sum()))
"""


def run_stream(n=10_000_000, d=10):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.npy")
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
        for a in range(0, n, 1_000_000):
            mm[a : a + 1_000_000] = blobs(min(1_000_000, n - a), d, 32, seed=a)
        mm.flush()
        del mm
        out = subprocess.run([sys.executable, "-c", STREAM_CHILD, path, ROOT], capture_output=True,
                             text=True, check=True).stdout.split()
        el, mib, seen = float(out[0]), float(out[1]), int(out[2])
        print(f"stream {n:,} x {d} .npy ({n * d * 8 / 2**20:,.0f} MiB), k=32, batch_size=100000, "
              f"n_jobs=2: {el:.1f} s ({n / el:,.0f} points/s), peak RSS {mib:,.0f} MiB, {seen:,} points")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--stream", action="store_true")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sklearn-threads", type=int, default=None,
                   help="limit scikit-learn's OpenMP/BLAS threads (threadpoolctl) while it is timed")
    p.add_argument("--published-seconds", type=float, default=0.5,
                   help="time the published loops on about this many seconds of points")
    p.add_argument("--no-table", action="store_true")
    args = p.parse_args()
    if not args.no_table:
        run_table(args.quick, args.rounds, args.sklearn_threads, args.published_seconds)
    if args.stream:
        run_stream()
