"""Pictures of fitted mixtures, of their clusters over the laps of a fit, and of traces.

Three functions, each returning a :class:`matplotlib.figure.Figure` (nothing is shown
and nothing blocks; call ``fig.savefig(...)``, or ``plt.show()`` yourself):

* :func:`components`: the data (a subsample, streamed from a file when ``X`` is one)
  and every Gaussian component as its 1- and 2-sigma ellipses on two columns,
  labelled with its weight; other families as weighted densities of one column.
* :func:`laps`: a grid of :func:`components` at the saved laps of a run folder
  nearest to those asked (bnpy's ``show_clusters_over_time``).
* :func:`trace`: log-likelihood, number of components and step size over the laps
  (or the fitting time) of one or several runs, overlaid.

Two more draw on given axes for the streaming agglomerative clusterer:
:func:`phase_transitions` and :func:`centroids`.

matplotlib is an optional dependency (``pip install suffstat[plot]``); importing
:mod:`suffstat` never imports it, and this module imports it only when a function
is called.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import ModelFileError
from .snapshots import load_model_at_lap, load_snapshot, snapshot_laps
from .sources import as_source

__all__ = ["centroids", "components", "laps", "phase_transitions", "trace"]

#: the families drawn as a probability mass function (on the integers)
DISCRETE = {"Poisson", "Bernoulli", "Categorical"}
#: the trace panels: history key, axis label
TRACE_PANELS = {
    "log_likelihood": "mean log-likelihood per row",
    "K": "components K",
    "lrate": "step size (lrate)",
}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the plot extra is missing
        raise ImportError(
            "suffstat.plot needs matplotlib: pip install 'suffstat[plot]' (or matplotlib>=3.6)"
        ) from None
    return plt


def _colors(k: int) -> list[Any]:
    """One colour per component index, the same in every panel of a figure."""
    import matplotlib

    if k <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return [cmap(i) for i in range(k)]
    if k <= 20:
        cmap = matplotlib.colormaps["tab20"]
        return [cmap(i) for i in range(k)]
    cmap = matplotlib.colormaps["turbo"]
    return [cmap(i / max(k - 1, 1)) for i in range(k)]


# -- the model's parts ----------------------------------------------------------------------
def _parts(model: Any) -> tuple[list[Any], np.ndarray, Any]:
    """``(components, weights, predictor)`` of a mixture, a GaussianMixture or one distribution."""
    inner = getattr(model, "model_", None)  # scikit-learn's face: ss.GaussianMixture
    if inner is not None and hasattr(inner, "distributions"):
        return list(inner.distributions), np.asarray(inner.weights, dtype=float), inner
    if hasattr(model, "distributions") and hasattr(model, "weights"):
        return list(model.distributions), np.asarray(model.weights, dtype=float), model
    if hasattr(model, "log_probability"):
        return [model], np.ones(1), None
    raise TypeError(f"cannot draw a {type(model).__name__}: give a mixture or a distribution")


def _is_gaussian(d: Any) -> bool:
    return hasattr(d, "covariance_type") and hasattr(d, "cov") and hasattr(d, "mean")


def _cov2(d: Any, i: int, j: int) -> np.ndarray:
    """The 2 x 2 covariance of columns ``i`` and ``j`` of a MultivariateNormal."""
    cov = np.asarray(d.cov, dtype=float)
    if cov.ndim == 2:
        return cov[np.ix_([i, j], [i, j])]
    if cov.ndim == 1:
        return np.diag(cov[[i, j]])
    return np.eye(2) * float(cov)


def _marginal_logpdf(d: Any, column: int, grid: np.ndarray) -> np.ndarray:
    """Log-density of column ``column`` of component ``d`` on ``grid``."""
    if _is_gaussian(d):
        cov = np.asarray(d.cov, dtype=float)
        var = cov[column, column] if cov.ndim == 2 else (cov[column] if cov.ndim == 1 else float(cov))
        mu = float(np.asarray(d.mean, dtype=float)[column])
        return -0.5 * ((grid - mu) ** 2 / var + math.log(2 * math.pi * var))
    n_features = getattr(d, "n_features", 1) or 1
    if n_features == 1:
        return np.asarray(d.log_probability(grid), dtype=float)
    inner = getattr(d, "distributions", None)
    if inner is not None and column < len(inner):
        return _marginal_logpdf(inner[column], 0, grid)
    raise ValueError(f"cannot draw column {column} of a {type(d).__name__}: no marginal density")


def _family(d: Any, column: int) -> str:
    inner = getattr(d, "distributions", None)
    if inner is not None and not hasattr(d, "weights") and column < len(inner):
        return _family(inner[column], 0)
    return type(d).__name__


# -- data -----------------------------------------------------------------------------------
def _subsample(X: Any, max_points: int, random_state: Any) -> np.ndarray | None:
    """At most ``max_points`` rows of ``X`` (an array, memmap or ``.npy`` path), as an array.

    A file is never read whole: only the chosen rows are read.
    """
    if X is None:
        return None
    source = as_source(X)
    n = source.n_rows
    if n <= max_points:
        return np.asarray(source.read(0, n), dtype=float)
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(n, size=max_points, replace=False))
    return np.asarray(source.take(rows), dtype=float)


def _check_columns(columns: Any, n_features: int | None) -> tuple[int, ...]:
    columns = (columns,) if isinstance(columns, (int, np.integer)) else tuple(columns)
    if len(columns) not in (1, 2) or not all(isinstance(c, (int, np.integer)) for c in columns):
        raise ValueError(f"columns must be one or two column indices; got {columns!r}")
    if len(columns) == 2 and columns[0] == columns[1]:
        raise ValueError(f"columns must be two different columns; got {columns!r}")
    if n_features is not None:
        bad = [c for c in columns if not 0 <= c < n_features]
        if bad:
            raise ValueError(f"columns must be in [0, {n_features}); got {bad[0]} "
                             f"(the model has {n_features} feature(s))")
    return tuple(int(c) for c in columns)


# -- components -----------------------------------------------------------------------------
def components(
    model: Any,
    X: Any = None,
    ax: Any = None,
    *,
    columns: Any = (0, 1),
    min_weight: float = 1e-3,
    max_points: int = 2000,
    random_state: Any = 0,
    feature_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """Draw a mixture's components over (a subsample of) the data.

    Gaussian components (:class:`~suffstat.MultivariateNormal`, any covariance type)
    are drawn on two columns as their 1-sigma (solid) and 2-sigma (dashed) ellipses,
    each labelled ``k: weight`` at its mean, over the data points coloured by their
    most probable component. Components of other families (or a model with one
    feature, or one column asked) are drawn as densities of one column: each
    component's weighted density ``w_k p_k(x)``, the mixture's density (black) and a
    histogram of the data. Components whose weight is below ``min_weight`` are not
    drawn, and a note in the corner counts them (bnpy's "SKIPPED 3 comps").

    Parameters
    ----------
    model : GeneralMixtureModel, GaussianMixture or Distribution
        A fitted mixture (or a single distribution, drawn as a one-component mixture).
    X : array-like, numpy.memmap, str or os.PathLike, optional
        The data: at most ``max_points`` rows are drawn, chosen at random; a ``.npy``
        path or memory map is read row by row, never loaded whole.
    ax : matplotlib.axes.Axes, optional
        The axes to draw in; a new figure is made when None.
    columns : int or tuple of int, default=(0, 1)
        The two columns of the ellipses (x, y), or one column for the densities.
    min_weight : float, default=1e-3
        Components with a smaller weight are skipped (and counted in a note).
    max_points : int, default=2000
        The most rows of ``X`` drawn.
    random_state : None, int or numpy.random.Generator, default=0
        Seeds the choice of the rows drawn.
    feature_names : sequence of str, optional
        Names of the columns for the axis labels (default ``column 0``, ...).
    title : str, optional
        The axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding ``ax`` (the new one when ``ax`` is None).

    Raises
    ------
    ValueError
        If ``columns`` does not name one or two columns of the model, or a
        component has no density for the column asked.

    See Also
    --------
    laps : components at several laps of a fit.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> from suffstat import plot
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> model = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X,
    ...                                             random_state=0, max_iter=5, tol=None)
    >>> fig = plot.components(model, X)
    >>> len(fig.axes[0].patches)   # two ellipses (1 and 2 sigma) per component
    4
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    comps, weights, predictor = _parts(model)
    n_features = getattr(model, "n_features_in_", None) or getattr(comps[0], "n_features", None)
    if not isinstance(n_features, (int, np.integer)):
        n_features = None
    if n_features == 1 and tuple(np.atleast_1d(columns)) == (0, 1):
        columns = (0,)
    columns = _check_columns(columns, n_features)
    if not max_points >= 1:
        raise ValueError(f"max_points must be a positive integer; got {max_points}")
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=(5.5, 4.5), layout="constrained")
    else:
        fig = ax.figure
    data = X if isinstance(X, np.ndarray) and X.ndim and len(X) <= max_points else \
        _subsample(X, max_points, random_state)
    if data is not None and data.ndim == 1:
        data = data[:, None]
    shown = np.flatnonzero(weights >= min_weight)
    colors = _colors(len(comps))
    names = list(feature_names) if feature_names is not None else None

    def label(c: int) -> str:
        return names[c] if names is not None and c < len(names) else f"column {c}"

    if len(columns) == 2 and all(_is_gaussian(d) for d in comps):
        _draw_ellipses(ax, comps, weights, shown, colors, columns, data, predictor)
        ax.set_xlabel(label(columns[0]))
        ax.set_ylabel(label(columns[1]))
    else:
        _draw_densities(ax, comps, weights, shown, colors, columns[0], data)
        ax.set_xlabel(label(columns[0]))
        ax.set_ylabel("density")
    skipped = len(comps) - len(shown)
    if skipped:
        ax.text(0.01, 0.01, f"skipped {skipped} comp{'s' if skipped > 1 else ''} with weight "
                f"below {min_weight:g}", transform=ax.transAxes, fontsize=8, color="0.3",
                ha="left", va="bottom")
    if title is not None:
        ax.set_title(title)
    return fig


