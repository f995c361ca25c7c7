"""Stochastic (stepwise) and memoized EM, and the step rules."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mixture_helpers import blobs, initial_gmm, params

import suffstat as ss
from suffstat import steps
from suffstat.fitting.driver import EMRun, statistics_valid


@pytest.fixture(scope="module")
def X():
    return blobs(4000, seed=8)


def test_power_decay_and_constant_formulas():
    r = steps.PowerDecay(kappa=0.6, delay=2.0)
    assert [r.rho(t) for t in (1, 2, 10)] == pytest.approx([3**-0.6, 4**-0.6, 12**-0.6], rel=1e-15)
    assert steps.Constant(0.25).rho(7) == 0.25
    with pytest.raises(ss.ParameterError, match="kappa must be <= 1.0"):
        steps.PowerDecay(kappa=1.5)
    with pytest.raises(ss.ParameterError, match="rho must be > 0.0"):
        steps.Constant(0.0)


@given(beta=st.floats(0.0, 0.99), values=st.lists(st.floats(-10, 10), min_size=1, max_size=30))
def test_ema_bias_correction_weights_sum_to_one(beta, values):
    rule = steps.EMA(beta)
    assert rule.rho(1) == pytest.approx(1.0)
    s = None
    m = 0.0
    for t, v in enumerate(values, start=1):
        rho = rule.rho(t)
        s = v if s is None else (1 - rho) * s + rho * v
        m = beta * m + (1 - beta) * v
        assert s == pytest.approx(m / (1 - beta**t), rel=1e-9, abs=1e-9)
    # Issue 12: the weights that the rule's own rho_t put on each past value,
    # rho_t * prod_{u>t} (1 - rho_u), are the bias-corrected EMA's weights (the old check
    # summed a geometric series written in the test, which tested nothing of ours).
    n = len(values)
    rhos = [rule.rho(t) for t in range(1, n + 1)]
    implied = [rhos[t - 1] * np.prod([1 - r for r in rhos[t:]]) for t in range(1, n + 1)]
    ema = [(1 - beta) * beta ** (n - t) / (1 - beta**n) for t in range(1, n + 1)]
    np.testing.assert_allclose(implied, ema, rtol=1e-9, atol=1e-12)


def test_constant_one_with_one_batch_per_pass_is_full_em(X):
    full = initial_gmm().fit(X, max_iter=6, tol=None)
    step = initial_gmm().fit(X, max_iter=6, tol=None, algorithm="stepwise", step=steps.Constant(1.0))
    np.testing.assert_array_equal(params(step), params(full))
    assert [h["log_likelihood"] for h in step.history_] == [h["log_likelihood"] for h in full.history_]


def test_memoized_with_one_batch_is_full_em(X):
    full = initial_gmm().fit(X, max_iter=6, tol=None)
    memo = initial_gmm().fit(X, max_iter=6, tol=None, algorithm="memoized")
    np.testing.assert_allclose(params(memo), params(full), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose([h["log_likelihood"] for h in memo.history_],
                               [h["log_likelihood"] for h in full.history_], rtol=1e-12)


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical", "normal"])
def test_free_energy_of_posterior_responsibilities_is_the_log_likelihood(X, ctype):
    if ctype == "normal":
        model = ss.GeneralMixtureModel([ss.Normal(-1.0, 2.0), ss.Normal(3.0, 1.0)], [0.3, 0.7])
        data = X[:, 0]
    else:
        model, data = initial_gmm(ctype), X
    stats = model.summarize(data, accumulate=False)
    assert model._free_energy(stats) == pytest.approx(float(stats.log_likelihood), rel=1e-10)
    model._fused = False
    generic = model.summarize(data, accumulate=False)
    assert float(generic.entropy) == pytest.approx(float(stats.entropy), rel=1e-10)


class CheckedRun(EMRun):
    """Memoized run that checks bnpy's debug invariant at every update."""

    checks: list

    def _commit(self, stats):
        kept = [s for s in self.stored if s is not None]
        self.checks.append(stats.allclose(sum(kept[1:], kept[0]), rtol=1e-10, atol=1e-9 * 4000))
        super()._commit(stats)


