"""Files of the command line: text input converted to ``.npy``, outputs by suffix, path checks.

Nothing here prints; :mod:`suffstat.cli` reports the :class:`CommandError` raised here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .io import atomic_open

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
INPUT_SUFFIXES = (".npy", *TEXT_SUFFIXES)
# the delimiter written for each text suffix
OUTPUT_DELIMITERS = {".csv": ",", ".tsv": "\t", ".txt": " "}
CHUNK_LINES = 100_000
# spellings of --delimiter that a shell makes awkward
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": None,
                   "whitespace": None, " ": None}


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


# -- input --------------------------------------------------------------------------------
def parse_delimiter(text: str | None) -> str | None:
    """Return the delimiter named by ``--delimiter`` (None: any run of whitespace)."""
    if text is None:
        return None
    if text.lower() in DELIMITER_NAMES:
        return DELIMITER_NAMES[text.lower()]
    if len(text) != 1 or text in "#\"'.-+0123456789eE\n\r":
        raise CommandError(
            f"--delimiter must be one character (or tab, comma, semicolon, space); got {text!r}"
        )
    return text


def open_input(path: str, folder: str, delimiter: str | None = None, sniff: bool = True) -> str:
    """Return a ``.npy`` path holding the rows of ``path``.

    A ``.npy`` is returned as is (it is streamed in place); a ``.csv``, ``.tsv`` or
    ``.txt`` file is converted, in chunks, to a ``.npy`` in ``folder``.
    """
    if not os.path.exists(path):
        raise CommandError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CommandError(f"{path} is a folder, not a data file")
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return path
    if suffix in TEXT_SUFFIXES:
        return text_to_npy(path, folder, delimiter, sniff)
    raise CommandError(f"{path}: INPUT must be a .npy, .csv, .tsv or .txt file")


def _sniff(line: str) -> str | None:
    for c in (",", "\t", ";"):
        if c in line:
            return c
    return None  # whitespace


def _fields(line: str, delimiter: str | None) -> list[str] | None:
    """The fields of a line as ``numpy.loadtxt`` splits them; None for a blank or comment line."""
    content = line.split("#", 1)[0].strip()
    if not content:
        return None
    return content.split(delimiter)


def _as_numbers(fields: list[str]) -> str | None:
    """None if every field is a number; else the first field that is not (repr'd)."""
    for f in fields:
        try:
            float(f.strip().strip('"'))
        except ValueError:
            return repr(f.strip())
    return None


def _loadtxt(lines: list[str], delimiter: str | None) -> np.ndarray:
    with warnings.catch_warnings():  # "input contained no data" for a chunk of comments
        warnings.simplefilter("ignore")
        return np.loadtxt(lines, delimiter=delimiter, dtype=np.float64, ndmin=2, comments="#",
                          quotechar=None if delimiter is None else '"', encoding=None)


def _columns(n: int) -> str:
    return f"{n} column" if n == 1 else f"{n} columns"


class _Reader:
    """Where a text file is: the numbers of its lines, its delimiter and column count."""

    def __init__(self, path: str, delimiter: str | None):
        self.path = path
        self.delimiter = delimiter
        self.columns: int | None = None
        self.first_line = 0  # number of the first data line

    def name(self, lineno: int) -> str:
        return f"{self.path}, line {lineno}"

    def locate(self, lines: list[str], first: int, problem: str) -> CommandError:
        """The error for the first bad line among ``lines`` (numbered from ``first``)."""
        for lineno, line in enumerate(lines, first):
            fields = _fields(line, self.delimiter)
            if fields is None:
                continue
            if self.columns is None:
                self.columns, self.first_line = len(fields), lineno
            bad = _as_numbers(fields)
            if bad is not None:
                return CommandError(f"{self.name(lineno)}: not a row of numbers ({bad} is not "
                                    f"a number{self._split_hint()})")
            if len(fields) != self.columns:
                return CommandError(
                    f"{self.name(lineno)}: {_columns(len(fields))}, but line {self.first_line} "
                    f"has {self.columns}"
                )
        return CommandError(f"{self.path}, lines {first}-{first + len(lines) - 1}: {problem}")

    def _split_hint(self) -> str:
        shown = {None: "whitespace", "\t": "tab"}.get(self.delimiter, repr(self.delimiter))
        return f"; columns split at {shown}, see --delimiter"

    def non_finite(self, lines: list[str], first: int, index: int, value: float) -> CommandError:
        """The error for data row ``index`` of the chunk ``lines``, which is not finite."""
        seen = -1
        for lineno, line in enumerate(lines, first):
            if _fields(line, self.delimiter) is not None:
                seen += 1
                if seen == index:
                    return CommandError(f"{self.name(lineno)}: {value} is not a finite number")
        return CommandError(f"{self.path}: {value} is not a finite number")  # pragma: no cover


def _header_and_delimiter(lines: Iterator[str], reader: _Reader, sniff: bool
                          ) -> tuple[list[str], int]:
    """Read up to the first data line; return the lines to parse and the number of the first.

    The first line that is not blank or a comment is a header if it does not parse as
    numbers; without ``--delimiter`` the delimiter is guessed from the first data line.
    """
    head: list[str] = []
    lineno = 0
    header_seen = False
    for line in lines:
        lineno += 1
        head.append(line)
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        if sniff:
            reader.delimiter = _sniff(content)
        if _as_numbers(content.split(reader.delimiter)) is None or header_seen:
            break
        header_seen = True
        head = []  # the header is skipped; lines after it are numbered from lineno + 1
        first_after = lineno + 1
    if header_seen:
        return head, first_after
    return head, 1


def text_to_npy(path: str, folder: str, delimiter: str | None = None, sniff: bool = True) -> str:
    """Convert a delimited text file to a ``.npy`` file in ``folder``, ``CHUNK_LINES`` at a time.

    Blank lines and ``#`` comments are skipped, a first line that is not numbers is a
    header. Errors name the line of the file (every line counted).
    """
    out = os.path.join(folder, os.path.basename(path) + ".npy")
    reader = _Reader(path, delimiter)
    n = 0
    try:
        fh = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as e:
        raise CommandError(f"{path}: cannot read it ({e.strerror})") from None
    with fh, open(out, "wb") as raw:
        header_len = _reserve_header(raw)
        try:
            head, first = _header_and_delimiter(fh, reader, sniff)
            lines_iter = itertools.chain(head, fh)
            while True:
                lines = list(itertools.islice(lines_iter, CHUNK_LINES))
                if not lines:
                    break
                try:
                    block = _loadtxt(lines, reader.delimiter)
                except ValueError as e:
                    raise reader.locate(lines, first, str(e).split(";")[0]) from None
                if block.size:
                    if reader.columns is None:
                        reader.columns = block.shape[1]
                        reader.first_line = next(i for i, line in enumerate(lines, first)
                                                 if _fields(line, reader.delimiter) is not None)
                    if block.shape[1] != reader.columns:
                        raise reader.locate(lines, first, "a different number of columns")
                    finite = np.isfinite(block).all(axis=1)
                    if not finite.all():
                        i = int(np.argmin(finite))
                        bad = block[i][~np.isfinite(block[i])][0]
                        raise reader.non_finite(lines, first, i, float(bad))
                    raw.write(block.tobytes())
                    n += block.shape[0]
                first += len(lines)
        except UnicodeDecodeError as e:
            raise CommandError(f"{path}: not a UTF-8 text file ({e.reason})") from None
        if not n:
            raise CommandError(f"{path}: no data rows")
        raw.seek(0)
        raw.write(_npy_header((n, reader.columns), header_len))
    return out


# the longest shape a header must hold: (n, d) with 20-digit numbers
_MAX_SHAPE = (10**20, 10**20)


def _npy_header(shape: tuple[int, ...], length: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header for float64 C-order rows, padded to ``length`` bytes."""
    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}"
    prefix = 10  # magic (6) + version (2) + header length (2)
    if length is None:
        length = -(-(prefix + len(text) + 1) // 64) * 64
    body = text + " " * (length - prefix - len(text) - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


def _reserve_header(fh: IO[bytes]) -> int:
    """Write a placeholder header long enough for any shape; return its length."""
    header = _npy_header(_MAX_SHAPE)
    fh.write(header)
    return len(header)


# -- outputs ------------------------------------------------------------------------------
def output_name(path: str) -> str:
    """The file an ``--output`` name is written to: ``.npy`` is added to a name without a suffix."""
    return path if Path(path).suffix else path + ".npy"


def output_format(path: str) -> str:
    """``'csv'``, ``'tsv'`` or ``'txt'`` for those suffixes, else ``'npy'``."""
    suffix = Path(path).suffix.lower()
    return suffix[1:] if suffix in OUTPUT_DELIMITERS else "npy"


def check_output_file(path: str, option: str) -> None:
    """Fail now, naming ``path``, if a file cannot be written there later."""
    p = Path(path)
    if p.is_dir():
        raise CommandError(f"{option} {path}: is a folder; give a file name")
    _check_folder(p.parent if str(p.parent) else Path("."), option, path)


def check_output_folder(path: str, option: str) -> None:
    """Fail now if the folder ``path`` (created when missing) cannot be written."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise CommandError(f"{option} {path}: is a file, not a folder")
        _check_folder(p, option, path)
        return
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    _check_folder(ancestor, option, path)


def _check_folder(folder: Path, option: str, path: str) -> None:
    if not folder.exists():
        raise CommandError(f"{option} {path}: no such folder: {folder}")
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path}: cannot write in the folder {folder}")


class RowWriter:
    """Writes per-row results batch by batch, as ``.npy`` or delimited text by suffix."""

    def __init__(self, fh: IO[Any], fmt: str, shape: tuple[int, ...], dtype: str):
        self.fh, self.fmt, self.dtype = fh, fmt, np.dtype(dtype)
        if fmt == "npy":
            np.lib.format.write_array_header_1_0(
                fh, {"descr": self.dtype.str, "fortran_order": False, "shape": shape}
            )
        self.delimiter = OUTPUT_DELIMITERS.get("." + fmt)
        self.number = "%d" if self.dtype.kind in "iu" else "%.17g"  # exact round trip

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if self.fmt == "npy":
            self.fh.write(block.tobytes())
        else:
            np.savetxt(self.fh, block, fmt=self.number, delimiter=self.delimiter)


@contextlib.contextmanager
def row_writer(path: str, shape: tuple[int, ...], dtype: str) -> Iterator[RowWriter]:
    """Open ``path`` (replaced atomically when the block completes) for :class:`RowWriter`."""
    fmt = output_format(path)
    with atomic_open(path, "wb" if fmt == "npy" else "w") as fh:
        yield RowWriter(fh, fmt, shape, dtype)


def write_array(path: str, X: np.ndarray) -> None:
    """Write a whole array to ``path``, in the format of its suffix."""
    with row_writer(path, X.shape, X.dtype.str) as w:
        w.write(X)


# -- memory -------------------------------------------------------------------------------
def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable), if known."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def size_text(n_bytes: float) -> str:
    """``n_bytes`` as a short human-readable size (``1.5 GiB``)."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError  # pragma: no cover