def _draw_ellipses(ax: Any, comps: list, weights: np.ndarray, shown: np.ndarray, colors: list,
                   columns: tuple[int, int], data: np.ndarray | None, predictor: Any) -> None:
    from matplotlib.patches import Ellipse

    i, j = columns
    if data is not None and len(data):
        if predictor is not None and len(comps) > 1:
            labels = np.asarray(predictor.predict(data))
            palette = np.array([colors[k] for k in range(len(comps))])
            point_colors = palette[labels].copy()
            point_colors[~np.isin(labels, shown)] = (0.6, 0.6, 0.6, 1.0)
        else:
            point_colors = np.array([colors[0]])
        ax.scatter(data[:, i], data[:, j], s=4, c=point_colors, alpha=0.35, linewidths=0,
                   rasterized=True)
    for k in shown:
        d = comps[k]
        mean = np.asarray(d.mean, dtype=float)[[i, j]]
        vals, vecs = np.linalg.eigh(_cov2(d, i, j))
        vals = np.clip(vals, 0.0, None)
        angle = math.degrees(math.atan2(vecs[1, -1], vecs[0, -1]))
        for sigma, style in ((1, "-"), (2, "--")):
            ax.add_patch(Ellipse(mean, 2 * sigma * math.sqrt(vals[-1]), 2 * sigma * math.sqrt(vals[0]),
                                 angle=angle, fill=False, edgecolor=colors[k], linestyle=style,
                                 linewidth=1.8 if sigma == 1 else 1.0))
        ax.annotate(f"{k}: {weights[k]:.2f}", mean, fontsize=7, ha="center", va="center",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colors[k], "alpha": 0.8})
    ax.autoscale_view()


