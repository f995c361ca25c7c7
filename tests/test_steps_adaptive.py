"""Issue 17: the adaptive step rules, Polyak averaging's start, and the variance-reduced
algorithms ('sem-vr', 'fiem')."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from mixture_helpers import blobs, initial_gmm, params

import suffstat as ss
from suffstat import steps
from suffstat.parallel import blas_single_thread
from suffstat.statistics import NormalStats



@pytest.fixture(autouse=True)
def _one_blas_thread():
    """These fits make hundreds of tiny M-steps; on the shared 2-core machine a BLAS
    pool woken by each small factorisation spun for a while after it and made them up
    to 10x slower (the engine does the same under n_jobs > 1). Results are unchanged."""
    with blas_single_thread():
        yield


N = 10.0
S0 = NormalStats(w_sum=10.0, xw_sum=2.0, xxw_sum=30.0, shift=1.0)
T1 = NormalStats(w_sum=10.0, xw_sum=5.0, xxw_sum=24.0, shift=1.0)
T2 = NormalStats(w_sum=10.0, xw_sum=-1.0, xxw_sum=35.0, shift=1.0)


def _arr(r):
    return np.array([r.w_sum, r.xw_sum, r.xxw_sum])


def _two_steps(rule):
    state = rule.start(S0)
    S1, state, _ = rule.update(S0, T1, state, N)
    S2, state, _ = rule.update(S1, T2, state, N)
    assert S1.shift == S0.shift == S2.shift  # kept fields are not stepped
    return _arr(S1), _arr(S2)


def _hand(delta_fn):
    """Two steps of a per-element rule ``delta_fn(g, k, acc) -> (delta, acc)`` on g = (T - S) / N."""
    s, acc, out = _arr(S0), None, []
    for k, t in enumerate((T1, T2), start=1):
        d, acc = delta_fn((_arr(t) - s) / N, k, acc)
        s = s + N * d
        out.append(s)
    return out


def test_adagrad_first_steps_by_hand():
    lr, eps = 0.3, 1e-10

    def f(g, k, G):
        G = g * g if G is None else G + g * g
        return lr * g / (np.sqrt(G) + eps), G

    for got, want in zip(_two_steps(steps.Adagrad(lr=lr, eps=eps)), _hand(f), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_rmsprop_first_steps_by_hand():
    lr, c, eps = 0.05, 0.9, 1e-8

    def f(g, k, E):
        E = (1 - c) * g * g if E is None else c * E + (1 - c) * g * g
        return lr * g / (np.sqrt(E) + eps), E

    for got, want in zip(_two_steps(steps.RMSProp(lr=lr, decay=c, eps=eps)), _hand(f), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_adadelta_first_steps_by_hand():
    c, eps = 0.95, 1e-6

    def f(g, k, acc):
        Eg2, Edx2 = acc if acc is not None else (np.zeros(3), np.zeros(3))
        Eg2 = c * Eg2 + (1 - c) * g * g
        d = np.sqrt(Edx2 + eps) / np.sqrt(Eg2 + eps) * g
        return d, (Eg2, c * Edx2 + (1 - c) * d * d)

    for got, want in zip(_two_steps(steps.Adadelta()), _hand(f), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_adam_first_steps_by_hand():
    lr, b1, b2, eps = 0.02, 0.9, 0.999, 1e-8

    def f(g, k, acc):
        m, v = acc if acc is not None else (np.zeros(3), np.zeros(3))
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        return lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps), (m, v)

    got = _two_steps(steps.Adam(lr=lr))
    for a, b in zip(got, _hand(f), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    # Adam's first step moves every element with g != 0 by lr (times N) in g's direction
    np.testing.assert_allclose((got[0] - _arr(S0))[1:], N * lr * np.sign(_arr(T1) - _arr(S0))[1:], rtol=1e-6)
    assert got[0][0] == _arr(S0)[0]


def test_adamax_first_steps_by_hand():
    lr, b1, b2 = 0.02, 0.9, 0.999

    def f(g, k, acc):
        m, u = acc if acc is not None else (np.zeros(3), np.zeros(3))
        m, u = b1 * m + (1 - b1) * g, np.maximum(b2 * u, np.abs(g))
        safe = np.where(u > 0, u, 1.0)
        return np.where(u > 0, lr / (1 - b1**k) * m / safe, 0.0), (m, u)  # 0 where u = 0

    for got, want in zip(_two_steps(steps.Adamax(lr=lr)), _hand(f), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_adaptive_rate_by_hand():
    """Ranganath et al. (2013), Algorithm 1: g_bar_0 and h_bar_0 are the means of tau0
    Monte Carlo gradients at the starting statistics (which do not move meanwhile),
    tau_1 = tau0; then each update averages its gradient in with weight 1 / tau_t
    before rho_t = g_bar' g_bar / h_bar and tau_{t+1} = tau_t (1 - rho_t) + 1."""
    T3 = NormalStats(w_sum=10.0, xw_sum=1.0, xxw_sum=28.0, shift=1.0)
    T4 = NormalStats(w_sum=10.0, xw_sum=3.5, xxw_sum=26.0, shift=1.0)
    rule = steps.AdaptiveRate(tau0=2)
    state = rule.start(S0)
    S1, state, rho1 = rule.update(S0, T1, state, N)
    S2, state, rho2 = rule.update(S1, T2, state, N)
    assert S1 is S0 and S2 is S0 and rho1 == rho2 == 0.0  # the Monte Carlo start: no move
    g1, g2 = _arr(T1) - _arr(S0), _arr(T2) - _arr(S0)
    g_bar, h_bar, tau = (g1 + g2) / 2, (g1 @ g1 + g2 @ g2) / 2, 2.0
    np.testing.assert_allclose(_arr(state["g_bar"]), g_bar, rtol=1e-15)
    assert state["h_bar"] == pytest.approx(h_bar, rel=1e-15) and state["tau"] == tau
    S, s = S2, _arr(S0)
    for T in (T3, T4):  # t = 1, 2 of the paper
        S, state, rho_got = rule.update(S, T, state, N)
        g = _arr(T) - s
        g_bar = (1 - 1 / tau) * g_bar + g / tau
        h_bar = (1 - 1 / tau) * h_bar + (g @ g) / tau
        rho = g_bar @ g_bar / h_bar
        tau = tau * (1 - rho) + 1
        s = (1 - rho) * s + rho * _arr(T)
        assert 0 < rho < 1 and rho_got == pytest.approx(rho, rel=1e-13)
        assert state["tau"] == pytest.approx(tau, rel=1e-13)
        np.testing.assert_allclose(_arr(S), s, rtol=1e-13)


