"""The generic EM loop over a stream of batches.

The driver knows the model only through the narrow waist: ``summarize`` (pure, on
one batch), ``_propose`` (compute and validate an update without changing
anything), ``_set_params`` (commit) and the statistics' ``log_likelihood`` and
``w_sum``. Parameters change only at commit points, so an interrupt or an error
in the middle of a pass leaves the model as the last completed update left it.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from .._validation import check_count, check_fraction, check_random_state, check_scalar
from ..distributions._base import blend
from ..exceptions import ConvergenceWarning, DataError, ParameterError
from ..parallel import effective_n_jobs, ordered_map
from ..sources import BatchSource, as_source
from .callbacks import Callback, VerboseReporter

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


def _progress(total: int, verbose: bool, desc: str):
    if not verbose or total < PROGRESS_MIN_BATCHES:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, delay=1.0)


def run_em(
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
) -> dict[str, Any]:
    """Fit ``model`` by EM over the batches of ``X``; return the fit record.

    Parameters
    ----------
    model : Distribution
        A model whose statistics carry ``log_likelihood`` (a mixture).
    X : array-like, numpy.memmap, str or BatchSource
        The data.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights.
    max_iter : int, default=100
        Full passes over the data.
    tol : float or None, default=1e-3
        Stop when the mean log-likelihood per unit weight improves by less than this
        from one pass to the next; None runs exactly ``max_iter`` passes.
    batch_size : int, optional
        Rows per batch (default: all rows of an in-memory array, ~8 MiB for files).
    batches_per_epoch : int, optional
        Update after every this many batches (minibatch EM); None updates once per pass.
    n_jobs : int, default=1
        Batches summarized concurrently (-1: all cores).
    inertia : float, default=0.0
        Weight of the old parameters in every update.
    verbose : bool, default=False
        Print one line per pass and a progress bar over long passes.
    callbacks : list of Callback, optional
        Called at the start, after each pass and at the end.
    random_state : None, int or numpy.random.Generator
        Seeds the batch order of minibatch EM.

    Returns
    -------
    dict
        ``history``, ``n_iter`` and ``converged``.
    """
    max_iter = check_count("max_iter", max_iter, minimum=1)
    if tol is not None:
        tol = check_scalar("tol", tol, low=0.0)
    inertia = check_fraction("inertia", inertia)
    n_jobs = effective_n_jobs(n_jobs)
    source = as_source(X)
    weights = weight_source(sample_weight, source)
    size = resolve_batch_size(batch_size, source)
    ranges = source.ranges(size)
    if batches_per_epoch is not None:
        batches_per_epoch = check_count("batches_per_epoch", batches_per_epoch, minimum=1)
    group = batches_per_epoch or len(ranges)
    rng = check_random_state(random_state)
    callbacks = list(callbacks or [])
    if verbose:
        callbacks.append(VerboseReporter())
    for cb in callbacks:
        cb.model = model
        cb.on_training_begin()

    history: list[dict[str, Any]] = []
    converged = False
    previous: float | None = None
    previous_total: float | None = None
    logs: dict[str, Any] | None = None
    for iteration in range(1, max_iter + 1):
        tic = time.perf_counter()
        order = list(range(len(ranges)))
        if batches_per_epoch is not None:
            order = [int(i) for i in rng.permutation(len(ranges))]
        bar = _progress(len(order), verbose, f"pass {iteration}")
        pass_ll = 0.0
        pass_w = 0.0
        try:
            for g in range(0, len(order), group):
                idx = order[g : g + group]
                stats = None
                for s in ordered_map(
                    summarize_batch, source, [ranges[i] for i in idx], weights=weights,
                    n_jobs=n_jobs, args=(model,), indices=idx,
                ):
                    stats = s if stats is None else stats + s
                    if bar is not None:
                        bar.update(1)
                pass_ll += float(stats.log_likelihood)
                pass_w += float(stats.w_sum)
                apply_update(model, stats, inertia)
        finally:
            if bar is not None:
                bar.close()
        if not pass_w > 0:
            raise ParameterError("the data has total weight 0: nothing to fit")
        mean_ll = pass_ll / pass_w
        improvement = math.nan if previous_total is None else pass_ll - previous_total
        logs = {
            "iteration": iteration,
            "log_likelihood": pass_ll,
            "improvement": improvement,
            "time": time.perf_counter() - tic,
            "mean_log_likelihood": mean_ll,
            "weight": pass_w,
        }
        history.append(logs)
        for cb in callbacks:
            cb.on_epoch_end(logs)
        if tol is not None and previous is not None and mean_ll - previous < tol:
            converged = True
            break
        previous, previous_total = mean_ll, pass_ll
    for cb in callbacks:
        cb.on_training_end(logs)
    if tol is not None and not converged:
        warnings.warn(
            f"EM did not converge in {max_iter} passes (tol={tol}): increase max_iter or "
            "tol, or check the initialization",
            ConvergenceWarning,
            stacklevel=3,
        )
    return {"history": history, "n_iter": len(history), "converged": converged}
