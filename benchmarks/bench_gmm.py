"""W1 + W2: in-memory Gaussian mixture EM, seconds per iteration, suffstat vs peers.

W1 is the pomegranate seed's workload: make_blobs(n=557100, d=25, centers=4,
cluster_std=4, random_state=0), k=4, first-k initial means, 5 EM iterations, float64,
full and diagonal covariances. W2 is the same data with k=16.

Contenders (each from the same first-k start unless noted):

- suffstat, n_jobs=1: ``GeneralMixtureModel.fit(X, max_iter=5, tol=None)`` (one batch);
- suffstat, n_jobs=2: the same with ``batch_size=ceil(n / 8)`` (8 batches, 2 threads);
- scikit-learn: ``GaussianMixture`` with the start set as its parameters, timed over
  5 x (``_e_step`` + ``_m_step``): exactly the work of one iteration of its ``fit``,
  without its input validation or final E-step (the most favourable measure for it);
- pomegranate 1.1.2: ``GeneralMixtureModel.fit`` with max_iter=5 and tol=-inf (5
  summarize + 5 from_summaries), CPU torch, float64 parameters and data;
- mlpack: ``gmm_train`` cannot start from given parameters (its Python binding ignores
  ``input_model`` and re-runs k-means), so its s/iteration is
  (t(max_iterations=6) - t(max_iterations=1)) / 5 with ``kmeans_max_iterations=1`` and a
  fixed seed; its log-likelihood is therefore from another start;
- protopunica (pomegranate 0.14.8, ``--protopunica``): ``fit(max_iterations=5, n_jobs=2)``.

The quality column is the final mean log-likelihood per row, computed by one shared
scorer (scipy) from each library's fitted parameters.
"""

from __future__ import annotations

import math
import os
import struct
import sys
import time
import warnings

import numpy as np

import _common as C

N_ITER = 5


def sklearn_contender(X, k, ctype, sklearn_mixture):
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    GaussianMixture = sklearn_mixture.GaussianMixture
    state = {}

    def setup():
        w, means, covs = C.first_k_start(X, k, ctype)
        gm = GaussianMixture(k, covariance_type=ctype, reg_covar=1e-6, max_iter=N_ITER, tol=0.0)
        prec = _compute_precision_cholesky(covs, ctype)
        gm._set_parameters((w, means, covs, prec))
        state["gm"] = gm

    def run():
        gm = state["gm"]
        for _ in range(N_ITER):
            _, log_resp = gm._e_step(X)
            gm._m_step(X, log_resp)

    def quality():
        gm = state["gm"]
        return C.mixture_mean_loglik(X, gm.weights_, gm.means_, gm.covariances_, ctype)

    return C.Contender("scikit-learn", run, setup, scale=N_ITER, warm=False), quality


def pomegranate_contender(X, k, ctype, torch):
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    Xt = torch.from_numpy(X)
    state = {}

    def setup():
        w, means, covs = C.first_k_start(X, k, ctype)
        comps = [Normal(means=torch.from_numpy(means[c].copy()),
                        covs=torch.from_numpy(covs[c].copy()), covariance_type=ctype)
                 for c in range(k)]
        state["m"] = GeneralMixtureModel(comps, priors=torch.from_numpy(w.copy()),
                                         max_iter=N_ITER, tol=-math.inf)

    def run():
        state["m"].fit(Xt)

    def quality():
        m = state["m"]
        return C.mixture_mean_loglik(
            X, m.priors.detach().numpy(), np.array([d.means.detach().numpy() for d in m.distributions]),
            np.array([d.covs.detach().numpy() for d in m.distributions]), ctype)

    return C.Contender("pomegranate 1.1.2", run, setup, scale=N_ITER, warm=False), quality


def parse_mlpack_gmm(b: bytes, k: int, d: int):
    """(weights, means, covs) from the cereal binary archive of an mlpack GMM."""
    off = 4 + 8 * 3 + 4  # class version, gaussians, dimensionality, vector size, dist version

    def mat():
        nonlocal off
        r, c, _ = struct.unpack_from("<QQQ", b, off)
        off += 24
        a = np.frombuffer(b, dtype="<f8", count=r * c, offset=off).reshape((c, r)).T
        off += 8 * r * c
        return a

    means, covs = [], []
    for _ in range(k):
        m, cov = mat(), mat()
        mat(), mat()  # Cholesky factor, inverse
        off += 8  # log-determinant
        means.append(m[:, 0].copy())
        covs.append(cov.copy())
    w = mat()[:, 0].copy()
    return w, np.array(means), np.array(covs)


