"""Fused mixture E-steps that component families offer to a mixture.

A family with a fused kernel answers ``_mixture_estep()`` with a
:class:`FusedEStep`: a key, a runner and the component's arrays. When every
component of a mixture gives the same key, the mixture calls the runner once per
batch on all of them (one pass over the rows computes the responsibilities and
every component's statistics), instead of composing the components'
``summarize``. A new family adds its own fast path here and in its class, without
editing the mixture; the generic composition stays the reference the fused path
is tested against.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ..kernels.mixture import gmm_diag_estep, gmm_full_estep
from ..statistics import MixtureStats, MultivariateNormalStats, NormalStats


class FusedEStep(NamedTuple):
    """A component's share of a fused mixture E-step.

    Attributes
    ----------
    key : tuple
        Components with equal keys can share one kernel call.
    run : callable
        ``run(X, w, log_weights, arrays)`` with ``arrays`` the list of every
        component's :attr:`arrays`; returns ``(MixtureStats, finite)``, where
        ``finite`` is False when the kernel met a non-finite row or value.
    arrays : dict
        The component's parameters in the kernel's layout.
    """

    key: tuple
    run: Callable[..., tuple[MixtureStats, bool]]
    arrays: dict[str, Any]


def _stack(arrays: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.ascontiguousarray([a[name] for a in arrays], dtype=np.float64)


def gaussian_diag_estep(X: np.ndarray, w: np.ndarray, log_weights: np.ndarray,
                        arrays: list[dict[str, Any]], univariate: bool = False) -> tuple[MixtureStats, bool]:
    """Fused E-step of diagonal (or univariate) Gaussian components."""
    X2 = X.reshape(-1, 1) if univariate else X
    means, inv_vars, log_norms = _stack(arrays, "mean"), _stack(arrays, "inv_var"), _stack(arrays, "log_norm")
    k, d = means.shape
    resp_sum, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
    w_sum, ll, ent, finite = gmm_diag_estep(X2, w, log_weights, means, inv_vars, log_norms, resp_sum, s1, s2)
    if univariate:
        parts = [NormalStats(w_sum=resp_sum[c], xw_sum=s1[c, 0], xxw_sum=s2[c, 0], shift=means[c, 0])
                 for c in range(k)]
    else:
        parts = [MultivariateNormalStats(w_sum=resp_sum[c], xw_sum=s1[c], xxw_sum=s2[c], shift=means[c])
                 for c in range(k)]
    return MixtureStats(w_sum=w_sum, resp_sum=resp_sum, log_likelihood=ll, entropy=ent, parts=parts), finite


def normal_estep(X: np.ndarray, w: np.ndarray, log_weights: np.ndarray,
                 arrays: list[dict[str, Any]]) -> tuple[MixtureStats, bool]:
    """Fused E-step of univariate Normal components."""
    return gaussian_diag_estep(X, w, log_weights, arrays, univariate=True)


def gaussian_full_estep(X: np.ndarray, w: np.ndarray, log_weights: np.ndarray,
                        arrays: list[dict[str, Any]]) -> tuple[MixtureStats, bool]:
    """Fused E-step of full-covariance Gaussian components."""
    means, prec, log_norms = _stack(arrays, "mean"), _stack(arrays, "prec_chol"), _stack(arrays, "log_norm")
    k, d = means.shape
    resp_sum, s1, s2 = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    w_sum, ll, ent, finite = gmm_full_estep(X, w, log_weights, means, prec, log_norms, resp_sum, s1, s2)
    parts = [MultivariateNormalStats(w_sum=resp_sum[c], xw_sum=s1[c], xxw_sum=s2[c], shift=means[c])
             for c in range(k)]
    return MixtureStats(w_sum=w_sum, resp_sum=resp_sum, log_likelihood=ll, entropy=ent, parts=parts), finite
