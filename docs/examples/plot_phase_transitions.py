"""
Streaming agglomerative clustering: phase transitions and a small dense cluster
===============================================================================

:class:`suffstat.StreamingAgglomerative` keeps k additive summaries and, as each point
arrives, merges the two closest (the "faddc" rule). Its distortion as a function of k
shows "phase transitions": sharp drops where a real cluster gets its own centroid.
The data has the shape its author used: a big diffuse cloud, a tight cluster a quarter
of its scale at (2, 2) holding 10% of the points, and a second tight cluster far away
at (20, 20). The left panel plots each method's normalised drop in distortion against
k; the right one the k=5 centroids of k-means and faddc, sized by their counts. As the
agglomerative page measures over 20 seeds, faddc rarely keeps a centroid on the dense
cluster at (2, 2), while k-means does from k=5 on.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import suffstat as ss

SMALL = os.environ.get("SUFFSTAT_EXAMPLE_SIZE") == "small"
n = 400 if SMALL else 1000
k_values = range(2, 7) if SMALL else range(2, 9)

rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(0.0, 1.0, (n, 2)), rng.normal(2.0, 0.25, (n // 8, 2)),
                    rng.normal(20.0, 0.25, (n // 8, 2))])
X = X[rng.permutation(len(X))]

result = ss.phase_transitions(X, k_values, methods=("faddc", "faddc-ward", "kmeans"), random_state=0)
for method in ("faddc", "faddc-ward", "kmeans"):
    print(f"{method:>11}: largest drops at k = {[int(k) for k in result.jumps[method][:3]]}")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
ss.plot.phase_transitions(result, ax=left)
left.set_title("normalised drop in distortion")
i = list(result.k).index(5)
ss.plot.centroids(X, result.centers["kmeans"][i], result.counts["kmeans"][i], ax=right, label="k-means")
ss.plot.centroids(None, result.centers["faddc"][i], result.counts["faddc"][i], ax=right, label="faddc")
right.set_xlim(-4, 6)
right.set_ylim(-4, 6)
right.set_title("k = 5 centroids (area ~ count); (20, 20) is off the view")
right.legend(loc="upper left", markerscale=0.3)
fig.tight_layout()
