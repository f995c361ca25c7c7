"""The fitting engine (issue 11): its layering, convergence, the inertia rule, estimator API."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
from mixture_helpers import blobs, initial_gmm, params

import suffstat as ss
from suffstat.fitting.learner import PROTOCOL, Learner
from suffstat.snapshots import snapshot_laps

PKG = Path(ss.__file__).parent
ENGINE = [PKG / "fitting" / name for name in ("driver.py", "fit.py", "convergence.py", "learner.py")]
MODEL_PACKAGES = ("distributions", "mixtures")
LEARNER_NAMES = {"learner", "model", "candidate", "winner", "other"}


def engine_violations(source: str) -> list[str]:
    """Model imports, and attributes read on a learner that the protocol does not name."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            parts = module.split(".")
            names = [a.name for a in node.names]
            top = parts[1] if module.startswith("suffstat.") else parts[0]
            if node.level == 0 and not module.startswith("suffstat"):
                continue
            if top in MODEL_PACKAGES or (not module and any(n in MODEL_PACKAGES for n in names)):
                bad.append(f"imports {'.' * node.level}{module} {names}")
        elif isinstance(node, ast.Import):
            bad += [f"imports {a.name}" for a in node.names
                    if any(a.name.startswith(f"suffstat.{p}") for p in MODEL_PACKAGES)]
        elif isinstance(node, ast.Attribute):
            owner = node.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
            if name in LEARNER_NAMES and node.attr not in PROTOCOL:
                bad.append(f"reads {name}.{node.attr}")
    return bad


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_engine_imports_no_model_and_reads_no_model_field(path):
    assert engine_violations(path.read_text()) == []


@pytest.mark.parametrize("snippet", [
    "from ..mixtures.general import GeneralMixtureModel",
    "from .. import distributions",
    "from suffstat.distributions.normal import Normal",
    "import suffstat.mixtures.general",
    "k = self.learner.n_active",
    "x = learner._free_energy(S)",
    "w = run.model.weights",
])
def test_the_engine_check_catches_a_violation(snippet):
    """The layering test fails on a driver that imports a model or reads a model field."""
    assert engine_violations(snippet)


def test_a_mixture_is_a_learner():
    m = initial_gmm()
    assert isinstance(m, Learner)
    for name in PROTOCOL:
        assert hasattr(m, name), name


# -- convergence ----------------------------------------------------------------------
def test_sorted_file_in_single_batch_updates_does_not_converge(tmp_path):
    """Issue 11: a sorted file with batches_per_epoch=1, shuffle=False used to 'converge'
    after 2 passes (the objective fell from -9.1 to -26.8) with weights [1, 8e-9]."""
    rng = np.random.default_rng(0)
    path = tmp_path / "sorted.npy"
    np.save(path, np.sort(np.concatenate([rng.normal(-3, 1, 5000), rng.normal(3, 1, 5000)])))
    m = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)])
    with pytest.warns(ss.ConvergenceWarning, match="below the best one") as record:
        warnings.simplefilter("ignore", ss.EmptyComponentWarning)
        m.fit(str(path), batch_size=1000, batches_per_epoch=1, shuffle=False, max_iter=8)
    assert not m.converged_ and m.n_iter_ == 8
    assert len([w for w in record if issubclass(w.category, ss.ConvergenceWarning)]) == 1


class Drifting(ss.Normal):
    """A Normal whose update overshoots the mean: EM's objective then decreases."""

    def _estimate(self, stats):
        new = super()._estimate(stats)
        return {**new, "mean": new["mean"] + 0.3}


def test_batch_em_decrease_is_warned_once_and_never_convergence():
    x = np.random.default_rng(1).normal(0.0, 1.0, 2000)
    m = ss.GeneralMixtureModel([Drifting(0.0, 1.0)])
    with pytest.warns(ss.ConvergenceWarning) as record:
        m.fit(x, max_iter=6, tol=10.0)
    texts = [str(w.message) for w in record]
    drops = [t for t in texts if "decreased at pass" in t]
    assert len(drops) == 1 and "decreased at pass 2 by" in drops[0]
    lls = [h["mean_log_likelihood"] for h in m.history_]
    assert lls[1] < lls[0]
    # pass 2's drop is within tol=10 but is not convergence; pass 3 (no change) is
    assert m.converged_ and m.n_iter_ == 3


def test_batch_em_converges_on_absolute_change():
    X = blobs(2000, seed=3)
    m = initial_gmm().fit(X, max_iter=300, tol=1e-4)
    lls = [h["mean_log_likelihood"] for h in m.history_]
    assert m.converged_ and abs(lls[-1] - lls[-2]) <= 1e-4
    assert all(abs(b - a) > 1e-4 for a, b in zip(lls[:-2], lls[1:-1]))
    assert m.lower_bound_ == lls[-1]


