"""GaussianHMM (issue 18): seconds per EM iteration, suffstat vs hmmlearn (vs pomegranate).

Workload: k=8 states, d=5, 1,000 sequences of 1,000 rows (1M rows, float64), drawn from
an 8-state HMM with well-separated means; every contender starts from the same
parameters (``init_params=''``: uniform starts, sticky transitions, the true means
shifted by 0.5, identity covariances) and runs ``--iters`` EM iterations (default 1).

Contenders:

- suffstat ``ss.GaussianHMM`` in memory, n_jobs=1 (default ``batch_size``: whole
  sequences of about 8 MiB per batch) and n_jobs=2 (8 batches of whole sequences);
- hmmlearn ``hmm.GaussianHMM`` (``fit`` with ``n_iter=--iters``, ``implementation='log'``,
  its default);
- pomegranate 1.1.2 ``DenseHMM`` when installed (it needs torch; skipped otherwise).

The quality column is the mean log-likelihood per row of the last iteration (before
its M-step), from each library's own monitor: from the same start it must agree.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

import _common as C

K, D = 8, 5


def data(n_seq: int, length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 3.0, (K, D))
    trans = np.full((K, K), 0.1 / (K - 1)) + np.eye(K) * (0.9 - 0.1 / (K - 1))
    import suffstat as ss

    truth = ss.HiddenMarkovModel([ss.MultivariateNormal(m, np.eye(D)) for m in means],
                                 transitions=trans)
    X, _ = truth.sample(n_seq, length, random_state=seed)
    start = {
        "startprob_": np.full(K, 1.0 / K),
        "transmat_": np.full((K, K), 0.2 / (K - 1)) + np.eye(K) * (0.8 - 0.2 / (K - 1)),
        "means_": means + 0.5,
    }
    return X, [length] * n_seq, start


def _covars(ctype: str) -> np.ndarray:
    return {"full": np.array([np.eye(D)] * K), "diag": np.ones((K, D)), "spherical": np.ones(K),
            "tied": np.eye(D)}[ctype]


def face_contender(name, cls, X, lengths, start, ctype, iters, **kwargs):
    state = {}

    def setup():
        m = cls(K, covariance_type=ctype, init_params="", n_iter=iters, tol=0.0, **kwargs)
        for key, value in start.items():
            setattr(m, key, value.copy())
        m.covars_ = _covars(ctype)
        state["m"] = m

    def run():
        m = state["m"].fit(X, lengths)
        return {"quality": m.monitor_.history[-1] / X.shape[0]}

    # hmmlearn needs no warm-up (no JIT) and one of its rounds takes ~40 s (full)
    return C.Contender(name, run, setup, scale=iters, warm=name.startswith("suffstat"))


def pomegranate_contender(X, lengths, start, ctype, iters, torch, pom):
    from pomegranate.distributions import Normal

    # float32 throughout: DenseHMM keeps some of its matrices in its default dtype and
    # refuses to multiply them with float64 data
    seqs = torch.from_numpy(X.reshape(len(lengths), lengths[0], D)).float()
    state = {}

    def setup():
        dists = [Normal(means=torch.from_numpy(m.copy()).float(), covs=torch.eye(D)
                        if ctype == "full" else torch.ones(D),
                        covariance_type=ctype) for m in start["means_"]]
        state["m"] = pom.DenseHMM(dists, edges=torch.from_numpy(start["transmat_"].copy()).float(),
                                  starts=torch.from_numpy(start["startprob_"].copy()).float(),
                                  max_iter=iters, tol=1e-300)  # it refuses tol <= 0

    def run():
        state["m"].fit(seqs)

    return C.Contender("pomegranate DenseHMM", run, setup, scale=iters, warm=False)


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n-seq", type=int, default=None, help="sequences (default 1000; 100 with --quick)")
    p.add_argument("--length", type=int, default=1000, help="rows per sequence (default 1000)")
    p.add_argument("--cov", default="full,diag", help="covariance types (default full,diag)")
    p.add_argument("--iters", type=int, default=1, help="EM iterations per timed call (default 1)")
    args = C.finish_args(p.parse_args())
    n_seq = args.n_seq or (100 if args.quick else 1000)
    C.print_header(f"bench_hmm: GaussianHMM k={K}, d={D}, {n_seq} sequences x {args.length} rows, "
                   f"{args.iters} EM iteration(s) from a fixed start", args)
    warnings.filterwarnings("ignore")
    logging.getLogger("hmmlearn").setLevel(logging.ERROR)

    import suffstat as ss

    hl = C.optional("hmmlearn.hmm", "hmmlearn")
    torch = C.optional("torch", "pomegranate 1.1.2 (needs torch)")
    pom = C.optional("pomegranate.hmm", "pomegranate 1.1.2") if torch is not None else None
    if torch is not None:
        torch.set_num_threads(args.threads)
    X, lengths, start = data(n_seq, args.length)
    all_results = {}
    for ctype in args.cov.split(","):
        label = f"GaussianHMM {ctype}, k={K}, d={D}, {n_seq} x {args.length}"
        print(f"\n## {label}", flush=True)
        batch = -(-n_seq // 8)  # 8 batches of whole sequences for the two threads
        contenders = [face_contender("suffstat n_jobs=1", ss.GaussianHMM, X, lengths, start, ctype,
                                     args.iters, n_jobs=1),
                      face_contender(f"suffstat n_jobs=2 (batch {batch})", ss.GaussianHMM, X, lengths,
                                     start, ctype, args.iters, n_jobs=2, batch_size=batch)]
        if hl is not None and C.wanted(args, "hmmlearn"):
            contenders.append(face_contender("hmmlearn", hl.GaussianHMM, X, lengths, start, ctype,
                                             args.iters))
        if pom is not None and C.wanted(args, "pomegranate") and ctype in ("full", "diag"):
            contenders.append(pomegranate_contender(X, lengths, start, ctype, args.iters, torch, pom))
        results = C.run_rounds(contenders, args.rounds, warmup=True)
        rows, cols = C.result_rows(results)
        peers = [r for nm, r in results.items() if not nm.startswith("suffstat") and r.times]
        if peers:
            best = results[C.best_suffstat(results)]
            two = results.get(f"suffstat n_jobs=2 (batch {batch})")
            fastest = min(peers, key=lambda r: r.median)
            print(f"fastest peer: {fastest.name} {C.fmt_time(fastest.median)}/iter; best suffstat "
                  f"{best.name} {C.fmt_time(best.median)}/iter: {fastest.median / best.median:.1f}x"
                  + ("" if two is None or not two.times else
                     f"; suffstat n_jobs=2: {fastest.median / two.median:.1f}x"))
        print(C.table(rows, cols, title=f"{label}: seconds per EM iteration (x suffstat = median / "
                                        "best suffstat median; >1 means slower than suffstat)"))
        all_results[label] = results
    C.print_notes()
    C.dump_json(args.json, all_results)


if __name__ == "__main__":
    main()
