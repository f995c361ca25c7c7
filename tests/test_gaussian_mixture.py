"""ss.GaussianMixture: agreement with scikit-learn's GaussianMixture and its estimator API."""

from __future__ import annotations

import re

import numpy as np
import pytest

import suffstat as ss

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture as SkGaussianMixture  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

CTYPES = ("full", "tied", "diag", "spherical")
CENTERS = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 3.0]])
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "lower_bound_")


def blobs(seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Three well separated clusters in d=3, 2000 rows, shuffled."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, scale * np.array([1.0, 0.7, 1.3]), (n, 3))
                        for c, n in zip(CENTERS, (700, 600, 700), strict=True)])
    return X[rng.permutation(len(X))]


def starting_point(ctype: str) -> dict:
    """Starting weights, means and precisions of scikit-learn's shapes for ``ctype``."""
    precisions = {
        "full": np.array([np.eye(3) * 0.8, np.eye(3) * 1.2, np.eye(3) + 0.1]),
        "tied": np.eye(3) * 0.8 + 0.05,
        "diag": np.array([[0.8, 1.0, 1.2], [1.0, 0.9, 0.7], [0.6, 1.1, 1.0]]),
        "spherical": np.array([0.8, 1.0, 1.2]),
    }[ctype]
    return {"weights_init": np.array([0.3, 0.3, 0.4]), "means_init": CENTERS + 0.5,
            "precisions_init": precisions}


def max_rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("streamed", [False, True], ids=["memory", "npy-n_jobs2"])
@pytest.mark.parametrize("ctype", CTYPES)
def test_agrees_with_scikit_learn_from_the_same_start(ctype, streamed, tmp_path):
    X = blobs()
    settings = dict(covariance_type=ctype, tol=1e-10, max_iter=200, **starting_point(ctype))
    sk = SkGaussianMixture(3, **settings).fit(X)
    data = X
    if streamed:
        data = str(tmp_path / "X.npy")
        np.save(data, X)
        settings.update(n_jobs=2, batch_size=97)
    ours = ss.GaussianMixture(3, **settings).fit(data)
    assert sk.converged_ and ours.converged_
    assert ours.n_iter_ == sk.n_iter_
    for name in FITTED:
        got, expected = getattr(ours, name), getattr(sk, name)
        assert np.shape(got) == np.shape(expected), name
        assert max_rel(got, expected) <= 1e-8, name
    assert ours.n_features_in_ == sk.n_features_in_ == 3
    assert ours.score(X) == pytest.approx(sk.score(X), rel=1e-10)
    np.testing.assert_allclose(ours.score_samples(data), sk.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(data), sk.predict_proba(X), rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(data), sk.predict(X))
    assert ours.bic(data) == pytest.approx(sk.bic(X), rel=1e-10)
    assert ours.aic(data) == pytest.approx(sk.aic(X), rel=1e-10)