def test_stochastic_modes_need_a_window_of_quiet_passes():
    X = blobs(3000, seed=4)
    m = initial_gmm().fit(X, algorithm="memoized", batch_size=500, max_iter=100, tol=1e-3, random_state=0)
    lls = [h["mean_log_likelihood"] for h in m.history_]
    assert m.converged_ and len(lls) >= 4
    assert all(abs(b - a) <= 1e-3 for a, b in zip(lls[-4:], lls[-3:]))


# -- inertia --------------------------------------------------------------------------
def _one_update(mixture_inertia, component_inertia, fit_inertia=None):
    X = blobs(1000, seed=5)
    m = initial_gmm()
    m.inertia = mixture_inertia
    for d in m.distributions:
        d.inertia = component_inertia
    old = [(d.mean.copy(), d.cov.copy()) for d in m.distributions], m.weights.copy()
    stats = m.summarize(X, accumulate=False)
    plain = initial_gmm()
    plain.commit(plain.propose(stats))
    m.commit(m.propose(stats, inertia=fit_inertia))
    return m, plain, old


@pytest.mark.parametrize("mixture, component, fit, expected", [
    (0.5, 0.5, None, (0.5, 0.5)),   # both set: each parameter blended once (not 0.75)
    (0.5, 0.0, None, (0.5, 0.5)),   # a component at 0 inherits the mixture's
    (0.0, 0.3, None, (0.0, 0.3)),   # a component's own inertia, weights plain
    (0.5, 0.3, None, (0.5, 0.3)),   # the component's own wins for its parameters
    (0.5, 0.3, 0.2, (0.2, 0.2)),    # fit(inertia=) overrides every one
])
def test_inertia_blends_each_parameter_once(mixture, component, fit, expected):
    m, plain, (old_comps, old_w) = _one_update(mixture, component, fit)
    w_in, c_in = expected
    np.testing.assert_allclose(m.weights, w_in * old_w + (1 - w_in) * plain.weights, rtol=1e-12)
    for d, p, (mu, cov) in zip(m.distributions, plain.distributions, old_comps):
        np.testing.assert_allclose(d.mean, c_in * mu + (1 - c_in) * p.mean, rtol=1e-12)
        np.testing.assert_allclose(d.cov, c_in * cov + (1 - c_in) * p.cov, rtol=1e-12)


