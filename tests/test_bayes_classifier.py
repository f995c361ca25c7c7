"""Bayes classifiers (issue 18): NaiveBayes and BayesClassifier on additive statistics."""

from __future__ import annotations

import re

import numpy as np
import pytest

import suffstat as ss
from suffstat.exceptions import DataError, NotFittedError, ParameterError

sklearn = pytest.importorskip("sklearn")
from sklearn.naive_bayes import GaussianNB  # noqa: E402


def _blobs(rng, sizes=(300, 200, 100), d=3):
    means = [np.zeros(d), np.full(d, 2.0), np.full(d, -1.5)]
    scales = [1.0, 1.5, 0.5]
    X = np.concatenate([rng.normal(m, s, (n, d)) for n, m, s in zip(sizes, means, scales)])
    y = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(y))
    return X[order], y[order]


def _nb_params(nb):
    theta = np.array([[c.mean for c in ic.distributions] for ic in nb.distributions_])
    var = np.array([[c.std**2 for c in ic.distributions] for ic in nb.distributions_])
    return theta, var


def _close(a, b, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# -- NaiveBayes against scikit-learn's GaussianNB ---------------------------------------------
@pytest.mark.parametrize("labels", ["ints", "strings"])
def test_naive_bayes_of_normals_equals_gaussian_nb(rng, labels):
    X, y = _blobs(rng)
    if labels == "strings":
        y = np.array(["cat", "dog", "emu"])[y]
    ref = GaussianNB(var_smoothing=0).fit(X, y)
    nb = ss.NaiveBayes(ss.Normal).fit(X, y)
    theta, var = _nb_params(nb)
    assert nb.classes_.tolist() == ref.classes_.tolist()
    _close(theta, ref.theta_)
    _close(var, ref.var_)
    _close(nb.priors_, ref.class_prior_)
    _close(nb.class_count_, ref.class_count_)
    _close(nb.predict_proba(X), ref.predict_proba(X))
    assert np.array_equal(nb.predict(X), ref.predict(X))
    assert nb.score(X, y) == pytest.approx(ref.score(X, y), abs=0)


def test_naive_bayes_streamed_from_npy_matches_and_is_thread_invariant(rng, tmp_path):
    X, y = _blobs(rng)
    w = rng.integers(0, 4, size=len(y)).astype(float)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "w.npy", w)
    ref = GaussianNB(var_smoothing=0).fit(X, y, sample_weight=w)
    fits = []
    for n_jobs in (1, 2):
        nb = ss.NaiveBayes(ss.Normal, batch_size=37, n_jobs=n_jobs)
        nb.fit(str(tmp_path / "X.npy"), str(tmp_path / "y.npy"), str(tmp_path / "w.npy"))
        fits.append(nb)
    theta, var = _nb_params(fits[0])
    _close(theta, ref.theta_)
    _close(var, ref.var_)
    _close(fits[0].priors_, ref.class_prior_)
    proba = fits[0].predict_proba(str(tmp_path / "X.npy"), batch_size=50)
    _close(proba, ref.predict_proba(X))
    # bitwise equal for n_jobs 1 and 2 at a fixed batch size
    t2, v2 = _nb_params(fits[1])
    assert np.array_equal(theta, t2) and np.array_equal(var, v2)
    assert np.array_equal(fits[0].priors_, fits[1].priors_)
    # a memory map streams like the path
    mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    ym = np.load(tmp_path / "y.npy", mmap_mode="r")
    nb = ss.NaiveBayes(ss.Normal, batch_size=37).fit(mm, ym, w)
    assert np.array_equal(_nb_params(nb)[0], theta)


def test_naive_bayes_per_column_families(rng):
    n = 400
    y = rng.integers(0, 2, n)
    X = np.column_stack([rng.normal(y * 2.0, 1.0), rng.poisson(1.0 + 3.0 * y)])
    nb = ss.NaiveBayes([[ss.Normal(), ss.Poisson()], [ss.Normal(), ss.Poisson()]]).fit(X, y)
    for c in (0, 1):
        rows = X[y == c]
        normal, poisson = nb.distributions_[c].distributions
        assert normal.mean == pytest.approx(rows[:, 0].mean(), rel=1e-12)
        assert poisson.rate == pytest.approx(rows[:, 1].mean(), rel=1e-12)
    assert nb.score(X, y) > 0.8


