"""Shared data and initial models for the mixture tests."""

from __future__ import annotations

import numpy as np

import suffstat as ss

MEANS = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [-4.0, 3.0, 2.0]])


def blobs(n=3000, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    A = np.array([[1.0, 0.4, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 1.2]])
    return MEANS[labels] + rng.standard_normal((n, 3)) @ A + offset


def initial_gmm(ctype="full", seed=1, offset=0.0):
    """A fixed, deliberately imperfect starting model (for data made with the same offset)."""
    rng = np.random.default_rng(seed)
    comps = []
    for m in MEANS + offset + rng.normal(0, 0.7, size=MEANS.shape):
        cov = {"full": np.eye(3) * 1.5, "diag": np.full(3, 1.5), "spherical": 1.5}[ctype]
        comps.append(ss.MultivariateNormal(m, cov, covariance_type=ctype))
    return ss.GeneralMixtureModel(comps, [0.4, 0.3, 0.3])


def params(model):
    out = [np.asarray(model.weights)]
    for d in model.distributions:
        out.extend(np.ravel(np.asarray(v, dtype=float)) for v in d._get_params().values())
    return np.concatenate([np.ravel(a) for a in out])


def asterisk_k8():
    """bnpy's AsteriskK8 rows (``../shared/data/asterisk_k8.npz``, beside the project or the
    folder of worktrees holding it); the test is skipped without it."""
    from pathlib import Path

    import pytest

    root = Path(__file__).resolve().parents[1]
    for p in (root.parent / "shared" / "data" / "asterisk_k8.npz",
              root.parent.parent / "shared" / "data" / "asterisk_k8.npz"):
        if p.is_file():
            return np.load(p)["X"]
    pytest.skip("AsteriskK8 (../shared/data/asterisk_k8.npz) is not available")
