"""Scratch: randomized bitwise comparison of this tree's agglomerative kernel against a git revision's.

Both kernels are fed the same rows (in random chunks, so that every batch starts from the
state the previous one left) and the states are compared bitwise after every chunk: m,
the first bad row, counts, means, scatter, nn and nnd of the slots in use, and the upper
triangle of the costs (D[r, c] for r < c < m; the lower triangle is no longer kept).

    python benchmarks/_scratch/agglo_bitwise.py --baseline HEAD [--cases 600] [--seed 0]
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)
from suffstat.kernels import agglomerative as current  # noqa: E402


def load(rev):
    src = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:suffstat/kernels/agglomerative.py"],
                         capture_output=True, text=True, check=True).stdout
    src = src.replace("from ._jit import kernel", "from suffstat.kernels._jit import kernel")
    folder = tempfile.mkdtemp(prefix="agglo-base-")
    path = os.path.join(folder, "agglo_base.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("agglo_base", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def data(rng, n, d, kind):
    if kind == "blobs":
        c = rng.normal(0, 10, (max(1, rng.integers(1, 40)), d))
        return c[rng.integers(len(c), size=n)] + rng.normal(size=(n, d))
    if kind == "grid":  # many exact ties
        return rng.integers(-2, 3, size=(n, d)).astype(float)
    if kind == "dups":
        base = rng.normal(size=(max(1, n // 7), d))
        return base[rng.integers(len(base), size=n)]
    if kind == "huge":  # squared distances overflow to inf (and Ward factors to NaN)
        return rng.choice([-1e200, 1e200, 0.0, 3e154, -3e154, 1e308, -1e308], size=(n, d))
    if kind == "tiny":
        return rng.normal(size=(n, d)) * 1e-160
    if kind == "mixed":
        return rng.normal(size=(n, d)) * 10.0 ** rng.integers(-5, 150, size=(n, 1))
    if kind == "bad":
        X = rng.normal(size=(n, d))
        X[rng.integers(n), rng.integers(d)] = rng.choice([np.nan, np.inf, -np.inf])
        return X
    raise ValueError(kind)


def state(k, d):
    cap = k + 1
    return [np.zeros(cap), np.zeros((cap, d)), np.zeros((cap, d, d)), np.zeros((d, cap)),
            np.zeros((cap, cap)), np.full(cap, -1, dtype=np.int64), np.full(cap, np.inf)]


def same(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--baseline", default="HEAD")
    p.add_argument("--cases", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    base = load(args.baseline)
    rng = np.random.default_rng(args.seed)
    kinds = ["blobs", "grid", "dups", "huge", "tiny", "mixed", "bad"]
    fails = 0
    chunks = 0
    for case in range(args.cases):
        k = int(rng.integers(1, 41))
        d = int(rng.integers(1, 11))
        n = int(rng.integers(1, 400)) if rng.random() < 0.8 else int(rng.integers(400, 3000))
        kind = kinds[case % len(kinds)]
        insert_first = bool(rng.integers(2))
        ward = bool(rng.integers(2))
        X = np.ascontiguousarray(data(rng, n, d, kind))
        wmode = rng.integers(4)
        if wmode == 0:
            w = np.empty(0)
        elif wmode == 1:
            w = rng.integers(0, 4, size=n).astype(float)  # zero weights skipped
        elif wmode == 2:
            w = rng.random(n) * rng.choice([1e-300, 1.0, 1e300], size=n)
        else:
            w = np.ones(n)
        S = [state(k, d), state(k, d)]
        ms = [0, 0]
        cuts = np.sort(rng.integers(0, n + 1, size=int(rng.integers(0, 4))))
        bounds = [0, *cuts.tolist(), n]
        ok = True
        for a, b in zip(bounds[:-1], bounds[1:]):
            Xc = np.ascontiguousarray(X[a:b])
            wc = w if w.shape[0] == 0 else np.ascontiguousarray(w[a:b])
            outs = []
            for s, mod in enumerate((base, current)):
                m, bad = mod.agglomerate(Xc, wc, *S[s][:4], S[s][4], S[s][5], S[s][6], ms[s], k,
                                         insert_first, ward)
                ms[s] = int(m)
                outs.append(int(bad))
            chunks += 1
            m = ms[0]
            checks = {"m": ms[0] == ms[1], "bad": outs[0] == outs[1]}
            if checks["m"]:
                for name, q in (("counts", 0), ("means", 1), ("scatter", 2), ("nn", 5), ("nnd", 6)):
                    checks[name] = same(S[0][q][:m], S[1][q][:m])
                iu = np.triu_indices(m, 1)
                checks["D"] = same(S[0][4][iu], S[1][4][iu])
            if not all(checks.values()):
                ok = False
                print(f"case {case}: k={k} d={d} n={n} {kind} insert_first={insert_first} ward={ward} "
                      f"w={wmode} chunk {a}:{b}: {[c for c, v in checks.items() if not v]}")
                break
            if outs[0] >= 0:
                break
        fails += not ok
    print(f"{args.cases} cases, {chunks} chunks compared, {fails} failed")
    return fails


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
