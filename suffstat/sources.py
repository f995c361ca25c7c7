"""Batch sources: anything array-like becomes rows read on demand, never all at once.

A source is described by a small picklable *spec* and reopened wherever a batch is
read (a thread, or a Dask worker in another process). Reading a ``.npy`` file or an
``np.memmap`` (also a strided view such as ``mm[:, :16]`` or ``mm[::2]``) goes
through ``os.pread`` into a fresh buffer rather than through a memory map, so the
pages of consumed batches never count in the process's resident memory: streaming a
file keeps RSS at O(batch_size x d x n_jobs).

Every read opens the file, checks that it is still the file the source was made from
(device, inode, size and modification time, recorded when the source was opened), reads,
checks again, and closes it (issue 12): a file rewritten or replaced during a fit is an
error naming the file, never mixed in, and no descriptor outlives a read.
"""

from __future__ import annotations

import mmap
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .exceptions import DataError

__all__ = ["BatchSource", "Sequences", "as_source", "DEFAULT_BATCH_BYTES"]

#: Batch size picked for files when the user gives none: about 8 MiB of float64 rows.
DEFAULT_BATCH_BYTES = 8 * 2**20
#: A strided file view is read in spans of about this many bytes.
STRIDED_READ_BYTES = 4 * 2**20


