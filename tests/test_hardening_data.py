"""Issue 12 (hardening), data and distribution items: each test names what failed before.

Bad input raises a clear error naming the row (DESIGN.md invariant 6) and leaves the
model as it was; numerics give the same answer whatever the starting parameters.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from mixture_helpers import blobs, initial_gmm

import suffstat as ss
from suffstat.distributions import beta as beta_module
from suffstat.distributions import gamma as gamma_module
from suffstat.distributions.discrete import MAX_CATEGORIES
from suffstat.fitting.driver import EMRun
from suffstat.kernels.univariate import category_counts
from suffstat.statistics import BetaStats, GammaStats

ROOT = Path(__file__).resolve().parents[1]


def snapshot(d):
    return repr(d.to_dict()), d.pending


def assert_unchanged(d, before):
    after = snapshot(d)
    assert after[0] == before[0]
    assert after[1] is before[1]


# -- 1. Categorical codes index the counts: validated first, bounds-checked in the kernel --


def test_huge_categorical_code_is_refused_instead_of_corrupting_memory():
    """Issue 12: summarize([0, 2, 1e19]) cast 1e19 to a negative int64 and wrote outside
    the counts (``double free or corruption``, exit 134). Run in a subprocess so a
    regression cannot crash the test run."""
    script = textwrap.dedent(
        """
        import numpy as np, suffstat as ss
        for call in (
            lambda: ss.Categorical().summarize(np.array([0.0, 2.0, 1e19])),
            lambda: ss.GeneralMixtureModel(
                [ss.Categorical([0.5, 0.5]), ss.Categorical([0.2, 0.8])]
            ).summarize(np.array([0.0, 1.0, 5.0])),
        ):
            try:
                call()
            except ss.DataError as e:
                print("DataError:", e)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert "got 1e+19 at row 2" in lines[0]
    assert "at row 2" in lines[1]


def test_categorical_codes_are_validated_before_any_count_is_made():
    """Issue 12: fit([0, 1, 1e19]) silently dropped the row, and one code of 2e8
    allocated gigabytes of counts."""
    d = ss.Categorical([0.2, 0.3, 0.5])
    d.summarize([0, 1, 2])
    before = snapshot(d)
    with pytest.raises(ss.DataError, match=re.escape("a code below 3 (the number of categories); got 1e+19 at row 2")):
        d.fit([0.0, 1.0, 1e19])
    with pytest.raises(ss.DataError, match=re.escape("a code below 3 (the number of categories); got 3 at row 1")):
        d.summarize([0.0, 3.0])
    assert_unchanged(d, before)

    free = ss.Categorical()
    text = f"X must be a code below MAX_CATEGORIES = {MAX_CATEGORIES} when the number of categories is not declared"
    with pytest.raises(ss.DataError, match=re.escape(text + "; got 1e+19 at row 2. Pass n_categories")):
        free.fit([0.0, 1.0, 1e19])
    with pytest.raises(ss.DataError, match=re.escape(text + "; got 2e+08 at row 0")):
        free.summarize([2e8])
    assert free.probs is None and free.pending is None
    # a declared number of categories is the bound instead
    declared = ss.Categorical(n_categories=MAX_CATEGORIES + 2).fit([0.0, MAX_CATEGORIES + 1.0])
    assert declared.probs[-1] == 0.5


def test_category_counts_kernel_never_writes_outside_the_counts():
    """Issue 12: the kernel indexed counts with whatever code it was given."""
    counts = np.zeros(2)
    w = np.ones(5)
    assert category_counts(np.array([0.0, 1.0, 7.0, 1.0, 0.0]), w, counts) == 2
    assert counts.tolist() == [1.0, 1.0]  # the rows before the bad one
    for bad in (-1.0, 2.0, 0.5, np.nan, 1e19, -1e19):
        counts = np.zeros(2)
        assert category_counts(np.array([1.0, bad]), np.ones(2), counts) == 1
    counts = np.zeros(2)
    assert category_counts(np.array([1.0, 9.0, 0.0]), np.array([2.0, 0.0, 1.0]), counts) == -1
    assert counts.tolist() == [1.0, 2.0]  # a row of weight 0 is skipped, never indexed


# -- 2. Constant data: one rule whatever the starting parameters ---------------------------