def _draw_densities(ax: Any, comps: list, weights: np.ndarray, shown: np.ndarray, colors: list,
                    column: int, data: np.ndarray | None) -> None:
    discrete = any(_family(d, column) in DISCRETE for d in comps)
    x = None if data is None else data[:, column]
    if x is not None and len(x):
        lo, hi = float(np.min(x)), float(np.max(x))
    else:
        lo, hi = _density_range(comps, column)
    if discrete:
        grid = np.arange(math.floor(lo), math.ceil(hi) + 1, dtype=float)
    else:
        pad = 0.05 * (hi - lo) or 1.0
        grid = np.linspace(lo - pad, hi + pad, 400)
    if x is not None and len(x):
        bins = np.arange(grid[0] - 0.5, grid[-1] + 1.5) if discrete else 40
        ax.hist(x, bins=bins, density=True, color="0.85", edgecolor="0.75", label="data")
    total = np.zeros_like(grid)
    style = {"drawstyle": "steps-mid"} if discrete else {}
    for k in range(len(comps)):
        dens = weights[k] * np.exp(_marginal_logpdf(comps[k], column, grid))
        total += dens
        if k in shown:
            ax.plot(grid, dens, color=colors[k], linewidth=2.0, label=f"{k}: {weights[k]:.2f}",
                    **style)
    if len(comps) > 1:  # dashed and thin, so the components stay visible under it
        ax.plot(grid, total, color="black", linewidth=1.0, linestyle="--", label="mixture",
                **style)
    ax.legend(fontsize=7, loc="upper right", title="component: weight", title_fontsize=7)


