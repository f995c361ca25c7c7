"""
Cold start, warm start, stochastic and memoized EM on AsteriskK8
================================================================

bnpy's warm-start gallery on its "AsteriskK8" data: eight elongated Gaussian clusters
on the unit circle. Four runs of an eight-component Gaussian mixture, each saving a
snapshot per lap (``output_path``), drawn with :func:`suffstat.plot.laps` at laps 0,
1, 2, 5, 10 and the last (lap 0, the initialization, is not saved: the first saved
lap is drawn in its place):

1. a cold start from k-means++ seeds;
2. a warm start from the cold run's lap-2 model;
3. stochastic (stepwise) EM, updating after every batch;
4. memoized EM, which keeps each batch's statistics and is exact after every batch.

The data is bnpy's file when ``SUFFSTAT_ASTERISK_K8`` names it (``asterisk_k8.npz``
with an ``X`` array), and otherwise the same recipe drawn by
:func:`suffstat.cli.asterisk` (the data of ``suffstat demo``).
"""

# %%
import os
import tempfile

import numpy as np

import suffstat as ss
from suffstat import plot
from suffstat.cli import asterisk

SMALL = os.environ.get("SUFFSTAT_EXAMPLE_SIZE") == "small"
if os.environ.get("SUFFSTAT_ASTERISK_K8"):
    X = np.load(os.environ["SUFFSTAT_ASTERISK_K8"])["X"]
else:
    X, _ = asterisk(5000, seed=0)
if SMALL:
    X = X[:800]
laps = 4 if SMALL else 15
runs = tempfile.mkdtemp()
settings = dict(max_iter=laps, tol=None, random_state=3)


def fit(name, **kw):
    model = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(8)])
    folder = os.path.join(runs, name)
    model.fit(X, output_path=folder, **{**settings, **kw})
    return model, folder


# %%
# Cold start: k-means++ seeds. At lap 1 some components still straddle two arms of
# the asterisk (or share one); EM needs a few laps to give each arm its own.
cold, cold_path = fit("cold", init="kmeans++")
fig = plot.laps(cold_path, X=X)
fig.suptitle("cold start (k-means++)")

# %%
# Warm start: the cold run's model at lap 2 is the initialization (``init`` takes a
# fitted model, a saved file or a snapshot folder).
lap2 = ss.load_model_at_lap(cold_path, 2)
warm, warm_path = fit("warm", init=lap2)
fig = plot.laps(warm_path, X=X)
fig.suptitle("warm start from the cold run's lap 2")

# %%
# Stochastic (stepwise) EM: the statistics are blended after every batch of 500 rows
# with a decaying step size, so one lap makes several updates.
stepwise, stepwise_path = fit("stepwise", init="kmeans++", algorithm="stepwise",
                              batch_size=500)
fig = plot.laps(stepwise_path, X=X)
fig.suptitle("stepwise EM, batches of 500")

# %%
# Memoized EM: each batch's statistics are kept and replaced when the batch comes
# round again; the global statistics are exact after every batch.
memoized, memoized_path = fit("memoized", init="kmeans++", algorithm="memoized",
                              batch_size=500)
fig = plot.laps(memoized_path, X=X)
fig.suptitle("memoized EM, batches of 500")

# %%
# The four traces: the mean log-likelihood of each lap, the number of components (8
# throughout: no moves yet) and the step size of the stepwise run.
fig = plot.trace({"cold": cold_path, "warm (from lap 2)": warm_path,
                  "stepwise": stepwise_path, "memoized": memoized_path})
for name, model in [("cold", cold), ("warm", warm), ("stepwise", stepwise),
                    ("memoized", memoized)]:
    print(f"{name:9s} mean log-likelihood {model.score(X):.4f}")