# -- estimator API --------------------------------------------------------------------
def test_constructor_settings_and_fit_keywords():
    X = blobs(1500, seed=6)
    a = initial_gmm()
    a.set_params(max_iter=3, tol=None)
    assert a.get_params()["max_iter"] == 3
    a.fit(X)
    assert a.n_iter_ == 3
    b = initial_gmm().fit(X, max_iter=5, tol=None)  # a fit keyword overrides for that call
    assert b.n_iter_ == 5 and b.max_iter == 100
    with pytest.raises(ValueError, match="invalid parameter 'n_clusters'"):
        a.set_params(n_clusters=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        a.fit(X, max_iters=3)


def test_positional_y_is_ignored_not_taken_as_weights():
    X = blobs(1500, seed=7)
    y = np.arange(len(X)) % 3
    a = initial_gmm().fit(X, y, max_iter=5, tol=None)
    b = initial_gmm().fit(X, max_iter=5, tol=None)
    np.testing.assert_array_equal(params(a), params(b))
    w = np.ones(len(X))
    w[:500] = 3.0
    c = initial_gmm().fit(X, None, w, max_iter=5, tol=None)
    d = initial_gmm().fit(X, sample_weight=w, max_iter=5, tol=None)
    np.testing.assert_array_equal(params(c), params(d))


def test_fitted_attributes_exist_only_after_fit_and_survive_an_interrupt():
    X = blobs(3000, seed=8)
    m = initial_gmm()
    for name in ("n_iter_", "converged_", "history_", "lower_bound_"):
        assert not hasattr(m, name)

    class Stop(ss.Callback):
        def on_epoch_end(self, logs):
            if logs["iteration"] == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        m.fit(X, max_iter=10, tol=None, callbacks=[Stop()])
    assert m.n_iter_ == 3 and len(m.history_) == 3 and not m.converged_
    assert m.lower_bound_ == m.history_[-1]["mean_log_likelihood"]
    # the parameters are those of pass 3: the same as a 3-pass fit
    np.testing.assert_array_equal(params(m), params(initial_gmm().fit(X, max_iter=3, tol=None)))


def test_fit_predict_bic_aic_and_score():
    X = blobs(1500, seed=9)
    m = initial_gmm()
    labels = m.fit_predict(X, max_iter=20)
    np.testing.assert_array_equal(labels, m.predict(X))
    ll = m.log_probability(X)
    p = m.n_parameters()
    d = X.shape[1]
    assert p == (m.n_components - 1) + m.n_components * (d + d * (d + 1) // 2)
    assert m.bic(X) == pytest.approx(-2 * ll.sum() + p * np.log(len(X)), rel=1e-12)
    assert m.aic(X) == pytest.approx(-2 * ll.sum() + 2 * p, rel=1e-12)
    assert m.score(X, None) == pytest.approx(ll.mean(), rel=1e-12)
    with pytest.raises(ss.DataError, match="X is empty"):
        m.score(np.empty((0, d)))


def test_sklearn_clone_and_pipeline():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    m = initial_gmm()
    m.set_params(max_iter=7)
    c = clone(m)
    assert c.get_params()["max_iter"] == 7 and c is not m
    assert c.distributions is not m.distributions
    X = blobs(1200, seed=10)
    pipe = make_pipeline(StandardScaler(), ss.GeneralMixtureModel.from_samples(
        ss.MultivariateNormal, 3, StandardScaler().fit_transform(X), random_state=0))
    pipe.fit(X, np.zeros(len(X)))  # y given and ignored
    assert pipe.predict(X).shape == (len(X),)
    assert np.isfinite(pipe.score(X))
    assert sklearn.__version__


# -- fit orchestration (issue 12) -------------------------------------------------------
def test_failed_warm_start_leaves_the_model_as_it_was():
    """Issue 12 item 10: fit(X_with_nan, init=other) raised but left the warm start's parameters."""
    X = blobs(1500, seed=11)
    other = initial_gmm(seed=5).fit(X, max_iter=5, tol=None)
    m = initial_gmm()
    before = params(m)
    bad = X.copy()
    bad[700, 1] = np.nan
    with pytest.raises(ss.DataError, match="row 700"):
        m.fit(bad, init=other, max_iter=5)
    np.testing.assert_array_equal(params(m), before)
    assert not hasattr(m, "n_iter_")


def test_two_fits_cannot_share_an_output_folder(tmp_path):
    """Issue 12 item 9: two fits sharing one output_path interleaved their laps."""
    import subprocess
    import sys

    out = tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / ".lock").write_text(str(sleeper.pid))
        with pytest.raises(ss.ParameterError, match=f"another fit \\(process {sleeper.pid}\\)"):
            initial_gmm().fit(blobs(500), max_iter=2, output_path=out)
    finally:
        sleeper.kill()
        sleeper.wait()
    # a lock whose process is gone is taken over, and released at the end
    initial_gmm().fit(blobs(500), max_iter=2, tol=None, output_path=out)
    assert not (out / ".lock").exists()
    assert snapshot_laps(out) == [1, 2]


def test_resume_refuses_other_settings(tmp_path):
    """Issue 12 item 9: only the algorithm and batch count were compared on resume."""
    X = blobs(1200, seed=12)
    initial_gmm().fit(X, max_iter=2, tol=None, batch_size=300, batches_per_epoch=2, output_path=tmp_path,
                      random_state=0)
    with pytest.raises(ss.ParameterError, match="batches_per_epoch=2 in the snapshot, 4 now"):
        initial_gmm().fit(X, max_iter=4, tol=None, batch_size=300, batches_per_epoch=4,
                          output_path=tmp_path, resume=True, random_state=0)
    with pytest.raises(ss.ParameterError, match="data_shape"):
        initial_gmm().fit(X[:900], max_iter=4, tol=None, batch_size=300, batches_per_epoch=2,
                          output_path=tmp_path, resume=True, random_state=0)
    resumed = initial_gmm().fit(X, max_iter=4, tol=None, batch_size=300, batches_per_epoch=2,
                                output_path=tmp_path, resume=True, random_state=0)
    assert resumed.n_iter_ == 4


def test_a_new_fit_keeps_the_old_laps_until_it_has_its_own(tmp_path):
    """Issue 12: a fit with output_path and no resume deleted the previous run's laps first."""
    X = blobs(800, seed=13)
    initial_gmm().fit(X, max_iter=3, tol=None, output_path=tmp_path)
    bad = X.copy()
    bad[5, 0] = np.inf
    with pytest.raises(ss.DataError):
        initial_gmm().fit(bad, max_iter=3, tol=None, output_path=tmp_path)
    assert snapshot_laps(tmp_path) == [1, 2, 3]
    initial_gmm().fit(X, max_iter=1, tol=None, output_path=tmp_path)
    assert snapshot_laps(tmp_path) == [1]


def test_n_init_callbacks_see_the_kept_trial():
    """Issue 12: with n_init, History and CSVLogger kept the last trial, not the winner."""
    X = blobs(1500, seed=14)
    hist = ss.History()
    m = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    m.fit(X, n_init=3, init="random", random_state=1, max_iter=30, callbacks=[hist])
    best = max(m.trials_, key=lambda t: t["log_likelihood"])
    assert [h["log_likelihood"] for h in hist.history] == [h["log_likelihood"] for h in m.history_]
    assert hist.history[-1]["log_likelihood"] == best["log_likelihood"]
    assert len({t["log_likelihood"] for t in m.trials_}) > 1


@pytest.mark.parametrize("init", ["kmeans++", "random", "first-k", "refined", "kmeans"])
@pytest.mark.parametrize("value, text", [(np.inf, "X contains infinity at row 3"),
                                         (np.nan, "X contains NaN at row 3"),
                                         (1e200, "too large to seed from .* at row 3")])
def test_starts_name_the_row_that_cannot_seed(init, value, text):
    """Issue 12: kmeans++ on data with inf said 'Probabilities contain NaN'; 'refined' with
    NaN raised AttributeError."""
    X = blobs(60, seed=15)
    X[3, 1] = value
    m = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    with pytest.raises(ss.DataError, match=text) as e:
        m.fit(X, init=init, random_state=0, samplings=5, percentage=1.0)
    assert e.value.row == 3
    assert not m.is_fitted()


def test_propose_has_no_side_effect_and_commit_warns_once():
    """Issue 12: _propose set the once-per-fit warning flag (the momentum guard probes it)."""
    X = blobs(600, seed=16)
    m = initial_gmm()
    far = m.copy()
    far.distributions[2]._set_params(far.distributions[2]._check_params(
        {"mean": np.full(3, 1e3), "cov": np.eye(3)}))
    stats = far.summarize(X, accumulate=False)
    assert stats.resp_sum[2] == 0
    before = params(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proposal = m.propose(stats)
        m.propose(stats)
    np.testing.assert_array_equal(params(m), before)
    with pytest.warns(ss.EmptyComponentWarning, match=r"component\(s\) \[2\]") as record:
        m.commit(proposal)
        m.commit(m.propose(stats))
    assert len(record) == 1
    assert record[0].filename == __file__  # attributed to the caller, not the library


def test_from_model_names_the_covariance_types():
    """Issue 12: from_model(m, covariance_type='tied') raised a bare KeyError."""
    m = initial_gmm()
    with pytest.raises(ss.ParameterError, match="covariance_type must be one of .*GaussianMixture"):
        ss.GeneralMixtureModel.from_model(m, covariance_type="tied")
    with pytest.raises(ss.ParameterError, match="got 'ful'"):
        ss.GeneralMixtureModel.from_model(m, covariance_type="ful")


def test_streamed_predict_keeps_only_labels(tmp_path):
    """Issue 12: predict(path) held the whole n x K posterior (274 MB for 3M rows, K=6)."""
    import tracemalloc

    X = blobs(500_000, seed=17)
    path = tmp_path / "x.npy"
    np.save(path, X)
    m = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 8, X[:5000], random_state=0,
                                            max_iter=5, tol=None)
    expected = m.predict(X)
    tracemalloc.start()
    labels = m.predict(str(path), batch_size=10_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(labels, expected)
    posterior = len(X) * m.n_components * 8
    assert peak < posterior / 2, (peak, posterior)


def test_warnings_point_at_the_callers_line(tmp_path):
    """Issue 12: the warning stack levels pointed into the library."""
    m = initial_gmm()
    with pytest.warns(ss.ConvergenceWarning) as record:
        m.fit(blobs(500), max_iter=1)
    assert {w.filename for w in record} == {__file__}
    m.fit(blobs(500), max_iter=2, tol=None, output_path=tmp_path)
    with pytest.warns(UserWarning, match="no snapshot at lap 5") as record:
        from suffstat.snapshots import load_model_at_lap

        load_model_at_lap(tmp_path, 5)
    assert record[0].filename == __file__


@pytest.mark.parametrize("make", [lambda: ss.Normal(1.0, 2.0, min_std=0.1),
                                  lambda: ss.MultivariateNormal(covariance_type="diag", reg_covar=1e-3),
                                  lambda: ss.Categorical(n_categories=3, pseudocount=0.5),
                                  lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson()])])
def test_distributions_have_the_estimator_api(make):
    pytest.importorskip("sklearn")
    from sklearn.base import clone

    d = make()
    c = clone(d)
    assert type(c) is type(d) and c is not d
    assert c.to_dict()["options"] == d.to_dict()["options"]


def test_distribution_set_params_is_validated_and_atomic():
    d = ss.Normal(1.0, 2.0)
    assert d.set_params(std=3.0) is d and d.std == 3.0
    with pytest.raises(ss.ParameterError, match="std must be > 0.0"):
        d.set_params(mean=5.0, std=-1.0)
    assert (d.mean, d.std) == (1.0, 3.0)
    with pytest.raises(ValueError, match="invalid parameter"):
        d.set_params(sigma=1.0)