def test_adaptive_rate_with_one_sample_start():
    """tau0=1: one Monte Carlo gradient g_1 gives g_bar_0 = g_1, h_bar_0 = g_1'g_1 and
    tau_1 = 1, so the first step forgets the start entirely: rho = ||g||^2 / ||g||^2 = 1
    for the next batch, which is then taken whole, and tau_2 = 1."""
    rule = steps.AdaptiveRate(tau0=1)
    S1, state, rho1 = rule.update(S0, T1, rule.start(S0), N)
    assert S1 is S0 and rho1 == 0.0
    S2, state, rho2 = rule.update(S1, T2, state, N)
    assert rho2 == pytest.approx(1.0, rel=1e-15) and state["tau"] == pytest.approx(1.0)
    np.testing.assert_allclose(_arr(S2), _arr(T2), rtol=1e-14)


def test_gradients_are_taken_at_one_shift():
    """A target about another reference point is re-centred before the step: the step
    does not depend on how the records happen to be centred."""
    other = T1.recentered(3.0)
    a = steps.Adam(lr=0.02).update(S0, T1, steps.Adam().start(S0), N)[0]
    b = steps.Adam(lr=0.02).update(S0, other, steps.Adam().start(S0), N)[0]
    assert a.shift == S0.shift
    assert a.allclose(b, rtol=1e-12)


ALL_RULES = [steps.Constant, steps.PowerDecay, steps.EMA, steps.Momentum, steps.Nesterov, steps.Adagrad,
             steps.RMSProp, steps.Adadelta, steps.Adam, steps.Adamax, steps.AdaptiveRate]
NEW_RULES = [steps.Adagrad, steps.RMSProp, steps.Adadelta, steps.Adam, steps.Adamax, steps.AdaptiveRate]


@pytest.mark.parametrize("cls", ALL_RULES, ids=lambda c: c.__name__)
def test_every_rule_builds_without_arguments(cls):
    rule = cls()
    d = rule.to_dict()
    assert d["class"] == cls.__name__
    assert 0 < rule.rho(1) <= 1


def test_rule_arguments_are_checked():
    with pytest.raises(ss.ParameterError, match="lr"):
        steps.Adam(lr=0.0)
    with pytest.raises(ss.ParameterError, match="beta2"):
        steps.Adamax(beta2=1.0)
    with pytest.raises(ValueError, match="tau0 must be an integer >= 1; got 0"):
        steps.AdaptiveRate(tau0=0)
    with pytest.raises(TypeError, match="base must be a plain StepRule"):
        steps.Adam(base=steps.Momentum())


