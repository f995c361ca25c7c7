"""
Dirichlet-process mixtures that find their number of clusters: births, merges and shuffles
==========================================================================================

The heart of bnpy's gallery, on its "AsteriskK8" data (eight elongated Gaussian clusters
on the unit circle), with :class:`suffstat.BayesianGaussianMixture` and bnpy's prior
(``sF=0.1``, ``ECovMat='eye'``; see :doc:`/variational`):

1. a rough start: cold finite VB from ``'randexamples'`` (K=10), 25 laps;
2. a Dirichlet-process mixture (``gamma0=1``) warm-started from it, memoized VB with
   ``moves='birth,merge,shuffle'``: births split components that cover two arms,
   merges join the pieces of one arm, until K = 8 (bnpy 0.1.7: K = 8, loss -0.0478796);
3. 100 new points around (1, 1) appended, warm-started from the DP run with births from
   the first lap: a birth gives the new cluster its own component (bnpy: K = 9, loss
   0.0117562).

Each run saves a snapshot per lap and its move log (``moves.csv``) in its run folder;
:func:`suffstat.plot.laps` draws the components at chosen laps and
:func:`suffstat.plot.trace` the ELBO per row and the number of components over laps.

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
finite = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
dp = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", gamma=1.0, dp=True)

# %%
# The rough start: 25 laps of cold finite VB leave some arms shared by two components
# and some components on two arms.
cold = ss.BayesianGaussianMixture(n_components=10, init_params="randexamples", random_state=0, tol=0.0,
                                  max_iter=5 if SMALL else 25, reg_covar=0.0, **finite)
with warnings.catch_warnings():  # 25 laps, tol=0: not converged, as in bnpy's gallery
    warnings.simplefilter("ignore", ss.ConvergenceWarning)
    cold.fit(X)

moves = dict(n_components=10, reg_covar=0.0, algorithm="memoized", moves="birth,merge,shuffle",
             merge_start_lap=5, birth_n_fresh=4, convergence="counts", max_iter=100, **dp)

# %%
# The DP mixture: births (planned at the end of a lap, judged on the next lap's
# records) and merges (from lap 5) until no move is left and no count moves by 0.01.
first = ss.BayesianGaussianMixture(init_params=cold, birth_start_lap=2, output_path=os.path.join(runs, "dp"),
                                   **moves).fit(X)
laps = sorted({1, 3, 6, first.n_iter_})
fig = plot.laps(os.path.join(runs, "dp"), X=X, laps=laps, min_weight=0.01)
fig.suptitle(f"DP memoized VB: K = {first.n_components_}, loss {first.history_[-1]['loss']:.7f} "
             f"after {first.n_iter_} laps")

# %%
# 100 new points around (1, 1): a warm start from the DP run, births from the first
# lap; one birth gives them their own component.
new = np.random.RandomState(0).multivariate_normal([1.0, 1.0], 0.2 * np.eye(2), size=100)
X2 = np.vstack([X, new])
more = ss.BayesianGaussianMixture(init_params=first, birth_start_lap=0, output_path=os.path.join(runs, "more"),
                                  **moves).fit(X2)
fig = plot.laps(os.path.join(runs, "more"), X=X2, laps=sorted({1, 2, more.n_iter_}), min_weight=0.01)
fig.suptitle(f"100 points added: K = {more.n_components_}, loss {more.history_[-1]['loss']:.7f}")

# %%
# The traces: the ELBO per row never decreases, lap to lap, with the moves on; the
# number of components rises with births and falls with merges.
fig = plot.trace([os.path.join(runs, "dp"), os.path.join(runs, "more")], labels=["DP", "DP + 100 points"],
                 panels=("log_likelihood", "K"))