@pytest.mark.parametrize("make", [
    lambda: ss.Normal(), lambda: ss.Normal(0.0, 1.0), lambda: ss.Normal(0.7, 2.0), lambda: ss.Normal(-1e6, 3.0),
], ids=["unfitted", "standard", "at-the-value", "far"])
@pytest.mark.parametrize("n, weighted", [(40, False), (1000, False), (1000, True)])
def test_normal_zero_variance_raises_whatever_the_start(make, n, weighted):
    """Issue 12: Normal(0, 1).fit(np.full(40, 0.7)) gave std 2.1e-08 (rounding noise of
    moments about the old mean) while Normal().fit of the same data raised."""
    x = np.full(n, 0.7)
    w = np.random.default_rng(0).uniform(0.1, 2.0, n) if weighted else None
    d = make()
    before = snapshot(d)
    with pytest.raises(ss.ParameterError, match=re.escape("the data has zero variance") + ".*Set min_std"):
        d.fit(x, w)
    assert_unchanged(d, before)
    assert make().__class__(min_std=0.25).fit(x, w).std == 0.25
    floored = ss.Normal(0.0, 1.0, min_std=0.25).fit(x, w)
    assert (floored.mean, floored.std) == pytest.approx((0.7, 0.25), rel=1e-15)


@pytest.mark.parametrize("make", [lambda: ss.LogNormal(), lambda: ss.LogNormal(0.0, 1.0), lambda: ss.LogNormal(30.0, 1.0)])
def test_lognormal_zero_variance_raises_whatever_the_start(make):
    """Issue 12: LogNormal(0, 1).fit of constant data gave sigma 1.3e-08; its error also
    told the user to set min_std, an option LogNormal does not have."""
    x = np.full(1000, 0.7)
    with pytest.raises(ss.ParameterError, match=re.escape("Set min_sigma to a positive floor")):
        make().fit(x)
    assert ss.LogNormal(0.0, 1.0, min_sigma=0.5).fit(x).sigma == 0.5


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical"])
def test_multivariate_normal_constant_data_gets_reg_covar_whatever_the_start(ctype):
    """Issue 12: a fitted start gave a covariance with rounding noise (6e-16 covariances),
    and with reg_covar=0 another error than the unfitted start."""
    X = np.full((500, 2), 0.7)
    start = {"full": np.eye(2), "diag": np.ones(2), "spherical": 1.0}[ctype]
    fresh = ss.MultivariateNormal(covariance_type=ctype).fit(X)
    stale = ss.MultivariateNormal([0.0, 0.0], start, covariance_type=ctype).fit(X)
    expected = {"full": 1e-6 * np.eye(2), "diag": np.full(2, 1e-6), "spherical": 1e-6}[ctype]
    np.testing.assert_array_equal(fresh.cov, expected)
    np.testing.assert_array_equal(stale.cov, expected)
    np.testing.assert_array_equal(stale.mean, [0.7, 0.7])
    for d in (ss.MultivariateNormal(covariance_type=ctype, reg_covar=0.0),
              ss.MultivariateNormal([0.0, 0.0], start, covariance_type=ctype, reg_covar=0.0)):
        before = snapshot(d)
        with pytest.raises(ss.ParameterError, match=re.escape("has variance 0); increase reg_covar (now 0)")):
            d.fit(X)
        assert_unchanged(d, before)


def test_a_stale_start_costs_no_precision(rng):
    """Issue 12 (same cause): moments about a start far from the data were raw power
    sums (the 1e8 + N(0, 1) regression of DESIGN.md), or overflowed."""
    x = 1e8 + rng.standard_normal(20_000)
    fresh = ss.Normal().fit(x)
    stale = ss.Normal(0.0, 1.0).fit(x)
    assert (stale.mean, stale.std) == pytest.approx((fresh.mean, fresh.std), rel=1e-12)
    assert stale.std**2 == pytest.approx(x.var(), rel=1e-10)
    X = 1e8 + rng.standard_normal((20_000, 2))
    for ctype in ("full", "diag"):
        fresh = ss.MultivariateNormal(covariance_type=ctype, reg_covar=0.0).fit(X)
        stale = ss.MultivariateNormal(np.zeros(2), np.ones(2) if ctype == "diag" else np.eye(2),
                                      covariance_type=ctype, reg_covar=0.0).fit(X)
        np.testing.assert_allclose(stale.cov, fresh.cov, rtol=1e-10)
    # squares about 0 overflow; about the data they do not
    big = 1e160 + 1e150 * rng.standard_normal(100)
    stale = ss.Normal(0.0, 1.0).fit(big)
    assert stale.std == pytest.approx(ss.Normal().fit(big).std, rel=1e-12)


