"""suffstat: exact, streaming and parallel fitting through additive sufficient statistics."""

from __future__ import annotations

from ._version import __version__
from . import statistics
from .agglomerative import PhaseTransitions, StreamingAgglomerative, phase_transitions
from .classifiers import BayesClassifier, NaiveBayes
from .distributions import (
    Bernoulli,
    Beta,
    Categorical,
    Distribution,
    Exponential,
    Gamma,
    IndependentComponents,
    LogNormal,
    MultivariateNormal,
    Normal,
    Poisson,
    Uniform,
)
from .exceptions import (
    ConvergenceWarning,
    DataError,
    EmptyComponentWarning,
    ModelFileError,
    NotFittedError,
    ParameterError,
)
from .fitting import Callback, CSVLogger, History
from .hmm import CategoricalHMM, GaussianHMM, HiddenMarkovModel, PoissonHMM
from . import steps
from .io import load, save
from .mixtures import BayesianGaussianMixture, BayesianMixture, GaussianMixture, GeneralMixtureModel
from . import priors
from .snapshots import load_model_at_lap
from .statistics import (
    BetaStats,
    CategoricalStats,
    ClassifierStats,
    CountStats,
    GammaStats,
    GaussianMixtureStats,
    HMMStats,
    IndependentStats,
    MixtureStats,
    MultivariateNormalStats,
    NormalStats,
    PoissonStats,
    Statistic,
    UniformStats,
)

__all__ = [
    "BayesClassifier",
    "BayesianGaussianMixture",
    "BayesianMixture",
    "Bernoulli",
    "Beta",
    "CSVLogger",
    "Callback",
    "EmptyComponentWarning",
    "GaussianMixture",
    "GeneralMixtureModel",
    "History",
    "BetaStats",
    "Categorical",
    "CategoricalStats",
    "ClassifierStats",
    "ConvergenceWarning",
    "CountStats",
    "DataError",
    "Distribution",
    "Exponential",
    "Gamma",
    "GammaStats",
    "GaussianMixtureStats",
    "GaussianHMM",
    "CategoricalHMM",
    "HMMStats",
    "HiddenMarkovModel",
    "PoissonHMM",
    "IndependentComponents",
    "IndependentStats",
    "LogNormal",
    "MixtureStats",
    "ModelFileError",
    "MultivariateNormal",
    "MultivariateNormalStats",
    "NaiveBayes",
    "Normal",
    "NormalStats",
    "NotFittedError",
    "ParameterError",
    "PhaseTransitions",
    "Poisson",
    "PoissonStats",
    "Statistic",
    "StreamingAgglomerative",
    "Uniform",
    "UniformStats",
    "load",
    "load_model_at_lap",
    "phase_transitions",
    "plot",
    "save",
    "statistics",
    "priors",
    "steps",
]


def __getattr__(name: str):
    """``suffstat.plot`` is imported on first use, so that ``import suffstat`` never
    imports matplotlib (issue 15)."""
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
