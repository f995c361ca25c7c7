"""Exceptions and warnings raised by suffstat.

Every error subclasses a builtin so that ``except ValueError`` keeps working.
"""

from __future__ import annotations

import sys
import warnings

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "EmptyComponentWarning",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
]


class DataError(ValueError):
    """Raised when input data is invalid.

    Parameters
    ----------
    problem : str
        What is wrong, e.g. ``"X contains NaN"``.
    row : int, optional
        Index of the first offending row, when one row is to blame.
    batch : int, optional
        Index of the batch of a stream the row belongs to.
    hint : str, optional
        How to fix the problem.

    Attributes
    ----------
    problem : str
        What is wrong, without the location.
    row : int or None
        The offending row (a global index when raised by the streaming driver).
    batch : int or None
        The offending batch, when known.
    hint : str or None
        How to fix the problem.
    """

    def __init__(
        self,
        problem: str,
        *,
        row: int | None = None,
        batch: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.row = None if row is None else int(row)
        self.batch = None if batch is None else int(batch)
        self.hint = hint
        message = problem
        if self.row is not None:
            message += f" at row {self.row}"
        if self.batch is not None:
            message += f" (batch {self.batch})"
        if hint:
            message += f". {hint}"
        super().__init__(message)

    def __reduce__(self):  # keep row and batch across processes (Dask workers)
        return (_rebuild_data_error, (type(self), self.problem, self.row, self.batch, self.hint))

    def shifted(self, offset: int, batch: int | None = None) -> DataError:
        """Return the same error with the row moved by ``offset`` (a batch's first row).

        Parameters
        ----------
        offset : int
            Global index of the batch's first row.
        batch : int, optional
            Index of the batch.

        Returns
        -------
        DataError
            A new error naming the global row.
        """
        row = None if self.row is None else self.row + offset
        return type(self)(self.problem, row=row, batch=batch, hint=self.hint)


def _rebuild_data_error(cls, problem, row, batch, hint):
    return cls(problem, row=row, batch=batch, hint=hint)


class ParameterError(ValueError):
    """Raised when a parameter value, given or estimated, is invalid."""


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is used before its parameters are known."""


class ModelFileError(ValueError):
    """Raised when a saved model file is missing, truncated, corrupt or foreign."""


class ConvergenceWarning(UserWarning):
    """Warned when a fit stops before it has converged."""


class EmptyComponentWarning(UserWarning):
    """Warned (once per fit) when a mixture component receives no responsibility."""


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """Warn ``message``, attributed to the first caller outside suffstat.

    A fixed ``stacklevel`` points into the library whenever the call chain differs
    (``fit`` -> ``from_summaries`` -> ..., or a mixture's M-step): this walks up to the
    user's line, so the warning names it and its ``filterwarnings`` rules apply.
    """
    frame = sys._getframe(1)
    level = 2  # stacklevel of warn_at_caller's caller
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "suffstat":
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
