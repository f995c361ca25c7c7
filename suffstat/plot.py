"""Plots of suffstat results (matplotlib is imported only when a plot is drawn)."""

from __future__ import annotations

from typing import Any

__all__ = ["phase_transitions", "centroids"]


def _axes(ax: Any) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure().add_subplot()
    return ax


def phase_transitions(result: Any, ax: Any = None) -> Any:
    """Plot each method's normalised distortion drop against ``k``.

    Parameters
    ----------
    result : PhaseTransitions
        What :func:`suffstat.phase_transitions` returned.
    ax : matplotlib.axes.Axes, optional
        Where to draw (a new figure when None).

    Returns
    -------
    matplotlib.axes.Axes
        The axes.
    """
    ax = _axes(ax)
    for method, deriv in result.derivative.items():
        ax.plot(result.k[1:], deriv, marker="o", label=method)
    ax.set_xlabel("k")
    ax.set_ylabel("(D(k-1) - D(k)) / max")
    ax.legend()
    return ax


def centroids(X: Any, centers: Any, counts: Any, ax: Any = None, *, label: str | None = None,
              scale: float = 2.0) -> Any:
    """Draw the points and the centroids, with marker areas proportional to their counts.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The points (drawn small and grey; None draws none).
    centers : array-like of shape (k, 2)
        The centroids.
    counts : array-like of shape (k,)
        Points per centroid.
    ax : matplotlib.axes.Axes, optional
        Where to draw (a new figure when None).
    label : str, optional
        Legend label of the centroids.
    scale : float, default=2.0
        Marker area per point of a centroid.

    Returns
    -------
    matplotlib.axes.Axes
        The axes.
    """
    import numpy as np

    ax = _axes(ax)
    if X is not None:
        X = np.asarray(X)
        ax.scatter(X[:, 0], X[:, 1], s=2, c="0.7")
    c = np.asarray(centers)
    ax.scatter(c[:, 0], c[:, 1], s=scale * np.asarray(counts, dtype=float) + 4, alpha=0.6,
               label=label)
    return ax