@pytest.mark.parametrize("n", [40, 1000, 100_000])
@pytest.mark.parametrize("value", [0.7, 3.3, 1e5])
@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_constant_data_raises_at_any_size(n, value, weighted):
    """Issue 12: Gamma().fit of constant data raised or returned a shape of 1e14
    depending on the row count (rounding noise in log mean(x) - mean(log x))."""
    w = np.random.default_rng(n).uniform(0.1, 2.0, n) if weighted else None
    for d in (ss.Gamma(), ss.Gamma(2.0, 1.0)):
        before = snapshot(d)
        with pytest.raises(ss.ParameterError, match=re.escape("all values with positive weight are equal")):
            d.fit(np.full(n, value), w)
        assert_unchanged(d, before)


@pytest.mark.parametrize("make, value", [
    (lambda: ss.Beta(), 0.3), (lambda: ss.Beta(2.0, 3.0), 0.3), (lambda: ss.Beta(), 1e-9),
    (lambda: ss.Uniform(), 4.0), (lambda: ss.Uniform(0.0, 1.0), 4.0),
    (lambda: ss.Exponential(), 0.0), (lambda: ss.Exponential(2.0), 0.0),
])
def test_other_families_refuse_constant_data_whatever_the_start(make, value):
    """Issue 12 check: Beta, Uniform and Exponential already had one rule; it holds at
    100_000 rows too."""
    d = make()
    before = snapshot(d)
    with pytest.raises(ss.ParameterError, match="cannot estimate"):
        d.fit(np.full(100_000, value))
    assert_unchanged(d, before)


