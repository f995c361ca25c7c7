"""Shared helpers of the benchmark scripts: options, alternating timed rounds, memory, tables.

Every script runs suffstat and each installed peer *alternately* in the same process run
(the order rotates each round, so slow drifts of a shared machine hit every contender alike),
repeats that for several rounds and reports median / min / max, the ratio of each
contender's median to suffstat's, a quality number (usually the final mean log-likelihood,
so speed is never bought with a worse fit) and the peak resident memory of each run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, ROOT)


# -- options -----------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    """An ArgumentParser with the options every script shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small data, few rounds: a smoke run")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (default 3; 2 with --quick)")
    p.add_argument("--threads", type=int, default=2, help="BLAS / torch / OpenMP threads (default 2)")
    p.add_argument("--only", default=None,
                   help="comma-separated contender names to run (suffstat is always run)")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--quiet-wait", type=float, default=None,
                   help="before each timed call, wait up to this many seconds for other processes "
                        "to use < 0.3 cores (default 10; 0 with --quick; 0 disables)")
    return p


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    if args.rounds is None:
        args.rounds = 2 if args.quick else 3
    if args.quiet_wait is None:
        args.quiet_wait = 0.0 if args.quick else 10.0
    QUIET_WAIT[0] = args.quiet_wait
    set_threads(args.threads)
    return args


def set_threads(n: int) -> None:
    """Limit every thread pool (BLAS, OpenMP, torch) to ``n`` threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def wanted(args: argparse.Namespace, name: str) -> bool:
    if name.startswith("suffstat") or not args.only:
        return True
    return any(name.startswith(o.strip()) for o in args.only.split(","))


# -- optional peers ------------------------------------------------------------------------

NOTES: list[str] = []


def optional(module: str, label: str | None = None):
    """Import ``module`` or return None, noting that the peer is skipped."""
    try:
        return importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - any import failure means "not installed"
        NOTES.append(f"{label or module}: skipped ({type(e).__name__}: {e})")
        return None


def version_of(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001
        return "?"


def environment() -> dict[str, Any]:
    """Versions and machine facts printed at the top of every run."""
    info = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
    }
    for dist in ("suffstat", "numba", "scipy", "scikit-learn", "torch", "pomegranate", "mlpack",
                 "protopunica"):
        v = version_of(dist)
        if v != "?":
            info[dist] = v
    try:
        info["load"] = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        pass
    return info


def print_header(title: str, args: argparse.Namespace) -> None:
    env = environment()
    print(f"# {title}")
    print("# " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"# rounds {args.rounds}, threads {args.threads}{', QUICK' if args.quick else ''}")
    sys.stdout.flush()


# -- memory ------------------------------------------------------------------------------


def _status(field_name: str) -> float:
    """A /proc/self/status field in MiB (NaN where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def rss_mb() -> float:
    """Current VmRSS in MiB."""
    return _status("VmRSS")


def peak_rss_mb() -> float:
    """Peak VmRSS (VmHWM) in MiB since the start or the last :func:`reset_peak_rss`."""
    v = _status("VmHWM")
    if math.isnan(v):
        import resource

        v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return v


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RSSSampler:
    """Sample VmRSS every ``interval`` seconds on a thread; ``peak`` is the largest seen."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


# -- the other tenants of a shared machine ----------------------------------------------------


def _busy_seconds() -> float:
    """CPU seconds spent by the whole machine (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()[1:]
    except OSError:
        return math.nan
    v = [int(x) for x in parts]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)  # no idle / iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class ForeignLoad:
    """Cores used by *other* processes between ``start()`` and ``stop()``."""

    def start(self) -> None:
        self.t, self.busy, self.own = time.perf_counter(), _busy_seconds(), _own_seconds()

    def stop(self) -> float:
        dt = time.perf_counter() - self.t
        if dt <= 0:
            return math.nan
        other = (_busy_seconds() - self.busy) - (_own_seconds() - self.own)
        return max(other, 0.0) / dt


QUIET_WAIT = [10.0]  # seconds to wait for a quiet machine before each timed call (0: never)


def wait_for_quiet(max_wait: float | None = None, threshold: float = 0.3, window: float = 0.5) -> float:
    """Wait up to ``max_wait`` s until other processes use < ``threshold`` cores; return their load."""
    max_wait = QUIET_WAIT[0] if max_wait is None else max_wait
    deadline = time.perf_counter() + max_wait
    fl = ForeignLoad()
    while True:
        fl.start()
        time.sleep(window)
        load = fl.stop()
        if not load >= threshold or time.perf_counter() >= deadline:
            return load


# -- timing ------------------------------------------------------------------------------


@dataclass
class Result:
    """All rounds of one contender."""

    name: str
    times: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    peak_rss: list[float] = field(default_factory=list)
    rss_delta: list[float] = field(default_factory=list)
    foreign: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.nan

    @property
    def min(self) -> float:
        return min(self.times) if self.times else math.nan

    @property
    def max(self) -> float:
        return max(self.times) if self.times else math.nan


@dataclass
class Contender:
    """A named timed callable.

    ``run()`` does the timed work and returns either None, a float quality value, or a
    dict with optional keys ``time`` (overrides the wall time measured around the call,
    e.g. a per-iteration time), ``quality`` and ``peak_rss`` (for work run in a
    subprocess) and anything else (kept in ``extra``). ``setup()``, when given, runs
    before each timed call, untimed. ``scale`` divides the measured wall time (e.g. the
    number of iterations).
    """

    name: str
    run: Callable[[], Any]
    setup: Callable[[], Any] | None = None
    scale: float = 1.0
    warm: bool = True  # run once untimed before the rounds (JIT compilation, caches)


def run_rounds(contenders: list[Contender], rounds: int, warmup: bool = True,
               verbose: bool = True, pause: float = 0.3) -> dict[str, Result]:
    """Time each contender ``rounds`` times, alternating, rotating the order every round.

    ``pause`` seconds of sleep before each timed call (after waiting for other
    processes to be quiet) let the previous contender's pool threads (OpenMP, OpenBLAS)
    stop spinning, so they do not steal a core from the next one: an OpenBLAS thread
    spins for about 0.1 s after its last call (measured in suffstat's own EM loop:
    116 ms instead of 85 ms per pass).
    """
    results = {c.name: Result(c.name) for c in contenders}
    order = list(contenders)
    if warmup:
        for c in order:
            if not c.warm:
                continue
            try:
                if c.setup:
                    c.setup()
                c.run()
            except Exception as e:  # noqa: BLE001 - a failing peer is reported, not fatal
                results[c.name].error = f"{type(e).__name__}: {e}"
                if verbose:
                    print(f"  ! {c.name} failed in warm-up: {results[c.name].error}")
    live = [c for c in order if results[c.name].error is None]
    for r in range(rounds):
        shift = r % max(len(live), 1)
        for c in live[shift:] + live[:shift]:
            res = results[c.name]
            if res.error is not None:
                continue
            try:
                if c.setup:
                    c.setup()
                if QUIET_WAIT[0] > 0:
                    wait_for_quiet()
                if pause:
                    time.sleep(pause)
                reset_peak_rss()
                base = rss_mb()
                fl = ForeignLoad()
                fl.start()
                t0 = time.perf_counter()
                out = c.run()
                wall = time.perf_counter() - t0
                res.foreign.append(fl.stop())
                peak = peak_rss_mb()
            except Exception as e:  # noqa: BLE001
                res.error = f"{type(e).__name__}: {e}"
                if verbose:
                    print(f"  ! {c.name} failed: {res.error}")
                continue
            t = wall / c.scale
            if isinstance(out, dict):
                t = out.get("time", t)
                if "quality" in out:
                    res.quality.append(float(out["quality"]))
                if "peak_rss" in out:
                    peak, base = out["peak_rss"], out.get("base_rss", 0.0)
                for k, v in out.items():
                    if k not in ("time", "quality", "peak_rss", "base_rss"):
                        res.extra.setdefault(k, []).append(v)
            elif out is not None:
                res.quality.append(float(out))
            res.times.append(t)
            res.peak_rss.append(peak)
            res.rss_delta.append(peak - base)
            if verbose:
                q = f"  q={res.quality[-1]:.6f}" if res.quality else ""
                print(f"  round {r + 1}: {c.name:<28} {fmt_time(t)}{q}", flush=True)
    return results


# -- formatting ----------------------------------------------------------------------------


def fmt_time(t: float) -> str:
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return "-"
    if t >= 100:
        return f"{t:.0f} s"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.0f} us"


