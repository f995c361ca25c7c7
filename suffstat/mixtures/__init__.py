"""Mixture models."""

from __future__ import annotations

from .gaussian import GaussianMixture
from .general import GeneralMixtureModel

__all__ = ["GaussianMixture", "GeneralMixtureModel"]
