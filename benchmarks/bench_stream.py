"""W3: out-of-core EM over a .npy file, seconds per full pass, suffstat vs pomegranate's loop.

The stream is a .npy of 4,000,000 x 50 float64 (1.6 GB, 3 blobs), k=3, batches of
100,000 rows, page cache warm (the file is read once before timing). One pass is one
E-step over every batch plus one M-step.

Contenders:

- raw read: the same batches copied out of the memory map (``np.copyto`` into one
  buffer), and read with ``os.preadv`` into one buffer (what suffstat's source does):
  the I/O floor of a pass;
- suffstat full / diag at n_jobs 1 and 2 (and BLAS threads as given by
  ``--suffstat-configs``: numba's np.dot calls scipy's OpenBLAS, which multi-threads the
  d=50 GEMMs; two worker threads each calling a 2-thread OpenBLAS oversubscribe the
  cores): ``fit(path, max_iter=P, tol=None,
  batch_size=100000, n_jobs=j)`` from a first-k start, run in a fresh subprocess so
  that its resident memory is its own (VmRSS sampled every 10 ms); the pass time is
  the median of the P passes of ``history_``; its quality number is the mean
  log-likelihood of the first pass's E-step (at the start), which is what one pass of
  the pomegranate loop computes too (they agree up to pomegranate's float32 rounding);
- pomegranate 1.1.2's only out-of-core path, a hand-written loop of
  ``model.summarize(batch)`` over the memory map then ``model.from_summaries()``, in
  float32 (its default dtype), CPU torch.

Bounds: the full-covariance pass needs 4 n k d^2 flops (two d x d GEMMs per row and
component); the GEMM peak is measured here on the same threads. The diagonal pass is
compared with the raw read throughput.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import _common as C

K = 3
D = 50


def generate(path: str, n: int, d: int = D, chunk: int = 200_000) -> None:
    """Write n x d float64 rows from 3 well separated blobs, a chunk at a time."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0.0, 4.0, size=(K, d))
    scales = np.array([1.0, 1.5, 0.7])
    tmp = path + ".part"
    mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float64, shape=(n, d))
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        lab = rng.integers(0, K, size=m)
        mm[s : s + m] = centers[lab] + rng.standard_normal((m, d)) * scales[lab, None]
    mm.flush()
    del mm
    os.replace(tmp, path)


