"""W5: first-call latency in a fresh process: import + a first small fit.

Each measurement is a new Python process that imports the library and fits a small
2-component Gaussian mixture (2,000 x 4 rows, 20 EM iterations) with the library's
ordinary entry point (suffstat: ``GeneralMixtureModel.from_samples`` with k-means++).
For suffstat, ``NUMBA_CACHE_DIR`` points at a fresh empty folder for the *cold* run
(every kernel is compiled) and at that same folder again for the *warm* run (kernels
load from numba's on-disk cache). Python bytecode is cached in a private
``PYTHONPYCACHEPREFIX`` folder warmed before timing, as after ``pip install``, so
that the numba cache is the only difference. The process wall time (spawn to exit)
is reported too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import _common as C

PRE = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
"""

POST = r"""
print(json.dumps({"import": t1 - t0, "fit": t2 - t1, "total": t2 - t0, "loglik": float(ll)}))
"""

DATA = r"""
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 4)); X[:1000] += 4.0
"""

SCRIPTS = {
    "suffstat": r"""
import numpy as np
import suffstat as ss
t1 = time.perf_counter()
""" + DATA + r"""
m = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, max_iter=20, random_state=0)
ll = m.score(X)
t2 = time.perf_counter()
""",
    "scikit-learn": r"""
import numpy as np
from sklearn.mixture import GaussianMixture
t1 = time.perf_counter()
""" + DATA + r"""
m = GaussianMixture(2, max_iter=20, random_state=0).fit(X)
ll = m.score(X)
t2 = time.perf_counter()
""",
    "pomegranate 1.1.2": r"""
import numpy as np
import torch
from pomegranate.gmm import GeneralMixtureModel
from pomegranate.distributions import Normal
t1 = time.perf_counter()
""" + DATA + r"""
m = GeneralMixtureModel([Normal(), Normal()], max_iter=20, random_state=0).fit(X)
ll = m.log_probability(torch.from_numpy(X).float()).mean()
t2 = time.perf_counter()
""",
    "mlpack": r"""
import numpy as np
import mlpack
t1 = time.perf_counter()
""" + DATA + r"""
m = mlpack.gmm_train(gaussians=2, input_=X, max_iterations=20, seed=1)
ll = float('nan')
t2 = time.perf_counter()
""",
    "protopunica 0.14.8": r"""
import numpy as np
import protopunica as pp
t1 = time.perf_counter()
""" + DATA + r"""
m = pp.GeneralMixtureModel.from_samples(pp.MultivariateGaussianDistribution, 2, X, max_iterations=20)
ll = m.log_probability(X).mean()
t2 = time.perf_counter()
""",
}

MODULES = {"scikit-learn": "sklearn", "pomegranate 1.1.2": "pomegranate", "mlpack": "mlpack",
           "protopunica 0.14.8": "protopunica"}


def run_script(name: str, env: dict[str, str]) -> dict:
    import time

    code = PRE.format(root=C.ROOT) + SCRIPTS[name] + POST
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=False)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError((out.stderr.strip().splitlines() or ["failed"])[-1])
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["wall"] = wall
    return rec


def main() -> None:
    p = C.parser(__doc__.splitlines()[0])
    args = C.finish_args(p.parse_args())
    if not args.quick and args.rounds == 3:
        args.rounds = 5
    C.print_header("bench_first_call: W5, import + first small fit in a fresh process", args)
    work = tempfile.mkdtemp(prefix="suffstat_w5_")
    base_env = dict(os.environ)
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    base_env["PYTHONPYCACHEPREFIX"] = os.path.join(work, "pyc")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        base_env[var] = str(args.threads)
    names = ["suffstat"] + [n for n in SCRIPTS if n != "suffstat" and C.wanted(args, n)
                            and C.optional(MODULES[n], n) is not None]
    state = {"cold_dir": None}

    def env_with(cache: str) -> dict[str, str]:
        e = dict(base_env)
        e["NUMBA_CACHE_DIR"] = cache
        return e

    # warm Python's bytecode cache (and any peer's own caches) once, untimed
    for nm in names:
        try:
            run_script(nm, env_with(os.path.join(work, "numba-prewarm")))
        except Exception as e:  # noqa: BLE001
            print(f"  ! {nm}: {e}")

    def cold():
        d = tempfile.mkdtemp(prefix="numba_", dir=work)
        state["cold_dir"] = d
        return run_script("suffstat", env_with(d))

    def warm():
        d = state["cold_dir"] or os.path.join(work, "numba-prewarm")
        return run_script("suffstat", env_with(d))

    def shaped(fn):
        def run():
            rec = fn()
            return {"time": rec["total"], "quality": rec["loglik"], "import": rec["import"],
                    "fit": rec["fit"], "wall": rec["wall"]}
        return run

    contenders = [C.Contender("suffstat cold numba cache", shaped(cold)),
                  C.Contender("suffstat warm numba cache", shaped(warm))]
    # the warm run must follow a cold run in each round: keep the pair in this order
    peers = [C.Contender(nm, shaped(lambda nm=nm: run_script(nm, env_with(os.path.join(
        work, "numba-prewarm"))))) for nm in names[1:]]
    results = {}
    for r in range(args.rounds):
        shift = r % (len(peers) + 1)
        groups = [contenders] + [[pc] for pc in peers]
        groups = groups[shift:] + groups[:shift]
        for g in groups:
            res = C.run_rounds(g, 1, warmup=False, verbose=False)
            for nm, rr in res.items():
                acc = results.setdefault(nm, C.Result(nm))
                acc.times += rr.times
                acc.quality += rr.quality
                acc.foreign += rr.foreign
                acc.error = acc.error or rr.error
                for key, v in rr.extra.items():
                    acc.extra.setdefault(key, []).extend(v)
        print(f"  round {r + 1} done", flush=True)

    def med(key):
        def f(res):
            import statistics

            v = res.extra.get(key)
            return C.fmt_time(statistics.median(v)) if v else "-"
        return f

    rows, cols = C.result_rows(results, reference="suffstat warm numba cache",
                               time_name="import+fit", quality_name="mean loglik",
                               extra_cols={"import": med("import"), "first fit": med("fit"),
                                           "process wall": med("wall")})
    cols = [c for c in cols if c not in ("peak RSS MiB", "+RSS MiB")]
    print(C.table(rows, cols, title="W5: import + first small fit in a fresh process (target: "
                                    "suffstat warm < 1.5 s)"))
    C.print_notes()
    C.dump_json(args.json, results)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, C.HERE)
    main()
