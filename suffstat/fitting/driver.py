"""The generic EM loop over a stream of batches: full-pass, stepwise and memoized EM.

The driver knows the model only through the narrow waist: ``summarize`` (pure, on
one batch), ``_propose`` (compute and validate an update without changing
anything), ``_set_params`` (commit), ``_get_params`` / ``_check_params`` and the
statistics' algebra (``+``, scalar ``*``, ``log_likelihood``, ``w_sum``).
Parameters change only at commit points, so an interrupt or an error in the middle
of a pass leaves the model as the last completed update left it. Everything a pass
depends on (parameters, random state, statistics, step counter) is in
:meth:`EMRun.state`, which snapshots save and ``resume`` restores, so a resumed fit
is bitwise the fit that was interrupted.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from typing import Any, Callable

import numpy as np

from .._validation import check_count, check_fraction, check_random_state, check_scalar
from ..distributions._base import blend
from ..exceptions import ConvergenceWarning, DataError, ParameterError
from ..parallel import blas_single_thread, effective_n_jobs, ordered_map
from ..sources import BatchSource, as_source
from ..statistics import Statistic
from ..steps import PowerDecay, StepRule
from .callbacks import Callback, VerboseReporter

ALGORITHMS = ("em", "stepwise", "memoized")
#: Show a progress bar only for passes with at least this many batches.
PROGRESS_MIN_BATCHES = 8


def summarize_batch(X: np.ndarray, w: np.ndarray | None, model: Any):
    """Work item: the statistics of one batch (module level, so it pickles)."""
    return model.summarize(X, w, accumulate=False)


def weight_source(sample_weight: Any, source: BatchSource) -> BatchSource | None:
    """Wrap sample weights as a source aligned with the data rows."""
    if sample_weight is None:
        return None
    ws = as_source(sample_weight)
    if ws.shape != (source.n_rows,):
        raise DataError(f"sample_weight must have shape ({source.n_rows},) to match X; got {ws.shape}")
    return ws


def resolve_batch_size(batch_size: Any, source: BatchSource) -> int:
    """Validate ``batch_size`` or pick one that bounds memory."""
    if batch_size is None:
        return source.default_batch_size()
    return check_count("batch_size", batch_size, minimum=1)


def apply_update(model: Any, stats: Any, inertia: float) -> None:
    """Compute, validate, then commit one update (``inertia`` blends every parameter)."""
    new = model._propose(stats)
    if new is None:
        return
    if inertia > 0:
        new = model._check_params(blend(model._get_params(), new, inertia))
    model._set_params(new)


def _nonnegative_weights(stats: Statistic) -> bool:
    for name in ("w_sum", "resp_sum", "counts"):
        if name in stats._fields and np.any(np.asarray(getattr(stats, name)) < 0):
            return False
    parts = getattr(stats, "parts", ())
    return all(_nonnegative_weights(p) for p in parts)


def statistics_valid(model: Any, stats: Statistic) -> bool:
    """Whether ``stats`` has non-negative weights and gives a valid update of ``model``."""
    if not _nonnegative_weights(stats):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model._propose(stats)
    except (ParameterError, ValueError, np.linalg.LinAlgError, FloatingPointError):
        return False
    return True


def _progress(total: int, verbose: bool, desc: str):
    if not verbose or total < PROGRESS_MIN_BATCHES:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, delay=1.0)


def _stats_dict(s: Statistic | None) -> Any:
    return None if s is None else s.to_dict()


def _stats_from(d: Any) -> Statistic | None:
    return None if d is None else Statistic.from_dict(d)


class EMRun:
    """One fit: settings, resumable state and the pass loop.

    Parameters are those of :func:`run_em`.
    """

    def __init__(
        self,
        model: Any,
        X: Any,
        sample_weight: Any = None,
        *,
        max_iter: int = 100,
        tol: float | None = 1e-3,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        inertia: float = 0.0,
        verbose: bool = False,
        callbacks: list[Callback] | None = None,
        random_state: Any = None,
        algorithm: str = "em",
        step: StepRule | None = None,
        shuffle: bool = True,
        n_total: float | None = None,
        average: bool = False,
        checkpoint: Callable[[EMRun], None] | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ParameterError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}")
        if step is not None and not isinstance(step, StepRule):
            raise ParameterError(f"step must be a suffstat.steps.StepRule; got {step!r}")
        if step is not None and algorithm != "stepwise":
            raise ParameterError("step is only used with algorithm='stepwise'")
        self.model = model
        self.algorithm = algorithm
        if algorithm == "stepwise" and step is None:
            step = PowerDecay()
        self.step = step  # None outside stepwise EM
        self.average = bool(average)
        self.max_iter = check_count("max_iter", max_iter, minimum=1)
        self.tol = None if tol is None else check_scalar("tol", tol, low=0.0)
        self.inertia = check_fraction("inertia", inertia)
        self.n_jobs = effective_n_jobs(n_jobs)
        self.source = as_source(X)
        self.weights = weight_source(sample_weight, self.source)
        self.batch_size = resolve_batch_size(batch_size, self.source)
        self.ranges = self.source.ranges(self.batch_size)
        if batches_per_epoch is not None:
            batches_per_epoch = check_count("batches_per_epoch", batches_per_epoch, minimum=1)
        self.minibatch = batches_per_epoch is not None or algorithm != "em"
        self.group = batches_per_epoch or (len(self.ranges) if algorithm == "em" else 1)
        self.shuffle = bool(shuffle)
        self.verbose = verbose
        self.rng = check_random_state(random_state)
        self.callbacks = list(callbacks or [])
        if verbose:
            self.callbacks.append(VerboseReporter())
        self.checkpoint = checkpoint
        self.n_total = None if n_total is None else check_scalar("n_total", n_total, low=0.0, low_open=True)
        # resumable state
        self.iteration = 0
        self.history: list[dict[str, Any]] = []
        self.previous: float | None = None
        self.previous_total: float | None = None
        self.converged = False
        self.t = 0
        self.fallbacks = 0
        self.S: Statistic | None = None
        self.velocity: Statistic | None = None
        self.stored: list[Statistic | None] = [None] * len(self.ranges)
        self.avg: Any = None
        self.avg_count = 0

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the next pass depends on, as plain values and arrays."""
        return {
            "algorithm": self.algorithm,
            "n_batches": len(self.ranges),
            "iteration": self.iteration,
            "history": [dict(h) for h in self.history],
            "previous": self.previous,
            "previous_total": self.previous_total,
            "converged": self.converged,
            "rng": self.rng.bit_generator.state,
            "t": self.t,
            "fallbacks": self.fallbacks,
            "S": _stats_dict(self.S),
            "velocity": _stats_dict(self.velocity),
            "stored": [_stats_dict(s) for s in self.stored] if self.algorithm == "memoized" else [],
            "avg": self.avg,
            "avg_count": self.avg_count,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state` saved by an earlier, identical fit."""
        if state["algorithm"] != self.algorithm or state["n_batches"] != len(self.ranges):
            raise ParameterError(
                "the snapshot was made with other settings "
                f"(algorithm={state['algorithm']!r}, {state['n_batches']} batches); resume with "
                "the same algorithm, data and batch_size"
            )
        self.iteration = int(state["iteration"])
        self.history = [dict(h) for h in state["history"]]
        self.previous, self.previous_total = state["previous"], state["previous_total"]
        self.converged = bool(state["converged"])
        self.rng.bit_generator.state = state["rng"]
        self.t, self.fallbacks = int(state["t"]), int(state["fallbacks"])
        self.S, self.velocity = _stats_from(state["S"]), _stats_from(state["velocity"])
        if self.algorithm == "memoized":
            self.stored = [_stats_from(s) for s in state["stored"]]
        self.avg, self.avg_count = state["avg"], int(state["avg_count"])

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run passes until convergence or ``max_iter``; return the fit record."""
        for cb in self.callbacks:
            cb.model = self.model
            cb.on_training_begin()
        logs = self.history[-1] if self.history else None
        # With n_jobs > 1 the M-steps run at one BLAS thread too: a BLAS thread woken
        # by a small factorisation spins for a while after it, and took a core from the
        # next pass's tasks (W1 full: 116 ms per pass instead of 85 ms).
        with blas_single_thread() if self.n_jobs > 1 else contextlib.nullcontext():
            while not self.converged and self.iteration < self.max_iter:
                logs = self._pass(self.iteration + 1)
                for cb in self.callbacks:
                    cb.on_epoch_end(logs)
                finished = self.converged or self.iteration >= self.max_iter
                if finished and self.average and self.avg is not None:
                    # the returned model, and so the last snapshot, holds the average
                    self.model._set_params(self.model._check_params(self.avg))
                if self.checkpoint is not None:
                    self.checkpoint(self)
        for cb in self.callbacks:
            cb.on_training_end(logs)
        if self.tol is not None and not self.converged:
            warnings.warn(
                f"EM did not converge in {self.max_iter} passes (tol={self.tol}): increase "
                "max_iter or tol, or check the initialization",
                ConvergenceWarning,
                stacklevel=4,
            )
        return {"history": self.history, "n_iter": len(self.history), "converged": self.converged}

    def _total_weight(self) -> float:
        if self.n_total is not None:
            return self.n_total
        if self.weights is None:
            return float(self.source.n_rows)
        self.n_total = float(sum(self.weights.read(*r).sum() for r in self.ranges))
        return self.n_total

    def _pass(self, iteration: int) -> dict[str, Any]:
        tic = time.perf_counter()
        order = list(range(len(self.ranges)))
        if self.minibatch and self.shuffle:
            order = [int(i) for i in self.rng.permutation(len(self.ranges))]
        bar = _progress(len(order), self.verbose, f"pass {iteration}")
        pass_ll = pass_w = 0.0
        rho = math.nan
        try:
            for g in range(0, len(order), self.group):
                idx = order[g : g + self.group]
                # Add as results arrive (in submission order): a full pass never holds
                # more than one record per worker. Memoized EM keeps each record anyway.
                results, group_stats = [], None
                for s in ordered_map(
                    summarize_batch, self.source, [self.ranges[i] for i in idx], weights=self.weights,
                    n_jobs=self.n_jobs, args=(self.model,), indices=idx, additive=True,
                ):
                    group_stats = s if group_stats is None else group_stats + s
                    if self.algorithm == "memoized":
                        results.append(s)
                    if bar is not None:
                        bar.update(1)
                pass_ll += float(group_stats.log_likelihood)
                pass_w += float(group_stats.w_sum)
                if self.algorithm == "em":
                    apply_update(self.model, group_stats, self.inertia)
                elif self.algorithm == "stepwise":
                    rho = self._stepwise(group_stats)
                else:
                    objective = self._memoized(idx, results, last=g + self.group >= len(order))
                    if objective is not None:
                        pass_ll = objective
        finally:
            if bar is not None:
                bar.close()
        if not pass_w > 0:
            raise ParameterError("the data has total weight 0: nothing to fit")
        mean_ll = pass_ll / pass_w
        logs = {
            "iteration": iteration,
            "log_likelihood": pass_ll,
            "improvement": math.nan if self.previous_total is None else pass_ll - self.previous_total,
            "time": time.perf_counter() - tic,
            "mean_log_likelihood": mean_ll,
            "weight": pass_w,
        }
        n_active = getattr(self.model, "n_active", None)
        if n_active is not None:
            logs["K"] = n_active
        if self.algorithm == "stepwise":
            logs["lrate"] = rho
            logs["fallbacks"] = self.fallbacks
        self.iteration = iteration
        self.history.append(logs)
        if self.tol is not None and self.previous is not None and mean_ll - self.previous < self.tol:
            self.converged = True
        self.previous, self.previous_total = mean_ll, pass_ll
        return logs

    def _commit(self, stats: Statistic) -> None:
        apply_update(self.model, stats, self.inertia)
        if self.average and self.iteration >= 1:  # average from the second pass on
            self.avg_count += 1
            params = self.model._get_params()
            self.avg = params if self.avg is None else blend(self.avg, params, 1.0 - 1.0 / self.avg_count)

    def _stepwise(self, s_b: Statistic) -> float:
        n_b = float(s_b.w_sum)
        if not n_b > 0:
            return math.nan
        scale = self._total_weight() / n_b
        target = s_b if scale == 1.0 else scale * s_b
        self.t += 1
        rho = 1.0 if self.S is None else float(self.step.rho(self.t))
        if self.S is None or rho == 1.0:
            plain = target
        else:
            plain = (1.0 - rho) * self.S + rho * target
        gamma = self.step.momentum
        if gamma > 0 and self.S is not None:
            g = target - self.S
            v = rho * g if self.velocity is None else gamma * self.velocity + rho * g
            candidate = self.S + (gamma * v + rho * g if self.step.nesterov else v)
            if statistics_valid(self.model, candidate):
                self.S, self.velocity = candidate, v
            else:
                self.S, self.velocity = plain, rho * g
                self.fallbacks += 1
        else:
            self.S = plain
        self._commit(self.S)
        return rho

    def _memoized(self, idx: list[int], results: list[Statistic], last: bool) -> float | None:
        """Swap the batches' records into S, then update; return the pass objective.

        At the end of a pass, S is re-aggregated from the stored records in batch
        order (exact, no drift from subtractions) and the free energy of the stored
        responsibilities and the current parameters is measured *before* the last
        update: batch E-steps and M-steps never decrease it, so the pass values are
        monotone, and with one batch it is the log-likelihood full EM reports.
        """
        for b, s in zip(idx, results, strict=True):
            old = self.stored[b]
            if self.S is None:
                self.S = s
            elif old is None:
                self.S = self.S + s
            elif self.S.subtractable:
                self.S = self.S - old + s
            else:  # min / max fields cannot forget old: add the kept records up again
                kept = [r for r in self.stored[:b] + [s] + self.stored[b + 1 :] if r is not None]
                self.S = sum(kept[1:], kept[0])
            self.stored[b] = s
        objective = None
        if last:
            kept = [s for s in self.stored if s is not None]
            self.S = sum(kept[1:], kept[0])
            try:
                objective = float(self.model._free_energy(self.S))
            except (NotImplementedError, AttributeError):
                objective = None  # components without a closed form: the pass total
        self._commit(self.S)
        return objective


def run_em(model: Any, X: Any, sample_weight: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Fit ``model`` by EM over the batches of ``X``; return the fit record.

    Parameters
    ----------
    model : Distribution
        A model whose statistics carry ``log_likelihood`` (a mixture).
    X : array-like, numpy.memmap, str or BatchSource
        The data.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights.
    **kwargs
        Settings of :class:`EMRun` (``max_iter``, ``tol``, ``batch_size``,
        ``batches_per_epoch``, ``n_jobs``, ``inertia``, ``verbose``, ``callbacks``,
        ``random_state``, ``algorithm``, ``step``, ``shuffle``, ``n_total``, ``average``).

    Returns
    -------
    dict
        ``history``, ``n_iter`` and ``converged``.
    """
    return EMRun(model, X, sample_weight, **kwargs).run()
