"""Every step rule and algorithm of issue 17: passes and seconds to the best log-likelihood.

Part 1, EM on a stream. A deterministic k=8 blob mixture, ``--rows`` x 10 (2,000,000 by
default), is written as a ``.npy`` to a temporary folder and read as a memory map; the page
cache is warmed before every timed fit. From one random start per seed, each contender
fits ``--passes`` laps with ``n_jobs=2``; after every lap a callback scores the current
parameters (for Polyak averaging: the running average) on the whole file. The time axis
counts only the fitting laps, not the scoring. Contenders: full EM (``'em'``); stepwise EM
with every rule of ``ss.steps`` at its defaults (``Constant, PowerDecay, EMA, Momentum,
Nesterov, Adagrad, RMSProp, Adadelta, Adam, Adamax, AdaptiveRate``) and with
``PowerDecay()`` plus Polyak averaging (``average=True``); ``'memoized'``, ``'sem-vr'`` and
``'fiem'``. Stepped algorithms make 20 updates per lap (40 batches, two per update).

For each seed the reference is the best mean log-likelihood any contender reached at any
lap; the table gives, as medians over the seeds, the laps and seconds until a contender is
within 0.5% and 0.1% of it (``-`` when it never is: then the median is over the seeds that
got there, and ``n/3`` says how many), the final mean log-likelihood (the last lap
completed: a fit that stops on an error is marked and keeps its laps) and the E-step passes
a lap costs (``'sem-vr'`` summarizes every batch three times per lap, ``'fiem'`` about
twice).

Part 2, stochastic VB on bnpy's AsteriskK8 (``../shared/data/asterisk_k8.npz``, 5000 x 2):
``ss.BayesianGaussianMixture(n_components=10, algorithm='stochastic', batch_size=10)`` with
bnpy's prior (``sF=0.1, ECovMat='eye', gamma=1``), warm-started from a cold VB fit
(``randexamples``, 25 laps, ``tol=0``), with bnpy's soVB schedule
``PowerDecay(0.55, 1.0)`` (``rhoexp=0.55, rhodelay=1``) and every other rule; the loss
``history_[-1]['loss']`` (bnpy's ``-ELBO / (N D)``) after each lap against the converged VB
loss from the same cold start (VB to ``tol=1e-9``). ``BayesianGaussianMixture`` has no
``average=``, so Polyak averaging is not in this part.

    python benchmarks/bench_algorithms.py                       # the full run
    python benchmarks/bench_algorithms.py --rows 100000 --passes 4 --seeds 1 --vb-laps 2  # smoke
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

import suffstat as ss
from suffstat import steps

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
D, K = 10, 8
UPDATES_PER_LAP = 20


def make_data(path: str, n: int, d: int = D, k: int = K, seed: int = 0) -> None:
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


def _running_average(model):
    """The Polyak average the engine keeps during a fit (it is set on the model at the end)."""
    from suffstat.fitting.driver import EMRun

    f = sys._getframe(1)
    while f is not None:
        run = f.f_locals.get("self")
        if isinstance(run, EMRun) and run.learner is model:
            return run.avg
        f = f.f_back
    return None


class Trace(ss.Callback):
    """Exact full-data score after every lap; time counts only the fitting laps."""

    def __init__(self, X, batch_size: int, averaged: bool = False) -> None:
        self.X, self.batch_size, self.averaged = X, batch_size, averaged
        self.points: list[tuple[float, float]] = []
        self.elapsed = 0.0

    def on_epoch_end(self, logs):
        self.elapsed += logs["time"]
        model = self.model
        if self.averaged:
            avg = _running_average(model)
            if avg is not None:
                model = model.copy()
                model.commit(model.validate(avg))
        self.points.append((self.elapsed, float(model.score(self.X, batch_size=self.batch_size, n_jobs=2))))


def rules():
    return [("Constant", steps.Constant()), ("PowerDecay", steps.PowerDecay()), ("EMA", steps.EMA()),
            ("Momentum", steps.Momentum()), ("Nesterov", steps.Nesterov()), ("Adagrad", steps.Adagrad()),
            ("RMSProp", steps.RMSProp()), ("Adadelta", steps.Adadelta()), ("Adam", steps.Adam()),
            ("Adamax", steps.Adamax()), ("AdaptiveRate", steps.AdaptiveRate())]


def em_contenders():
    out = [("em", dict(algorithm="em"), 1)]
    out += [(f"stepwise {name}()", dict(algorithm="stepwise", step=rule), 1) for name, rule in rules()]
    out += [("stepwise PowerDecay() + Polyak average", dict(algorithm="stepwise", step=steps.PowerDecay(),
                                                           average=True), 1),
            ("memoized", dict(algorithm="memoized"), 1),
            ("sem-vr", dict(algorithm="sem-vr"), 3),
            ("fiem", dict(algorithm="fiem"), 2)]
    return out


def reach(points, best, frac):
    """(laps, seconds) of the first lap within frac of best, or None."""
    for lap, (t, v) in enumerate(points, start=1):
        if best - v <= frac * abs(best):
            return lap, t
    return None


def _median(values):
    return statistics.median(values) if values else math.nan


def _fmt_reach(hits, n_seeds, digits):
    if not hits:
        return "-"
    v = _median(hits)
    s = f"{v:.{digits}f}" if digits else f"{v:g}"
    return s if len(hits) == n_seeds else f"{s} ({len(hits)}/{n_seeds})"


def summarize(results, names, seeds, fracs=(5e-3, 1e-3)):
    """Rows of the markdown table from results[name][seed] = points."""
    best = {s: max(v for n in names for _, v in results[n][s]) for s in seeds}
    rows = []
    for name in names:
        row = {"contender": name}
        for frac in fracs:
            hits = [reach(results[name][s], best[s], frac) for s in seeds]
            hits = [h for h in hits if h is not None]
            row[f"laps {frac:.1%}"] = _fmt_reach([h[0] for h in hits], len(seeds), 0)
            row[f"s {frac:.1%}"] = _fmt_reach([h[1] for h in hits], len(seeds), 1)
        row["final"] = _median([results[name][s][-1][1] for s in seeds])
        row["gap"] = _median([(best[s] - results[name][s][-1][1]) / abs(best[s]) for s in seeds])
        rows.append(row)
    return rows, best


def markdown(rows, columns, fmt=None):
    fmt = fmt or {}
    cells = [[fmt.get(c, str)(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(columns)]
    line = lambda xs: "| " + " | ".join(x.ljust(w) for x, w in zip(xs, widths)) + " |"  # noqa: E731
    return "\n".join([line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(x) for x in cells)])


def style(name):
    """Line style by family: batch and incremental algorithms solid, classical step rules
    dashed, per-element adaptive rules dotted."""
    if not name.startswith("stepwise"):
        return "-"
    if any(r in name for r in ("Adagrad", "RMSProp", "Adadelta", "Adam")):
        return ":"
    return "--"


def plot_traces(results, best, seed, path, title):
    """The gap to the best mean log-likelihood (%, log scale) against laps and against
    fitting seconds, one line per contender, for one seed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install suffstat[plot])")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6), sharey=True)
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, 20))
    for i, (name, by_seed) in enumerate(results.items()):
        pts = by_seed[seed]
        gap = [max((best - v) / abs(best) * 100, 1e-3) for _, v in pts]
        laps = range(1, len(pts) + 1)
        secs = [t for t, _ in pts]
        for ax, x in zip(axes, (laps, secs)):
            ax.plot(x, gap, style(name), color=colours[i % 20], marker="o", ms=2.5, lw=1.3, label=name)
    for ax, xl in zip(axes, ("lap (pass over the data)", "fitting seconds (scoring excluded)")):
        ax.set_yscale("log")
        for frac in (0.5, 0.1):
            ax.axhline(frac, color="0.6", lw=0.8)
        ax.set_xlabel(xl)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% below the best mean log-likelihood")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=4, frameon=False)
    fig.suptitle(title + " (the best reached, and 0.5% / 0.1% below it; 1e-3% is the floor)", fontsize=10)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def run_em(args):
    tmp = tempfile.mkdtemp(prefix="suffstat_bench_algorithms_")
    try:
        path = os.path.join(tmp, f"blobs_{args.rows}x{D}.npy")
        make_data(path, args.rows, D, K)
        X = np.load(path, mmap_mode="r")
        batch_size = -(-args.rows // (2 * UPDATES_PER_LAP))
        print(f"## EM on a stream: {args.rows:,} x {D} .npy memmap ({os.path.getsize(path) / 2**20:.0f} MiB, "
              f"in a temporary folder), k={K}, full covariances, batches of {batch_size:,} (two per "
              f"update: {UPDATES_PER_LAP} updates per lap), {args.passes} laps, n_jobs=2, seeds "
              f"{list(args.seed_list)}, load {'%.2f %.2f %.2f' % os.getloadavg()}\n")
        contenders = em_contenders()
        results = {name: {} for name, _, _ in contenders}
        failures: dict[str, list[int]] = {}
        for seed in args.seed_list:
            warm(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = ss.GeneralMixtureModel.from_samples(
                    ss.MultivariateNormal, K, X, init="random", random_state=seed, max_iter=1, tol=None,
                    batch_size=batch_size, n_jobs=2)
            print(f"seed {seed}: start at {start.score(X, batch_size=batch_size, n_jobs=2):.5f}")
            for name, kw, _ in contenders:
                warm(path)
                model = start.copy()
                trace = Trace(X, batch_size, averaged=kw.get("average", False))
                error = None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        model.fit(X, max_iter=args.passes, tol=None, batch_size=batch_size, n_jobs=2,
                                  batches_per_epoch=None if kw["algorithm"] == "em" else 2,
                                  random_state=seed, callbacks=[trace], **kw)
                    except ss.exceptions.ParameterError as e:  # reported, not hidden: see the table
                        error = f"failed in lap {len(trace.points) + 1}: {str(e)[:120]}"
                        failures.setdefault(name, []).append(seed)
                results[name][seed] = trace.points or [(trace.elapsed, -math.inf)]
                fb = model.history_[-1].get("fallbacks", "") if getattr(model, "history_", None) else ""
                print(f"  {name:40s} final {results[name][seed][-1][1]:.6f}  {trace.elapsed:6.1f} s"
                      + (f"  fallbacks {fb}" if fb else "") + (f"  {error}" if error else ""))
                sys.stdout.flush()
        names = [n for n, _, _ in contenders]
        rows, best = summarize(results, names, args.seed_list)
        cost = {n: c for n, _, c in contenders}
        for r in rows:
            r["E-steps/lap"] = cost[r["contender"]]
            if r["contender"] in failures:
                r["contender"] += f" (failed, seeds {failures[r['contender']]})"
        cols = ["contender", "laps 0.5%", "laps 0.1%", "s 0.5%", "s 0.1%", "final", "gap", "E-steps/lap"]
        print(f"\nbest mean log-likelihood per seed: "
              + ", ".join(f"{s}: {b:.6f}" for s, b in best.items()) + "\n")
        table = markdown(rows, cols, {"final": lambda v: f"{v:.6f}", "gap": lambda v: f"{v:.2%}",
                                      "E-steps/lap": str})
        print(table)
        if args.plot:
            s0 = args.seed_list[0]
            plot_traces(results, best[s0], s0, args.plot,
                        f"{args.rows:,} x {D} streamed .npy, k={K}, seed {s0}, n_jobs=2")
        return results, table
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def find_asterisk():
    for up in ((), ("..",)):
        p = os.path.normpath(os.path.join(ROOT, "..", *up, "shared", "data", "asterisk_k8.npz"))
        if os.path.isfile(p):
            return p
    return os.environ.get("SUFFSTAT_ASTERISK")


class _Losses(ss.Callback):
    """bnpy's loss of every completed lap (kept when a later lap fails)."""

    def __init__(self, n_features):
        self.losses, self.n_features = [], n_features

    def on_epoch_end(self, logs):
        # what history_[i]['loss'] holds: bnpy's -elbo / (N D)
        self.losses.append(float(logs.get("loss", -logs["elbo"] / (logs["weight"] * self.n_features))))


def vb_rules():
    return [("PowerDecay(0.55, 1) (bnpy soVB)", steps.PowerDecay(0.55, 1.0))] + \
        [(f"{n}()", r) for n, r in rules() if n != "PowerDecay"]


def run_vb(args):
    path = find_asterisk()
    if path is None:
        print("\n## stochastic VB: AsteriskK8 not found (../shared/data/asterisk_k8.npz): skipped")
        return None, ""
    X = np.load(path)["X"]
    N, Dx = X.shape
    prior = ss.BayesianGaussianMixture.bnpy_prior(Dx, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
    common = dict(n_components=10, reg_covar=0.0, **prior)
    print(f"\n## stochastic VB on AsteriskK8 ({N} x {Dx}), K=10, batches of 10 ({N // 10} updates per "
          f"lap), {args.vb_laps} laps, warm from a cold VB fit (randexamples, 25 laps), seeds "
          f"{list(args.seed_list)}, load {'%.2f %.2f %.2f' % os.getloadavg()}\n")
    names = [n for n, _ in vb_rules()]
    laps = {n: {} for n in names}
    secs = {n: {} for n in names}
    ref = {}
    vb_failures: dict[str, list[int]] = {}
    from suffstat.mixtures import bayesian_gaussian as bg

    reporter = bg.LapReporter
    for seed in args.seed_list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cold = ss.BayesianGaussianMixture(init_params="randexamples", max_iter=25, tol=0.0,
                                              random_state=seed, **common).fit(X)
            conv = ss.BayesianGaussianMixture(init_params=cold, algorithm="vb", max_iter=5000, tol=1e-9,
                                              **common).fit(X)
        ref[seed] = conv.history_[-1]["loss"]
        print(f"seed {seed}: cold VB loss {cold.history_[-1]['loss']:.6f}, converged VB "
              f"{ref[seed]:.6f} after {conv.n_iter_} more laps (converged {conv.converged_})")
        for name, rule in vb_rules():
            tic = time.perf_counter()
            trace = _Losses(Dx)
            error = None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    # the estimator takes no callbacks: its verbose lap reporter is replaced by one
                    # that keeps the losses, so that a fit failing in a later lap keeps its laps
                    bg.LapReporter = lambda *a, **k: trace
                    ss.BayesianGaussianMixture(init_params=cold, algorithm="stochastic", batch_size=10,
                                               step=rule, max_iter=args.vb_laps, tol=0.0, random_state=seed,
                                               verbose=1, **common).fit(X)
                except ss.exceptions.ParameterError as e:  # reported, not hidden: see the table
                    error = f"failed in lap {len(trace.losses) + 1}: {str(e)[:100]}"
                    vb_failures.setdefault(name, []).append(seed)
                finally:
                    bg.LapReporter = reporter
            secs[name][seed] = time.perf_counter() - tic
            laps[name][seed] = trace.losses or [math.inf]
            print(f"  {name:40s} " + " ".join(f"{v:.5f}" for v in laps[name][seed])
                  + f"  {secs[name][seed]:5.1f} s" + (f"  {error}" if error else ""))
            sys.stdout.flush()
    rows = []
    n_seeds = len(args.seed_list)
    for name in names:
        row = {"step rule": name + (f" (failed, seeds {vb_failures[name]})" if name in vb_failures else "")}
        for frac in (5e-3, 1e-3):
            hits = []
            for s in args.seed_list:
                hit = next((i for i, v in enumerate(laps[name][s], start=1) if v - ref[s] <= frac * abs(ref[s])),
                           None)
                if hit is not None:
                    hits.append(hit)
            row[f"laps {frac:.1%}"] = _fmt_reach(hits, n_seeds, 0)
        for i in range(args.vb_laps):
            row[f"lap {i + 1}"] = _median([laps[name][s][i] - ref[s] for s in args.seed_list
                                           if len(laps[name][s]) > i])
        row["final loss"] = _median([laps[name][s][-1] for s in args.seed_list])
        row["s"] = _median([secs[name][s] for s in args.seed_list])
        rows.append(row)
    cols = ["step rule", "laps 0.5%", "laps 0.1%", *(f"lap {i + 1}" for i in range(args.vb_laps)),
            "final loss", "s"]
    fmt = {f"lap {i + 1}": (lambda v: f"{v:+.5f}") for i in range(args.vb_laps)}
    fmt.update({"final loss": lambda v: f"{v:.5f}", "s": lambda v: f"{v:.1f}"})
    print(f"\nconverged VB loss per seed: " + ", ".join(f"{s}: {v:.6f}" for s, v in ref.items())
          + "; lap columns: the lap's loss minus it (bnpy's loss, -ELBO / (N D)), median over seeds; "
          "laps 0.5% / 0.1%: within that fraction of it. The lap's loss is bnpy's soVB report: during "
          "lap 1 only part of the data has a record\n")
    table = markdown(rows, cols, fmt)
    print(table)
    return laps, table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of the EM stream (default 2,000,000)")
    ap.add_argument("--passes", type=int, default=20, help="laps per EM contender (default 20)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..n-1 (default 3, the median is reported)")
    ap.add_argument("--vb-laps", type=int, default=5, help="laps of stochastic VB (default 5, bnpy's gallery)")
    ap.add_argument("--plot", default="", help="PNG of the first seed's traces (e.g. docs/_static/algorithms.png)")
    ap.add_argument("--skip-em", action="store_true")
    ap.add_argument("--skip-vb", action="store_true")
    args = ap.parse_args(argv)
    args.seed_list = tuple(range(args.seeds))
    import platform

    print(f"# bench_algorithms: python {platform.python_version()}, numpy {np.__version__}, suffstat "
          f"{ss.__version__}, cpus {os.cpu_count()} (shared with other sessions), load "
          f"{'%.2f %.2f %.2f' % os.getloadavg()}")
    tic = time.perf_counter()
    if not args.skip_em:
        run_em(args)
    if not args.skip_vb:
        run_vb(args)
    print(f"\n# total {time.perf_counter() - tic:.0f} s, load at the end {'%.2f %.2f %.2f' % os.getloadavg()}")


if __name__ == "__main__":
    main()
