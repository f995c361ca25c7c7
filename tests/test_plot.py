"""suffstat.plot (issue 15): each function runs headless and returns a Figure whose
artists we count: axes, ellipses, lines, titles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

import suffstat as ss  # noqa: E402
from suffstat import plot  # noqa: E402
from suffstat.cli import asterisk  # noqa: E402
from suffstat.snapshots import load_snapshot  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    X, _ = asterisk(1200, seed=1)
    return X


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, blobs):
    out = tmp_path_factory.mktemp("run")
    ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 4, blobs, random_state=0,
                                        max_iter=7, tol=None, output_path=out, save_every=3)
    return out  # laps 3, 6 and 7 (the last is always saved)


def _ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def test_importing_suffstat_does_not_import_matplotlib():
    code = ("import sys, suffstat; assert 'matplotlib' not in sys.modules, 'imported'; "
            "suffstat.plot.components; assert 'matplotlib' not in sys.modules, 'plot imported'")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_components_draws_two_ellipses_per_component_and_the_data(blobs, covariance_type):
    model = ss.GeneralMixtureModel([ss.MultivariateNormal(covariance_type=covariance_type)
                                    for _ in range(3)]).fit(blobs, max_iter=5, tol=None, random_state=0)
    fig = plot.components(model, blobs)
    assert isinstance(fig, matplotlib.figure.Figure)
    (ax,) = fig.axes
    ells = _ellipses(ax)
    assert len(ells) == 6
    assert sorted(e.get_linestyle() for e in ells) == ["-"] * 3 + ["--"] * 3
    assert len(ax.collections) == 1  # one scatter of the data
    assert len(ax.collections[0].get_offsets()) == len(blobs)
    weights = [t.get_text() for t in ax.texts]
    assert weights == [f"{k}: {w:.2f}" for k, w in enumerate(model.weights)]
    assert ax.get_xlabel() == "column 0" and ax.get_ylabel() == "column 1"


def test_ellipse_axes_are_the_covariance_eigenvalues_at_1_and_2_sigma():
    cov = np.array([[4.0, 1.0], [1.0, 1.0]])
    d = ss.MultivariateNormal(mean=[1.0, -1.0], cov=cov)
    fig = plot.components(d)
    vals = np.linalg.eigvalsh(cov)
    one, two = sorted(_ellipses(fig.axes[0]), key=lambda e: e.width)
    assert one.width == pytest.approx(2 * np.sqrt(vals[1]))
    assert one.height == pytest.approx(2 * np.sqrt(vals[0]))
    assert two.width == pytest.approx(4 * np.sqrt(vals[1]))
    assert tuple(one.center) == (1.0, -1.0)


def test_components_on_chosen_columns_with_names(blobs):
    X = np.column_stack([blobs, blobs[:, 0] * 2 + 1])
    model = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, random_state=0,
                                                max_iter=3, tol=None)
    fig = plot.components(model, X, columns=(2, 1), feature_names=["a", "b", "c"], title="T")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("c", "b", "T")
    means = sorted(tuple(e.center) for e in _ellipses(ax))[::2]
    assert means == sorted(tuple(d.mean[[2, 1]]) for d in model.distributions)
    with pytest.raises(ValueError, match="columns must be in \\[0, 3\\); got 3"):
        plot.components(model, X, columns=(0, 3))


def test_small_components_are_skipped_and_counted(blobs):
    comps = [ss.MultivariateNormal(mean=[0.0, k], cov=np.eye(2) * 0.1) for k in range(5)]
    model = ss.GeneralMixtureModel(comps, weights=[0.5, 0.4, 0.0999, 0.0001, 0.0])
    fig = plot.components(model, blobs, min_weight=0.01)
    ax = fig.axes[0]
    assert len(_ellipses(ax)) == 6
    assert "skipped 2 comps with weight below 0.01" in [t.get_text() for t in ax.texts]


def test_components_subsamples_and_streams_a_npy_file(tmp_path, blobs):
    path = tmp_path / "x.npy"
    np.save(path, blobs)
    model = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, blobs, random_state=0,
                                                max_iter=3, tol=None)
    fig = plot.components(model, str(path), max_points=100)
    offsets = fig.axes[0].collections[0].get_offsets()
    assert len(offsets) == 100
    rows = {tuple(r) for r in blobs}
    assert all(tuple(r) in rows for r in np.asarray(offsets))


def test_components_draws_into_a_given_axes(blobs):
    fig, (a, b) = plt.subplots(1, 2)
    model = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, blobs, random_state=0,
                                                max_iter=3, tol=None)
    assert plot.components(model, blobs, ax=b) is fig
    assert len(_ellipses(b)) == 4 and not a.patches


def test_gaussian_mixture_estimator_is_drawn(blobs):
    gm = ss.GaussianMixture(n_components=3, random_state=0, max_iter=5, tol=0.1).fit(blobs)
    fig = plot.components(gm, blobs)
    assert len(_ellipses(fig.axes[0])) == 6


def test_univariate_families_are_drawn_as_densities():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, 300), rng.normal(2, 1.0, 300)])
    model = ss.GeneralMixtureModel([ss.Normal(), ss.Normal()]).fit(x, max_iter=20, tol=None, random_state=0)
    ax = plot.components(model, x).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [f"{k}: {w:.2f}" for k, w in enumerate(model.weights)] + ["mixture"]
    assert len(ax.patches) == 40  # the histogram's bars
    grid, total = ax.get_lines()[-1].get_data()
    assert np.sum(total) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=0.02)
    assert ax.get_ylabel() == "density"


def test_discrete_families_are_drawn_on_the_integers():
    counts = np.random.default_rng(0).poisson(np.repeat([2.0, 9.0], 200))
    model = ss.GeneralMixtureModel([ss.Poisson(), ss.Poisson()]).fit(counts, max_iter=20, tol=None,
                                                                     random_state=0)
    ax = plot.components(model, counts).axes[0]
    grid = ax.get_lines()[0].get_xdata()
    assert np.array_equal(grid, np.arange(counts.min(), counts.max() + 1))
    assert len(ax.get_lines()) == 3


def test_a_gaussian_mixture_on_one_column_is_drawn_as_marginal_densities(blobs):
    model = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, blobs, random_state=0,
                                                max_iter=3, tol=None)
    ax = plot.components(model, blobs, columns=1).axes[0]
    assert len(ax.get_lines()) == 4 and not _ellipses(ax)
    assert ax.get_xlabel() == "column 1"


def test_independent_components_are_drawn_per_column():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=400), rng.exponential(size=400)])
    comps = [ss.IndependentComponents([ss.Normal(), ss.Exponential()]) for _ in range(2)]
    model = ss.GeneralMixtureModel(comps).fit(X, max_iter=5, tol=None, random_state=0)
    ax = plot.components(model, X, columns=(1, 0)).axes[0]
    assert len(ax.get_lines()) == 3 and ax.get_xlabel() == "column 1"


def test_laps_picks_the_nearest_saved_laps_and_titles_them(run_folder, blobs):
    fig = plot.laps(run_folder, X=blobs)  # asks 0, 1, 2, 5, 10, last; saved 3, 6, 7
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["lap 3 (nearest to 0, 1, 2)", "lap 6 (nearest to 5)",
                      "lap 7 (last; nearest to 10)"]
    for ax in fig.axes:
        assert len(_ellipses(ax)) == 8
    assert fig.axes[0].get_ylabel() == "column 1" and fig.axes[1].get_ylabel() == ""


def test_laps_draws_the_model_saved_at_each_lap(run_folder):
    fig = plot.laps(run_folder, laps=(6, 3))
    assert [ax.get_title() for ax in fig.axes] == ["lap 6", "lap 3"]
    for ax, lap in zip(fig.axes, (6, 3)):
        model = ss.load_model_at_lap(run_folder, lap)
        centers = sorted(tuple(e.center) for e in _ellipses(ax) if e.get_linestyle() == "-")
        assert centers == sorted(tuple(d.mean) for d in model.distributions)


def test_laps_grid_shape(run_folder):
    fig = plot.laps(run_folder, laps=(3, 6, 7), ncols=2)
    assert len(fig.axes) == 3
    assert fig.axes[0].get_gridspec().get_geometry() == (2, 2)


def test_nearest_laps_ties_go_to_the_earlier_lap():
    assert plot.nearest_laps([2, 4, 8], [3, None, 6, 100]) == [(2, [3]), (8, [None, 100]),
                                                                (4, [6])]


def test_laps_errors(tmp_path, run_folder):
    with pytest.raises(ss.ModelFileError, match="no snapshot"):
        plot.laps(tmp_path)
    with pytest.raises(ValueError, match=re.escape("non-negative integers or None (the last); got -1")):
        plot.laps(run_folder, laps=(-1,))
    with pytest.raises(ValueError, match="at least one lap"):
        plot.laps(run_folder, laps=())


def test_trace_of_a_run_folder(run_folder):
    fig = plot.trace(run_folder)
    assert len(fig.axes) == 2  # full EM has no step size
    ll, k = fig.axes
    (line,) = ll.get_lines()
    _, payload = load_snapshot(run_folder)  # the newest snapshot holds the whole history
    history = payload["state"]["history"]
    assert list(line.get_xdata()) == list(range(1, 8))
    assert list(line.get_ydata()) == [h["mean_log_likelihood"] for h in history]
    assert ll.get_ylabel() == "mean log-likelihood per row" and k.get_ylabel() == "components K"
    assert fig.axes[-1].get_xlabel().startswith("lap")


def test_trace_overlays_runs_and_draws_the_step_size_of_stepwise(blobs):
    kw = dict(random_state=0, max_iter=4, tol=None)
    em = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, blobs, **kw)
    sw = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, blobs, algorithm="stepwise",
                                             batch_size=300, **kw)
    history = ss.History()
    ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, blobs, algorithm="memoized",
                                        batch_size=300, callbacks=[history], **kw)
    fig = plot.trace([em, sw, history.history], labels=["EM", "stepwise", "memoized"])
    assert [len(ax.get_lines()) for ax in fig.axes] == [3, 3, 1]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["EM", "stepwise",
                                                                          "memoized"]
    assert fig.axes[2].get_lines()[0].get_label() == "stepwise"
    fig = plot.trace({"a": em, "b": sw}, x="time", panels=("log_likelihood",))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "fitting time (s)"
    assert np.allclose(ax.get_lines()[0].get_xdata(), np.cumsum([h["time"] for h in em.history_]))


def test_trace_errors(blobs):
    em = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, blobs, random_state=0,
                                             max_iter=2, tol=None)
    with pytest.raises(ValueError, match="x must be 'lap' or 'time'; got 'seconds'"):
        plot.trace(em, x="seconds")
    with pytest.raises(ValueError, match="panels must be"):
        plot.trace(em, panels=("loss",))
    with pytest.raises(ValueError, match="one label per run \\(2\\); got 1"):
        plot.trace([em, em], labels=["a"])
    with pytest.raises(ValueError, match="no run records any of \\['lrate'\\]"):
        plot.trace(em, panels=("lrate",))
    with pytest.raises(TypeError, match="cannot read a trace from a int"):
        plot.trace(3)
