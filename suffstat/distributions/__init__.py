"""Probability distributions fitted through additive statistics."""

from __future__ import annotations

from ._base import Distribution
from .beta import Beta
from .discrete import Bernoulli, Categorical, Poisson
from .exponential import Exponential
from .gamma import Gamma
from .independent import IndependentComponents
from .multivariate_normal import MultivariateNormal
from .normal import LogNormal, Normal
from .uniform import Uniform

__all__ = [
    "Bernoulli",
    "Beta",
    "Categorical",
    "Distribution",
    "Exponential",
    "Gamma",
    "IndependentComponents",
    "LogNormal",
    "MultivariateNormal",
    "Normal",
    "Poisson",
    "Uniform",
]
