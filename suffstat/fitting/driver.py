"""The fitting engine's pass loop over a stream of batches: full-pass, minibatch,
stepwise and memoized algorithms, for any learner.

The engine knows a model only through the learner protocol
(:mod:`suffstat.fitting.learner`) and the records' algebra (``+``, scalar ``*``,
``-``, ``weight``): it imports no model class and reads no model field.
Parameters change only at commit points, so an interrupt or an error in the middle
of a pass leaves the model as the last completed update left it. Everything a pass
depends on (parameters, random state, statistics, step counter) is in
:meth:`EMRun.state`, which snapshots save and ``resume`` restores, so a resumed fit
is bitwise the fit that was interrupted.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from typing import Any, Callable

import numpy as np

from .._nested import blend
from .._validation import check_count, check_fraction, check_random_state, check_scalar
from ..exceptions import ConvergenceWarning, DataError, ParameterError, warn_at_caller
from ..parallel import blas_single_thread, effective_n_jobs, ordered_map
from ..sources import BatchSource, as_source
from ..statistics import Statistic
from ..steps import Constant, PowerDecay, StepRule
from .callbacks import Callback, VerboseReporter
from .convergence import ConvergenceMonitor

ALGORITHMS = ("em", "stepwise", "memoized", "sem-vr", "fiem")
#: The algorithms that take a step rule.
STEPPED = ("stepwise", "sem-vr", "fiem")
#: A pass's records are scored in sums of this many (small records add faster at once).
LAP_CHUNK = 64
#: Show a progress bar only for passes with at least this many batches.
PROGRESS_MIN_BATCHES = 8


def summarize_batch(X: np.ndarray, w: np.ndarray | None, learner: Any, lengths: Any = None):
    """Work item: the local step on one batch (module level, so it pickles).

    ``lengths`` (a sequence source's batches only) are the lengths of the whole
    sequences that make up the batch; the learner then receives every argument but
    the batch by keyword (``lengths=``, ``sample_weight=``, ``accumulate=``).
    """
    if lengths is not None:
        return learner.summarize(X, lengths=lengths, sample_weight=w, accumulate=False)
    return learner.summarize(X, w, accumulate=False)


def summarize_source(learner: Any, source: BatchSource, ranges: list[tuple[int, int]], *,
                     weights: BatchSource | None = None, n_jobs: int = 1) -> Statistic | None:
    """Return the sum of ``learner``'s records of the batches ``ranges``, on ``n_jobs`` threads.

    The records add up in the order of ``ranges`` (each batch in cache-sized pieces), so
    the sum has the same bits for any ``n_jobs``.

    Parameters
    ----------
    learner : object
        Anything with ``summarize(X, w, accumulate=False)`` (a distribution, a learner).
    source : BatchSource
        The rows.
    ranges : list of (int, int)
        Row ranges, one per batch.
    weights : BatchSource, optional
        Sample weights over the same rows.
    n_jobs : int, default=1
        Threads (or -1, all cores).

    Returns
    -------
    Statistic or None
        The sum; None when there are no ranges.
    """
    total = None
    for s in ordered_map(summarize_batch, source, ranges, weights=weights, n_jobs=effective_n_jobs(n_jobs),
                         args=(learner,), additive=True):
        total = s if total is None else total + s
    return total


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


def apply_update(learner: Any, stats: Any, inertia: float | None) -> None:
    """Global step: propose (compute and validate), then commit."""
    proposal = learner.propose(stats, inertia=inertia)
    if proposal is not None:
        learner.commit(proposal)


def statistics_valid(learner: Any, stats: Statistic) -> bool:
    """Whether ``stats`` gives a valid update of ``learner``: a record some sample could
    have produced (a prior added by a variational global step can hide one that none
    could, and the next plain step from it fails) whose proposal validates."""
    if not stats.realizable():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            learner.propose(stats)
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
    """One fit of a learner: settings, resumable state and the pass loop.

    Parameters are those of :func:`run_em`; ``learner`` is any object with the
    methods of :class:`~suffstat.fitting.learner.Learner`. ``lengths`` (or a
    source made by :meth:`~suffstat.sources.BatchSource.with_lengths`) groups the
    rows into sequences: every batch is then ``batch_size`` whole sequences, and
    the learner's ``summarize`` receives their lengths as ``lengths=``.
    """

    def __init__(
        self,
        learner: Any,
        X: Any,
        sample_weight: Any = None,
        *,
        max_iter: int = 100,
        tol: float | None = 1e-3,
        batch_size: int | None = None,
        batches_per_epoch: int | None = None,
        n_jobs: int = 1,
        inertia: float | None = None,
        verbose: bool = False,
        callbacks: list[Callback] | None = None,
        random_state: Any = None,
        algorithm: str = "em",
        step: StepRule | None = None,
        shuffle: bool = True,
        n_total: float | None = None,
        average: bool = False,
        average_start: int | float | None = None,
        checkpoint: Callable[[EMRun], None] | None = None,
        converge_on: tuple[str, float] | None = None,
        lengths: Any = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ParameterError(f"algorithm must be one of {ALGORITHMS}; got {algorithm!r}")
        if step is not None and not isinstance(step, StepRule):
            raise ParameterError(f"step must be a suffstat.steps.StepRule; got {step!r}")
        if step is not None and algorithm not in STEPPED:
            raise ParameterError(f"step is only used with algorithm in {STEPPED}")
        if step is not None and algorithm in ("sem-vr", "fiem") and (
                step.momentum or getattr(step, "adaptive", False)):
            raise ParameterError(f"algorithm={algorithm!r} takes a plain step rule (Constant, "
                                 f"PowerDecay, EMA); got {step!r}")
        self.learner = learner
        self.algorithm = algorithm
        if algorithm == "stepwise" and step is None:
            step = PowerDecay()
        elif algorithm in ("sem-vr", "fiem") and step is None:
            step = Constant()
        self.step = step  # None outside the stepped algorithms
        self.average = bool(average)
        self.max_iter = check_count("max_iter", max_iter, minimum=1)
        self.average_start = self._first_averaged_lap(average_start)
        self.tol = None if tol is None else check_scalar("tol", tol, low=0.0)
        self.converge_on = _check_converge_on(converge_on)
        self.inertia = None if inertia is None else check_fraction("inertia", inertia)
        self.n_jobs = effective_n_jobs(n_jobs)
        self.source = as_source(X)
        if lengths is not None:  # batches of whole sequences; batch_size counts sequences
            self.source = self.source.with_lengths(lengths)
        self.weights = weight_source(sample_weight, self.source)
        self.batch_size = resolve_batch_size(batch_size, self.source)
        self.ranges = self.source.ranges(self.batch_size)
        if batches_per_epoch is not None:
            batches_per_epoch = check_count("batches_per_epoch", batches_per_epoch, minimum=1)
        self.group = batches_per_epoch or (len(self.ranges) if algorithm == "em" else 1)
        # minibatch: more than one update per pass (the batch order then matters)
        self.minibatch = algorithm != "em" or self.group < len(self.ranges)
        self.shuffle = bool(shuffle)
        self.verbose = verbose
        self.rng = check_random_state(random_state)
        self.callbacks = list(callbacks or [])
        if verbose:
            self.callbacks.append(VerboseReporter())
        self.checkpoint = checkpoint
        self.n_total = None if n_total is None else check_scalar("n_total", n_total, low=0.0, low_open=True)
        self.monitor = ConvergenceMonitor(self.tol, batch=not self.minibatch,
                                          objective_name=learner.objective_name)
        # resumable state
        self.iteration = 0
        self.elapsed = 0.0  # seconds of the passes so far
        self._first_lap_whole: bool | None = None
        self.history: list[dict[str, Any]] = []
        self.previous_total: float | None = None
        self.t = 0
        self.fallbacks = 0
        self.S: Statistic | None = None
        self.velocity: Statistic | None = None
        self.step_state: dict[str, Any] | None = None
        self.stored: list[Statistic | None] = [None] * len(self.ranges)
        self.avg: Any = None
        self.avg_count = 0

    @property
    def model(self) -> Any:
        """The learner being fitted (the name snapshots use)."""
        return self.learner

    @property
    def converged(self) -> bool:
        """Whether the convergence criterion has been met."""
        return self.monitor.converged

    def _first_averaged_lap(self, average_start: Any) -> int:
        """The first lap whose updates enter the Polyak average (2 by default)."""
        if average_start is None:
            return 2
        if not self.average:
            raise ParameterError("average_start is only used with average=True")
        if isinstance(average_start, bool) or not isinstance(average_start, (int, float, np.integer,
                                                                             np.floating)):
            raise ParameterError(f"average_start must be a lap number (int >= 1) or a fraction of "
                                 f"max_iter in (0, 1); got {average_start!r}")
        if isinstance(average_start, (int, np.integer)):
            return check_count("average_start", average_start, minimum=1)
        frac = check_scalar("average_start", average_start, low=0.0, high=1.0, high_open=True)
        return int(math.floor(frac * self.max_iter)) + 1

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything the next pass depends on, as plain values and arrays."""
        return {
            "algorithm": self.algorithm,
            "n_batches": len(self.ranges),
            "iteration": self.iteration,
            "history": [dict(h) for h in self.history],
            "previous_total": self.previous_total,
            "monitor": self.monitor.state(),
            "rng": self.rng.bit_generator.state,
            "t": self.t,
            "fallbacks": self.fallbacks,
            "S": _stats_dict(self.S),
            "velocity": _stats_dict(self.velocity),
            "step_state": None if self.step_state is None else {
                k: _stats_dict(v) if isinstance(v, Statistic) else v for k, v in self.step_state.items()},
            "stored": [_stats_dict(s) for s in self.stored] if self.algorithm in ("memoized", "fiem") else [],
            "avg": self.avg,
            "avg_count": self.avg_count,
            "elapsed": self.elapsed,
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
        self.previous_total = state["previous_total"]
        if "monitor" in state:
            self.monitor.restore(state["monitor"])
        else:  # a snapshot written before the monitor existed
            for h in self.history:
                self.monitor.report(h["mean_log_likelihood"], h["iteration"])
        self.rng.bit_generator.state = state["rng"]
        self.t, self.fallbacks = int(state["t"]), int(state["fallbacks"])
        self.S, self.velocity = _stats_from(state["S"]), _stats_from(state["velocity"])
        steps = state.get("step_state")
        self.step_state = None if steps is None else {
            k: _stats_from(v) if isinstance(v, dict) else v for k, v in steps.items()}
        if self.algorithm in ("memoized", "fiem"):
            self.stored = [_stats_from(s) for s in state["stored"]]
        self.avg, self.avg_count = state["avg"], int(state["avg_count"])
        self.elapsed = float(state.get("elapsed", 0.0))

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run passes until convergence or ``max_iter``; return the fit record.

        The record (``history``, ``n_iter``, ``converged``) is also kept on the run
        as passes complete, so an interrupted fit still reports its finished passes.
        """
        for cb in self.callbacks:
            cb.model = self.learner
            cb.on_training_begin()
        logs = self.history[-1] if self.history else None
        try:
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
                        self.learner.commit(self.learner.validate(self.avg))
                    if self.checkpoint is not None:
                        self.checkpoint(self)
        finally:
            for cb in self.callbacks:
                cb.on_training_end(logs)
        if (self.tol is not None or self.converge_on is not None) and not self.converged:
            best = self.monitor.best()
            below = "" if not self.minibatch or not self.history or \
                self.history[-1]["mean_log_likelihood"] >= best - (self.tol or 0.0) else (
                f"; the last pass is below the best one ({best:.6g}): shuffle the batches, "
                "use a step rule or inertia, or algorithm='memoized'")
            what = "VB" if self.learner.objective_name == "elbo" else "EM"
            rule = f"tol={self.tol}" if self.tol is not None else \
                f"{self.converge_on[0]} <= {self.converge_on[1]}"
            warn_at_caller(
                f"{what} did not converge in {self.max_iter} passes ({rule}): increase "
                f"max_iter or tol, or check the initialization{below}",
                ConvergenceWarning,
            )
        return self.record()

    def record(self) -> dict[str, Any]:
        """The completed passes: ``history``, ``n_iter`` and ``converged``."""
        return {"history": self.history, "n_iter": len(self.history), "converged": self.converged}

    def _total_weight(self) -> float:
        if self.n_total is not None:
            return self.n_total
        if self.weights is None:
            return float(self.source.n_rows)
        self.n_total = float(sum(self.weights.read(*r).sum() for r in self.ranges))
        return self.n_total

    def _summaries(self, idx: list[int], learner: Any) -> list[Statistic]:
        """The records of batches ``idx`` under ``learner``, in the order of ``idx``."""
        return list(ordered_map(
            summarize_batch, self.source, [self.ranges[i] for i in idx], weights=self.weights,
            n_jobs=self.n_jobs, args=(learner,), indices=idx, additive=True, with_lengths=True,
        ))

    def _read_batch(self, b: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows and weights (None: unit) of batch ``b``, for a learner's moves."""
        start, stop = self.ranges[b]
        return self.source.read(start, stop), None if self.weights is None else self.weights.read(start, stop)

    def _guarded(self, candidate: Statistic, plain: Statistic) -> Statistic:
        """``candidate`` when it gives a valid update, else ``plain`` (a counted fallback)."""
        if statistics_valid(self.learner, candidate):
            return candidate
        self.fallbacks += 1
        return plain

    def _sem_vr_pass(self) -> tuple[float, float, float]:
        """One epoch of variance-reduced stochastic EM (Chen, Zhu, Teh and Zhang, 2018).

        The snapshot is a copy of the learner at the epoch's start; one full pass
        gives its statistics F (and the epoch's objective, exact at the snapshot).
        Then, for each group of batches in shuffled order,
        ``S <- S + rho ((N / n_b)(s_b(theta) - s_b(snapshot)) + F - S)``.
        """
        snapshot = self.learner.copy()
        full = self._summaries(list(range(len(self.ranges))), snapshot)
        F = sum(full[1:], full[0])
        if not F.subtractable:
            raise F._not_subtractable("used by algorithm='sem-vr'")
        objective, weight = float(self.learner.objective(F)), float(F.weight)
        del full
        if self.S is None:
            self.S = F
        order = [int(i) for i in self.rng.permutation(len(self.ranges))] if self.shuffle else \
            list(range(len(self.ranges)))
        rho = math.nan
        for g in range(0, len(order), self.group):
            idx = order[g : g + self.group]
            now, then = self._summaries(idx, self.learner), self._summaries(idx, snapshot)
            s_now, s_then = sum(now[1:], now[0]), sum(then[1:], then[0])
            n_b = float(s_now.weight)
            if not n_b > 0:
                continue
            scale = self._total_weight() / n_b
            self.t += 1
            rho = float(self.step.rho(self.t))
            candidate = (1.0 - rho) * self.S + rho * F + (rho * scale) * s_now - (rho * scale) * s_then
            plain = (1.0 - rho) * self.S + (rho * scale) * s_now
            self.S = self._guarded(candidate, plain)
            self._commit(self.S)
        return objective, weight, rho

    def _fiem_pass(self) -> tuple[float, float, float]:
        """One lap of fast incremental EM at batch granularity (Karimi et al., 2019).

        The first lap fills the memory (one record per batch, as memoized EM) and
        makes an EM step. Each later lap makes one step per batch: two batch indices
        ``i`` and ``j`` drawn uniformly; batch ``i``'s record in the memory is
        renewed under the current parameters, and
        ``S <- (1 - rho) S + rho (M + (N / n_j)(s_j(theta) - m_j))`` with ``M`` the
        memory's total and ``m_j`` batch ``j``'s record in it. The memory's total is
        added up again in batch order at the end of each lap.
        """
        B = len(self.ranges)
        rho = math.nan
        if any(s is None for s in self.stored):
            self.stored = self._summaries(list(range(B)), self.learner)
            M = sum(self.stored[1:], self.stored[0])
            if not M.subtractable:
                raise M._not_subtractable("used by algorithm='fiem'")
            objective, weight = float(self.learner.objective(M)), float(M.weight)
            self.S = M
            self._commit(self.S)
            return objective, weight, 1.0
        M = sum(self.stored[1:], self.stored[0])
        for _ in range(B):
            i, j = (int(v) for v in self.rng.integers(0, B, size=2))
            fresh = self._summaries([i] if i == j else [i, j], self.learner)
            M = M - self.stored[i] + fresh[0]
            self.stored[i] = fresh[0]
            self.t += 1
            rho = float(self.step.rho(self.t))
            plain = (1.0 - rho) * self.S + rho * M
            if i == j:  # the correction is zero: the memoized step
                self.S = plain
            else:
                s_j = fresh[1]
                scale = self._total_weight() / float(s_j.weight) if s_j.weight > 0 else 0.0
                candidate = plain + (rho * scale) * s_j - (rho * scale) * self.stored[j]
                self.S = self._guarded(candidate, plain)
            self._commit(self.S)
        M = sum(self.stored[1:], self.stored[0])
        return float(self.learner.objective(M)), float(M.weight), rho

    def _pass(self, iteration: int) -> dict[str, Any]:
        tic = time.perf_counter()
        if self.algorithm in ("sem-vr", "fiem"):
            step = self._sem_vr_pass if self.algorithm == "sem-vr" else self._fiem_pass
            pass_objective, pass_w, rho = step()
            return self._log_pass(iteration, tic, pass_objective, pass_w, rho)
        order = list(range(len(self.ranges)))
        if self.minibatch and self.shuffle:
            order = [int(i) for i in self.rng.permutation(len(self.ranges))]
        bar = _progress(len(order), self.verbose, f"pass {iteration}")
        pass_objective = pass_w = 0.0
        pass_stats = None  # the pass's local steps, scored once after its updates
        unscored: list[Statistic] = []  # its latest records, added to pass_stats LAP_CHUNK at a time
        memo_objective = None
        rho = math.nan
        try:
            for g in range(0, len(order), self.group):
                idx = order[g : g + self.group]
                # Add as results arrive (in submission order): a full pass never holds
                # more than one record per worker. Memoized EM keeps each record anyway.
                results, group_stats = [], None
                for s in ordered_map(
                    summarize_batch, self.source, [self.ranges[i] for i in idx], weights=self.weights,
                    n_jobs=self.n_jobs, args=(self.learner,), indices=idx, additive=True, with_lengths=True,
                ):
                    group_stats = s if group_stats is None else group_stats + s
                    if self.algorithm == "memoized":
                        results.append(s)
                    if bar is not None:
                        bar.update(1)
                pass_w += float(group_stats.weight)
                if self.algorithm != "memoized":  # memoized keeps S, the sum of its records
                    unscored.append(group_stats)
                    if len(unscored) >= LAP_CHUNK:
                        pass_stats = _added(pass_stats, unscored)
                if self.algorithm == "em":
                    apply_update(self.learner, group_stats, self.inertia)
                elif self.algorithm == "stepwise":
                    rho = self._stepwise(group_stats)
                else:
                    objective = self._memoized(idx, results, last=g + self.group >= len(order))
                    if objective is not None:
                        memo_objective = objective
        finally:
            if bar is not None:
                bar.close()
        # The objective of the pass's local steps, once: an EM learner's log-likelihood
        # is the sum of its batches'; a variational learner's ELBO is not additive over
        # batches (its KL terms count once), so it is scored on the pass's whole record
        # under the parameters the pass ends with (for batch VB: bnpy's ELBO after the
        # global step).
        if unscored:
            pass_stats = _added(pass_stats, unscored)
        if memo_objective is not None:
            pass_objective = memo_objective
        elif self.algorithm == "memoized":  # no bound of stale records: the lap's fresh records
            pass_objective = float(self.learner.objective(self.S))
        elif pass_stats is not None:
            pass_objective = float(self.learner.objective(pass_stats))
        return self._log_pass(iteration, tic, pass_objective, pass_w, rho)

    def _log_pass(self, iteration: int, tic: float, pass_objective: float, pass_w: float,
                  rho: float) -> dict[str, Any]:
        if not pass_w > 0:
            raise ParameterError("the data has total weight 0: nothing to fit")
        mean = pass_objective / pass_w
        elapsed = time.perf_counter() - tic
        self.elapsed += elapsed
        logs = {
            "iteration": iteration,
            "log_likelihood": pass_objective,
            "improvement": math.nan if self.previous_total is None else pass_objective - self.previous_total,
            "time": elapsed,
            "elapsed": self.elapsed,
            "rss_mib": resident_mib(),
            "mean_log_likelihood": mean,
            "weight": pass_w,
        }
        if self.learner.objective_name != "log_likelihood":
            logs[self.learner.objective_name] = pass_objective
        logs.update(self.learner.trace_values())
        if self.algorithm in STEPPED:
            logs["lrate"] = rho
            logs["fallbacks"] = self.fallbacks
        self.iteration = iteration
        self.history.append(logs)
        self.monitor.report(mean, iteration)
        if self.converge_on is not None and iteration > 1:
            column, threshold = self.converge_on
            if float(logs.get(column, math.nan)) <= threshold:  # nan never converges
                self.monitor.converged = True
        if logs.get("moves_pending"):  # a learner still moving its structure has not converged
            self.monitor.converged = False
        self.previous_total = pass_objective
        return logs

    def _commit(self, stats: Statistic) -> None:
        apply_update(self.learner, stats, self.inertia)
        if self.average and self.iteration + 1 >= self.average_start:  # lap average_start on
            self.avg_count += 1
            params = self.learner.get_parameters()
            self.avg = params if self.avg is None else blend(self.avg, params, 1.0 - 1.0 / self.avg_count)

    def _stepwise(self, s_b: Statistic) -> float:
        n_b = float(s_b.weight)
        if not n_b > 0:
            return math.nan
        scale = self._total_weight() / n_b
        if self.S is None:  # a posterior's own record (VB); EM's first step takes the batch's
            self.S = self.learner.implied_statistics()
        self.t += 1
        rho = 1.0 if self.S is None else float(self.step.rho(self.t))
        gamma = self.step.momentum
        adaptive = getattr(self.step, "adaptive", False) and self.S is not None
        if self.S is None or rho == 1.0:
            plain = target = s_b if scale == 1.0 else scale * s_b
        else:
            plain = self.learner.step_toward(self.S, s_b, rho, scale)  # (1 - rho) S + rho (scale s_b)
            # the scaled record itself only for the rules that step from it
            target = s_b if scale == 1.0 or not (adaptive or gamma > 0) else scale * s_b
        if adaptive:
            if not self.S.subtractable:
                raise self.S._not_subtractable(f"stepped by {type(self.step).__name__}")
            if self.step_state is None:
                self.step_state = self.step.start(self.S)
            candidate, self.step_state, rho = self.step.update(self.S, target, self.step_state,
                                                               self._total_weight())
            if statistics_valid(self.learner, candidate):
                self.S = candidate
            else:
                self.S = plain
                self.fallbacks += 1
        elif gamma > 0 and self.S is not None:
            g = target - self.S
            v = rho * g if self.velocity is None else gamma * self.velocity + rho * g
            candidate = self.S + (gamma * v + rho * g if self.step.nesterov else v)
            if statistics_valid(self.learner, candidate):
                self.S, self.velocity = candidate, v
            else:
                self.S, self.velocity = plain, rho * g
                self.fallbacks += 1
        else:
            self.S = plain
        self._commit(self.S)
        return rho

    def _whole_first_lap(self) -> bool:
        """Whether the learner's first memoized update waits for every batch's record."""
        if self._first_lap_whole is None:
            self._first_lap_whole = self.learner.implied_statistics() is not None
        return self._first_lap_whole

    def _memoized(self, idx: list[int], results: list[Statistic], last: bool) -> float | None:
        """Swap the batches' records into S, then update; return the pass objective.

        At the end of a pass, S is re-aggregated from the stored records in batch
        order (exact, no drift from subtractions), the learner may move its
        structure (remapping S and the stored records), and the objective of the
        stored local variables under the current parameters is measured *before*
        the last update: batch local and global steps never decrease it, so the
        pass values are monotone, and with one batch it is what full EM reports.

        A learner whose parameters carry a record (``implied_statistics``: a
        variational posterior) makes no update in the first lap before every batch
        has its record: its global step on the records seen so far would refit the
        whole model to part of the data (a warm start collapsed onto the first
        batch's clusters), so each of its global steps sees the exact whole-data
        record. EM learners keep Neal and Hinton's incremental first lap.
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
            moved = self.learner.end_of_pass(self.S, self.stored, read_batch=self._read_batch)
            if moved is not None:
                self.S, self.stored = moved[0], list(moved[1])
            objective = self.learner.objective(self.S, fresh=False)
        elif any(r is None for r in self.stored) and self._whole_first_lap():
            return None
        self._commit(self.S)
        return None if objective is None else float(objective)


#: The process's open ``/proc/<pid>/statm`` (pid, descriptor): reopening it at every lap
#: cost tens of microseconds, a tenth of a small lap. A forked child opens its own.
_statm: tuple[int, int] | None = None


def _added(total: Statistic | None, records: list[Statistic]) -> Statistic:
    """``total`` plus the sum of ``records`` (added at once by their type), emptying ``records``."""
    s = type(records[0]).sum_of(records, total)
    records.clear()
    return s


def resident_mib() -> float:
    """This process's resident memory in MiB (nan where /proc is not available)."""
    global _statm
    try:
        pid = os.getpid()
        if _statm is None or _statm[0] != pid:
            _statm = (pid, os.open(f"/proc/{pid}/statm", os.O_RDONLY))
        pages = int(os.pread(_statm[1], 256, 0).split()[1])
    except (OSError, AttributeError, ValueError, IndexError):  # no /proc (or no pread)
        return math.nan
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _check_converge_on(value: Any) -> tuple[str, float] | None:
    """Validate ``converge_on``: a trace column and the value it must fall to."""
    if value is None:
        return None
    try:
        column, threshold = value
    except (TypeError, ValueError):
        raise ParameterError(f"converge_on must be a (trace column, threshold) pair; got {value!r}") from None
    if not isinstance(column, str):
        raise ParameterError(f"converge_on's column must be a trace column name; got {column!r}")
    return column, check_scalar("converge_on threshold", threshold, low=0.0)


def run_em(learner: Any, X: Any, sample_weight: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Fit ``model`` by EM over the batches of ``X``; return the fit record.

    Parameters
    ----------
    learner : Learner
        Any model with the methods of :class:`~suffstat.fitting.learner.Learner`.
    X : array-like, numpy.memmap, str or BatchSource
        The data.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights.
    **kwargs
        Settings of :class:`EMRun` (``max_iter``, ``tol``, ``batch_size``,
        ``batches_per_epoch``, ``n_jobs``, ``inertia``, ``verbose``, ``callbacks``,
        ``random_state``, ``algorithm``, ``step``, ``shuffle``, ``n_total``, ``average``,
        ``lengths``).

    Returns
    -------
    dict
        ``history``, ``n_iter`` and ``converged``.
    """
    return EMRun(learner, X, sample_weight, **kwargs).run()