def _density_range(comps: list, column: int) -> tuple[float, float]:
    """A range covering the components when there is no data (mean +- 4 std)."""
    los, his = [], []
    for d in comps:
        if _is_gaussian(d):
            cov = np.asarray(d.cov, dtype=float)
            var = cov[column, column] if cov.ndim == 2 else (cov[column] if cov.ndim == 1 else float(cov))
            mu = float(np.asarray(d.mean, dtype=float)[column])
        else:
            inner = d
            if getattr(d, "distributions", None) is not None and not hasattr(d, "weights"):
                inner = d.distributions[column]
            try:
                draws = np.asarray(inner.sample(500, random_state=0), dtype=float).ravel()
            except Exception:  # noqa: BLE001 - a family without sample: a unit range
                draws = np.array([0.0, 1.0])
            mu, var = float(np.mean(draws)), float(np.var(draws)) or 0.25
        los.append(mu - 4 * math.sqrt(var))
        his.append(mu + 4 * math.sqrt(var))
    return min(los), max(his)


# -- laps -----------------------------------------------------------------------------------
def nearest_laps(saved: Sequence[int], asked: Iterable[int | None]) -> list[tuple[int, list]]:
    """Map each lap asked to the nearest saved lap (``None``: the last).

    Ties go to the earlier lap. Returns ``(saved lap, [laps asked])`` pairs in the
    order first asked, each saved lap once.
    """
    chosen: dict[int, list] = {}
    for a in asked:
        if a is None:
            lap = saved[-1]
        elif isinstance(a, (int, np.integer)) and a >= 0:
            lap = min(saved, key=lambda s: (abs(s - int(a)), s))
        else:
            raise ValueError(f"laps must hold non-negative integers or None (the last); got {a!r}")
        chosen.setdefault(lap, []).append(a)
    return list(chosen.items())


def _lap_title(lap: int, asked: list, last: int) -> str:
    notes = []
    if None in asked or lap == last:
        notes.append("last")
    others = [a for a in asked if a is not None and a != lap]
    if others and lap not in asked:
        notes.append("nearest to " + ", ".join(str(a) for a in others))
    return f"lap {lap}" + (f" ({'; '.join(notes)})" if notes else "")


