"""Conjugate priors: the components of variational mixtures (:class:`~suffstat.BayesianMixture`).

Each prior is a mixture component whose parameters are a variational posterior: the
global step is the conjugate update prior + data record, the local step uses the
expected log-density, and :meth:`~ConjugatePrior.elbo` is the component's share of
the evidence lower bound.

The families: :class:`NormalWishart` (full-covariance Gaussian), :class:`NormalGamma`
(diagonal or univariate Gaussian), :class:`SphericalNormalGamma` (spherical Gaussian),
:class:`Beta` (Bernoulli), :class:`Dirichlet`
(Categorical), :class:`Gamma` (Poisson or Exponential rate) and :class:`Independent`
(one univariate prior per column). Their registry names are ``'priors.<Name>'`` (the
distributions ``Beta`` and ``Gamma`` keep theirs).
"""

from __future__ import annotations

from ._base import ConjugatePrior
from .beta import Beta, Dirichlet
from .gamma import Gamma
from .gaussian import NormalGamma, NormalWishart, SphericalNormalGamma
from .independent import Independent

__all__ = ["Beta", "ConjugatePrior", "Dirichlet", "Gamma", "Independent", "NormalGamma", "NormalWishart",
           "SphericalNormalGamma"]
