"""Ordered map of work items over batches: threads by default, any joblib backend.

A work item is (function, source spec, row range): the batch is read *inside* the
task, so a Dask worker reads its own rows instead of receiving them. Results come
back in submission order, and callers add them in that order, which makes a fit
bitwise identical for every ``n_jobs``.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator

import joblib
from threadpoolctl import ThreadpoolController

from ._validation import check_weights
from .exceptions import DataError, ParameterError
from .sources import BatchSource, prefetched, read_rows


def effective_n_jobs(n_jobs: Any) -> int:
    """Validate ``n_jobs`` (a positive int, or -1 for all cores) and resolve it."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ParameterError(f"n_jobs must be a positive integer or -1 (all cores); got {n_jobs!r}")
    return os.cpu_count() or 1 if n_jobs == -1 else n_jobs


_controller: ThreadpoolController | None = None
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
_worker = threading.local()


def blas_single_thread():
    """Context manager limiting every loaded BLAS to one thread.

    Our threads already fill the cores: a multi-threaded BLAS inside each task
    oversubscribes them (measured: 127 s instead of 6 s per pass at d=50). BLAS never
    splits the reduction dimension of a product, so results are bitwise the same.
    The library scan is done once (about 3 ms); the BLAS libraries are loaded with
    numpy and scipy, before any call.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def _mark_worker() -> None:
    _worker.busy = True


def _pool(n_jobs: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``n_jobs`` threads, kept between calls.

    joblib starts and joins a fresh thread pool at every call, about 13 ms: a tenth
    of an in-memory EM iteration at W1 scale.
    """
    with _pools_lock:
        pool = _pools.get(n_jobs)
        if pool is None:
            pool = _pools[n_jobs] = ThreadPoolExecutor(
                n_jobs, thread_name_prefix="suffstat", initializer=_mark_worker
            )
        return pool


def _joblib_backend_chosen() -> bool:
    """True inside a ``joblib.parallel_config`` (or ``parallel_backend``) naming a backend."""
    config = getattr(joblib.parallel._backend, "config", None)
    if config is None:
        return False
    return isinstance(config.get("backend"), joblib.parallel.ParallelBackendBase)


def _threaded(tasks: Iterator[tuple], n_jobs: int) -> Iterator[Any]:
    """Run ``_task(*args)`` for each args on the kept pool, yielding results in order.

    At most ``2 n_jobs`` tasks are queued ahead of the consumer, so results (and the
    batches being read) never pile up. If the consumer stops early or a task raises,
    queued tasks are cancelled and running ones are waited for before returning.
    """
    pool = _pool(n_jobs)
    window: deque = deque()
    try:
        for args in tasks:
            window.append(pool.submit(_task, *args))
            if len(window) >= 2 * n_jobs:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for fut in window:
            fut.cancel()
        wait(window)


def _task(fn: Callable, spec: Any, wspec: Any, start: int, stop: int, index: int, args: tuple):
    X = read_rows(spec, start, stop)
    w = None if wspec is None else read_rows(wspec, start, stop)
    return _call(fn, X, w, start, index, args)


def _call(fn, X, w, start, index, args):
    try:
        if w is not None:
            w = check_weights(w, X.shape[0])
        return fn(X, w, *args)
    except DataError as e:
        raise e.shifted(start, batch=index) from None


def ordered_map(
    fn: Callable,
    source: BatchSource,
    ranges: list[tuple[int, int]],
    *,
    weights: BatchSource | None = None,
    n_jobs: int = 1,
    args: tuple = (),
    indices: list[int] | None = None,
) -> Iterator[Any]:
    """Yield ``fn(X, w, *args)`` for each row range, in the order of ``ranges``.

    Parameters
    ----------
    fn : callable
        Module-level (picklable) function of a float64 batch, its weights (or None)
        and ``args``.
    source : BatchSource
        The rows.
    ranges : list of (int, int)
        Row ranges, one per batch.
    weights : BatchSource, optional
        Sample weights, read over the same ranges.
    n_jobs : int, default=1
        1 runs in this thread with a prefetching reader; otherwise the tasks go to a
        kept pool of ``n_jobs`` threads or, inside a ``joblib.parallel_config`` that
        names a backend (Dask, loky...), to ``joblib.Parallel`` on that backend.
    args : tuple
        Extra arguments of ``fn``.
    indices : list of int, optional
        Batch numbers to report in errors (default: positions in ``ranges``).

    Yields
    ------
    object
        The results, in order. A :class:`DataError` names the global row.
    """
    indices = list(range(len(ranges))) if indices is None else indices
    if n_jobs == 1:
        wbatches = (weights.read(*r) for r in ranges) if weights is not None else None
        for i, (r, X) in enumerate(zip(ranges, prefetched(source, ranges), strict=True)):
            w = next(wbatches) if wbatches is not None else None
            yield _call(fn, X, w, r[0], indices[i], args)
        return
    wspec = None if weights is None else weights.spec
    tasks = ((fn, source.spec, wspec, s, e, i, args) for (s, e), i in zip(ranges, indices, strict=True))
    if getattr(_worker, "busy", False):  # called from one of our own tasks: no nesting
        for task in tasks:
            yield _task(*task)
        return
    with blas_single_thread():
        if _joblib_backend_chosen():
            parallel = joblib.Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
            yield from parallel(joblib.delayed(_task)(*task) for task in tasks)
        else:
            yield from _threaded(tasks, n_jobs)