# -- BayesClassifier ------------------------------------------------------------------------
def _qda(X, y, classes, priors=None):
    """Closed form: per-class numpy means and (biased) covariances, then the Bayes rule."""
    from scipy.stats import multivariate_normal

    logp = []
    pri = []
    for c in classes:
        rows = X[y == c]
        mean = rows.mean(axis=0)
        cov = np.cov(rows, rowvar=False, bias=True)
        logp.append(multivariate_normal(mean, cov).logpdf(X))
        pri.append(len(rows) / len(y))
    pri = np.array(pri) if priors is None else np.asarray(priors)
    joint = np.column_stack(logp) + np.log(pri)
    joint -= joint.max(axis=1, keepdims=True)
    proba = np.exp(joint)
    return proba / proba.sum(axis=1, keepdims=True), pri


def test_bayes_classifier_of_multivariate_normals_is_qda(rng):
    X, y = _blobs(rng)
    clf = ss.BayesClassifier([ss.MultivariateNormal(reg_covar=0.0) for _ in range(3)]).fit(X, y)
    proba, priors = _qda(X, y, [0, 1, 2])
    _close(clf.priors_, priors)
    for c, d in enumerate(clf.distributions_):
        rows = X[y == c]
        _close(d.mean, rows.mean(axis=0))
        _close(d.cov, np.cov(rows, rowvar=False, bias=True))
    _close(clf.predict_proba(X), proba, rtol=1e-9)
    _close(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-9)
    assert np.array_equal(clf.predict(X), np.argmax(proba, axis=1))
    assert clf.score(X, y) == pytest.approx(np.mean(np.argmax(proba, axis=1) == y))


def test_fixed_priors_are_kept_and_change_the_rule(rng):
    X, y = _blobs(rng)
    fixed = np.array([0.2, 0.3, 0.5])
    clf = ss.BayesClassifier([ss.MultivariateNormal(reg_covar=0.0) for _ in range(3)],
                             priors=fixed).fit(X, y)
    assert np.array_equal(clf.priors_, fixed)
    proba, _ = _qda(X, y, [0, 1, 2], priors=fixed)
    _close(clf.predict_proba(X), proba, rtol=1e-9)
    learned = ss.BayesClassifier([ss.MultivariateNormal(reg_covar=0.0) for _ in range(3)]).fit(X, y)
    # the class distributions are the same; only the priors differ
    for a, b in zip(clf.distributions_, learned.distributions_):
        assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov)
    assert not np.allclose(learned.priors_, fixed)


def test_independent_components_per_class(rng):
    n = 500
    y = rng.integers(0, 2, n)
    X = np.column_stack([rng.normal(3.0 * y, 1.0), rng.exponential(1.0 + y)])
    dists = [ss.IndependentComponents([ss.Normal(), ss.Exponential()]) for _ in range(2)]
    clf = ss.BayesClassifier(dists).fit(X, y)
    assert clf.distributions_[0] is dists[0]  # used, not copied
    nb = ss.NaiveBayes([[ss.Normal(), ss.Exponential()] for _ in range(2)]).fit(X, y)
    assert np.array_equal(clf.predict_proba(X), nb.predict_proba(X))
    for c in (0, 1):
        normal, expo = clf.distributions_[c].distributions
        assert normal.mean == pytest.approx(X[y == c, 0].mean(), rel=1e-12)
        assert expo.rate == pytest.approx(1.0 / X[y == c, 1].mean(), rel=1e-12)


def test_mixture_per_class_is_em_on_that_class_rows(rng):
    """Documented behaviour: each pass is one EM step of each class's mixture on its rows."""
    n = 600
    y = rng.integers(0, 2, n)
    X = np.where(rng.random(n) < 0.5, -2.0, 2.0) + 0.5 * rng.standard_normal(n) + 6.0 * y

    def start(c):
        return ss.GeneralMixtureModel([ss.Normal(6.0 * c - 1.0, 1.0),
                                       ss.Normal(6.0 * c + 1.0, 1.0)])

    clf = ss.BayesClassifier([start(0), start(1)], max_iter=15, tol=None).fit(X, y)
    assert clf.n_iter_ == 15
    for c in (0, 1):
        alone = start(c).fit(X[y == c], max_iter=15, tol=None)
        got = clf.distributions_[c]
        _close(got.weights, alone.weights)
        _close([d.mean for d in got.distributions], [d.mean for d in alone.distributions])
        _close([d.std for d in got.distributions], [d.std for d in alone.distributions])
    # with the default tol the loop stops once the log-likelihood settles
    conv = ss.BayesClassifier([start(0), start(1)], max_iter=200).fit(X, y)
    assert conv.converged_ and conv.n_iter_ < 200
    assert conv.score(X, y) > 0.97
    with pytest.warns(ss.ConvergenceWarning, match="did not converge in 2 passes"):
        short = ss.BayesClassifier([start(0), start(1)], max_iter=2).fit(X, y)
    assert short.n_iter_ == 2 and not short.converged_