def mlpack_contender(X, k, ctype, mlpack):
    state = {}
    diag = ctype == "diag"

    def train(iters):
        return mlpack.gmm_train(gaussians=k, input_=X, max_iterations=iters, kmeans_max_iterations=1,
                                seed=1, tolerance=0.0, diagonal_covariance=diag)

    def run():
        t0 = time.perf_counter()
        train(1)
        t1 = time.perf_counter()
        out = train(1 + N_ITER)
        t2 = time.perf_counter()
        state["model"] = out["output_model"]
        return {"time": ((t2 - t1) - (t1 - t0)) / N_ITER}

    def quality():
        w, means, covs = parse_mlpack_gmm(state["model"].__getstate__(), k, X.shape[1])
        if diag:
            covs = np.array([np.diag(c) for c in covs])
        return C.mixture_mean_loglik(X, w, means, covs, ctype)

    return C.Contender("mlpack (own k-means start)", run, warm=False), quality


def protopunica_contender(X, k, ctype, pp, n_jobs):
    state = {}

    def setup():
        w, means, covs = C.first_k_start(X, k, ctype)
        if ctype == "full":
            comps = [pp.MultivariateGaussianDistribution(means[c], covs[c]) for c in range(k)]
        else:
            comps = [pp.IndependentComponentsDistribution(
                [pp.NormalDistribution(means[c, j], 1.0) for j in range(X.shape[1])]) for c in range(k)]
        state["m"] = pp.GeneralMixtureModel(comps, weights=w)

    def run():
        state["m"].fit(X, max_iterations=N_ITER, stop_threshold=-np.inf, n_jobs=n_jobs)

    def quality():
        m = state["m"]
        w = np.exp(m.weights)
        if ctype == "full":
            ps = [d.parameters for d in m.distributions]
            return C.mixture_mean_loglik(X, w, [p[0] for p in ps], [p[1] for p in ps], ctype)
        means = [[p.parameters[0] for p in d.distributions] for d in m.distributions]
        covs = [[p.parameters[1] ** 2 for p in d.distributions] for d in m.distributions]
        return C.mixture_mean_loglik(X, w, means, covs, ctype)

    return C.Contender("protopunica 0.14.8", run, setup, scale=N_ITER, warm=False), quality


