"""Batch sources: anything array-like becomes rows read on demand, never all at once.

A source is described by a small picklable *spec* and reopened wherever a batch is
read (a thread, or a Dask worker in another process). Reading a ``.npy`` file or an
``np.memmap`` goes through ``os.pread`` into a fresh buffer rather than through a
memory map, so the pages of consumed batches never count in the process's resident
memory: streaming a file keeps RSS at O(batch_size x d x n_jobs).
"""

from __future__ import annotations

import mmap
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .exceptions import DataError

__all__ = ["BatchSource", "as_source", "DEFAULT_BATCH_BYTES"]

#: Batch size picked for files when the user gives none: about 8 MiB of float64 rows.
DEFAULT_BATCH_BYTES = 8 * 2**20


@dataclass(frozen=True)
class NpyFile:
    """A C-ordered array stored in a file at a byte offset (a .npy file or a memmap).

    ``inode`` identifies the file's content when the source was opened: a file
    replaced at the same path afterwards is read through a new descriptor.
    """

    path: str
    offset: int
    shape: tuple[int, ...]
    dtype: str
    inode: tuple[int, int, int] = (0, 0, 0)

    @property
    def row_bytes(self) -> int:
        """Bytes per row."""
        return int(np.prod(self.shape[1:], dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def read(self, start: int, stop: int, into: np.ndarray | None = None) -> np.ndarray:
        """Read rows ``start:stop`` into a new array, or into the bytes of ``into``.

        ``into`` is a uint8 buffer of at least the batch's size; the batch returned is
        then a view of it.
        """
        dtype = np.dtype(self.dtype)
        row = self.row_bytes
        shape = (stop - start, *self.shape[1:])
        if into is None:
            out = np.empty(shape, dtype=dtype)
        else:
            out = into[: (stop - start) * row].view(dtype).reshape(shape)
        view = memoryview(out.reshape(-1).view(np.uint8))
        fd = _open_fd(self.path, self.inode)
        pos, want, got = self.offset + start * row, (stop - start) * row, 0
        while got < want:
            n = os.preadv(fd, [view[got:]], pos + got)
            if n <= 0:
                raise DataError(f"{self.path} is shorter than its header says (truncated file)")
            got += n
        return out

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Read the rows at the indices ``rows`` (one pread each) into a new array."""
        dtype = np.dtype(self.dtype)
        row = self.row_bytes
        out = np.empty((len(rows), *self.shape[1:]), dtype=dtype)
        flat = memoryview(out.reshape(-1).view(np.uint8))
        fd = _open_fd(self.path, self.inode)
        for i, r in enumerate(rows):
            if os.preadv(fd, [flat[i * row : (i + 1) * row]], self.offset + int(r) * row) != row:
                raise DataError(f"{self.path} is shorter than its header says (truncated file)")
        return out


_fds: dict[tuple, int] = {}
_fd_lock = threading.Lock()


def _identity(path: str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def _open_fd(path: str, inode: tuple[int, int, int]) -> int:
    # One descriptor per (process, file content), shared by threads: pread needs no seek.
    key = (os.getpid(), path, inode)
    with _fd_lock:
        fd = _fds.get(key)
        if fd is None:
            fd = os.open(path, os.O_RDONLY)
            if _identity(path) != inode:
                os.close(fd)
                raise DataError(f"{path} changed on disk while it was being read")
            _fds[key] = fd
        return fd


def _memmap_offset(mm: np.memmap) -> int | None:
    """File offset of ``mm``'s first byte (also for a slice of a memmap), or None."""
    base = getattr(mm, "_mmap", None)
    if base is None:
        return None
    start = mm.offset - mm.offset % mmap.ALLOCATIONGRANULARITY
    base_address = np.frombuffer(base, dtype=np.uint8).ctypes.data
    return start + (mm.ctypes.data - base_address)


def _npy_spec(path: str) -> NpyFile:
    try:
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise DataError(f"{path} is not a valid .npy file ({e})") from None
    if not isinstance(mm, np.memmap):
        raise DataError(f"{path} is not a plain .npy array")
    full = str(Path(path).resolve())
    spec = NpyFile(full, int(mm.offset), tuple(mm.shape), mm.dtype.str, _identity(full))
    fortran = mm.ndim > 1 and not mm.flags.c_contiguous
    del mm  # only the header was read: no data page was touched
    if fortran:
        raise DataError(f"{path} is stored in Fortran order; save it in C order to stream it")
    return spec


class BatchSource:
    """Rows of a 1-D or 2-D array-like, read a range at a time as float64.

    Parameters
    ----------
    obj : array-like, numpy.memmap, str or os.PathLike
        An in-memory array, a memory map, a path to a ``.npy`` file (read in place),
        an h5py or zarr dataset, a dask array, or any object with ``shape``,
        ``dtype`` and row slicing.

    Attributes
    ----------
    shape : tuple of int
        Shape of the whole array.
    n_rows : int
        Number of rows.
    in_memory : bool
        True for a plain in-memory numpy array.
    """

    def __init__(self, obj: Any) -> None:
        self.in_memory = False
        if isinstance(obj, (str, os.PathLike)):
            path = os.fspath(obj)
            if not os.path.isfile(path):
                raise DataError(f"no such file: {path}")
            if not path.endswith(".npy"):
                raise DataError(f"{path}: only .npy files can be streamed by path")
            self.spec: Any = _npy_spec(path)
            self.shape = self.spec.shape
            self.dtype = np.dtype(self.spec.dtype)
        elif (
            isinstance(obj, np.memmap) and obj.filename and obj.flags.c_contiguous
            and _memmap_offset(obj) is not None
        ):
            name = str(obj.filename)
            self.spec = NpyFile(name, _memmap_offset(obj), tuple(obj.shape), obj.dtype.str,
                                _identity(name))
            self.shape, self.dtype = tuple(obj.shape), obj.dtype
        elif isinstance(obj, np.ndarray) or not hasattr(obj, "shape"):
            arr = np.asarray(obj)
            self.spec = arr
            self.shape, self.dtype = arr.shape, arr.dtype
            self.in_memory = True
        else:  # h5py, zarr, dask and other lazily sliced arrays
            self.spec = obj
            self.shape, self.dtype = tuple(obj.shape), np.dtype(obj.dtype)
        if len(self.shape) not in (1, 2):
            raise DataError(
                f"X must be 1- or 2-dimensional; got {len(self.shape)} dimensions, shape {self.shape}"
            )
        if self.dtype == object or not (np.issubdtype(self.dtype, np.number) or self.dtype == bool):
            raise DataError(f"X must have a numeric dtype; got {self.dtype}")
        if np.issubdtype(self.dtype, np.complexfloating):  # the float64 reads would drop .imag
            raise DataError(f"X must be real; got complex dtype {self.dtype}")
        self.n_rows = int(self.shape[0])

    @property
    def n_features(self) -> int:
        """Number of columns (1 for a 1-D array)."""
        return 1 if len(self.shape) == 1 else int(self.shape[1])

    def default_batch_size(self) -> int:
        """About 8 MiB of float64 rows (at least 1024 rows), whatever the source.

        The same for every ``n_jobs``, so the default keeps fits bitwise identical
        across thread counts while giving threads batches to share.
        """
        return max(1, min(self.n_rows, max(1024, DEFAULT_BATCH_BYTES // (8 * self.n_features))))

    def ranges(self, batch_size: int) -> list[tuple[int, int]]:
        """Split the rows into consecutive ``(start, stop)`` ranges."""
        n = self.n_rows
        return [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)] or [(0, 0)]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Return rows ``start:stop`` (float64, C-contiguous)."""
        return read_rows(self.spec, start, stop)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Return the rows at the sorted indices ``rows`` (for seeding from the whole stream)."""
        return take_rows(self.spec, np.asarray(rows, dtype=np.int64))

    def with_noise(self, sigma: float, seed: int) -> BatchSource:
        """Return this source with zero-mean Gaussian noise of std ``sigma`` added.

        The noise of a row depends only on ``seed`` and the row's index (it is drawn
        in fixed chunks of rows), so every pass, batch size and reader sees the same
        noisy data.

        Parameters
        ----------
        sigma : float
            Standard deviation of the noise.
        seed : int
            Seed of the noise.

        Returns
        -------
        BatchSource
            The noisy source.
        """
        noisy = object.__new__(BatchSource)
        noisy.__dict__.update(self.__dict__)
        noisy.spec = Noisy(self.spec, float(sigma), int(seed), self.shape)
        noisy.in_memory = False
        return noisy


@dataclass(frozen=True)
class Noisy:
    """Another source plus N(0, sigma^2) noise drawn per chunk of rows from (seed, chunk)."""

    inner: Any
    sigma: float
    seed: int
    shape: tuple[int, ...]
    CHUNK = 4096

    def _noise(self, chunk: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, chunk])
        return rng.standard_normal((self.CHUNK, *self.shape[1:]))

    def add(self, block: np.ndarray, rows: np.ndarray) -> np.ndarray:
        chunks = rows // self.CHUNK
        for c in np.unique(chunks):
            here = chunks == c
            block[here] += self.sigma * self._noise(int(c))[rows[here] - c * self.CHUNK]
        return block


def take_rows(spec: Any, rows: np.ndarray) -> np.ndarray:
    """Read the rows at the indices ``rows`` as float64."""
    if isinstance(spec, Noisy):
        return spec.add(take_rows(spec.inner, rows), rows)
    if isinstance(spec, NpyFile):
        return np.ascontiguousarray(spec.take(rows), dtype=np.float64)
    if isinstance(spec, np.ndarray):
        return np.ascontiguousarray(spec[rows], dtype=np.float64)
    if not len(rows):
        return read_rows(spec, 0, 0)
    # Chunked stores read a whole chunk per access: one orthogonal selection (zarr)
    # or point selection (h5py, dask) beats a read per row.
    try:
        block = spec.oindex[rows] if hasattr(spec, "oindex") else spec[rows]
        if hasattr(block, "compute"):
            block = block.compute()
        block = np.asarray(block)
        if block.shape[0] == len(rows):
            return np.ascontiguousarray(block, dtype=np.float64)
    except (TypeError, ValueError, IndexError, NotImplementedError):
        pass
    parts = [read_rows(spec, int(i), int(i) + 1) for i in rows]
    return np.concatenate(parts) if parts else read_rows(spec, 0, 0)


def read_rows(spec: Any, start: int, stop: int, into: np.ndarray | None = None) -> np.ndarray:
    """Read rows ``start:stop`` of the source described by ``spec`` as float64.

    A file is read into the uint8 buffer ``into`` when one is given (see NpyFile.read).
    """
    if isinstance(spec, Noisy):
        block = read_rows(spec.inner, start, stop, into)
        return spec.add(block, np.arange(start, stop))
    if isinstance(spec, NpyFile):
        block = spec.read(start, stop, into)
    else:
        block = spec[start:stop]
        if hasattr(block, "compute"):  # dask
            block = block.compute()
    return np.ascontiguousarray(block, dtype=np.float64)


def as_source(obj: Any) -> BatchSource:
    """Wrap ``obj`` as a :class:`BatchSource` (a source is returned as is).

    Parameters
    ----------
    obj : array-like, numpy.memmap, str, os.PathLike or BatchSource
        What to read.

    Returns
    -------
    BatchSource
        The source.
    """
    return obj if isinstance(obj, BatchSource) else BatchSource(obj)


def prefetched(source: BatchSource, ranges: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Yield the batches of ``ranges`` in order, reading the next one on a background thread."""
    if source.in_memory or len(ranges) < 2:
        for r in ranges:
            yield source.read(*r)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="suffstat-prefetch") as pool:
        future = pool.submit(source.read, *ranges[0])
        for nxt in ranges[1:]:
            batch = future.result()
            future = pool.submit(source.read, *nxt)
            yield batch
        yield future.result()
