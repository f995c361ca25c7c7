"""When a fit has converged: one rule for batch EM, a windowed one for stochastic modes."""

from __future__ import annotations

import math
from typing import Any

from ..exceptions import ConvergenceWarning, warn_at_caller

#: Passes whose changes must all be within ``tol`` before a stochastic fit is converged.
WINDOW = 3
#: A batch-EM decrease smaller than this (relative to the objective) is rounding, not a drop.
ROUNDING = 1e-12


class ConvergenceMonitor:
    """Judge convergence from the mean objective per unit weight of each pass.

    Parameters
    ----------
    tol : float or None
        Tolerance on the change of the mean objective per row between passes; None
        never converges (exactly ``max_iter`` passes).
    batch : bool
        True for batch EM (one update per full pass, no inertia), whose objective
        never decreases: converged means ``|change| <= tol`` between two passes, as
        in scikit-learn, and a decrease is never convergence: it is reported once as
        a :class:`~suffstat.ConvergenceWarning` naming the pass and the size of the
        drop. False for minibatch, stepwise and memoized modes, whose passes are
        noisy: converged means the last :data:`WINDOW` changes are all within
        ``tol`` *and* the pass is within ``tol`` of the best pass seen, so a single
        quiet pass, or a fit that settled below where it has been, never converges.
    objective_name : str, default='log_likelihood'
        Name of the objective in messages.

    Attributes
    ----------
    history : list of float
        The mean objective of every pass reported so far.
    converged : bool
        Whether the criterion has been met.
    """

    def __init__(self, tol: float | None, batch: bool, objective_name: str = "log_likelihood") -> None:
        self.tol = tol
        self.batch = batch
        self.objective_name = objective_name
        self.history: list[float] = []
        self.converged = False
        self._warned = False

    def report(self, value: float, iteration: int) -> bool:
        """Record the mean objective of pass ``iteration``; return whether converged.

        Parameters
        ----------
        value : float
            Mean objective per unit weight of the pass.
        iteration : int
            The pass number (for messages).

        Returns
        -------
        bool
            :attr:`converged`.
        """
        self.history.append(value)
        if self.tol is None or len(self.history) < 2:
            return self.converged
        previous = self.history[-2]
        change = value - previous
        if self.batch:
            if -change > ROUNDING * max(1.0, abs(previous)):
                if not self._warned:
                    self._warned = True
                    warn_at_caller(
                        f"the mean {self.objective_name} decreased at pass {iteration} by "
                        f"{-change:.6g} (from {previous:.10g} to {value:.10g}); batch EM never "
                        "decreases it, so this is numerical trouble (a near-singular "
                        "covariance: raise reg_covar) or a component update that is not "
                        "a maximization",
                        ConvergenceWarning,
                    )
            elif abs(change) <= self.tol:
                self.converged = True
            return self.converged
        recent = self.history[-WINDOW - 1 :]
        changes = [b - a for a, b in zip(recent, recent[1:])]
        best = max(self.history)
        if len(changes) == WINDOW and all(abs(c) <= self.tol for c in changes) and value >= best - self.tol:
            self.converged = True
        return self.converged

    def state(self) -> dict[str, Any]:
        """The monitor's state, as plain values (saved in snapshots)."""
        return {"history": list(self.history), "converged": self.converged, "warned": self._warned}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state`."""
        self.history = [float(v) for v in state["history"]]
        self.converged = bool(state["converged"])
        self._warned = bool(state["warned"])

    def best(self) -> float:
        """The best mean objective seen (nan before the first pass)."""
        return max(self.history) if self.history else math.nan