def test_unfitted_mixture_class_is_a_clear_error(rng):
    X, y = _blobs(rng, d=1)
    X = X[:, 0]
    mix = ss.GeneralMixtureModel([ss.Normal(), ss.Normal()])
    clf = ss.BayesClassifier([mix, ss.Normal(), ss.Normal()])
    with pytest.raises(NotFittedError, match="mixture of class 0 has no starting parameters"):
        clf.fit(X, y)


def test_sample_weight_is_duplication(rng):
    X, y = _blobs(rng, sizes=(60, 50, 40))
    w = rng.integers(0, 4, size=len(y))
    Xd, yd = np.repeat(X, w, axis=0), np.repeat(y, w)
    a = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)]).fit(X, y, sample_weight=w)
    b = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)]).fit(Xd, yd)
    _close(a.priors_, b.priors_)
    for da, db in zip(a.distributions_, b.distributions_):
        _close(da.mean, db.mean)
        _close(da.cov, db.cov)
    _close(a.predict_proba(X), b.predict_proba(X), rtol=1e-9)
    assert a.score(X, y, sample_weight=w) == pytest.approx(b.score(Xd, yd), rel=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_batch_invariance(rng, batch_size):
    X, y = _blobs(rng, sizes=(120, 80, 50))
    X = X + 1e6  # offset data: the shifted sums keep the precision
    whole = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)]).fit(X, y)
    batched = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)],
                                 batch_size=batch_size).fit(X, y)
    _close(batched.priors_, whole.priors_)
    for a, b in zip(batched.distributions_, whole.distributions_):
        _close(a.mean, b.mean)
        _close(a.cov, b.cov)


def test_summaries_add_up_and_from_summaries_fits(rng):
    X, y = _blobs(rng)
    clf = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)])
    s1 = clf.summarize(X[:250], y[:250])
    s2 = clf.summarize(X[250:], y[250:])
    assert isinstance(s1, ss.ClassifierStats)
    whole = clf.summarize(X, y, accumulate=False)
    assert (s1 + s2).allclose(whole)
    clf.from_summaries()  # the pending records (s1 + s2)
    assert clf.pending is None
    ref = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)]).fit(X, y)
    _close(clf.priors_, ref.priors_)
    for a, b in zip(clf.distributions_, ref.distributions_):
        _close(a.mean, b.mean)
        _close(a.cov, b.cov)


def test_summarize_with_given_string_classes(rng):
    X, y = _blobs(rng)
    names = np.array(["z", "a", "m"])  # not sorted: the order of the distributions
    clf = ss.NaiveBayes(ss.Normal, classes=names)
    clf.from_summaries(clf.summarize(X, names[y], accumulate=False))
    assert clf.classes_.tolist() == ["z", "a", "m"]
    ref = ss.NaiveBayes(ss.Normal).fit(X, y)
    _close(_nb_params(clf)[0], _nb_params(ref)[0])
    assert np.array_equal(clf.predict(X), names[ref.predict(X)])


# -- bad input --------------------------------------------------------------------------------
def _params(clf):
    return clf.to_dict()


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.fixture
def fitted(rng):
    X, y = _blobs(rng)
    return ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)]).fit(X, y), X, y


def test_y_length_mismatch(fitted):
    clf, X, y = fitted
    before = _params(clf)
    with pytest.raises(DataError, match=re.escape("y has 599 labels but X has 600 rows")):
        clf.fit(X, y[:-1])
    assert _same(_params(clf), before)


def test_nan_in_x_names_the_row(fitted, tmp_path):
    clf, X, y = fitted
    before = _params(clf)
    bad = X.copy()
    bad[417, 1] = np.nan
    with pytest.raises(DataError, match=re.escape("X contains NaN at row 417")):
        clf.fit(bad, y)
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(DataError, match=re.escape("X contains NaN at row 417 (batch 10)")):
        clf.fit(str(tmp_path / "bad.npy"), y, batch_size=40, n_jobs=2)
    assert _same(_params(clf), before)


def test_unknown_label_at_score(fitted):
    clf, X, y = fitted
    y2 = y.copy()
    y2[5] = 7
    message = "label 7, which is not one of the classes [0, 1, 2] at row 5"
    with pytest.raises(DataError, match=re.escape(message)):
        clf.score(X, y2)
    with pytest.raises(DataError, match="not one of the classes"):
        clf.score(X, np.array(["a"] * len(y)))


