"""The reference table: every public distribution with a scipy twin and a data generator.

Each case gives a factory for a distribution with known parameters, the scipy (or
closed-form) log-density of the same parameters, a sampler for valid data, and a
factory for an unfitted instance of the same family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

import suffstat as ss


@dataclass
class Case:
    id: str
    make: Callable[[], ss.Distribution]
    unfitted: Callable[[], ss.Distribution]
    logpdf: Callable[[np.ndarray], np.ndarray]
    draw: Callable[[np.random.Generator, int], np.ndarray]


def _cat_logpmf(p):
    p = np.asarray(p)
    return lambda x: stats.multinomial(1, p).logpmf(np.eye(len(p))[x.astype(int)])


_MEAN3 = np.array([1.0, -2.0, 0.5])
_COV3 = np.array([[2.0, 0.3, -0.4], [0.3, 1.0, 0.2], [-0.4, 0.2, 1.5]])
_VAR3 = np.array([2.0, 0.5, 1.5])

CASES = [
    Case(
        "normal",
        lambda: ss.Normal(1.5, 2.0),
        lambda: ss.Normal(),
        stats.norm(1.5, 2.0).logpdf,
        lambda r, n: r.normal(1.5, 2.0, n),
    ),
    Case(
        "lognormal",
        lambda: ss.LogNormal(0.3, 0.7),
        lambda: ss.LogNormal(),
        stats.lognorm(s=0.7, scale=np.exp(0.3)).logpdf,
        lambda r, n: r.lognormal(0.3, 0.7, n),
    ),
    Case(
        "exponential",
        lambda: ss.Exponential(1.7),
        lambda: ss.Exponential(),
        stats.expon(scale=1 / 1.7).logpdf,
        lambda r, n: r.exponential(1 / 1.7, n),
    ),
    Case(
        "gamma",
        lambda: ss.Gamma(2.5, 1.5),
        lambda: ss.Gamma(),
        stats.gamma(a=2.5, scale=1 / 1.5).logpdf,
        lambda r, n: r.gamma(2.5, 1 / 1.5, n),
    ),
    Case(
        "beta",
        lambda: ss.Beta(2.0, 3.5),
        lambda: ss.Beta(),
        stats.beta(2.0, 3.5).logpdf,
        lambda r, n: r.beta(2.0, 3.5, n),
    ),
    Case(
        "poisson",
        lambda: ss.Poisson(3.2),
        lambda: ss.Poisson(),
        stats.poisson(3.2).logpmf,
        lambda r, n: r.poisson(3.2, n).astype(float),
    ),
    Case(
        "bernoulli",
        lambda: ss.Bernoulli(0.3),
        lambda: ss.Bernoulli(),
        stats.bernoulli(0.3).logpmf,
        lambda r, n: (r.random(n) < 0.3).astype(float),
    ),
    Case(
        "categorical",
        lambda: ss.Categorical([0.2, 0.5, 0.3]),
        lambda: ss.Categorical(n_categories=3),
        _cat_logpmf([0.2, 0.5, 0.3]),
        lambda r, n: r.choice(3, size=n, p=[0.2, 0.5, 0.3]).astype(float),
    ),
    Case(
        "uniform",
        lambda: ss.Uniform(-1.0, 2.5),
        lambda: ss.Uniform(),
        stats.uniform(loc=-1.0, scale=3.5).logpdf,
        lambda r, n: r.uniform(-1.0, 2.5, n),
    ),
    Case(
        "mvn-full",
        lambda: ss.MultivariateNormal(_MEAN3, _COV3),
        lambda: ss.MultivariateNormal(),
        stats.multivariate_normal(_MEAN3, _COV3).logpdf,
        lambda r, n: r.multivariate_normal(_MEAN3, _COV3, n),
    ),
    Case(
        "mvn-diag",
        lambda: ss.MultivariateNormal(_MEAN3, _VAR3, covariance_type="diag"),
        lambda: ss.MultivariateNormal(covariance_type="diag"),
        stats.multivariate_normal(_MEAN3, np.diag(_VAR3)).logpdf,
        lambda r, n: r.normal(_MEAN3, np.sqrt(_VAR3), (n, 3)),
    ),
    Case(
        "mvn-spherical",
        lambda: ss.MultivariateNormal(_MEAN3, 0.8, covariance_type="spherical"),
        lambda: ss.MultivariateNormal(covariance_type="spherical"),
        stats.multivariate_normal(_MEAN3, 0.8 * np.eye(3)).logpdf,
        lambda r, n: r.normal(_MEAN3, np.sqrt(0.8), (n, 3)),
    ),
    Case(
        "independent",
        lambda: ss.IndependentComponents([ss.Normal(0.5, 1.2), ss.Poisson(2.0), ss.Gamma(2.0, 3.0)]),
        lambda: ss.IndependentComponents([ss.Normal(), ss.Poisson(), ss.Gamma()]),
        lambda X: stats.norm(0.5, 1.2).logpdf(X[:, 0])
        + stats.poisson(2.0).logpmf(X[:, 1])
        + stats.gamma(2.0, scale=1 / 3.0).logpdf(X[:, 2]),
        lambda r, n: np.column_stack(
            [r.normal(0.5, 1.2, n), r.poisson(2.0, n), r.gamma(2.0, 1 / 3.0, n)]
        ),
    ),
]

IDS = [c.id for c in CASES]


def flat_params(d: ss.Distribution) -> np.ndarray:
    """Every parameter of a model as one float vector (for comparisons)."""
    out: list[float] = []

    def walk(v):
        if isinstance(v, dict):
            for k in sorted(v):
                walk(v[k])
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            return
        else:
            out.extend(np.ravel(np.asarray(v, dtype=float)).tolist())

    walk(d.to_dict()["params"])
    return np.array(out)