def file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """``(st_dev, st_ino, st_size, st_mtime_ns)``: what must not change while a file is read."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _describe_change(old: tuple[int, ...], new: tuple[int, ...]) -> str:
    if old[:2] != new[:2]:
        return "it was replaced by another file"
    if old[2] != new[2]:
        return f"its size changed from {old[2]} to {new[2]} bytes"
    return "it was modified"


@dataclass(frozen=True)
class NpyFile:
    """An array stored in a file at a byte offset (a .npy file, a memmap or a view of one).

    Parameters
    ----------
    path : str
        Absolute path of the file.
    offset : int
        File offset of the first element (``[0]`` or ``[0, 0]``).
    shape : tuple of int
        Shape of the array.
    dtype : str
        Its dtype (``numpy.dtype.str``).
    identity : tuple of int
        :func:`file_identity` of the file when the source was opened; every read
        checks it.
    strides : tuple of int, optional
        Byte strides of a non-contiguous view (any sign); None for C order.
    """

    path: str
    offset: int
    shape: tuple[int, ...]
    dtype: str
    identity: tuple[int, int, int, int]
    strides: tuple[int, ...] | None = None

    @property
    def row_bytes(self) -> int:
        """Bytes per row (of the rows returned; a strided view spans more in the file)."""
        return int(np.prod(self.shape[1:], dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @contextmanager
    def _opened(self) -> Iterator[int]:
        """A descriptor of the file, checked before and after use, closed on exit."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise DataError(
                f"{self.path} was deleted or moved while it was being read; keep the file "
                "in place until the call that reads it returns"
            ) from None
        try:
            self._check(fd)
            yield fd
            self._check(fd)  # a write during the read may have mixed old and new rows
        finally:
            os.close(fd)

    def _check(self, fd: int) -> None:
        now = file_identity(os.fstat(fd))
        if now != self.identity:
            raise DataError(
                f"{self.path} changed on disk while it was being read "
                f"({_describe_change(self.identity, now)}); a streamed file must stay "
                "unchanged until the call that reads it returns. Write new data to a new "
                "file, or replace the file between calls"
            )

    def _pread(self, fd: int, view: memoryview, pos: int) -> None:
        got = 0
        while got < len(view):
            n = os.preadv(fd, [view[got:]], pos + got)
            if n <= 0:
                raise DataError(f"{self.path} is shorter than its header says (truncated file)")
            got += n

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
        if stop <= start:
            return out
        with self._opened() as fd:
            if self.strides is None:
                self._pread(fd, memoryview(out.reshape(-1).view(np.uint8)), self.offset + start * row)
            else:
                self._read_strided(fd, start, stop, _as_2d(out))
        return out

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Read the rows at the indices ``rows`` into a new array."""
        dtype = np.dtype(self.dtype)
        row = self.row_bytes
        out = np.empty((len(rows), *self.shape[1:]), dtype=dtype)
        if not len(rows):
            return out
        with self._opened() as fd:
            if self.strides is None:
                flat = memoryview(out.reshape(-1).view(np.uint8))
                for i, r in enumerate(rows):
                    self._pread(fd, flat[i * row : (i + 1) * row], self.offset + int(r) * row)
            else:
                out2 = _as_2d(out)
                for i, r in enumerate(rows):
                    self._read_strided(fd, int(r), int(r) + 1, out2[i : i + 1])
        return out

    def _read_strided(self, fd: int, start: int, stop: int, out: np.ndarray) -> None:
        """Fill ``out`` (rows x columns) with rows ``start:stop`` of a strided view.

        Rows are read in spans of about :data:`STRIDED_READ_BYTES`: one read per span
        when the view's elements are dense enough in it (``mm[::2]``,
        ``mm[:, :16]``), else one read per row (elements close within a row) or per
        column (close within a column, as in Fortran order), so neither the memory nor
        the bytes read grow with the file.
        """
        dtype = np.dtype(self.dtype)
        size = dtype.itemsize
        rs = self.strides[0]
        cs = self.strides[1] if len(self.strides) > 1 else size
        d = out.shape[1]
        if d == 0 or stop <= start:
            return
        row_extent = (d - 1) * abs(cs) + size  # the bytes one row spans
        per_span = max(1, STRIDED_READ_BYTES // max(abs(rs), row_extent, 1))
        buf = np.empty(0, dtype=np.uint8)

        def span(first: int, count: int, stride: int, extent: int) -> tuple[int, int]:
            lo = first + min(0, (count - 1) * stride)
            return lo, (count - 1) * abs(stride) + extent

        def fetch(lo: int, nbytes: int) -> np.ndarray:
            nonlocal buf
            if buf.size < nbytes:
                buf = np.empty(nbytes, dtype=np.uint8)
            self._pread(fd, memoryview(buf)[:nbytes], lo)
            return buf

        for a in range(start, stop, per_span):
            m = min(per_span, stop - a)
            first = self.offset + a * rs  # element [a, 0]
            row_lo = min(0, (d - 1) * cs)  # the lowest byte of a row, from its element 0
            lo, nbytes = span(first + row_lo, m, rs, row_extent)
            target = out[a - start : a - start + m]
            if nbytes <= 2 * m * d * size + 65536:  # dense enough: one read
                data = fetch(lo, nbytes)
                target[...] = np.ndarray((m, d), dtype, buffer=data, offset=first - lo,
                                         strides=(rs, cs))
            elif abs(cs) <= abs(rs):  # one read per row
                for i in range(m):
                    lo = first + i * rs + row_lo
                    data = fetch(lo, row_extent)
                    target[i] = np.ndarray((d,), dtype, buffer=data, offset=-row_lo, strides=(cs,))
            else:  # one read per column
                for j in range(d):
                    lo, nbytes = span(first + j * cs, m, rs, size)
                    data = fetch(lo, nbytes)
                    target[:, j] = np.ndarray((m,), dtype, buffer=data,
                                              offset=first + j * cs - lo, strides=(rs,))


def _as_2d(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 2 else a[:, None]


def _memmap_offset(mm: np.memmap) -> int | None:
    """File offset of ``mm``'s first element (also for a view of a memmap), or None."""
    base = getattr(mm, "_mmap", None)
    if base is None or base.closed:
        return None
    start = mm.offset - mm.offset % mmap.ALLOCATIONGRANULARITY
    base_address = np.frombuffer(base, dtype=np.uint8).ctypes.data
    return start + (mm.ctypes.data - base_address)


def _memmap_spec(mm: np.memmap) -> NpyFile | None:
    """Describe a memmap, or a view of one, as a file to read; None if it is not one.

    A copy-on-write memmap (mode ``"c"``) may hold changes that are not in the file:
    it is read as an array.
    """
    if not mm.filename or getattr(mm, "mode", None) == "c" or mm.ndim not in (1, 2):
        return None
    offset = _memmap_offset(mm)
    if offset is None:
        return None
    name = str(mm.filename)
    try:
        identity = file_identity(os.stat(name))
    except OSError:
        return None
    strides = None if mm.flags.c_contiguous else tuple(int(s) for s in mm.strides)
    return NpyFile(name, offset, tuple(mm.shape), mm.dtype.str, identity, strides)


