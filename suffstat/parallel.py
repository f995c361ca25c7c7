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
import numpy as np
from threadpoolctl import ThreadpoolController

from ._validation import check_weights
from .exceptions import DataError, ParameterError
from .sources import BatchSource, NpyFile, Sequences, prefetched, read_rows


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
    # joblib keeps the active configuration per thread; it has no public way to tell
    # a backend the user chose from its default (loky), so read it, and fall back on
    # the public API should that layout change.
    config = getattr(getattr(joblib.parallel, "_backend", None), "config", None)
    if isinstance(config, dict):
        return isinstance(config.get("backend"), joblib.parallel.ParallelBackendBase)
    if hasattr(joblib.parallel, "_backend"):
        return False  # no configuration in this thread
    backend, _ = joblib.parallel.get_active_backend()
    return not isinstance(backend, joblib.parallel.LokyBackend)


def _threaded(tasks: Iterator[tuple], n_jobs: int) -> Iterator[Any]:
    """Run ``_task(*args)`` for each args on the kept pool, yielding results in order.

    At most ``2 n_jobs`` tasks are queued ahead of the consumer, so results (and the
    batches being read) never pile up. If the consumer stops early or a task raises,
    queued tasks are cancelled and running ones are waited for before returning.
    """
    pool = _pool(n_jobs)
    buffers = _Buffers()
    window: deque = deque()
    try:
        for args in tasks:
            window.append(pool.submit(_task, *args, buffers=buffers))
            if len(window) >= 2 * n_jobs:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for fut in window:
            fut.cancel()
        wait(window)


class _Buffers:
    """Read buffers passed from task to task within one map.

    Reading each batch into fresh memory costs a page fault and a page of zeros per
    4 KiB: 85 ms per pass over a 1.6 GB file, as much as the read itself.
    """

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> np.ndarray:
        with self._lock:
            for i, buf in enumerate(self._free):
                if buf.nbytes >= nbytes:
                    return self._free.pop(i)
        return np.empty(nbytes, dtype=np.uint8)

    def give(self, buf: np.ndarray) -> None:
        with self._lock:
            self._free.append(buf)


#: File batches of an additive map are read and mapped in pieces of about this size,
#: so a piece is still in cache when the kernel reads it (W3 diag, one core: 137 ->
#: 104 ms per million rows); the batch's result is the sum of its pieces' results.
PIECE_BYTES = 4 * 2**20


def _row_bytes(spec: Any) -> int | None:
    """Bytes per row of a file source read as is (float64, not noisy), else None."""
    if isinstance(spec, Sequences):
        return _row_bytes(spec.inner)
    if isinstance(spec, NpyFile) and np.dtype(spec.dtype) == np.float64:
        return spec.row_bytes
    return None


def _pieces(start: int, stop: int, row: int | None, spec: Any = None) -> list[tuple[int, int]]:
    """Rows start:stop cut into pieces of PIECE_BYTES for rows of ``row`` bytes (None: whole).

    The rows of a sequence source are cut only between sequences.
    """
    if row is None or stop <= start:
        return [(start, stop)]
    step = max(1, PIECE_BYTES // max(row, 1))
    if isinstance(spec, Sequences):
        return spec.cut(start, stop, step)
    return [(a, min(a + step, stop)) for a in range(start, stop, step)]


def _sum_pieces(fn, pieces, blocks, wblocks, index, args, eblocks=(), seqs=None):
    """``fn`` over the pieces of one batch (read by ``blocks``), results added in order.

    ``eblocks`` read the extra columns of each piece; ``seqs`` (a
    :class:`~suffstat.sources.Sequences` spec, or None) gives ``fn`` each piece's
    sequence lengths as ``lengths=``.
    """
    total = None
    for (a, b), X in zip(pieces, blocks):
        w = None if wblocks is None else next(wblocks)
        extra = tuple(next(e) for e in eblocks) if eblocks else ()
        lengths = None if seqs is None else seqs.lengths(a, b)
        out = _call(fn, X, w, a, index, extra + tuple(args), lengths)
        total = out if total is None else total + out
    return total


def _task(fn: Callable, spec: Any, wspec: Any, start: int, stop: int, index: int, args: tuple,
          additive: bool = False, with_lengths: bool = False, especs: tuple = (),
          buffers: _Buffers | None = None):
    row = _row_bytes(spec)
    pieces = _pieces(start, stop, row if additive else None, spec)
    buf = None if row is None or buffers is None else buffers.take(max(b - a for a, b in pieces) * row)
    seqs = spec if with_lengths and isinstance(spec, Sequences) else None
    try:
        blocks = (read_rows(spec, a, b, buf) for a, b in pieces)  # each read after the last piece's fn
        wblocks = None if wspec is None else (read_rows(wspec, a, b) for a, b in pieces)
        eblocks = tuple((read_rows(e, a, b) for a, b in pieces) for e in especs)
        return _sum_pieces(fn, pieces, blocks, wblocks, index, args, eblocks, seqs)
    finally:
        if buf is not None:
            buffers.give(buf)


def _call(fn, X, w, start, index, args, lengths=None):
    try:
        if w is not None:
            w = check_weights(w, X.shape[0])
        if lengths is not None:
            return fn(X, w, *args, lengths=lengths)
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
    additive: bool = False,
    with_lengths: bool = False,
    extras: tuple[BatchSource, ...] = (),
) -> Iterator[Any]:
    """Yield ``fn(X, w, *args)`` for each row range, in the order of ``ranges``.

    Parameters
    ----------
    fn : callable
        Module-level (picklable) function of a float64 batch, its weights (or None)
        and ``args``. It must not keep the batch (or a view of it) past its return:
        with several threads, file batches are read into reused buffers.
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
    additive : bool, default=False
        ``fn``'s results add up (statistics): a batch of a float64 file is then read
        and mapped in cache-sized pieces whose results are added left to right, the
        same way for every ``n_jobs`` and backend. The pieces of a sequence source
        (:meth:`~suffstat.sources.BatchSource.with_lengths`) are whole sequences.
    with_lengths : bool, default=False
        For a sequence source, call ``fn(X, w, *args, lengths=...)`` with the lengths
        of the whole sequences that make up each batch (or piece); ranges must then
        begin and end at sequence boundaries. Ignored for other sources.
    extras : tuple of BatchSource, default=()
        Further per-row columns read over the same row ranges (and pieces) as
        ``source``, e.g. a classifier's labels: ``fn`` is then called as
        ``fn(X, w, *extra_blocks, *args)``.

    Yields
    ------
    object
        The results, in order. A :class:`DataError` names the global row.
    """
    indices = list(range(len(ranges))) if indices is None else indices
    seqs = source.spec if with_lengths and isinstance(source.spec, Sequences) else None
    if n_jobs == 1:
        row = _row_bytes(source.spec) if additive else None
        pieces = [_pieces(s, e, row, source.spec) for s, e in ranges]
        flat = [p for ps in pieces for p in ps]
        blocks = prefetched(source, flat)
        wblocks = (weights.read(*p) for p in flat) if weights is not None else None
        eblocks = tuple((e.read(*p) for p in flat) for e in extras)
        for i, ps in enumerate(pieces):
            yield _sum_pieces(fn, ps, blocks, wblocks, indices[i], args, eblocks, seqs)
        return
    wspec = None if weights is None else weights.spec
    especs = tuple(e.spec for e in extras)
    tasks = ((fn, source.spec, wspec, s, e, i, args, additive, with_lengths, especs)
             for (s, e), i in zip(ranges, indices, strict=True))
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