def test_class_with_no_rows(rng):
    X, y = _blobs(rng)
    clf = ss.BayesClassifier([ss.MultivariateNormal() for _ in range(3)], classes=[0, 1, 2])
    clf.fit(X, y)
    before = _params(clf)
    with pytest.raises(DataError, match=re.escape("class(es) [2] have no rows")):
        clf.fit(X[y < 2], y[y < 2])
    w = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(DataError, match=re.escape("class(es) [1] have no rows")):
        clf.fit(X, y, sample_weight=w)
    assert _same(_params(clf), before)


def test_wrong_number_of_distributions(rng):
    X, y = _blobs(rng)
    clf = ss.BayesClassifier([ss.MultivariateNormal(), ss.MultivariateNormal()])
    message = "y has 3 classes but 2 distributions were given"
    with pytest.raises(DataError, match=re.escape(message)):
        clf.fit(X, y)
    with pytest.raises(ParameterError, match="classes has 3 labels but 2 distributions"):
        ss.BayesClassifier([ss.Normal(), ss.Normal()], classes=[0, 1, 2])
    with pytest.raises(ParameterError, match=re.escape("priors must have one entry per class (2)")):
        ss.BayesClassifier([ss.Normal(), ss.Normal()], priors=[0.2, 0.3, 0.5])
    with pytest.raises(ParameterError, match="must be a univariate distribution"):
        ss.NaiveBayes([ss.MultivariateNormal()])
    with pytest.raises(ParameterError, match=re.escape("distributions[1] must be a Distribution")):
        ss.BayesClassifier([ss.Normal(), "normal"])
    shared = [ss.Normal(), ss.Exponential()]
    with pytest.raises(ParameterError, match="classes 0 and 1 share the object"):
        ss.NaiveBayes([shared, shared])


def test_other_bad_input(fitted, tmp_path):
    clf, X, y = fitted
    before = _params(clf)
    with pytest.raises(DataError, match=re.escape("y must be 1-dimensional")):
        clf.fit(X, y[:, None])
    with pytest.raises(DataError, match=re.escape("y contains NaN at row 3")):
        clf.fit(X, np.where(np.arange(len(y)) == 3, np.nan, y))
    message = "sample_weight must be non-negative; got -1.0 at row 9"
    with pytest.raises(DataError, match=re.escape(message)):
        clf.fit(X, y, sample_weight=np.where(np.arange(len(y)) == 9, -1.0, 1.0))
    with pytest.raises(DataError, match=re.escape("X must have 3 features")):
        clf.predict(X[:, :2])
    with pytest.raises(DataError, match="X is empty"):
        clf.fit(X[:0], y[:0])
    assert _same(_params(clf), before)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ss.NaiveBayes(ss.Normal).predict(X)


# -- persistence and scikit-learn ----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["naive", "mvn", "mixture"])
def test_save_load_round_trip_exact(rng, tmp_path, kind):
    X, y = _blobs(rng)
    labels = np.array(["x", "y", "z"])[y]
    if kind == "naive":
        clf = ss.NaiveBayes(ss.Normal, priors=[0.5, 0.25, 0.25]).fit(X, labels)
    elif kind == "mvn":
        clf = ss.BayesClassifier(ss.MultivariateNormal(covariance_type="diag")).fit(X, labels)
    else:
        starts = [ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X[y == c],
                                                      max_iter=2, tol=None, random_state=0)
                  for c in range(3)]
        clf = ss.BayesClassifier(starts, max_iter=3, tol=None).fit(X, labels)
    path = tmp_path / "clf.npz"
    clf.save(path)
    back = ss.load(path)
    assert type(back) is type(clf)
    assert _same(back.to_dict(), clf.to_dict())
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(back.predict(X), clf.predict(X))
    # fixed priors stay fixed after a refit; learned ones are learned again
    back.fit(X, labels)
    if kind == "naive":
        assert back.priors_.tolist() == [0.5, 0.25, 0.25]
    else:
        _close(back.priors_, [np.mean(y == c) for c in range(3)])


def test_sklearn_clone_and_grid_search(rng):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, y = _blobs(rng)
    nb = ss.NaiveBayes(ss.Normal)
    assert clone(nb).get_params()["distributions"] is ss.Normal
    scores = cross_val_score(ss.NaiveBayes(ss.Normal), X, y, cv=3)
    ref = cross_val_score(GaussianNB(var_smoothing=0), X, y, cv=3)
    _close(scores, ref)


def test_predict_streamed_equals_in_memory(fitted, tmp_path):
    clf, X, y = fitted
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    path = str(tmp_path / "X.npy")
    assert np.array_equal(clf.predict(path, batch_size=33, n_jobs=2), clf.predict(X))
    _close(clf.predict_log_proba(path, batch_size=33), clf.predict_log_proba(X), rtol=1e-12)
    assert clf.score(path, str(tmp_path / "y.npy"), batch_size=33) == clf.score(X, y)