def fmt_num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if isinstance(v, (int, np.integer)):
        return str(v)
    return f"{v:.{digits}g}"


def table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (rows are dicts keyed by column)."""
    cells = [[fmt_num(r.get(c)) if not isinstance(r.get(c), str) else r[c] for c in columns]
             for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c)
              for i, c in enumerate(columns)]
    out = []
    if title:
        out.append(f"\n### {title}\n")
    out.append("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        out.append("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")
    return "\n".join(out)


def best_suffstat(results: dict[str, Result]) -> str | None:
    """Name of the fastest suffstat configuration (by median)."""
    ss = [r for n, r in results.items() if n.startswith("suffstat") and r.times]
    return min(ss, key=lambda r: r.median).name if ss else None


def result_rows(results: dict[str, Result], reference: str | None = None,
                quality_name: str = "mean loglik",
                time_name: str = "s/iter", extra_cols: dict[str, Callable[[Result], Any]] | None = None,
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of median / min / max, ratio to ``reference``, quality and peak RSS.

    ``reference`` defaults to the fastest suffstat configuration. "peak RSS" is the
    process's VmHWM during the run and "+RSS" its growth over the RSS at the start of
    the run (the process also holds the other contenders' libraries). "other load" is
    the median number of cores that *other* processes used during the timed runs (the
    machine is shared: numbers taken under load > ~0.3 are inflated).
    """
    if reference is None:
        reference = best_suffstat(results)
    ref = results.get(reference) if reference else None
    ref_med = ref.median if ref is not None else math.nan
    cols = ["contender", f"median {time_name}", "min", "max", "x suffstat", quality_name,
            "peak RSS MiB", "+RSS MiB", "other load"]
    extra_cols = extra_cols or {}
    cols += list(extra_cols)
    rows = []
    for name, r in results.items():
        if r.error is not None and not r.times:
            rows.append({"contender": name, f"median {time_name}": "failed: " + r.error[:60]})
            continue
        row = {
            "contender": name,
            f"median {time_name}": fmt_time(r.median),
            "min": fmt_time(r.min),
            "max": fmt_time(r.max),
            "x suffstat": (f"{r.median / ref_med:.2f}" if name != reference and ref_med > 0
                           else ("1" if name == reference else "-")),
            quality_name: (f"{statistics.median(r.quality):.6f}" if r.quality else "-"),
            "peak RSS MiB": (f"{max(r.peak_rss):.0f}" if r.peak_rss else "-"),
            "+RSS MiB": (f"{max(r.rss_delta):.0f}" if r.rss_delta else "-"),
            "other load": (f"{statistics.median(r.foreign):.2f}" if r.foreign else "-"),
        }
        for k, fn in extra_cols.items():
            row[k] = fn(r)
        rows.append(row)
    return rows, cols


