"""The generic EM driver, its callbacks and initialization."""

from __future__ import annotations

from .callbacks import Callback, CSVLogger, History, LapReporter

__all__ = ["CSVLogger", "Callback", "History", "LapReporter"]