def suffstat_contender(X, k, ctype, n_jobs, batch_size):
    state = {}

    def setup():
        state["m"] = C.suffstat_gmm(X, k, ctype)

    def run():
        state["m"].fit(X, max_iter=N_ITER, tol=None, n_jobs=n_jobs, batch_size=batch_size)

    def quality():
        return C.mixture_mean_loglik(X, *C.suffstat_params(state["m"]), ctype)

    name = f"suffstat n_jobs={n_jobs}" + ("" if batch_size is None else f" (batch {batch_size})")
    return C.Contender(name, run, setup, scale=N_ITER), quality


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="rows (default 557100; 50000 with --quick)")
    p.add_argument("--k", default="4,16", help="numbers of components (default 4,16)")
    p.add_argument("--cov", default="full,diag", help="covariance types (default full,diag)")
    p.add_argument("--protopunica", action="store_true", help="also run protopunica (slow)")
    p.add_argument("--plot", default=None, help="also draw the medians (with min-max bars) to this image")
    args = C.finish_args(p.parse_args())
    n = args.n or (50_000 if args.quick else 557_100)
    C.print_header(f"bench_gmm: W1/W2, n={n}, d=25, {N_ITER} EM iterations from a first-k start", args)
    warnings.filterwarnings("ignore")

    import suffstat  # noqa: F401 - fail early if the library does not import

    sk = C.optional("sklearn.mixture", "scikit-learn")
    torch = C.optional("torch", "pomegranate (torch)")
    pom = C.optional("pomegranate.gmm", "pomegranate 1.1.2") if torch is not None else None
    if torch is not None:
        torch.set_num_threads(args.threads)
    mlp = C.optional("mlpack", "mlpack")
    if mlp is not None and not hasattr(mlp, "gmm_train"):
        C.NOTES.append("mlpack: skipped (no gmm_train in its Python bindings)")
        mlp = None
    pp = C.optional("protopunica", "protopunica") if args.protopunica else None

    X = C.blobs(n, 25, 4, 4.0)
    all_results = {}
    for k in [int(v) for v in args.k.split(",")]:
        for ctype in args.cov.split(","):
            label = f"{'W1' if k == 4 else 'W2'} {ctype}, k={k}"
            print(f"\n## {label}", flush=True)
            batch = -(-n // 8)
            pairs = [suffstat_contender(X, k, ctype, 1, None),
                     suffstat_contender(X, k, ctype, 2, batch)]
            if sk is not None and C.wanted(args, "scikit-learn"):
                pairs.append(sklearn_contender(X, k, ctype, sk))
            if pom is not None and C.wanted(args, "pomegranate"):
                pairs.append(pomegranate_contender(X, k, ctype, torch))
            if mlp is not None and C.wanted(args, "mlpack"):
                pairs.append(mlpack_contender(X, k, ctype, mlp))
            if pp is not None:
                pairs.append(protopunica_contender(X, k, ctype, pp, args.threads))
            contenders = [c for c, _ in pairs]
            quals = {c.name: q for c, q in pairs}
            # Quality is scored once per contender after the timed rounds (untimed).
            results = C.run_rounds(contenders, args.rounds, warmup=True)
            for name, res in results.items():
                if res.error is None:
                    try:
                        res.quality.append(quals[name]())
                    except Exception as e:  # noqa: BLE001
                        res.extra["quality_error"] = str(e)
            rows, cols = C.result_rows(results)
            peers = [r for nm, r in results.items() if not nm.startswith("suffstat") and r.times]
            if peers:
                best_ss = results[C.best_suffstat(results)]
                fastest = min(peers, key=lambda r: r.median)
                fastest_min = min(peers, key=lambda r: r.min)
                print(f"fastest peer (median): {fastest.name} {C.fmt_time(fastest.median)}/iter; best "
                      f"suffstat {best_ss.name} {C.fmt_time(best_ss.median)}/iter: speed-up "
                      f"{fastest.median / best_ss.median:.2f}x; conservative (fastest peer's min "
                      f"{fastest_min.name} {C.fmt_time(fastest_min.min)} / suffstat median): "
                      f"{fastest_min.min / best_ss.median:.2f}x")
            print(C.table(rows, cols, title=f"{label}: seconds per EM iteration (x suffstat = median / "
                                             f"best suffstat median; >1 means slower than suffstat)"))
            all_results[label] = results
    C.print_notes()
    C.dump_json(args.json, all_results)
    if args.plot:
        plot(all_results, n, args.plot)


def plot(all_results: dict, n: int, path: str) -> None:
    """Horizontal bars per workload: each contender's median s/iter, min-max as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    labels = list(all_results)
    cols = 2 if len(labels) > 2 else len(labels)
    rows = -(-len(labels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat[len(labels):]:
        ax.axis("off")
    for ax, label in zip(axes.flat, labels):
        res = [r for r in all_results[label].values() if r.times]
        names = [r.name.replace(" (own k-means start)", "").replace(" (batch ", "\n(batch ") for r in res]
        med = np.array([r.median for r in res])
        err = np.array([med - [r.min for r in res], [r.max for r in res] - med])
        colors = ["tab:blue" if r.name.startswith("suffstat") else "tab:gray" for r in res]
        ax.barh(range(len(res)), med, xerr=err, color=colors, capsize=2)
        ax.set_yticks(range(len(res)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        for y, m in enumerate(med):
            ax.text(m + err[1][y], y, f" {C.fmt_time(m)}", va="center", fontsize=7)
        ax.set_xlim(med.min() / 2, err[1].max() + med.max() * 6)
        ax.set_xlabel("seconds per EM iteration (log)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(label, fontsize=9)
    fig.suptitle(f"n={n:,}, d=25, float64, 2 cores; median and min-max of the rounds", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


if __name__ == "__main__":
    sys.path.insert(0, C.HERE)
    main()