def test_memoized_global_statistics_are_exact_after_every_batch(X):
    """S, kept by S - old_b + new_b, equals the sum of every batch's latest record."""
    run = CheckedRun(initial_gmm(), X, batch_size=500, max_iter=4, tol=None, algorithm="memoized",
                     random_state=0)
    run.checks = []
    run.run()
    assert len(run.checks) == 4 * 8 and all(run.checks)


def test_memoized_incremental_bookkeeping_matches_a_fresh_summary(X):
    """After a pass with one batch per update, S - stored_b + fresh_b is exact."""
    model = initial_gmm()
    run = EMRun(model, X, batch_size=1000, max_iter=2, tol=None, algorithm="memoized", shuffle=False)
    run.run()
    # re-summarize every batch under the current parameters and replace them one at a time
    S = run.S
    for b, (s, e) in enumerate(run.ranges):
        new = model.summarize(X[s:e], accumulate=False)
        S = S - run.stored[b] + new
    direct = model.summarize(X, accumulate=False)
    assert S.allclose(direct, rtol=1e-10, atol=1e-9 * len(X))


def test_memoized_log_likelihood_never_decreases(X):
    m = initial_gmm().fit(X, max_iter=12, tol=None, algorithm="memoized", batch_size=400, random_state=3)
    ll = [h["log_likelihood"] for h in m.history_]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(ll, ll[1:]))


@pytest.mark.parametrize("rule", [steps.PowerDecay(), steps.EMA(0.5), steps.Momentum(0.3),
                                  steps.Nesterov(0.3), steps.Constant(0.5)], ids=repr)
def test_stepwise_reaches_full_em(X, rule):
    full = initial_gmm().fit(X, max_iter=60, tol=1e-8)
    target = full.history_[-1]["mean_log_likelihood"]
    m = initial_gmm().fit(X, algorithm="stepwise", step=rule, batch_size=500, max_iter=15, tol=None,
                          random_state=0)
    assert abs(m.score(X) - target) <= 0.005 * abs(target)
    assert all("lrate" in h and "fallbacks" in h for h in m.history_)


class RecordingRun(EMRun):
    """Stepwise run that records the parameters after every update, with its pass."""

    updates: list

    def _commit(self, stats):
        super()._commit(stats)
        self.updates.append((self.iteration + 1, params(self.learner)))


def test_polyak_averaging_is_the_mean_of_the_updates_from_the_second_pass(X):
    """Issue 12: ``average=True`` returns the mean of the per-update parameters of passes 2..T.

    The old test only checked that the averaged model differs from the plain one, which a
    wrong average (the first pass included, a running blend with the wrong weight, the
    last update only, the average never committed) also passes.
    """
    kw = dict(algorithm="stepwise", step=steps.PowerDecay(0.7), batch_size=500, max_iter=6, tol=None,
              random_state=0)
    plain = RecordingRun(initial_gmm(), X, **kw)
    plain.updates = []
    plain.run()
    assert len(plain.updates) == 6 * 8
    expected = np.mean([p for it, p in plain.updates if it >= 2], axis=0)
    m = initial_gmm().fit(X, average=True, **kw)
    np.testing.assert_allclose(params(m), expected, rtol=1e-10, atol=1e-12)
    # and it is not simply the last update (the average is over 40 distinct updates)
    assert not np.allclose(params(m), plain.updates[-1][1], rtol=1e-6)
    full = initial_gmm().fit(X, max_iter=60, tol=1e-8)
    assert abs(m.score(X) - full.score(X)) <= 0.005 * abs(full.score(X))


