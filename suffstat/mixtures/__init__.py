"""Mixture models."""

from __future__ import annotations

from .general import GeneralMixtureModel

__all__ = ["GeneralMixtureModel"]
