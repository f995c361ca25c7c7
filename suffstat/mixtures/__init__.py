"""Mixture models: EM (GeneralMixtureModel, GaussianMixture) and variational (BayesianMixture,
BayesianGaussianMixture)."""

from __future__ import annotations

from .bayesian import BayesianMixture
from .bayesian_gaussian import BayesianGaussianMixture
from .gaussian import GaussianMixture
from .general import GeneralMixtureModel

__all__ = ["BayesianGaussianMixture", "BayesianMixture", "GaussianMixture", "GeneralMixtureModel"]