@pytest.mark.parametrize("algorithm", ["em", "stepwise", "memoized"])
def test_thread_invariance_in_every_mode(X, algorithm):
    kw = dict(algorithm=algorithm, batch_size=300, batches_per_epoch=4, max_iter=3, tol=None, random_state=2)
    if algorithm == "stepwise":
        kw["step"] = steps.Momentum(0.4)
    runs = [initial_gmm().fit(X, n_jobs=n, **kw) for n in (1, 2, 4)]
    for r in runs[1:]:
        np.testing.assert_array_equal(params(r), params(runs[0]))
        assert [h["log_likelihood"] for h in r.history_] == [h["log_likelihood"] for h in runs[0].history_]


@settings(max_examples=20)
@given(gamma=st.floats(0.5, 0.99), kappa=st.floats(0.3, 1.0), seed=st.integers(0, 50))
def test_momentum_guard_leaves_valid_statistics(gamma, kappa, seed):
    X = blobs(600, seed=seed % 5)
    rule = steps.Nesterov(gamma, base=steps.PowerDecay(kappa, delay=0.0)) if seed % 2 else \
        steps.Momentum(gamma, base=steps.PowerDecay(kappa, delay=0.0))
    model = initial_gmm()
    run = EMRun(model, X, algorithm="stepwise", step=rule, batch_size=60, max_iter=3, tol=None,
                random_state=seed)
    valid = []
    run.checkpoint = lambda r: valid.append(statistics_valid(model, r.S))
    run.run()
    assert all(valid)
    assert run.history[-1]["fallbacks"] == run.fallbacks >= 0


def test_algorithm_arguments(X):
    m = initial_gmm()
    with pytest.raises(ss.ParameterError, match="algorithm must be one of"):
        m.fit(X, algorithm="sgd")
    with pytest.raises(ss.ParameterError, match=re.escape("step is only used with algorithm in "
                                                          "('stepwise', 'sem-vr', 'fiem')")):
        m.fit(X, step=steps.Constant(0.5))
    with pytest.raises(ss.ParameterError, match="algorithm='fiem' takes a plain step rule"):
        m.fit(X, algorithm="fiem", step=steps.Adam())
    with pytest.raises(ss.ParameterError, match="average_start is only used with average=True"):
        m.fit(X, algorithm="stepwise", average_start=3)
    with pytest.raises(ss.ParameterError, match="step must be a suffstat.steps.StepRule"):
        m.fit(X, algorithm="stepwise", step=0.5)


def test_verbose_line_shows_the_step_size(X, capsys):
    initial_gmm().fit(X, algorithm="stepwise", batch_size=1000, max_iter=2, tol=None, verbose=True)
    first = capsys.readouterr().out.splitlines()[0]
    assert "\tlrate 0." in first


def test_n_total_for_an_endless_stream(X):
    """Issue 12: ``n_total`` sets the scale of the stepwise statistics, the default is the data's weight.

    The old test passed ``n_total=len(X)``, the default, so it could not fail. A mixture's
    M-step does not depend on that scale, so the parameters agree; the record does not.
    """
    kw = dict(algorithm="stepwise", batch_size=500, max_iter=2, tol=None, random_state=0)
    default = EMRun(initial_gmm(), X, **kw)
    default.run()
    assert float(default.S.weight) == pytest.approx(len(X), rel=1e-12)
    endless = EMRun(initial_gmm(), X, n_total=10 * len(X), **kw)
    endless.run()
    assert float(endless.S.weight) == pytest.approx(10 * len(X), rel=1e-12)
    np.testing.assert_allclose(params(endless.learner), params(default.learner), rtol=1e-9)
    w = np.random.default_rng(4).uniform(0.5, 1.5, size=len(X))
    weighted = EMRun(initial_gmm(), X, w, **kw)
    weighted.run()
    assert float(weighted.S.weight) == pytest.approx(w.sum(), rel=1e-12)