# -- on a stream --------------------------------------------------------------------------
# The issue asks for a 200k x 5 stream; a 20-pass stepwise fit of 200k rows took about
# 4 s per rule on the 2-core CI machine, so the test uses 40k rows with the same problem
# (5 features, 4 components, a common start, 20 updates per pass), about 2 s per rule.
# The figures in docs/algorithms.rst are from the 200k stream; both streams agree.
MEANS5 = np.array([[0, 0, 0, 0, 0], [4, 4, 0, 0, 1], [-4, 3, 2, 0, 0], [0, -4, -3, 2, 0]], float)


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(0)
    X = MEANS5[rng.choice(4, size=40_000, p=[0.4, 0.3, 0.2, 0.1])] + rng.standard_normal((40_000, 5))
    em = _start5().fit(X, max_iter=500, tol=1e-10)
    return X, em.score(X)


def _start5():
    r = np.random.default_rng(1)
    comps = [ss.MultivariateNormal(m + r.normal(0, 2.5, 5), np.eye(5) * 2.0) for m in MEANS5]
    return ss.GeneralMixtureModel(comps)


@pytest.mark.slow
@pytest.mark.parametrize("cls", NEW_RULES, ids=lambda c: c.__name__)
def test_new_rules_against_full_em_within_20_passes(stream, cls):
    """What docs/algorithms.rst states: from this start (38% below EM's optimum),
    AdaptiveRate is within 0.5% of full EM's mean log-likelihood after 20 passes
    (within 0.1% after the first); the per-element rules with their literature
    defaults are not (2-3% below, measured on this stream and on 200k rows), and
    their guard falls back to the plain step on many of the 400 updates."""
    X, best = stream
    m = _start5().fit(X, algorithm="stepwise", step=cls(), batch_size=2000, max_iter=20, tol=None,
                      random_state=0)
    gap = (best - m.score(X)) / abs(best)
    start_gap = (best - _start5().score(X)) / abs(best)
    fallbacks = m.history_[-1]["fallbacks"]
    if cls is steps.AdaptiveRate:
        assert gap <= 0.005 and fallbacks == 0
    else:
        assert 0.005 < gap < 0.05 < start_gap
        assert 0 < fallbacks < 400


def test_invalid_candidates_fall_back_and_are_counted():
    """Adam with a huge rate proposes negative weights and variances: each such step
    is the plain step instead, counted in the history, and the fit stays valid."""
    X = blobs(2000, seed=3)
    m = initial_gmm().fit(X, algorithm="stepwise", step=steps.Adam(lr=5.0), batch_size=250, max_iter=3,
                          tol=None, random_state=0)
    counts = [h["fallbacks"] for h in m.history_]
    assert counts == sorted(counts) and counts[-1] > 0
    assert np.isfinite(m.score(X))


def test_adaptive_rules_refuse_records_that_cannot_be_subtracted():
    X = np.random.default_rng(0).uniform(0.0, 5.0, size=(600, 1))
    m = ss.GeneralMixtureModel([ss.Normal(2.0, 1.0), ss.Uniform(0.0, 5.0)])
    with pytest.raises(TypeError, match="cannot be stepped by Adam"):
        m.fit(X, algorithm="stepwise", step=steps.Adam(), batch_size=100, max_iter=2, tol=None)


# -- variance-reduced algorithms -----------------------------------------------------------
@pytest.fixture(scope="module")
def em_fixed_point():
    X = blobs(4000, seed=1)
    em = initial_gmm().fit(X, max_iter=1000, tol=1e-13)
    return X, params(em)


@pytest.mark.parametrize("algorithm", ["sem-vr", "fiem"])
def test_variance_reduced_em_reaches_the_em_fixed_point(em_fixed_point, algorithm):
    X, ref = em_fixed_point
    kw = dict(batch_size=500, max_iter=40, tol=None, random_state=0)
    vr = initial_gmm().fit(X, algorithm=algorithm, **kw)
    assert np.abs(params(vr) - ref).max() < 1e-6
    assert all(h["lrate"] == 0.5 for h in vr.history_[1:])  # the constant default step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ss.ConvergenceWarning)
        plain = initial_gmm().fit(X, algorithm="stepwise", step=steps.Constant(), **kw)
    assert np.abs(params(plain) - ref).max() > 1e-3  # a constant step keeps a noise floor