def laps(
    run_folder: Any,
    laps: Iterable[int | None] = (0, 1, 2, 5, 10, None),
    X: Any = None,
    *,
    columns: Any = (0, 1),
    ncols: int = 3,
    min_weight: float = 1e-3,
    max_points: int = 2000,
    random_state: Any = 0,
    feature_names: Sequence[str] | None = None,
) -> Any:
    """Draw the components of a fit at several of its saved laps, side by side.

    bnpy's ``show_clusters_over_time`` from our snapshots: for each lap asked, the
    nearest lap saved in ``run_folder`` (a fit's ``output_path``) is drawn by
    :func:`components`, titled with its lap (and the lap asked when that was not
    saved). A lap is drawn once even when several asked laps lead to it. Lap 0 (the
    initialization) is not saved by a fit, so 0 shows the first saved lap. The same
    subsample of ``X`` is drawn in every panel, and a component keeps its colour.

    Parameters
    ----------
    run_folder : str or os.PathLike
        The folder of ``lap-NNNN.npz`` snapshots.
    laps : iterable of int or None, default=(0, 1, 2, 5, 10, None)
        The laps wanted; None is the last saved lap.
    X : array-like, numpy.memmap, str or os.PathLike, optional
        The data drawn under the components (subsampled as in :func:`components`).
    columns : int or tuple of int, default=(0, 1)
        The columns drawn (see :func:`components`).
    ncols : int, default=3
        Panels per row of the grid.
    min_weight : float, default=1e-3
        Components with a smaller weight are skipped (and counted).
    max_points : int, default=2000
        The most rows of ``X`` drawn.
    random_state : None, int or numpy.random.Generator, default=0
        Seeds the choice of the rows drawn.
    feature_names : sequence of str, optional
        Names of the columns for the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per lap drawn.

    Raises
    ------
    ModelFileError
        If ``run_folder`` holds no snapshot.
    ValueError
        If ``laps`` is empty or holds something else than non-negative integers and
        None.

    Examples
    --------
    >>> import numpy as np, suffstat as ss, tempfile
    >>> from suffstat import plot
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> out = tempfile.mkdtemp()
    >>> _ = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, random_state=0,
    ...                                         max_iter=4, tol=None, output_path=out)
    >>> fig = plot.laps(out, laps=(1, 3, None), X=X)
    >>> [ax.get_title() for ax in fig.axes]
    ['lap 1', 'lap 3', 'lap 4 (last)']
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    saved = snapshot_laps(run_folder)
    if not saved:
        raise ModelFileError(f"{run_folder}: no snapshot (lap-NNNN.npz) to draw")
    asked = list(laps)
    if not asked:
        raise ValueError("laps must name at least one lap (None: the last)")
    if not (isinstance(ncols, (int, np.integer)) and ncols >= 1):
        raise ValueError(f"ncols must be a positive integer; got {ncols!r}")
    chosen = nearest_laps(saved, asked)
    data = _subsample(X, max_points, random_state)
    n = len(chosen)
    cols = min(int(ncols), n)
    rows = math.ceil(n / cols)
    fig, axes = _pyplot().subplots(rows, cols, figsize=(3.6 * cols, 3.3 * rows), sharex=True,
                                   sharey=True, squeeze=False, layout="constrained")
    flat = axes.ravel()
    for ax, (lap, wanted) in zip(flat, chosen):
        model = load_model_at_lap(run_folder, lap)
        components(model, data, ax, columns=columns, min_weight=min_weight,
                   max_points=max_points, random_state=random_state,
                   feature_names=feature_names, title=_lap_title(lap, wanted, saved[-1]))
    for ax in flat[n:]:
        ax.remove()
    for idx, ax in enumerate(flat[:n]):  # shared axes: label the outer ones only
        if idx + cols < n:
            ax.set_xlabel("")
        else:  # nothing below it (the cell may have been removed): show its ticks
            ax.xaxis.set_tick_params(labelbottom=True)
        if idx % cols:
            ax.set_ylabel("")
    return fig


# -- trace ----------------------------------------------------------------------------------
def _history_of(run: Any) -> list[dict[str, Any]]:
    """The per-lap history of a run folder, a fitted model, a History callback or a list."""
    if isinstance(run, (str, Path)) or hasattr(run, "__fspath__"):
        if not snapshot_laps(run):
            raise ModelFileError(f"{run}: no snapshot (lap-NNNN.npz) with a trace to draw")
        _, payload = load_snapshot(run)
        return list(payload["state"].get("history", []))
    inner = getattr(run, "model_", None)
    if inner is not None and hasattr(inner, "history_"):
        return list(inner.history_)
    if hasattr(run, "history_"):
        return list(run.history_)
    if hasattr(run, "history") and not isinstance(run, Mapping):
        return list(run.history)
    if isinstance(run, Sequence) and all(isinstance(h, Mapping) for h in run):
        return [dict(h) for h in run]
    raise TypeError(f"cannot read a trace from a {type(run).__name__}: give a run folder, a fitted "
                    "model, a History callback or a list of history entries")


def _default_label(run: Any, i: int) -> str:
    if isinstance(run, (str, Path)) or hasattr(run, "__fspath__"):
        return Path(run).name or str(run)
    return f"run {i}"


def _metric(h: Mapping[str, Any], key: str) -> float:
    if key == "log_likelihood":
        value = h.get("mean_log_likelihood", h.get("log_likelihood"))
    else:
        value = h.get(key)
    return math.nan if value is None else float(value)


def trace(
    run_folder_or_history: Any,
    *,
    labels: Sequence[str] | None = None,
    x: str = "lap",
    panels: Sequence[str] = ("log_likelihood", "K", "lrate"),
) -> Any:
    """Draw the log-likelihood, number of components and step size of fits over laps.

    Several runs are overlaid, one colour each (cold vs warm start; EM vs stepwise vs
    memoized). A panel is drawn when at least one run records its value: ``lrate``
    (the step size) exists for stepwise EM only, and a run without it is left out
    of that panel.

    Parameters
    ----------
    run_folder_or_history : run or list of runs or dict
        A run is a fit's ``output_path`` folder (its newest snapshot holds the whole
        history), a fitted model (its ``history_``), a :class:`~suffstat.History`
        callback, or a list of history entries (dicts with ``iteration`` and any of
        ``mean_log_likelihood``, ``K``, ``lrate``, ``time``). Give a list of runs
        to overlay them, or a dict ``{label: run}``.
    labels : sequence of str, optional
        One legend label per run (default: the dict's keys, the folder names, or
        ``run 0``, ``run 1``, ...).
    x : {'lap', 'time'}, default='lap'
        The horizontal axis: the lap (``iteration``), or the fitting time in
        seconds (the cumulative sum of ``time``).
    panels : sequence of str, default=('log_likelihood', 'K', 'lrate')
        The panels wanted, top to bottom: ``'log_likelihood'`` (the mean per row),
        ``'K'`` (components) and ``'lrate'`` (step size).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel drawn, one line per run that has the value.

    Raises
    ------
    ValueError
        If ``x`` or a panel name is unknown, or ``labels`` does not give one label
        per run.
    ModelFileError
        If a run folder holds no snapshot.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> from suffstat import plot
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> em = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, random_state=0,
    ...                                          max_iter=5, tol=None)
    >>> sw = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, random_state=0,
    ...                                          max_iter=5, tol=None, algorithm="stepwise",
    ...                                          batch_size=100)
    >>> fig = plot.trace({"EM": em, "stepwise": sw})
    >>> [len(ax.get_lines()) for ax in fig.axes]   # log-likelihood, K, step size
    [2, 2, 1]
    >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    if x not in ("lap", "time"):
        raise ValueError(f"x must be 'lap' or 'time'; got {x!r}")
    unknown = [p for p in panels if p not in TRACE_PANELS]
    if unknown or not panels:
        raise ValueError(f"panels must be a non-empty list of {sorted(TRACE_PANELS)}; got {list(panels)!r}")
    src = run_folder_or_history
    if isinstance(src, Mapping):
        runs, names = list(src.values()), [str(k) for k in src]
    elif isinstance(src, (list, tuple)) and src and not all(isinstance(h, Mapping) for h in src):
        runs, names = list(src), [_default_label(r, i) for i, r in enumerate(src)]
    else:
        runs, names = [src], [_default_label(src, 0)]
    if labels is not None:
        if len(labels) != len(runs):
            raise ValueError(f"labels must give one label per run ({len(runs)}); got {len(labels)}")
        names = [str(s) for s in labels]
    histories = [_history_of(r) for r in runs]
    drawn = [p for p in panels if any(not math.isnan(_metric(h, p)) for hs in histories for h in hs)]
    if not drawn:
        raise ValueError(f"no run records any of {list(panels)}")
    plt = _pyplot()
    fig, axes = plt.subplots(len(drawn), 1, figsize=(6.5, 1.2 + 1.9 * len(drawn)), sharex=True,
                             squeeze=False, layout="constrained")
    colors = _colors(len(runs))
    for ax, panel in zip(axes[:, 0], drawn):
        for c, (name, hs) in enumerate(zip(names, histories)):
            ys = np.array([_metric(h, panel) for h in hs])
            if not len(ys) or np.isnan(ys).all():
                continue
            if x == "lap":
                xs = np.array([h.get("iteration", i + 1) for i, h in enumerate(hs)], dtype=float)
            else:
                xs = np.cumsum([float(h.get("time", 0.0)) for h in hs])
            style = {"drawstyle": "steps-post"} if panel == "K" else {"marker": "o", "ms": 3}
            # earlier runs are drawn wider, so that runs on top of each other stay visible
            width = 1.5 + 2.0 * (len(runs) - 1 - c) / max(len(runs) - 1, 1)
            ax.plot(xs, ys, color=colors[c], label=name, linewidth=width, **style)
        variational = panel == "log_likelihood" and all("elbo" in h for hs in histories for h in hs)
        ax.set_ylabel("mean ELBO per row" if variational else TRACE_PANELS[panel])
        ax.grid(True, alpha=0.3)
        if panel == "K":
            from matplotlib.ticker import MaxNLocator

            ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            lo, hi = ax.get_ylim()
            ax.set_ylim(math.floor(lo + 0.5) - 0.5, math.ceil(hi - 0.5) + 0.5)
    if len(runs) > 1 or labels is not None:
        axes[0, 0].legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("lap (full passes over the data)" if x == "lap" else "fitting time (s)")
    if x == "lap":
        from matplotlib.ticker import MaxNLocator

        axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


# -- the streaming agglomerative clusterer ------------------------------------------
def _axes(ax: Any) -> Any:
    if ax is None:
        ax = _pyplot().figure().add_subplot()
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
    ax = _axes(ax)
    if X is not None:
        X = np.asarray(X)
        ax.scatter(X[:, 0], X[:, 1], s=2, c="0.7")
    c = np.asarray(centers)
    ax.scatter(c[:, 0], c[:, 1], s=scale * np.asarray(counts, dtype=float) + 4, alpha=0.6,
               label=label)
    return ax