def test_gamma_shape_has_full_precision_for_large_shapes():
    """Issue 12: log(a) - digamma(a) cancels for a large shape: the solver's answer was
    off by 1e-4 (relative) at a = 1e10, and it never met its tolerance above a ~ 50."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for shape in (0.01, 3.0, 50.0, 1e4, 1e10):
        s = float(mpmath.log(shape) - mpmath.digamma(shape))
        stats = GammaStats(w_sum=1.0, xw_sum=1.0, logxw_sum=-s)  # log mean(x) = 0: s exactly
        d = ss.Gamma().from_summaries(stats)
        root = mpmath.findroot(lambda a: mpmath.log(a) - mpmath.digamma(a) - s, shape)
        assert d.shape == pytest.approx(float(root), rel=1e-13)


# -- 3. Newton solvers warn when they stop at max_iter -----------------------------------


def _convergence_warning(call):
    with pytest.warns(ss.ConvergenceWarning) as record:
        call()
    (w,) = [r for r in record if issubclass(r.category, ss.ConvergenceWarning)]
    return w


def test_gamma_solver_warns_at_the_users_line_when_it_stops(monkeypatch, rng):
    """Issue 12: the Gamma shape solver stopped silently at max_iter."""
    x = rng.gamma(3.0, 2.0, size=500)
    monkeypatch.setattr(gamma_module, "MAX_ITER", 1)
    w = _convergence_warning(lambda: ss.Gamma().fit(x))
    assert "Gamma shape solver stopped after 1 Newton iterations" in str(w.message)
    assert w.filename == __file__  # the user's call, not a line of the library
    d = ss.Gamma()
    d.summarize(x)
    assert _convergence_warning(d.from_summaries).filename == __file__
    mix = ss.GeneralMixtureModel([ss.Gamma(2.0, 1.0), ss.Gamma(5.0, 1.0)])
    with pytest.warns(ss.ConvergenceWarning) as record:
        mix.fit(x, max_iter=1, tol=None)
    assert {r.filename for r in record} == {__file__}


def test_beta_solver_warns_at_the_users_line_when_it_stops(monkeypatch, rng):
    """Issue 12: the Beta solver stopped silently at max_iter."""
    x = rng.beta(2.0, 5.0, size=500)
    monkeypatch.setattr(beta_module, "MAX_ITER", 1)
    w = _convergence_warning(lambda: ss.Beta().fit(x))
    assert "Beta solver stopped after 1 Newton iterations" in str(w.message)
    assert w.filename == __file__


def test_solvers_converge_over_a_wide_range_without_warning():
    """Issue 12: the step tolerances (1e-15, 1e-14) were below the rounding of the
    digamma terms, so the solvers ran to max_iter for a Gamma shape above ~ 50 and for
    lopsided Beta parameters; with a warning that would fire on good data. Any warning
    fails this test (filterwarnings = error)."""
    from scipy import special

    for shape in np.logspace(-3, 11, 57):  # s = 5e-12 at the top, above CONSTANT_TOL
        s = math.log(shape) - float(special.digamma(shape)) if shape < 1e3 else 0.5 / shape
        ss.Gamma().from_summaries(GammaStats(w_sum=1.0, xw_sum=1.0, logxw_sum=-s))
    grid = np.logspace(-3, 6, 13)
    for a in grid:
        for b in grid:
            m1 = float(special.digamma(a) - special.digamma(a + b))
            m2 = float(special.digamma(b) - special.digamma(a + b))
            if math.exp(m1) + math.exp(m2) < 1.0 - 1e-12:
                ss.Beta().from_summaries(BetaStats(w_sum=1.0, logxw_sum=m1, log1mxw_sum=m2))


# -- 4. Records with minimum / maximum fields cannot be subtracted -------------------------


def _uniform_mixture():
    return ss.GeneralMixtureModel([ss.Uniform(-0.5, 1.5), ss.Normal(3.0, 0.5)], [0.5, 0.5])


def _uniform_mixture_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(0.0, 1.0, n // 2), rng.normal(3.0, 0.5, n // 2)])
    return x[rng.permutation(n)]


def test_subtracting_a_uniform_record_is_refused():
    """Issue 12: (s + t) - t != s for mixture records with a Uniform part: the min / max
    of the Uniform part cannot forget t, and the difference was returned as if exact."""
    model = _uniform_mixture()
    x = _uniform_mixture_data()
    s = model.summarize(x[:300], accumulate=False)
    t = model.summarize(x[300:], accumulate=False)
    assert not s.subtractable
    text = "MixtureStats records with UniformStats parts cannot be subtracted: their minimum / maximum fields (low, high)"
    with pytest.raises(TypeError, match=re.escape(text)):
        (s + t) - t
    with pytest.raises(TypeError, match="cannot be negated"):
        -s
    with pytest.raises(TypeError, match="cannot be scaled by a negative number"):
        -1.0 * s
    u = s.parts[0]
    with pytest.raises(TypeError, match=re.escape("UniformStats records cannot be subtracted")):
        u - u
    both = ss.IndependentComponents([ss.Uniform(), ss.Normal()]).summarize(np.ones((4, 2)), accumulate=False)
    with pytest.raises(TypeError, match="IndependentStats records with UniformStats parts"):
        both - both
    # scaling by 0 leaves no data, so the min / max return to their identity
    zero = 0.0 * s
    assert (float(zero.parts[0].low), float(zero.parts[0].high)) == (np.inf, -np.inf)
    assert (zero + t).allclose(t, rtol=0, atol=0)
    assert (0.5 * s).parts[0].low == s.parts[0].low


def test_subtraction_stays_exact_for_records_without_min_max_fields():
    """Issue 12: the refusal is limited to min / max fields; other records subtract."""
    model = initial_gmm("diag")
    X = blobs(600)
    s = model.summarize(X[:300], accumulate=False)
    t = model.summarize(X[300:], accumulate=False)
    assert s.subtractable
    assert ((s + t) - t).allclose(s, rtol=1e-12, atol=1e-9)


class _CheckedRun(EMRun):
    """A memoized run checking that every update uses the exact sum of the kept records."""

    def _commit(self, stats):
        kept = [s for s in self.stored if s is not None]
        exact = sum(kept[1:], kept[0])
        self.checks.append(stats.allclose(exact, rtol=1e-12, atol=1e-9)
                           and float(stats.parts[0].low) == float(exact.parts[0].low)
                           and float(stats.parts[0].high) == float(exact.parts[0].high))
        super()._commit(stats)


def test_memoized_em_with_a_uniform_component_uses_exact_statistics():
    """Issue 12: memoized EM updates S - old + new, which a Uniform component's record
    cannot do exactly; the driver adds the kept records up again instead."""
    x = _uniform_mixture_data()
    run = _CheckedRun(_uniform_mixture(), x, batch_size=100, max_iter=3, tol=None,
                      algorithm="memoized", random_state=0)
    run.checks = []
    run.run()
    # 6 batches: the first lap makes its one global step once every batch has its record
    # (commit 40b3c8a), the other two laps one per batch
    assert len(run.checks) == 1 + 2 * 6 and all(run.checks)
    m = _uniform_mixture().fit(x, batch_size=100, max_iter=5, tol=None, algorithm="memoized",
                               random_state=0)
    assert 0.0 <= m.distributions[0].low < m.distributions[0].high <= 1.5
    # momentum steps take differences of records: refused with the reason
    with pytest.raises(TypeError, match="step rules with momentum cannot use such records"):
        _uniform_mixture().fit(x, batch_size=100, max_iter=2, tol=None, algorithm="stepwise",
                               step=ss.steps.Momentum(0.5), random_state=0)


# -- 5. Complex input is refused, not cast -------------------------------------------------


def test_complex_input_is_refused(tmp_path):
    """Issue 12: a mixture fitted complex data with its imaginary part dropped (a
    ComplexWarning at most), from arrays and from .npy files."""
    x = np.array([1 + 1j, 2, 3, -1, -2, -3], dtype=np.complex128)
    model = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)])
    before = snapshot(model)
    text = "X must be real; got complex dtype complex128"
    with pytest.raises(ss.DataError, match=re.escape(text)):
        model.fit(x, max_iter=2)
    path = tmp_path / "complex.npy"
    np.save(path, x)
    with pytest.raises(ss.DataError, match=re.escape(text)):
        model.fit(path, max_iter=2)
    with pytest.raises(ss.DataError, match=re.escape(text)):
        model.log_probability(np.load(path, mmap_mode="r"), batch_size=2)
    with pytest.raises(ss.DataError, match=re.escape(text)):
        ss.GeneralMixtureModel.from_samples(ss.Normal, 2, x)
    for call in (lambda: model.summarize(x), lambda: model.score(x)):
        with pytest.raises(ss.DataError, match=re.escape(text)):
            call()
    with pytest.raises(ss.DataError, match=re.escape("sample_weight must be real; got complex dtype")):
        model.summarize(x.real, x)
    with pytest.raises(ss.DataError, match="sample_weight must be real"):
        ss.Normal().fit(x.real, x)
    assert_unchanged(model, before)


def test_complex_parameters_are_refused():
    """Issue 12: a numpy complex parameter was cast to float with its imaginary part dropped."""
    for make in (
        lambda: ss.Normal(np.complex128(1 + 2j), 1.0),
        lambda: ss.Poisson(np.array(2 + 0j)),
        lambda: ss.MultivariateNormal(np.array([1 + 1j, 0]), np.eye(2)),
        lambda: ss.MultivariateNormal([0.0, 0.0], np.eye(2) * (1 + 0j)),
        lambda: ss.MultivariateNormal([0.0, 0.0], np.ones(2, dtype=complex), covariance_type="diag"),
        lambda: ss.Categorical(np.array([0.5, 0.5], dtype=complex)),
    ):
        with pytest.raises(ss.ParameterError, match="real"):
            make()
    with pytest.raises(TypeError, match="statistic fields must be real"):
        ss.CountStats(w_sum=1.0, xw_sum=1 + 1j)


# -- 6. Finite rows whose statistics overflow -----------------------------------------------


@pytest.mark.parametrize("make, X, row, field", [
    (lambda: ss.Normal(), [1e200, -1e200, 3.0], 1, "xxw_sum"),
    (lambda: ss.Normal(0.0, 1.0), [1e200, -1e200, 3.0], 1, "xxw_sum"),
    (lambda: ss.MultivariateNormal(), [[1.0, 0.0], [1e200, 1.0], [-1e200, 2.0]], 1, "xxw_sum"),
    (lambda: ss.MultivariateNormal([0.0, 0.0], np.eye(2)), [[1.0, 0.0], [1e200, 1.0], [-1e200, 2.0]], 1, "xxw_sum"),
    (lambda: ss.MultivariateNormal(covariance_type="diag"), [[1.0, 0.0], [1.0, -1e300], [1.0, 1e300]], 1, "xxw_sum"),
    (lambda: ss.Poisson(), [3.0, 1e308, 1e308], 2, "xw_sum"),
    (lambda: ss.Exponential(1.0), [1e308, 1e308], 1, "xw_sum"),
    (lambda: ss.Gamma(), [1.0, 1e308, 1e308], 2, "xw_sum"),
    (lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson()]), [[0.0, 1e308], [1.0, 1e308]], 1,
     "parts[1].xw_sum"),
], ids=["normal", "normal-fitted", "mvn", "mvn-fitted", "mvn-diag", "poisson", "exponential", "gamma",
        "independent"])
def test_overflowing_statistics_are_refused_naming_the_row(make, X, row, field):
    """Issue 12: finite rows whose squares or sums overflow gave inf / nan records that
    poisoned everything they were added to."""
    d = make()
    text = f"the statistics of X overflow float64 ({field} is not finite) at row {row}"
    with pytest.raises(ss.DataError, match=re.escape(text)) as e:
        d.summarize(np.asarray(X))
    assert e.value.row == row
    before = snapshot(d)
    with pytest.raises(ss.DataError, match="Rescale the data"):
        d.fit(np.asarray(X))
    assert_unchanged(d, before)


def test_pending_statistics_that_would_overflow_are_refused():
    """Issue 12: two finite batch records could add up to an infinite pending record."""
    d = ss.Exponential(1.0)
    d.summarize([1e308])
    before = snapshot(d)
    with pytest.raises(ss.DataError, match=re.escape(
            "adding the batch's statistics to the pending ones overflows float64 (xw_sum is not finite)")):
        d.summarize([1e308])
    assert_unchanged(d, before)


def test_streamed_mixture_fit_names_the_batch_of_an_overflowing_row():
    """Issue 12: in a streamed fit the overflowing row's batch record was accumulated."""
    X = blobs(600)
    X[250] = 1e200
    model = initial_gmm("full")
    before = snapshot(model)
    with pytest.raises(ss.DataError, match=re.escape("at row 250 (batch 2)")):
        model.fit(X, batch_size=100, max_iter=3)
    assert_unchanged(model, before)
    normal = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)])
    for fused in (True, False):
        normal._fused = fused
        with pytest.raises(ss.DataError, match=re.escape("at row 250 (batch 2)")):
            normal.fit(X[:, 0], batch_size=100, max_iter=3)


