"""
An mlpack ``gmm_train`` session on the command line
===================================================

mlpack's ``gmm_train`` / ``gmm_probability`` / ``gmm_generate`` session, replayed with
the ``suffstat`` program, which accepts mlpack's option names: several trials from a
refined (Bradley-Fayyad) start, a diagonal-covariance model, a warm start from a saved
model, per-row densities and new draws. Each command is shown as you would type it
in a shell; here it runs through :func:`suffstat.cli.main`, which takes the same words.
"""

# %%
import os
import shlex
import tempfile

import numpy as np

from suffstat.cli import asterisk, main

SMALL = os.environ.get("SUFFSTAT_EXAMPLE_SIZE") == "small"
os.chdir(tempfile.mkdtemp())  # the files of the session go to a scratch folder
X, _ = asterisk(2000 if SMALL else 20_000, seed=0)  # the demo's 8 elongated clusters
np.savetxt("data.csv", X, delimiter=",")


def suffstat(command):
    """Run ``suffstat COMMAND`` as a shell would, and stop on an error."""
    print(f"$ suffstat {command}")
    status = main(shlex.split(command))
    assert status == 0, f"exit status {status}"


# %%
# Train: 8 Gaussians (``-g``), 3 trials (``-t``) from a refined start (``-r``) with
# 20 subsamplings (``-S``) of 5% of the rows (``-p``), at most 50 EM passes (``-n``),
# the best model saved (``-M``). ``--plot`` draws the fitted clusters over the data.
suffstat("train -i data.csv -g 8 -t 3 -r -S 20 -p 0.05 -n 50 -s 0 -M gmm.npz "
         "--plot gmm.png")

# %%
# The same with diagonal covariances (``-d``): each cluster is an axis-aligned ellipse,
# so the diagonal clusters of the asterisk need more than one component each.
suffstat("train -i data.csv -g 8 -d -n 50 -s 0 -M gmm_diag.npz --plot gmm_diag.png")

# %%
# Warm start (``-m``): continue from the saved model for a few more passes.
suffstat("train -i data.csv -m gmm.npz -n 5 -M gmm_more.npz")

# %%
# Densities of every row (mlpack's ``gmm_probability``), and 1,000 new rows
# (``gmm_generate``).
suffstat("probability -m gmm_more.npz -i data.csv -o density.csv")
suffstat("generate -m gmm_more.npz -n 1000 -s 1 -o draws.csv")
suffstat("info gmm_more.npz")
density = np.loadtxt("density.csv")
draws = np.loadtxt("draws.csv", delimiter=",")
print(f"mean log-density {np.log(density).mean():.4f}; draws {draws.shape}")

# %%
# The pictures the ``--plot`` options wrote: the full-covariance clusters, then the
# diagonal ones.
import matplotlib.pyplot as plt  # noqa: E402

for name in ("gmm.png", "gmm_diag.png"):
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.imshow(plt.imread(name))
    ax.set_axis_off()
    ax.set_title(f"suffstat train ... --plot {name}")
