"""Callbacks called by the EM driver (pomegranate's protocol)."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["CSVLogger", "Callback", "History", "LapReporter", "VerboseReporter"]


class Callback:
    """Base class of fit callbacks.

    The driver sets :attr:`model` before training, then calls
    :meth:`on_training_begin`, :meth:`on_epoch_end` after every full pass with that
    pass's log entry, and :meth:`on_training_end` with the last entry.

    Attributes
    ----------
    model : Distribution or None
        The model being fitted.
    """

    model: Any = None

    def on_training_begin(self) -> None:
        """Call at the start of a fit."""

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        """Call after every full pass over the data.

        Parameters
        ----------
        logs : dict
            ``iteration``, ``log_likelihood``, ``improvement``, ``time`` and more.
        """

    def on_training_end(self, logs: dict[str, Any] | None) -> None:
        """Call at the end of a fit.

        Parameters
        ----------
        logs : dict or None
            The last pass's entry (None if no pass completed).
        """


class History(Callback):
    """Keep every pass's log entry in :attr:`history`.

    Attributes
    ----------
    history : list of dict
        One entry per full pass.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def on_training_begin(self) -> None:
        """Start a new history."""
        self.history = []

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        """Record the pass.

        Parameters
        ----------
        logs : dict
            The pass's entry.
        """
        self.history.append(dict(logs))


class CSVLogger(Callback):
    """Append one CSV row per pass to a file.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file (overwritten at the start of each fit).
    """

    columns = ("iteration", "log_likelihood", "improvement", "time")

    def __init__(self, path: Any) -> None:
        self.path = Path(path)

    def on_training_begin(self) -> None:
        """Write the header."""
        with open(self.path, "w", newline="") as fh:
            csv.writer(fh).writerow(self.columns)

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        """Write the pass's row.

        Parameters
        ----------
        logs : dict
            The pass's entry.
        """
        with open(self.path, "a", newline="") as fh:
            csv.writer(fh).writerow([logs[c] for c in self.columns])


class VerboseReporter(Callback):
    """Print pomegranate's per-pass line and totals at the end.

    Parameters
    ----------
    stream : file-like, default=sys.stdout
        Where to print.
    """

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream
        self._first: float | None = None
        self._total_time = 0.0

    def on_training_begin(self) -> None:
        """Reset the totals."""
        self._first, self._total_time = None, 0.0

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        """Print ``[i] Improvement: ... Time (s): ...``.

        Parameters
        ----------
        logs : dict
            The pass's entry.
        """
        if self._first is None:
            self._first = logs["log_likelihood"]
        self._total_time += logs["time"]
        imp = logs["improvement"]
        imp_text = "nan" if imp is None or math.isnan(imp) else f"{imp:.3f}"
        line = f"[{logs['iteration']}] Improvement: {imp_text}\tTime (s): {logs['time']:.4f}"
        if "lrate" in logs:
            line += f"\tlrate {logs['lrate']:.4f}"
        print(line, file=self.stream or sys.stdout)

    def on_training_end(self, logs: dict[str, Any] | None) -> None:
        """Print the totals.

        Parameters
        ----------
        logs : dict or None
            The last pass's entry.
        """
        out = self.stream or sys.stdout
        if logs is not None and self._first is not None:
            print(f"Total Improvement: {logs['log_likelihood'] - self._first:.3f}", file=out)
        print(f"Total Time (s): {self._total_time:.4f}", file=out)


class LapReporter(Callback):
    """Print bnpy's per-lap line: ``3/25 after 0 sec. | 204.1 MiB | K 10 | loss ... | Ndiff ...``.

    Parameters
    ----------
    max_iter : int
        The number of laps the fit may run (the denominator).
    n_features : int, default=1
        D, for bnpy's loss ``-elbo / (N D)`` when the entry has no ``loss``.
    stream : file-like, default=sys.stdout
        Where to print.
    """

    def __init__(self, max_iter: int, n_features: int = 1, stream: Any = None) -> None:
        self.max_iter = max_iter
        self.n_features = n_features
        self.stream = stream

    def on_epoch_end(self, logs: dict[str, Any]) -> None:
        """Print the lap's line.

        Parameters
        ----------
        logs : dict
            The lap's entry (``elapsed``, ``rss_mib``, ``K``, ``loss``, ``Ndiff``).
        """
        loss = logs.get("loss", -logs.get("elbo", math.nan) / (logs["weight"] * self.n_features))
        line = (f"{logs['iteration']}/{self.max_iter} after {logs.get('elapsed', 0.0):.0f} sec. | "
                f"{logs.get('rss_mib', math.nan):.1f} MiB | K {logs.get('K', '?')} | "
                f"loss {loss:.9e} | Ndiff {logs.get('Ndiff', math.nan):.3f}")
        if "lrate" in logs:
            line += f" | lrate {logs['lrate']:.4f}"
        print(line, file=self.stream or sys.stdout)
        out = self.stream or sys.stdout
        lap = float(logs["iteration"])
        if "birth_tried" in logs:  # bnpy's move lines
            tried, ok = logs["birth_tried"], logs["birth_accepted"]
            print(f"BIRTH @ lap {lap:.2f} : Added {logs['birth_added']} states. {ok}/{tried} succeeded. "
                  f"{tried - ok}/{tried} failed eval phase.", file=out)
        if "merge_tried" in logs:
            print(f"MERGE @ lap {lap:.2f} : {logs['merge_accepted']}/{logs['merge_tried']} accepted. "
                  f"Ndiff {logs.get('merge_ndiff', 0.0):.2f}. {logs.get('merge_skipped', 0)} skipped.", file=out)
        if "deleted" in logs:
            print(f"DELETE @ lap {lap:.2f}: {logs['deleted']}/1 accepted. Ndiff {logs.get('delete_ndiff', 0.0):.2f}.",
                  file=out)
