"""Conjugate priors: the components of variational mixtures (:class:`~suffstat.BayesianMixture`).

Each prior is a mixture component whose parameters are a variational posterior: the
global step is the conjugate update prior + data record, the local step uses the
expected log-density, and :meth:`~ConjugatePrior.elbo` is the component's share of
the evidence lower bound.
"""

from __future__ import annotations

from ._base import ConjugatePrior
from .gaussian import NormalGamma, NormalWishart

__all__ = ["ConjugatePrior", "NormalGamma", "NormalWishart"]