@pytest.mark.parametrize("algorithm,step", [("sem-vr", None), ("fiem", None), ("stepwise", steps.Adam()),
                                            ("stepwise", steps.AdaptiveRate())],
                         ids=["sem-vr", "fiem", "Adam", "AdaptiveRate"])
def test_n_jobs_invariance(algorithm, step):
    X = blobs(3000, seed=2)
    kw = dict(algorithm=algorithm, step=step, batch_size=300, max_iter=3, tol=None, random_state=4)
    one = initial_gmm().fit(X, n_jobs=1, **kw)
    two = initial_gmm().fit(X, n_jobs=2, **kw)
    np.testing.assert_array_equal(params(one), params(two))
    assert [h["log_likelihood"] for h in one.history_] == [h["log_likelihood"] for h in two.history_]


class _Stop(ss.Callback):
    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, logs):
        if logs["iteration"] == self.at:
            raise KeyboardInterrupt


RESUMED = [("stepwise", cls) for cls in ALL_RULES] + [("sem-vr", None), ("fiem", None)]


@pytest.mark.parametrize("algorithm,cls", RESUMED, ids=[a if c is None else c.__name__ for a, c in RESUMED])
def test_interrupted_fit_resumes_to_the_same_bits(tmp_path, algorithm, cls):
    """Every rule's state (moments, accumulators, the adaptive rate's averages) and each
    algorithm's memory goes through the snapshot: a resumed fit is bitwise the straight one."""
    X = blobs(1500, seed=5)
    kw = dict(algorithm=algorithm, batch_size=250, max_iter=5, tol=None, random_state=2)

    def step():
        return None if cls is None else cls()

    straight = initial_gmm().fit(X, step=step(), output_path=tmp_path / "a", **kw)
    with pytest.raises(KeyboardInterrupt):
        initial_gmm().fit(X, step=step(), output_path=tmp_path / "b", callbacks=[_Stop(3)], **kw)
    resumed = initial_gmm().fit(X, step=step(), output_path=tmp_path / "b", resume=True, **kw)
    np.testing.assert_array_equal(params(resumed), params(straight))
    assert [h["log_likelihood"] for h in resumed.history_] == [h["log_likelihood"] for h in straight.history_]


def test_sem_vr_reports_the_snapshot_log_likelihood():
    """Each lap's objective is the full pass at the lap's start: the exact log-likelihood
    of the parameters the previous lap ended with."""
    X = blobs(2000, seed=6)
    m2 = initial_gmm().fit(X, algorithm="sem-vr", batch_size=500, max_iter=2, tol=None, random_state=0)
    m3 = initial_gmm().fit(X, algorithm="sem-vr", batch_size=500, max_iter=3, tol=None, random_state=0)
    assert m3.history_[2]["mean_log_likelihood"] == pytest.approx(m2.score(X), rel=1e-12)


# -- Polyak averaging's start ----------------------------------------------------------------
def test_average_start_lap_and_fraction():
    X = blobs(2000, seed=7)
    kw = dict(algorithm="stepwise", batch_size=250, max_iter=4, tol=None, random_state=1, average=True)
    default = initial_gmm().fit(X, **kw)
    second = initial_gmm().fit(X, average_start=2, **kw)
    np.testing.assert_array_equal(params(default), params(second))  # the default is lap 2
    third = initial_gmm().fit(X, average_start=3, **kw)
    half = initial_gmm().fit(X, average_start=0.5, **kw)  # the laps after floor(0.5 * 4) = 2
    np.testing.assert_array_equal(params(third), params(half))
    assert not np.array_equal(params(third), params(default))
    # the average of lap 4's updates only: the mean of the parameters after each of its 8 updates
    seen = []

    class Probe(ss.Callback):
        pass

    run_kw = {k: v for k, v in kw.items() if k != "average"}
    from suffstat.fitting.driver import EMRun

    model = initial_gmm()
    run = EMRun(model, X, random_state=1, **{k: v for k, v in run_kw.items() if k != "random_state"})
    original = run._commit

    def commit(stats):
        original(stats)
        if run.iteration + 1 == 4:
            seen.append(params(model))

    run._commit = commit
    run.run()
    last = initial_gmm().fit(X, average_start=4, **kw)
    np.testing.assert_allclose(params(last)[:3], np.mean(seen, axis=0)[:3], rtol=1e-10)


