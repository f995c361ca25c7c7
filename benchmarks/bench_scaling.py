"""W4: n_jobs scaling 1 -> 2 on compute-bound in-memory EM (W1 / W2 data).

suffstat runs the same batches (``batch_size=ceil(n / 8)``) with n_jobs=1 and 2, twice:
with the BLAS pool as configured (``--threads``, default 2; numba's ``np.dot`` calls
scipy's OpenBLAS, which may itself use both cores) and with BLAS pinned to 1 thread
(``threadpoolctl``), which separates batch-level parallelism from BLAS threading.
Peers are timed with 1 and 2 threads of their own pools (scikit-learn: BLAS via
threadpoolctl; pomegranate: ``torch.set_num_threads``). Times are seconds per EM
iteration (5 iterations from a first-k start); "speed-up" is t(1) / t(2).
"""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import _common as C
import bench_gmm as G

N_ITER = G.N_ITER


def with_blas(contender: C.Contender, threads: int, torch=None) -> C.Contender:
    def run():
        with threadpool_limits(threads):
            if torch is not None:
                old = torch.get_num_threads()
                torch.set_num_threads(threads)
            try:
                return contender.run()
            finally:
                if torch is not None:
                    torch.set_num_threads(old)

    return C.Contender(f"{contender.name} [BLAS {threads}]", run, contender.setup, contender.scale)


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--k", default="4,16")
    p.add_argument("--cov", default="full,diag")
    p.add_argument("--no-peers", action="store_true", help="time suffstat only")
    args = C.finish_args(p.parse_args())
    n = args.n or (50_000 if args.quick else 557_100)
    C.print_header(f"bench_scaling: W4, n={n}, d=25, n_jobs 1 -> 2", args)
    warnings.filterwarnings("ignore")
    sk = None if args.no_peers else C.optional("sklearn.mixture", "scikit-learn")
    torch = None if args.no_peers else C.optional("torch", "pomegranate (torch)")
    pom = C.optional("pomegranate.gmm", "pomegranate 1.1.2") if torch is not None else None
    X = C.blobs(n, 25, 4, 4.0)
    batch = -(-n // 8)
    summary = []
    all_results = {}
    for k in [int(v) for v in args.k.split(",")]:
        for ctype in args.cov.split(","):
            label = f"{'W1' if k == 4 else 'W2'} {ctype} k={k}"
            print(f"\n## {label}", flush=True)
            cs = []
            for blas in (args.threads, 1):
                for j in (1, 2):
                    c, _ = G.suffstat_contender(X, k, ctype, j, batch)
                    cs.append(with_blas(c, blas))
            if sk is not None and C.wanted(args, "scikit-learn"):
                c, _ = G.sklearn_contender(X, k, ctype, sk)
                cs += [with_blas(c, 1), with_blas(c, 2)]
            if pom is not None and C.wanted(args, "pomegranate"):
                c, _ = G.pomegranate_contender(X, k, ctype, torch)
                cs += [with_blas(c, 1, torch), with_blas(c, 2, torch)]
            res = C.run_rounds(cs, args.rounds, warmup=True)
            all_results[label] = res
            rows, cols = C.result_rows(res)
            print(C.table(rows, cols, title=f"{label}: seconds per iteration"))

            def med(name):
                r = res.get(name)
                return r.median if r is not None and r.times else math.nan

            pre = f"suffstat n_jobs=%d (batch {batch})"
            for blas in (args.threads, 1):
                t1, t2 = med(pre % 1 + f" [BLAS {blas}]"), med(pre % 2 + f" [BLAS {blas}]")
                summary.append({"workload": label, "contender": f"suffstat, BLAS threads {blas}",
                                "1 -> 2": f"{C.fmt_time(t1)} -> {C.fmt_time(t2)}",
                                "speed-up": f"{t1 / t2:.2f}x"})
            for peer in ("scikit-learn", "pomegranate 1.1.2"):
                t1, t2 = med(f"{peer} [BLAS 1]"), med(f"{peer} [BLAS 2]")
                if not math.isnan(t1):
                    summary.append({"workload": label, "contender": f"{peer}, threads",
                                    "1 -> 2": f"{C.fmt_time(t1)} -> {C.fmt_time(t2)}",
                                    "speed-up": f"{t1 / t2:.2f}x"})
    print(C.table(summary, ["workload", "contender", "1 -> 2", "speed-up"],
                  title="W4 scaling (target: suffstat n_jobs=2 >= 1.7x n_jobs=1)"))
    C.print_notes()
    C.dump_json(args.json, all_results)


if __name__ == "__main__":
    sys.path.insert(0, C.HERE)
    main()
