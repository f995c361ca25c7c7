"""
Step rules compared: log-likelihood against time
================================================

Full-pass EM, stepwise (stochastic) EM with each step rule of :mod:`suffstat.steps`,
Polyak-Ruppert averaging, and memoized EM, on one streamed ``.npy`` file (the
``benchmarks/bench_algorithms.py`` comparison at gallery size). After every pass a
callback scores the current parameters on the whole file; the time axis counts only
the fitting, not the scoring. All start from the same random initialization.
"""

# %%
import os
import tempfile

import numpy as np

import suffstat as ss
from suffstat import plot, steps

SMALL = os.environ.get("SUFFSTAT_EXAMPLE_SIZE") == "small"
n, d, k = (20_000, 5, 4) if SMALL else (200_000, 10, 8)
passes = 3 if SMALL else 5
batch_size = 5_000 if SMALL else 25_000

rng = np.random.default_rng(0)
centers = rng.normal(0, 4, size=(k, d))
scales = rng.uniform(0.5, 1.5, size=k)
z = rng.integers(0, k, size=n)
path = os.path.join(tempfile.mkdtemp(), "blobs.npy")
np.save(path, centers[z] + scales[z, None] * rng.standard_normal((n, d)))


class Scores(ss.Callback):
    """After each pass: the pass's fitting time and the exact full-data score."""

    def __init__(self):
        self.history = []

    def on_epoch_end(self, logs):
        score = self.model.score(path, batch_size=batch_size, n_jobs=2)
        self.history.append({"iteration": logs["iteration"], "time": logs["time"],
                             "mean_log_likelihood": score})


# %%
contenders = {
    "full EM": dict(algorithm="em"),
    "stepwise Constant(0.5)": dict(algorithm="stepwise", step=steps.Constant(0.5)),
    "stepwise PowerDecay(0.55)": dict(algorithm="stepwise", step=steps.PowerDecay(0.55)),
    "stepwise EMA(0.9)": dict(algorithm="stepwise", step=steps.EMA(0.9)),
    "stepwise Momentum(0.5)": dict(algorithm="stepwise", step=steps.Momentum(0.5)),
    "stepwise Nesterov(0.5)": dict(algorithm="stepwise", step=steps.Nesterov(0.5)),
    "stepwise PowerDecay + average": dict(algorithm="stepwise", step=steps.PowerDecay(0.55),
                                          average=True),
    "memoized": dict(algorithm="memoized"),
}
start = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, k, path, init="random",
                                            random_state=1, max_iter=1, tol=None,
                                            batch_size=batch_size)
results = {}
for name, kw in contenders.items():
    model, scores = start.copy(), Scores()
    model.fit(path, max_iter=passes, tol=None, batch_size=batch_size, n_jobs=2,
              batches_per_epoch=None if kw["algorithm"] == "em" else 2, random_state=0,
              callbacks=[scores], **kw)
    if kw.get("average"):  # the averaged parameters are set at the end of the fit
        scores.history[-1]["mean_log_likelihood"] = model.score(path, batch_size=batch_size)
    results[name] = scores.history
    print(f"{name:31s} final mean log-likelihood {scores.history[-1]['mean_log_likelihood']:.5f}")

# %%
# Log-likelihood against fitting time, one line per rule. The first pass of a
# random start is far below the rest, so the axis starts at the second pass.
fig = plot.trace(results, x="time", panels=("log_likelihood",))
ax = fig.axes[0]
best = max(h[-1]["mean_log_likelihood"] for h in results.values())
low = min(h[min(1, len(h) - 1)]["mean_log_likelihood"] for h in results.values())
ax.set_ylim(low - 0.05 * (best - low) - 1e-3, best + 0.1 * (best - low) + 1e-3)
ax.set_ylabel("full-data mean log-likelihood")
ax.get_legend().set(loc="lower right")
fig.suptitle(f"{n:,} x {d} streamed .npy, k={k}, batches of {batch_size:,}")
