"""Engine overhead: an EM pass of the working tree against a git revision's, side by side.

The fitting engine moved out of the models (issue 11): the pass loop now talks to the
mixture through the learner protocol, and the fused E-step is found through the
components' capability. This times a W1 pass (make_blobs n=557100, d=25, k=4, first-k
start, full and diag covariance, n_jobs 1 and 2) for the working tree and for a
revision (default: the last commit before the engine issue), each in its own
process, alternating the two over rounds, and prints medians and their ratio.

    python benchmarks/bench_engine.py [--rev 65e9be6] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import numpy as np
from sklearn.datasets import make_blobs
import suffstat as ss

ctype, n_jobs = sys.argv[1], int(sys.argv[2])
X, _ = make_blobs(n_samples=557100, n_features=25, centers=4, cluster_std=4, random_state=0)
X = np.ascontiguousarray(X)
m = ss.GeneralMixtureModel([ss.MultivariateNormal(covariance_type=ctype) for _ in range(4)])
m.fit(X, init="first-k", max_iter=6, tol=None, n_jobs=n_jobs, batch_size=70000)
print(json.dumps([h["time"] for h in m.history_[1:]]))
"""


def run(tree: Path, ctype: str, n_jobs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    time.sleep(0.3)  # let a previous contender's threads go idle
    out = subprocess.run([sys.executable, "-c", WORKER, ctype, str(n_jobs)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True)
    return statistics.median(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="65e9be6", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.rev],
                       check=True, capture_output=True)
        try:
            rows = []
            for ctype in ("full", "diag"):
                for n_jobs in (1, 2):
                    times = {"new": [], "old": []}
                    for r in range(args.rounds):
                        order = ("new", "old") if r % 2 == 0 else ("old", "new")
                        for which in order:
                            times[which].append(run(ROOT if which == "new" else old, ctype, n_jobs))
                    new, prev = statistics.median(times["new"]), statistics.median(times["old"])
                    rows.append((ctype, n_jobs, new, prev))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                           check=False, capture_output=True)
    print(f"W1 pass time, median of {args.rounds} rounds (each the median of passes 2-6)")
    print(f"{'covariance':<11}{'n_jobs':>7}{'this tree':>12}{args.rev:>12}{'ratio':>8}")
    for ctype, n_jobs, new, prev in rows:
        print(f"{ctype:<11}{n_jobs:>7}{new * 1e3:>10.1f}ms{prev * 1e3:>10.1f}ms{new / prev:>8.3f}")


if __name__ == "__main__":
    main()
