"""
bnpy's warm-start gallery with variational Bayes: cold VB, warm VB, stochastic and memoized VB
==============================================================================================

bnpy's gallery on its "AsteriskK8" data (eight elongated Gaussian clusters on the unit
circle), with :class:`suffstat.BayesianGaussianMixture` and bnpy's prior (``sF=0.1``,
``ECovMat='eye'``, a finite Dirichlet with ``gamma=1``; see :doc:`/variational`):

1. cold VB from ``'randexamples'`` (ten random rows, one per component), 25 laps;
2. warm VB from the cold run, until bnpy's count rule says it has converged;
3. stochastic VB (bnpy's soVB) from the cold run, batches of 10 rows, bnpy's rate
   ``(t + 1) ** -0.55``;
4. memoized VB from the cold run, 10 batches.

Each run saves a snapshot per lap (``output_path``); :func:`suffstat.plot.laps` draws the
components at chosen laps (the ellipses are two standard deviations of each
component's expected covariance, labelled with its weight) and :func:`suffstat.plot.trace`
the ELBO per row against the laps.

The data is bnpy's file when ``SUFFSTAT_ASTERISK_K8`` names it (``asterisk_k8.npz`` with
an ``X`` array), and otherwise the same recipe drawn by :func:`suffstat.cli.asterisk`.
"""

# %%
import os
import tempfile
import warnings

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
runs = tempfile.mkdtemp()
prior = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)


def fit(name, **kw):
    est = ss.BayesianGaussianMixture(n_components=10, reg_covar=0.0, random_state=0,
                                     output_path=os.path.join(runs, name), **prior, **kw)
    with warnings.catch_warnings():  # fixed lap counts (tol=0) do not converge, as in bnpy
        warnings.simplefilter("ignore", ss.ConvergenceWarning)
        est.fit(X)
    return est, os.path.join(runs, name)


# %%
# Cold VB: ten random rows start ten components; after 25 laps some arms of the
# asterisk still share a component or are split between two.
cold, cold_path = fit("cold", init_params="randexamples", max_iter=5 if SMALL else 25, tol=0.0)
fig = plot.laps(cold_path, X=X, min_weight=0.01)
fig.suptitle(f"cold VB: loss {cold.history_[-1]['loss']:.5f} after {cold.n_iter_} laps")

# %%
# Warm VB from the cold run's posterior: bnpy's stopping rule (no expected count
# moves by 0.05 or more between two laps).
warm, warm_path = fit("warm", init_params=cold, convergence="counts", max_iter=10 if SMALL else 200)
fig = plot.laps(warm_path, X=X, min_weight=0.01)
fig.suptitle(f"warm VB: loss {warm.history_[-1]['loss']:.5f} after {warm.n_iter_} laps")

# %%
# Stochastic VB: every batch of 10 rows is scaled to the whole data and blended in with
# weight rho_t = (t + 1) ** -0.55; the first step already blends the cold posterior.
so, so_path = fit("sovb", init_params=cold, algorithm="soVB", batch_size=10, tol=0.0,
                  max_iter=2 if SMALL else 5, step=ss.steps.PowerDecay(0.55, 1.0))
fig = plot.laps(so_path, X=X, min_weight=0.01)
fig.suptitle(f"stochastic VB: loss {so.history_[-1]['loss']:.5f} after {so.n_iter_} laps")

# %%
# Memoized VB: one record per batch, so each global step sees the exact whole-data
# record; it follows full VB lap by lap (here from the same cold start).
memo, memo_path = fit("memo", init_params=cold, algorithm="memoized", batch_size=len(X) // 10,
                      convergence="counts", max_iter=10 if SMALL else 200)
fig = plot.laps(memo_path, X=X, min_weight=0.01)
fig.suptitle(f"memoized VB: loss {memo.history_[-1]['loss']:.5f} after {memo.n_iter_} laps")

# %%
# The traces: the ELBO per row of every lap. Full and memoized VB never decrease it;
# stochastic VB's first lap scores only the batches seen so far.
fig = plot.trace([warm_path, so_path, memo_path], labels=["warm VB", "stochastic VB", "memoized VB"])
