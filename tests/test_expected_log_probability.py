"""Scoring from statistics alone: sum_i w_i log p(x_i) from a record (memoized free energy,
the choice of family for each seed of a mixed-family start)."""

from __future__ import annotations

import numpy as np
import pytest
from cases import CASES, IDS

import suffstat as ss

# Poisson (alone or as a column) needs sum w log x!, which its record does not keep
SCORED = [c for c in CASES if '"Poisson"' not in c.make().to_json()]


@pytest.mark.parametrize("case", SCORED, ids=[c.id for c in SCORED])
def test_expected_log_probability_equals_the_weighted_sum_of_log_densities(case):
    rng = np.random.default_rng(4)
    d = case.make()
    X = case.draw(rng, 500)
    w = rng.uniform(0.0, 2.0, size=500)
    direct = float(np.dot(w, d.log_probability(X)))
    got = d._expected_log_probability(d.summarize(X, w, accumulate=False))
    assert got == pytest.approx(direct, rel=1e-10, abs=1e-9)


def test_independent_columns_add_their_scores():
    rng = np.random.default_rng(5)
    d = ss.IndependentComponents([ss.Normal(1.0, 2.0), ss.Bernoulli(0.3), ss.Categorical([0.2, 0.5, 0.3])])
    X = np.column_stack([rng.normal(1, 2, 300), rng.integers(0, 2, 300), rng.integers(0, 3, 300)])
    w = rng.uniform(0.5, 1.5, 300)
    direct = float(np.dot(w, d.log_probability(X)))
    assert d._expected_log_probability(d.summarize(X, w, accumulate=False)) == pytest.approx(direct, rel=1e-10)


def test_poisson_cannot_score_from_its_statistics():
    with pytest.raises(NotImplementedError):
        ss.Poisson(2.0)._expected_log_probability(ss.Poisson(2.0).summarize([1, 2], accumulate=False))


def test_outside_the_support_scores_minus_infinity():
    u = ss.Uniform(0.0, 1.0)
    assert u._expected_log_probability(u.summarize([0.5, 1.5], accumulate=False)) == -np.inf
    c = ss.Categorical([0.5, 0.5, 0.0])
    assert c._expected_log_probability(c.summarize([0, 2], accumulate=False)) == -np.inf
    b = ss.Bernoulli(1.0)
    assert b._expected_log_probability(b.summarize([1, 1, 0], accumulate=False)) == -np.inf