@pytest.mark.filterwarnings("ignore::suffstat.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("ctype", ["full", "tied"])
def test_warm_start_continues_like_scikit_learn(ctype):
    X = blobs(1, scale=2.0)
    settings = dict(covariance_type=ctype, tol=1e-300, max_iter=3, warm_start=True,
                    **starting_point(ctype))
    sk, ours = SkGaussianMixture(3, **settings), ss.GaussianMixture(3, **settings)
    for _ in range(2):
        sk.fit(X)
        ours.fit(X)
        assert ours.n_iter_ == sk.n_iter_ == 3
        for name in ("weights_", "means_", "covariances_"):
            assert max_rel(getattr(ours, name), getattr(sk, name)) <= 1e-8, name
    once = ss.GaussianMixture(3, **dict(settings, max_iter=6, warm_start=False)).fit(X)
    np.testing.assert_allclose(ours.means_, once.means_, rtol=1e-12)


@pytest.mark.parametrize("init", ["kmeans", "k-means++", "random", "random_from_data", "first-k",
                                  "refined"])
def test_every_init_params_finds_the_clusters(init):
    X = blobs()
    gm = ss.GaussianMixture(3, init_params=init, random_state=0, n_init=2).fit(X)
    found = gm.means_[np.argsort(gm.means_[:, 0] + 2 * gm.means_[:, 1])]
    np.testing.assert_allclose(found, CENTERS, atol=0.2)
    assert gm.converged_


@pytest.mark.parametrize("ctype", CTYPES)
def test_fitted_attributes_have_scikit_learns_shapes(ctype):
    X = blobs()
    gm = ss.GaussianMixture(3, covariance_type=ctype, random_state=0).fit(X)
    sk = SkGaussianMixture(3, covariance_type=ctype, random_state=0).fit(X)
    for name in FITTED + ("precisions_",):
        assert np.shape(getattr(gm, name)) == np.shape(getattr(sk, name)), name
    Xs, y = gm.sample(500)
    assert Xs.shape == (500, 3) and y.shape == (500,)
    assert np.all(np.diff(y) >= 0)  # grouped by component, as scikit-learn's
    np.testing.assert_array_equal(gm.fit_predict(X), gm.predict(X))


def test_unfitted_estimator_has_no_fitted_attributes():
    gm = ss.GaussianMixture(2)
    for name in FITTED + ("converged_", "n_iter_", "n_features_in_"):
        with pytest.raises(AttributeError):
            getattr(gm, name)
    with pytest.raises(ss.NotFittedError, match="not fitted"):
        gm.predict(blobs()[:5])
    with pytest.raises(ss.NotFittedError):
        gm.sample(3)


def test_clone_and_params():
    gm = ss.GaussianMixture(n_components=3, covariance_type="diag", batch_size=128)
    copy = clone(gm)
    assert copy is not gm and copy.get_params() == gm.get_params()
    defaults = SkGaussianMixture().get_params()
    ours = ss.GaussianMixture().get_params()
    assert {k: ours[k] for k in defaults} == defaults


def test_grid_search_picks_three_components():
    X = blobs(2, scale=0.5)
    search = GridSearchCV(ss.GaussianMixture(random_state=0), {"n_components": [1, 2, 3, 4]}, cv=3)
    search.fit(X)
    assert search.best_params_ == {"n_components": 3}


def test_cross_val_score_and_pipeline_ignore_y():
    X = blobs()
    scores = cross_val_score(ss.GaussianMixture(3, random_state=0), X, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    y = np.arange(len(X)) % 3
    pipe = Pipeline([("scale", StandardScaler()), ("gm", ss.GaussianMixture(3, random_state=0))])
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(X),)
    assert pipe.named_steps["gm"].converged_


@pytest.mark.parametrize(("params", "message"), [
    ({"covariance_type": "banana"}, "covariance_type must be one of"),
    ({"init_params": "kmeans+"}, "init_params must be one of"),
    ({"n_components": 0}, "n_components must be a positive integer"),
    ({"tol": -1.0}, "tol must be a non-negative number"),
    ({"max_iter": 0}, "max_iter must be a positive integer"),
    ({"weights_init": [0.5, 0.5]}, "The parameter 'weights_init' should have the shape of (3,), but got (2,)"),
    ({"weights_init": [0.5, 0.5, 0.5]}, "weights_init should be normalized"),
    ({"weights_init": [1.5, -0.5, 0.0]}, "weights_init should be in the range [0, 1]"),
    ({"means_init": np.zeros((3, 2))}, "'means_init' should have the shape of (3, 3), but got (3, 2)"),
    ({"precisions_init": np.ones((3, 3))}, "'precisions_init' should have the shape of (3, 3, 3)"),
    ({"covariance_type": "tied", "precisions_init": np.ones((3, 3, 3))},
     "'precisions_init' should have the shape of (3, 3), but got (3, 3, 3)"),
    ({"covariance_type": "diag", "precisions_init": np.ones(3)},
     "'precisions_init' should have the shape of (3, 3), but got (3,)"),
    ({"covariance_type": "spherical", "precisions_init": np.ones((3, 3))},
     "'precisions_init' should have the shape of (3,), but got (3, 3)"),
    ({"covariance_type": "spherical", "precisions_init": [1.0, -1.0, 1.0]}, "precisions_init must be positive"),
    ({"precisions_init": np.array([np.eye(3), -np.eye(3), np.eye(3)])},
     "precisions_init[1] must be positive definite"),
    ({"covariance_type": "tied", "precisions_init": np.triu(np.ones((3, 3)))},
     "precisions_init must be symmetric"),
])
def test_bad_settings_name_the_parameter_and_change_nothing(params, message):
    X = blobs()
    fresh = ss.GaussianMixture(**{"n_components": 3, **params})
    with pytest.raises(ss.ParameterError, match=re.escape(message)):
        fresh.fit(X)
    assert not hasattr(fresh, "weights_")
    fitted = ss.GaussianMixture(3, random_state=0).fit(X)
    before = {name: np.copy(getattr(fitted, name)) for name in FITTED}
    fitted.set_params(**params)  # n_components=0 too: validated only by fit
    with pytest.raises(ss.ParameterError, match=re.escape(message)):
        fitted.fit(X)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(fitted, name), value)


def test_bad_data_keeps_the_previous_fit():
    X = blobs()
    gm = ss.GaussianMixture(3, random_state=0).fit(X)
    means = gm.means_.copy()
    bad = X.copy()
    bad[17, 1] = np.nan
    with pytest.raises(ss.DataError, match="row 17"):
        gm.fit(bad)
    np.testing.assert_array_equal(gm.means_, means)
    gm.set_params(warm_start=True)
    with pytest.raises(ss.ParameterError, match="warm_start: X has 2 features; the previous fit had 3"):
        gm.fit(X[:, :2])
    np.testing.assert_array_equal(gm.means_, means)


def test_sklearn_convergence_semantics_with_few_iterations():
    X = blobs()
    settings = dict(tol=1e-10, max_iter=2, **starting_point("full"))
    with pytest.warns(SkConvergenceWarning):
        sk = SkGaussianMixture(3, **settings).fit(X)
    with pytest.warns(ss.ConvergenceWarning):
        ours = ss.GaussianMixture(3, **settings).fit(X)
    assert ours.n_iter_ == sk.n_iter_ == 2 and not ours.converged_ and not sk.converged_
    assert max_rel(ours.lower_bound_, sk.lower_bound_) <= 1e-12
    assert ours.lower_bounds_ == pytest.approx(sk.lower_bounds_, rel=1e-12)


def test_sample_when_a_component_draws_no_row():
    """A component drawing 0 rows made sample() fail reshaping an empty draw."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-4, 1, (300, 2)), rng.normal(4, 1, (300, 2))])
    gm = ss.GaussianMixture(2, random_state=0).fit(X)
    for n in (1, 2, 3):
        Xs, y = gm.sample(n)
        assert Xs.shape == (n, 2) and y.shape == (n,)


def test_score_of_no_rows_is_refused_as_the_mixture_does():
    """issue 12: score([]) returned nan with numpy warnings; GaussianMixture kept its own mean."""
    rng = np.random.default_rng(1)
    gm = ss.GaussianMixture(2, random_state=0).fit(rng.normal(size=(200, 2)))
    with pytest.raises(ss.DataError, match="X is empty"):
        gm.score(np.empty((0, 2)))
    X = rng.normal(size=(50, 2))
    assert gm.score(X) == pytest.approx(float(np.mean(gm.score_samples(X))), rel=1e-12)
