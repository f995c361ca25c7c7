"""Hidden Markov models: the general learner and hmmlearn's estimator faces."""

from __future__ import annotations

from .faces import CategoricalHMM, GaussianHMM, PoissonHMM
from .model import HiddenMarkovModel

__all__ = ["CategoricalHMM", "GaussianHMM", "HiddenMarkovModel", "PoissonHMM"]