_NPY_HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _npy_spec(path: str) -> NpyFile:
    """Read the header of a ``.npy`` file (no data, no memory map) and describe it."""
    full = str(Path(path).resolve())
    try:
        with open(full, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_size == 0:
                raise DataError(f"{path} is empty (0 bytes), not a .npy file")
            try:
                version = np.lib.format.read_magic(fh)
                if version not in _NPY_HEADERS:
                    raise ValueError(f"unsupported .npy format version {version}")
                shape, fortran, dtype = _NPY_HEADERS[version](fh)
            except (ValueError, EOFError) as e:
                reason = str(e) or type(e).__name__
                raise DataError(f"{path} is not a valid .npy file ({reason})") from None
            offset = fh.tell()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if dtype.hasobject:
        raise DataError(f"{path} holds Python objects (dtype {dtype}); only numeric arrays can be streamed")
    if fortran and len(shape) > 1:
        raise DataError(f"{path} is stored in Fortran order; save it in C order to stream it")
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if st.st_size < need:
        raise DataError(
            f"{path} is shorter than its header says (truncated file: {st.st_size} bytes, "
            f"the header needs {need})"
        )
    return NpyFile(full, offset, tuple(shape), dtype.str, file_identity(st))


class BatchSource:
    """Rows of a 1-D or 2-D array-like, read a range at a time as float64.

    Parameters
    ----------
    obj : array-like, numpy.memmap, str or os.PathLike
        An in-memory array, a memory map or any view of one (read from its file), a
        path to a ``.npy`` file (read in place), an h5py or zarr dataset, a dask array,
        or any object with ``shape``, ``dtype`` and row slicing.

    Attributes
    ----------
    shape : tuple of int
        Shape of the whole array.
    n_rows : int
        Number of rows.
    in_memory : bool
        True for a plain in-memory numpy array (also a copy-on-write memmap, which
        may differ from its file).

    Raises
    ------
    DataError
        If a file is missing, empty, truncated or not a ``.npy`` array, or the data
        is not 1-D or 2-D and numeric.
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
        elif isinstance(obj, np.memmap) and (spec := _memmap_spec(obj)) is not None:
            # also a strided view (mm[:, :16], mm[::2]): read from the file, batch by batch
            self.spec = spec
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

    @property
    def sequences(self) -> Sequences | None:
        """The sequence boundaries given by :meth:`with_lengths` (None for plain rows)."""
        return self.spec if isinstance(self.spec, Sequences) else None

    def with_lengths(self, lengths: Any) -> BatchSource:
        """Return this source with its rows grouped into consecutive sequences.

        Batches of the returned source are whole sequences: ``batch_size`` (in
        :meth:`ranges` and :meth:`default_batch_size`) counts sequences, no batch
        splits a sequence, and a work item is still (source spec, row range), the
        spec carrying the boundaries.

        Parameters
        ----------
        lengths : array-like of int
            Positive sequence lengths, summing to :attr:`n_rows`.

        Returns
        -------
        BatchSource
            The sequence source.

        Raises
        ------
        DataError
            If ``lengths`` is invalid (see :func:`check_lengths`).
        """
        bounds = check_lengths(lengths, self.n_rows)
        seq = object.__new__(BatchSource)
        seq.__dict__.update(self.__dict__)
        inner = self.spec.inner if isinstance(self.spec, Sequences) else self.spec
        seq.spec = Sequences(inner, bounds)
        return seq

    def default_batch_size(self) -> int:
        """About 8 MiB of float64 rows (at least 1024), whatever the source.

        In sequences for a sequence source (whole sequences of about that many rows
        in all, at least one). The same for every ``n_jobs``, so the default keeps
        fits bitwise identical across thread counts while giving threads batches to
        share.
        """
        rows = max(1, min(self.n_rows, max(1024, DEFAULT_BATCH_BYTES // (8 * self.n_features))))
        seqs = self.sequences
        if seqs is None:
            return rows
        mean_length = max(1.0, self.n_rows / max(seqs.n_sequences, 1))
        return max(1, min(seqs.n_sequences, int(rows / mean_length)))

    def ranges(self, batch_size: int) -> list[tuple[int, int]]:
        """Split the rows into consecutive ``(start, stop)`` ranges.

        For a sequence source, each range holds ``batch_size`` whole sequences.
        """
        seqs = self.sequences
        if seqs is not None:
            b = seqs.bounds
            m = seqs.n_sequences
            return [(int(b[i]), int(b[min(i + batch_size, m)])) for i in range(0, m, batch_size)]
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


@dataclass(frozen=True, eq=False)
class Sequences:
    """Another source whose rows are consecutive sequences (hidden Markov models).

    Parameters
    ----------
    inner : object
        The spec of the rows (an array, a file, ...).
    bounds : ndarray of shape (n_sequences + 1,)
        Row offsets of the sequences: sequence ``i`` is rows ``bounds[i]:bounds[i + 1]``.
    """

    inner: Any
    bounds: np.ndarray

    @property
    def n_sequences(self) -> int:
        """Number of sequences."""
        return int(self.bounds.shape[0]) - 1

    def lengths(self, start: int, stop: int) -> np.ndarray:
        """The lengths of the whole sequences that make up rows ``start:stop``.

        Raises ValueError when ``start`` or ``stop`` is not a sequence boundary
        (a batch never splits a sequence).
        """
        lo, hi = np.searchsorted(self.bounds, [start, stop])
        if (lo >= self.bounds.shape[0] or self.bounds[lo] != start or hi >= self.bounds.shape[0]
                or self.bounds[hi] != stop):
            raise ValueError(f"rows {start}:{stop} do not begin and end at sequence boundaries")
        return np.diff(self.bounds[lo : hi + 1])

    def cut(self, start: int, stop: int, rows: int) -> list[tuple[int, int]]:
        """Cut rows ``start:stop`` (whole sequences) into runs of whole sequences of
        about ``rows`` rows each (a longer sequence is a run of its own)."""
        lo, hi = (int(i) for i in np.searchsorted(self.bounds, [start, stop]))
        out, a = [], start
        for i in range(lo + 1, hi + 1):
            b = int(self.bounds[i])
            if b - a >= rows or i == hi:
                if b > a:
                    out.append((a, b))
                a = b
        return out or [(start, stop)]


def check_lengths(lengths: Any, n_rows: int) -> np.ndarray:
    """Validate sequence lengths against the number of rows; return the row offsets.

    Parameters
    ----------
    lengths : array-like of int
        The length of each sequence, in row order (as hmmlearn takes them).
    n_rows : int
        Rows of the data.

    Returns
    -------
    ndarray of shape (n_sequences + 1,)
        The offsets ``[0, l_0, l_0 + l_1, ...]``.

    Raises
    ------
    DataError
        If ``lengths`` is not a 1-D array of positive whole numbers summing to ``n_rows``.
    """
    if n_rows == 0:
        raise DataError("X has no rows: give at least one sequence")
    arr = np.asarray(lengths)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DataError(f"lengths must be 1-dimensional; got shape {arr.shape}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(f"lengths must hold whole numbers; got dtype {arr.dtype}")
    if arr.shape[0] == 0:
        raise DataError("lengths is empty: give at least one sequence")
    if np.issubdtype(arr.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.floor(arr)))
        if bad.size:
            i = int(bad[0])
            raise DataError(f"lengths must hold whole numbers; got {float(arr[i]):g} at index {i}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero(arr < 1)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"lengths must be positive; got {int(arr[i])} at index {i}")
    total = int(arr.sum())
    if total != n_rows:
        raise DataError(f"lengths must sum to the number of rows of X ({n_rows}); they sum to {total}")
    bounds = np.zeros(arr.shape[0] + 1, dtype=np.int64)
    np.cumsum(arr, out=bounds[1:])
    bounds.flags.writeable = False
    return bounds


def take_rows(spec: Any, rows: np.ndarray) -> np.ndarray:
    """Read the rows at the indices ``rows`` as float64."""
    if isinstance(spec, Sequences):
        return take_rows(spec.inner, rows)
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
    if isinstance(spec, Sequences):
        return read_rows(spec.inner, start, stop, into)
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