# -- 7. Empty input to score; fit with zero total weight -----------------------------------


def test_score_of_no_rows_is_refused():
    """Issue 12: score([]) returned nan with numpy's 'Mean of empty slice' warning."""
    model = initial_gmm("diag")
    with pytest.raises(ss.DataError, match=re.escape("X is empty: score needs at least one row")):
        model.score(np.empty((0, 3)))
    normal = ss.GeneralMixtureModel([ss.Normal(-1.0, 1.0), ss.Normal(1.0, 1.0)])
    with pytest.raises(ss.DataError, match="X is empty"):
        normal.score([])
    assert normal.log_probability([]).shape == (0,)  # per-row answers of no rows stay empty


@pytest.mark.parametrize("make, X", [
    (lambda: ss.Normal(0.0, 1.0), [1.0, 2.0]),
    (lambda: ss.Normal(), [1.0, 2.0]),
    (lambda: ss.Categorical([0.5, 0.5]), [0.0, 1.0]),
    (lambda: ss.MultivariateNormal([0.0, 0.0], np.eye(2)), [[1.0, 2.0], [3.0, 4.0]]),
    (lambda: ss.IndependentComponents([ss.Normal(0.0, 1.0), ss.Poisson(1.0)]), [[1.0, 2.0], [3.0, 4.0]]),
], ids=["normal", "normal-unfitted", "categorical", "mvn", "independent"])
def test_fit_with_zero_total_weight_is_refused(make, X):
    """Issue 12: fit with all-zero sample_weight on a fitted model was a silent no-op."""
    d = make()
    before = snapshot(d)
    with pytest.raises(ss.DataError, match=re.escape("sample_weight sums to 0")):
        d.fit(X, np.zeros(len(X)))
    assert_unchanged(d, before)
    # summarize of zero weight is still the zero record, and an update from it is a no-op
    record = d.summarize(X, np.zeros(len(X)), accumulate=False)
    assert record.weight == 0
    if d._fitted:
        d.from_summaries(record)
        assert_unchanged(d, before)