def test_mixture_classes_streamed_threads_bitwise(rng, tmp_path):
    X, y = _blobs(rng, sizes=(200, 150, 100), d=2)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y.astype(np.int32))

    def starts():
        return [ss.GeneralMixtureModel([ss.MultivariateNormal(X[y == c][i], np.eye(2))
                                        for i in (0, 1)]) for c in range(3)]

    fits = [ss.BayesClassifier(starts(), max_iter=5, tol=None, batch_size=29, n_jobs=n)
            .fit(str(tmp_path / "X.npy"), str(tmp_path / "y.npy")) for n in (1, 2)]
    assert _same(fits[0].to_dict()["params"], fits[1].to_dict()["params"])
    memory = ss.BayesClassifier(starts(), max_iter=5, tol=None).fit(X, y)
    for a, b in zip(fits[0].distributions_, memory.distributions_):
        _close(a.weights, b.weights)
        for ca, cb in zip(a.distributions, b.distributions):
            _close(ca.mean, cb.mean)
            _close(ca.cov, cb.cov)


def test_pickle_and_copy(fitted):
    import pickle

    clf, X, y = fitted
    for other in (pickle.loads(pickle.dumps(clf)), clf.copy()):
        assert np.array_equal(other.predict_proba(X), clf.predict_proba(X))
        assert other.distributions_[0] is not clf.distributions_[0]


def test_string_classes_with_numeric_label_file(fitted, tmp_path):
    clf, X, y = fitted
    strings = ss.NaiveBayes(ss.Normal).fit(X, np.array(["a", "b", "c"])[y])
    np.save(tmp_path / "y.npy", y)
    with pytest.raises(DataError, match="y read from a file holds numbers"):
        strings.score(X, str(tmp_path / "y.npy"))
    np.save(tmp_path / "s.npy", np.array(["a", "b", "c"])[y])
    with pytest.raises(DataError, match="labels read from a file must have a numeric dtype"):
        strings.fit(X, str(tmp_path / "s.npy"))


def test_dask_cluster_gives_bitwise_the_same_fit(rng, tmp_path):
    """The batches' records are summarized on Dask workers (other processes) and added in order."""
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = _blobs(rng)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    args = (str(tmp_path / "X.npy"), str(tmp_path / "y.npy"))
    reference = ss.NaiveBayes(ss.Normal, batch_size=100).fit(*args)
    # ":0": any free port (None still binds 8787, and warns when a concurrent cluster holds it)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            on_dask = ss.NaiveBayes(ss.Normal, batch_size=100, n_jobs=2).fit(*args)
            score = on_dask.score(*args, batch_size=100, n_jobs=2)
    assert _same(on_dask.to_dict()["params"], reference.to_dict()["params"])
    assert score == reference.score(X, y)


def test_from_samples_follows_pomegranate(rng):
    n = 400
    y = rng.integers(0, 2, n)
    X = np.column_stack([rng.normal(3.0 * y, 1.0), rng.exponential(1.0 + y)])
    # NaiveBayes: a list is one family per column, shared by every class
    nb = ss.NaiveBayes.from_samples([ss.Normal, ss.Exponential], X, y)
    ref = ss.NaiveBayes([[ss.Normal(), ss.Exponential()] for _ in range(2)]).fit(X, y)
    assert np.array_equal(nb.predict_proba(X), ref.predict_proba(X))
    assert nb.distributions_[0].distributions[0] is not nb.distributions_[1].distributions[0]
    gauss = ss.NaiveBayes.from_samples(ss.Normal, X, y, priors=[0.5, 0.5])
    assert gauss.priors_.tolist() == [0.5, 0.5]
    # BayesClassifier: a family is copied once per class
    qda = ss.BayesClassifier.from_samples(ss.MultivariateNormal(reg_covar=0.0), X, y)
    _close(qda.distributions_[1].mean, X[y == 1].mean(axis=0))


def test_a_row_outside_a_class_support_is_named_globally(rng):
    x = np.abs(rng.normal(size=50))
    y = np.arange(50) % 2
    x[37] = -1.0
    clf = ss.BayesClassifier([ss.Exponential(), ss.Exponential()], batch_size=10)
    message = "class 1: X must be non-negative for Exponential; got -1 at row 37 (batch 3)"
    with pytest.raises(DataError, match=re.escape(message)):
        clf.fit(x, y, n_jobs=2)
    assert not hasattr(clf, "priors_") or clf.distributions_[0].rate is None
