"""
Out-of-core EM: the same model from memory, from batches and from a file
=========================================================================

pomegranate's out-of-core example: 557,100 rows of 25 features from four blobs, fitted
by a four-component Gaussian mixture in batches of 10,000 rows. Because the batch
statistics are additive, the batched fit is the in-memory fit (up to rounding), the
fit streamed from a ``.npy`` file is the batched fit, and two threads give bitwise
the same numbers as one.
"""

# %%
import os
import tempfile
import time

import numpy as np

import suffstat as ss
from suffstat import plot

SMALL = os.environ.get("SUFFSTAT_EXAMPLE_SIZE") == "small"
n, d, k = (20_000, 5, 4) if SMALL else (557_100, 25, 4)
batch_size = 2_000 if SMALL else 10_000


def make_blobs(n, d, k, seed=0):
    """Isotropic Gaussian blobs (scikit-learn's make_blobs recipe: centres in [-10, 10])."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(k, d))
    labels = rng.integers(0, k, size=n)
    return centers[labels] + rng.standard_normal((n, d)), labels


X, _ = make_blobs(n, d, k)
print(f"{n:,} x {d} = {X.nbytes / 2**20:.0f} MiB")

# %%
# One initialization for every fit, so that the fits can be compared.
start = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, k, X[:10_000],
                                            random_state=0, max_iter=1, tol=None)
settings = dict(max_iter=3, tol=None)  # three passes: enough to compare

tic = time.perf_counter()
whole = start.copy().fit(X, **settings)  # one batch: the classic EM
print(f"in memory, one batch:   {time.perf_counter() - tic:5.1f} s")
tic = time.perf_counter()
batched = start.copy().fit(X, batch_size=batch_size, **settings)
print(f"in memory, batches:     {time.perf_counter() - tic:5.1f} s")

# %%
# The exactness check: every parameter agrees to rounding error.
def max_relative_difference(a, b):
    pa = [a.weights] + [c.mean for c in a.distributions] + [c.cov for c in a.distributions]
    pb = [b.weights] + [c.mean for c in b.distributions] + [c.cov for c in b.distributions]
    return max(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300)) for x, y in zip(pa, pb))


print(f"batched vs whole: max relative difference {max_relative_difference(batched, whole):.1e}")

# %%
# The out-of-core fit streams the file in place (memory-mapped, one window at a time),
# and ``n_jobs=2`` summarizes two batches at once. The results are added in batch order,
# so the fit from the file on two threads is bitwise the batched fit in memory on one.
folder = tempfile.mkdtemp()
path = os.path.join(folder, "blobs.npy")
np.save(path, X)
del X  # from here on, only the file

tic = time.perf_counter()
streamed = start.copy().fit(path, batch_size=batch_size, n_jobs=2, **settings)
print(f"from the .npy, 2 threads: {time.perf_counter() - tic:5.1f} s")
same = all(np.array_equal(a.cov, b.cov) and np.array_equal(a.mean, b.mean)
           for a, b in zip(streamed.distributions, batched.distributions))
print("file with 2 threads == memory with 1 thread, bitwise:", same)
print(f"max relative difference {max_relative_difference(streamed, batched):.1e}")

# %%
# The fitted components on the first two features, over 2,000 rows read from the file
# (only those rows are read), and the log-likelihood over the passes.
fig = plot.components(streamed, path, feature_names=[f"x{j}" for j in range(d)],
                      title="four blobs, fitted out of core")

# %%
fig = plot.trace({"in memory, one batch": whole, "from the .npy, 2 threads": streamed},
                 panels=("log_likelihood",))
