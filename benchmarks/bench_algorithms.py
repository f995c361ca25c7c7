"""Full EM vs stepwise EM (each step rule) vs memoized EM on a streamed .npy.

Records the exact full-data mean log-likelihood of the parameters after every pass
against the wall-clock time spent fitting (the scoring passes are not counted),
prints a table and writes a PNG plot (needs matplotlib: ``pip install suffstat[plot]``).

    python benchmarks/bench_algorithms.py            # 2,000,000 x 10, k=8
    python benchmarks/bench_algorithms.py --quick    # 200,000 rows, a few passes
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import suffstat as ss
from suffstat import steps


def make_data(path: str, n: int, d: int, k: int, seed: int = 0) -> None:
    """Write n rows of a k-cluster blob mixture to a .npy, 100,000 rows at a time."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(k, d))
    scales = rng.uniform(0.5, 1.5, size=k)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, d))
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        z = rng.integers(0, k, size=m)
        out[s : s + m] = centers[z] + scales[z, None] * rng.standard_normal((m, d))
    out.flush()
    del out


def warm(path: str) -> None:
    """Read the file once so that every contender starts with a warm page cache."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


class Trace(ss.Callback):
    """Exact full-data score after every pass; time counts only the fitting passes."""

    def __init__(self, path: str, batch_size: int) -> None:
        self.path, self.batch_size = path, batch_size
        self.points: list[tuple[float, float]] = []
        self.elapsed = 0.0

    def on_epoch_end(self, logs):
        self.elapsed += logs["time"]
        self.points.append((self.elapsed, self.model.score(self.path, batch_size=self.batch_size, n_jobs=2)))


def contenders(batch_size: int):
    return [
        ("full EM", dict(algorithm="em")),
        ("stepwise Constant(0.5)", dict(algorithm="stepwise", step=steps.Constant(0.5))),
        ("stepwise PowerDecay(0.55)", dict(algorithm="stepwise", step=steps.PowerDecay(0.55))),
        ("stepwise EMA(0.9)", dict(algorithm="stepwise", step=steps.EMA(0.9))),
        ("stepwise Momentum(0.5)", dict(algorithm="stepwise", step=steps.Momentum(0.5))),
        ("stepwise Nesterov(0.5)", dict(algorithm="stepwise", step=steps.Nesterov(0.5))),
        ("stepwise PowerDecay + average", dict(algorithm="stepwise", step=steps.PowerDecay(0.55), average=True)),
        ("memoized", dict(algorithm="memoized")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", help="the .npy to use (generated if missing)")
    parser.add_argument("--passes", type=int, default=None)
    parser.add_argument("--plot", default="docs/_static/algorithms.png", help="PNG output ('' to skip)")
    args = parser.parse_args()
    n, d, k = (200_000, 10, 8) if args.quick else (2_000_000, 10, 8)
    passes = args.passes or (4 if args.quick else 12)
    batch_size = 50_000
    tmp = tempfile.mkdtemp()
    path = args.data or os.path.join(tmp, f"blobs_{n}x{d}.npy")
    if not os.path.exists(path):
        make_data(path, n, d, k)
    warm(path)
    print(f"data: {path} ({n} x {d}, {os.path.getsize(path) / 2**20:.0f} MiB), k={k}, "
          f"batch_size={batch_size}, {passes} passes, n_jobs=2 (2 cores, shared machine)")
    start = ss.GeneralMixtureModel.from_samples(
        ss.MultivariateNormal, k, path, init="random", random_state=1, max_iter=1, tol=None,
        batch_size=batch_size, n_jobs=2,
    )
    results = {}
    for name, kw in contenders(batch_size):
        warm(path)
        model = start.copy()
        trace = Trace(path, batch_size)
        tic = time.perf_counter()
        model.fit(path, max_iter=passes, tol=None, batch_size=batch_size, n_jobs=2,
                  batches_per_epoch=2 if kw["algorithm"] != "em" else None, random_state=0,
                  callbacks=[trace], **kw)
        if kw.get("average"):  # the averaged parameters are set at the end of the fit
            trace.points[-1] = (trace.elapsed, model.score(path, batch_size=batch_size, n_jobs=2))
        results[name] = (trace.points, time.perf_counter() - tic)
    best = max(p[-1][1] for p, _ in results.values())
    print(f"\n{'algorithm':32s} {'final mean ll':>14s} {'gap to best':>12s} {'s to 0.1%':>10s} "
          f"{'s/pass':>8s}")
    for name, (points, _) in results.items():
        final = points[-1][1]
        reach = next((t for t, v in points if best - v <= 1e-3 * abs(best)), float("nan"))
        print(f"{name:32s} {final:14.6f} {best - final:12.2e} {reach:10.2f} {points[-1][0] / len(points):8.3f}")
    if args.plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot (pip install suffstat[plot])")
            return
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for name, (points, _) in results.items():
            t, v = zip(*points)
            ax.plot(t, v, marker="o", ms=3, label=name)
        lo = min(p[min(1, len(p) - 1)][1] for p, _ in results.values())
        ax.set_ylim(lo - 0.05 * abs(best - lo) - 1e-3, best + 0.1 * abs(best - lo) + 1e-3)
        ax.set_xlabel("fitting time (s), scoring passes excluded")
        ax.set_ylabel("full-data mean log-likelihood")
        ax.set_title(f"{n:,} x {d} streamed .npy, k={k}, batches of {batch_size:,}")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        os.makedirs(os.path.dirname(args.plot) or ".", exist_ok=True)
        fig.savefig(args.plot, dpi=110)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