def warm_page_cache(path: str) -> float:
    """Read the whole file once; return the seconds it took."""
    t = time.perf_counter()
    buf = bytearray(64 * 2**20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return time.perf_counter() - t


def batches(n: int, b: int):
    return [(s, min(s + b, n)) for s in range(0, n, b)]


def raw_memmap(path: str, b: int):
    mm = np.load(path, mmap_mode="r")
    buf = np.empty((b, mm.shape[1]))
    for s, e in batches(mm.shape[0], b):
        np.copyto(buf[: e - s], mm[s:e])
    del mm


def raw_pread(path: str, b: int):
    mm = np.load(path, mmap_mode="r")
    n, d, off = mm.shape[0], mm.shape[1], mm.offset
    del mm
    buf = np.empty((b, d))
    view = memoryview(buf.reshape(-1).view(np.uint8))
    fd = os.open(path, os.O_RDONLY)
    try:
        for s, e in batches(n, b):
            want = (e - s) * d * 8
            got = 0
            while got < want:
                got += os.preadv(fd, [view[got:want]], off + s * d * 8 + got)
    finally:
        os.close(fd)


# -- suffstat in a subprocess ------------------------------------------------------------------

WORKER = r"""
import json, statistics, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {here!r})
import numpy as np
import _common as C
C.set_threads({threads})
import suffstat as ss
path, ctype, n_jobs, passes, batch = {path!r}, {ctype!r}, {n_jobs}, {passes}, {batch}
mm = np.load(path, mmap_mode="r")
X0 = np.array(mm[:{k}]); n = mm.shape[0]; del mm
w, means, covs = C.first_k_start(X0, {k}, ctype)
# compile / load the kernels before timing
small = ss.GeneralMixtureModel([ss.MultivariateNormal(means[c], covs[c], covariance_type=ctype)
                                for c in range({k})], w)
small.fit(X0.repeat(10, axis=0) + np.arange(10 * {k})[:, None] * 1e-3, max_iter=1, tol=None)
model = ss.GeneralMixtureModel([ss.MultivariateNormal(means[c], covs[c], covariance_type=ctype)
                                for c in range({k})], w)
base = C.rss_mb()
C.reset_peak_rss()
t0 = time.perf_counter()
with C.RSSSampler(0.01) as s:
    model.fit(path, max_iter=passes, tol=None, batch_size=batch, n_jobs=n_jobs)
wall = time.perf_counter() - t0
times = [h["time"] for h in model.history_]
print(json.dumps({{"time": statistics.median(times), "passes": times, "wall": wall,
                  "peak_rss": s.peak, "vmhwm": C.peak_rss_mb(), "base_rss": base,
                  "quality": model.history_[0]["mean_log_likelihood"]}}))
"""


def suffstat_worker(path: str, ctype: str, n_jobs: int, passes: int, batch: int, threads: int):
    code = WORKER.format(root=C.ROOT, here=C.HERE, threads=threads, path=path, ctype=ctype,
                         n_jobs=n_jobs, passes=passes, batch=batch, k=K)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "worker failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- pomegranate's summarize loop ---------------------------------------------------------------


def pomegranate_loop(path: str, ctype: str, batch: int, torch, dtype):
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    mm = np.load(path, mmap_mode="r")
    n = mm.shape[0]
    X0 = np.array(mm[:K])
    w, means, covs = C.first_k_start(X0, K, ctype)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    comps = [Normal(means=torch.tensor(means[c], dtype=tdt), covs=torch.tensor(covs[c], dtype=tdt),
                    covariance_type=ctype) for c in range(K)]
    model = GeneralMixtureModel(comps, priors=torch.tensor(w, dtype=tdt))
    base = C.rss_mb()
    with C.RSSSampler(0.01) as s:
        t = time.perf_counter()
        logp = 0.0
        for a, e in batches(n, batch):
            Xb = torch.from_numpy(np.ascontiguousarray(mm[a:e], dtype=dtype))
            logp += float(model.summarize(Xb))
        model.from_summaries()
        elapsed = time.perf_counter() - t
    del mm
    return {"time": elapsed, "quality": logp / n, "peak_rss": s.peak, "base_rss": base}


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="the .npy file (generated if missing; "
                   "default: <tmp>/suffstat_w3_<n>x50.npy)")
    p.add_argument("--rows", type=int, default=None, help="rows (default 4,000,000; 200,000 with --quick)")
    p.add_argument("--batch", type=int, default=None, help="rows per batch (default 100,000; 20,000 quick)")
    p.add_argument("--passes", type=int, default=3, help="passes per suffstat subprocess (default 3)")
    p.add_argument("--cov", default="full,diag")
    p.add_argument("--suffstat-configs", default="1,2:1",
                   help="suffstat runs as n_jobs[:BLAS threads], comma-separated (default "
                        "'1,2:1': n_jobs 1 with --threads BLAS threads, and n_jobs 2 with BLAS "
                        "pinned to 1 thread; add '2' for n_jobs 2 with --threads BLAS threads, "
                        "which oversubscribes the cores and measured up to 10x slower for full)")
    p.add_argument("--pom-dtype", default="float32", choices=["float32", "float64"])
    args = C.finish_args(p.parse_args())
    n = args.rows or (200_000 if args.quick else 4_000_000)
    batch = args.batch or (20_000 if args.quick else 100_000)
    path = args.data or os.path.join(tempfile.gettempdir(), f"suffstat_w3_{n}x{D}.npy")
    C.print_header(f"bench_stream: W3, {n} x {D} float64 ({n * D * 8 / 1e9:.2f} GB) at {path}, "
                   f"k={K}, batches of {batch}", args)
    if not os.path.exists(path):
        t = time.perf_counter()
        generate(path, n)
        print(f"# generated {path} in {time.perf_counter() - t:.1f} s", flush=True)
    size_gb = os.path.getsize(path) / 1e9
    print(f"# page cache warm-up read: {warm_page_cache(path):.2f} s", flush=True)

    torch = C.optional("torch", "pomegranate (torch)")
    pom = C.optional("pomegranate.gmm", "pomegranate 1.1.2") if torch is not None else None
    if torch is not None:
        torch.set_num_threads(args.threads)
    peak = C.gemm_peak_gflops(args.threads)
    print(f"# measured float64 GEMM peak on {args.threads} threads: {peak:.1f} GFLOP/s", flush=True)

    all_results = {}
    summary = []
    raw = [C.Contender("raw read: memmap copy", lambda: raw_memmap(path, batch)),
           C.Contender("raw read: preadv", lambda: raw_pread(path, batch))]
    for ctype in args.cov.split(","):
        print(f"\n## {ctype}", flush=True)
        cs = list(raw)
        for spec in args.suffstat_configs.split(","):
            j, _, blas = spec.partition(":")
            j, blas = int(j), int(blas or args.threads)
            cs.append(C.Contender(
                f"suffstat {ctype} n_jobs={j} [BLAS {blas}]",
                (lambda j=j, blas=blas: suffstat_worker(path, ctype, j, args.passes, batch, blas))))
        if pom is not None and C.wanted(args, "pomegranate"):
            dt = np.float32 if args.pom_dtype == "float32" else np.float64
            cs.append(C.Contender(f"pomegranate loop {ctype} {args.pom_dtype}",
                                  lambda: pomegranate_loop(path, ctype, batch, torch, dt)))
        res = C.run_rounds(cs, args.rounds, warmup=False)
        all_results[ctype] = res

        def thr(r):
            return f"{size_gb / r.median:.2f}" if r.times else "-"

        def passes(r):
            ps = r.extra.get("passes")
            return ", ".join(f"{t:.2f}" for t in ps[-1]) if ps else "-"

        rows, cols = C.result_rows(res, time_name="s/pass", quality_name="mean loglik (E-step)",
                                   extra_cols={"GB/s": thr, "last run's passes (s)": passes})
        print(C.table(rows, cols, title=f"W3 {ctype}: seconds per pass over {size_gb:.2f} GB "
                                         "(x suffstat = median / best suffstat median)"))
        best = res.get(C.best_suffstat(res))
        read = min((r for nm, r in res.items() if nm.startswith("raw") and r.times),
                   key=lambda r: r.median, default=None)
        pomr = next((r for nm, r in res.items() if nm.startswith("pomegranate") and r.times), None)
        flops = 4.0 * n * K * D * D if ctype == "full" else 6.0 * n * K * D
        bound = flops / (peak * 1e9)
        ss_peaks = [max(r.peak_rss) for nm, r in res.items() if nm.startswith("suffstat") and r.peak_rss]
        if best is not None:
            summary.append({"workload": f"W3 {ctype}", "best suffstat": best.name,
                            "s/pass": C.fmt_time(best.median),
                            "vs pomegranate loop": (f"{pomr.median / best.median:.1f}x faster"
                                                    if pomr else "-"),
                            "arith bound": C.fmt_time(bound),
                            "x bound": f"{best.median / bound:.2f}",
                            "raw read": C.fmt_time(read.median) if read else "-",
                            "% of read throughput": (f"{100 * read.median / best.median:.0f}%"
                                                     if read else "-"),
                            "max VmRSS MiB": f"{max(ss_peaks):.0f}" if ss_peaks else "-"})
    if summary:
        print(C.table(summary, list(summary[0]), title="W3 against the targets (full: >= 8x "
                      "pomegranate loop, <= 2.5x GEMM bound; diag: >= 40x pomegranate loop, >= 50% "
                      "of read throughput; VmRSS < 400 MB)"))
    C.print_notes()
    C.dump_json(args.json, {"results": all_results, "summary": summary, "gemm_peak": peak})


if __name__ == "__main__":
    sys.path.insert(0, C.HERE)
    main()