def test_average_start_is_a_constructor_setting_and_checked():
    m = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(2)], average=True, average_start=0.25)
    assert m.get_params()["average_start"] == 0.25
    with pytest.raises(ss.ParameterError, match=re.escape("average_start must be a lap number")):
        initial_gmm().fit(blobs(300), algorithm="stepwise", average=True, average_start="3")
    with pytest.raises(ss.ParameterError, match="average_start"):
        initial_gmm().fit(blobs(300), algorithm="stepwise", average=True, average_start=1.5)


def test_records_from_data_are_realizable_and_extrapolations_need_not_be():
    from suffstat.statistics import GaussianMixtureStats, MultivariateNormalStats

    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.1] + 40.0
    for cov in ("full", "diag"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ss.ConvergenceWarning)
            gm = ss.GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=3).fit(X)
        rec = gm.model_.summarize(X)
        assert rec.realizable()
        assert all(p.realizable() for p in rec.parts)
        assert (0.3 * rec + 0.7 * gm.model_.summarize(X[:5])).realizable()  # convex combinations stay so
    one = MultivariateNormalStats(w_sum=1.0, xw_sum=X[0] - 40, xxw_sum=np.outer(X[0] - 40, X[0] - 40),
                                  shift=np.full(3, 40.0))  # one row: a zero centred scatter, to rounding
    assert one.realizable()
    assert NormalStats(w_sum=0.0, xw_sum=0.0, xxw_sum=0.0, shift=3.0).realizable()
    assert not NormalStats(w_sum=2.0, xw_sum=2.0, xxw_sum=1.0, shift=0.0).realizable()  # variance -0.5
    assert not NormalStats(w_sum=0.0, xw_sum=1e-9, xxw_sum=0.0, shift=0.0).realizable()
    assert not NormalStats(w_sum=-1.0, xw_sum=0.0, xxw_sum=1.0, shift=0.0).realizable()
    # what a per-element rule made on AsteriskK8: a count of 1e-37 carrying a sum of 1e-9
    bad = GaussianMixtureStats(w_sum=1.0, resp_sum=[1.0, 7e-37], log_likelihood=0.0, entropy=0.0,
                               xw_sum=[[0.0, 0.0], [-6e-9, 8e-10]],
                               xxw_sum=[np.zeros((2, 2)), [[-0.008, -0.05], [-0.05, -0.0015]]],
                               shift=np.zeros((2, 2)))
    assert not bad.realizable()
    assert not ss.statistics.MixtureStats(w_sum=1.0, resp_sum=[1.5, -0.5], log_likelihood=0.0, entropy=0.0,
                                          parts=[S0, T1]).realizable()


def test_the_guard_rejects_a_candidate_that_only_the_prior_makes_valid():
    """A variational global step adds the prior's scale, which can make a record no data
    could produce look valid; the next plain step from it then fails (Adam on AsteriskK8)."""
    from suffstat.fitting.driver import statistics_valid
    from suffstat.statistics import GaussianMixtureStats

    X = blobs(300, seed=3)[:, :2]
    bgm = ss.BayesianGaussianMixture(n_components=2, covariance_prior=0.1 * np.eye(2), reg_covar=0.0,
                                     max_iter=50, random_state=0).fit(X)
    learner = bgm.model_
    good = learner.summarize(X)
    bad = GaussianMixtureStats(w_sum=float(good.w_sum), resp_sum=[float(good.resp_sum[0]), 1e-37],
                               log_likelihood=0.0, entropy=0.0,
                               xw_sum=[good.xw_sum[0], [0.0, 0.0]],
                               xxw_sum=[good.xxw_sum[0], -0.05 * np.eye(2)], shift=good.shift)
    learner.propose(bad)  # the prior's 0.1 I outweighs the negative scatter: the step validates
    assert statistics_valid(learner, good) and not statistics_valid(learner, bad)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [steps.Adagrad, steps.Adam, steps.Adamax])
def test_per_element_rules_run_stochastic_vb_on_asterisk_k8(cls):
    """These rules stopped with 'the scale of component 2 is not positive definite' here."""
    from mixture_helpers import asterisk_k8

    X = asterisk_k8()
    kw = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10, gamma=1.0)
    base = dict(n_components=10, reg_covar=0.0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold = ss.BayesianGaussianMixture(init_params="randexamples", max_iter=25, tol=0.0, random_state=0,
                                          **base).fit(X)
        so = ss.BayesianGaussianMixture(init_params=cold, algorithm="soVB", batch_size=10, max_iter=5, tol=0.0,
                                        step=cls(), random_state=0, **base).fit(X)
    assert so.history_[-1]["fallbacks"] > 0
    assert np.isfinite(so.elbo_) and so.history_[-1]["loss"] < cold.history_[-1]["loss"]