def print_notes() -> None:
    if NOTES:
        print("\nNotes:")
        for n in dict.fromkeys(NOTES):
            print(f"- {n}")


def dump_json(path: str | None, payload: Any) -> None:
    if not path:
        return

    def default(o: Any) -> Any:
        if isinstance(o, Result):
            return o.__dict__
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        return str(o)

    with open(path, "w") as f:
        json.dump(payload, f, indent=1, default=default)


# -- Gaussian mixtures shared by the GMM scripts -------------------------------------------


def blobs(n: int, d: int, centers: int, cluster_std: float, random_state: int = 0) -> np.ndarray:
    """scikit-learn's make_blobs (the pomegranate seed's workload) as float64 C-order."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=cluster_std,
                      random_state=random_state)
    return np.ascontiguousarray(X, dtype=np.float64)


def first_k_start(X: np.ndarray, k: int, covariance_type: str):
    """First-k start: means X[:k], identity (full) or unit (diag) covariances, uniform weights."""
    d = X.shape[1]
    means = np.array(X[:k], dtype=np.float64)
    if covariance_type == "full":
        covs = np.repeat(np.eye(d)[None], k, axis=0)
    else:
        covs = np.ones((k, d))
    return np.full(k, 1.0 / k), means, covs


def mixture_mean_loglik(X: np.ndarray, weights, means, covs, covariance_type: str,
                        chunk: int = 65536) -> float:
    """Mean log-likelihood of X under a Gaussian mixture: one scorer for every library."""
    from scipy.linalg import cholesky, solve_triangular
    from scipy.special import logsumexp

    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covs = np.asarray(covs, dtype=np.float64)
    k, d = means.shape
    total = 0.0
    facts = []
    for c in range(k):
        if covariance_type == "full":
            L = cholesky(covs[c], lower=True)
            facts.append((L, 2.0 * np.log(np.diag(L)).sum()))
        else:
            var = np.broadcast_to(covs[c], (d,))
            facts.append((1.0 / var, np.log(var).sum()))
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    for s in range(0, X.shape[0], chunk):
        B = np.asarray(X[s : s + chunk], dtype=np.float64)
        lp = np.empty((B.shape[0], k))
        for c in range(k):
            Z = B - means[c]
            if covariance_type == "full":
                L, logdet = facts[c]
                Y = solve_triangular(L, Z.T, lower=True)
                q = np.einsum("ij,ij->j", Y, Y)
            else:
                inv, logdet = facts[c]
                q = (Z * Z) @ inv
            lp[:, c] = logw[c] - 0.5 * (d * math.log(2 * math.pi) + logdet + q)
        total += float(logsumexp(lp, axis=1).sum())
    return total / X.shape[0]


def suffstat_gmm(X: np.ndarray, k: int, covariance_type: str, reg_covar: float = 1e-6):
    """A suffstat GeneralMixtureModel at the first-k start."""
    import suffstat as ss

    w, means, covs = first_k_start(X, k, covariance_type)
    comps = [ss.MultivariateNormal(means[c], covs[c], covariance_type=covariance_type,
                                   reg_covar=reg_covar) for c in range(k)]
    return ss.GeneralMixtureModel(comps, w)


def suffstat_params(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, covs) of a fitted suffstat Gaussian mixture."""
    ds = model.distributions
    return (np.asarray(model.weights), np.array([d.mean for d in ds]),
            np.array([np.broadcast_to(d.cov, np.shape(ds[0].cov)) for d in ds]))


def gemm_peak_gflops(threads: int, size: int = 3000, repeats: int = 5) -> float:
    """Best observed float64 GEMM rate (GFLOP/s) with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.random((size, size))
    b = rng.random((size, size))
    c = np.empty((size, size))
    best = math.inf
    with threadpool_limits(threads):
        np.dot(a, b, out=c)
        for _ in range(repeats):
            t = time.perf_counter()
            np.dot(a, b, out=c)
            best = min(best, time.perf_counter() - t)
    return 2.0 * size**3 / best / 1e9
