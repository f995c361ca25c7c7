"""Save and load models as ``.npz`` files: arrays plus a JSON header, never pickle.

A file holds one uint8 array ``__header__`` (UTF-8 JSON describing the model, with
every array replaced by a reference ``{"__array__": "a3", "dtype": "<f8", "shape":
[2, 3]}``) and the arrays it refers to. Loading uses a registry of known classes and
never unpickles anything, so a file can describe a model but never run code.

A model file may come from anywhere, so loading trusts nothing in it (issue 12): only
the arrays the header names are read; each array's own ``.npy`` header is read first
and must agree with the JSON header's dtype and shape and with the bytes the member
really holds, so nothing larger than the file (or a bounded expansion of a compressed
member) is ever allocated; nesting is bounded; and every failure is a
:class:`~suffstat.ModelFileError`.

Writes go to a temporary file in the same folder that is then renamed over the
target, so a crash never leaves a half-written model. The file gets the mode a plain
``open(path, "w")`` would give it (``0o666`` less the umask), or keeps the mode of the
file it replaces.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from ._registry import model_from_dict
from ._version import __version__
from .exceptions import ModelFileError

__all__ = ["atomic_open", "load", "load_payload", "save", "save_payload"]

FORMAT = "suffstat"
#: Version 2 declares each array's dtype and shape in the JSON header.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_HEADER = "__header__"
_KEY = re.compile(r"a[0-9]{1,9}")

#: Largest JSON header read (bytes). A header holds no array data: a mixture of 10,000
#: components has a header of a few MB.
MAX_HEADER_BYTES = 16 * 2**20
#: Deepest nesting of dicts and lists in a payload (a model nested in a mixture in a
#: snapshot is about a dozen levels deep).
MAX_DEPTH = 64
#: A compressed member may expand at most this many times (suffstat itself never
#: compresses; zeros deflate about 1000-fold, which is how a small file asks for GBs).
MAX_EXPANSION = 64
_SLACK = 2**20  # bytes allowed beyond MAX_EXPANSION times the file, for tiny files
#: dtype kinds an array of a model file may have: bool, integers, floats, complex,
#: bytes, text, dates and durations (never objects or structured records).
_KINDS = set("biufcSUmM")


def _reference(key: str, value: np.ndarray) -> dict[str, Any]:
    return {"__array__": key, "dtype": value.dtype.str, "shape": list(value.shape)}


def _encode(value: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"the payload is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        if "__array__" in value:
            raise TypeError("a dict key '__array__' is reserved for array references")
        return {str(k): _encode(v, arrays, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays, depth + 1) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _KINDS:
            raise TypeError(f"arrays of dtype {value.dtype} cannot be saved (objects or records)")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return _reference(key, value)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def save_payload(path: Any, payload: dict[str, Any], *, durable: bool = True) -> None:
    """Write a dict of plain values and arrays to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (written as given, no suffix added). It gets the mode a new
        file gets (``0o666`` less the umask), or keeps the mode of the file it replaces.
    payload : dict
        JSON-able values and numpy arrays (numeric, bool, bytes or text; not objects),
        nested at most :data:`MAX_DEPTH` levels deep in dicts and lists.
    durable : bool, default=True
        Flush the file to the disk before it replaces ``path`` (see :func:`atomic_open`).
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suffstat_version": __version__,
        "payload": _encode(payload, arrays),
    }
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb", durable=durable) as fh:
        np.savez(fh, **{_HEADER: blob}, **arrays)


def _new_file_mode(path: Path) -> int | None:
    """The mode to give a file replacing ``path``: its mode, or None (the umask decides)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


@contextmanager
def atomic_open(path: Any, mode: str = "wb", *, durable: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The destination. A new file gets the mode ``open(path, "w")`` would give it
        (``0o666`` less the umask); a replaced file keeps its mode.
    mode : str, default="wb"
        ``"wb"`` or ``"w"``.
    durable : bool, default=True
        Flush the file to the disk (``fsync``) before it replaces ``path``, so that
        it survives a power loss too; without, the replacement is still atomic for
        the processes that read it and for a killed writer.

    Yields
    ------
    file object
        The temporary file. If the block raises, it is removed and ``path`` is untouched.
    """
    path = Path(path)
    keep = _new_file_mode(path)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:  # created like open(..., "w") does: mode 0o666, less the umask
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        if keep is not None:
            os.chmod(tmp, keep)
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- reading untrusted files ----------------------------------------------------------


class _Refusal(Exception):
    """A reason to refuse the file (becomes a ModelFileError naming the file)."""


def _references(value: Any, version: int, found: dict[str, Any], depth: int = 0) -> None:
    """Check the structure of a payload and collect its array references by key."""
    if depth > MAX_DEPTH:
        raise _Refusal(f"the header is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        if "__array__" in value:
            key = value["__array__"]
            allowed = {"__array__"} if version == 1 else {"__array__", "dtype", "shape"}
            if set(value) != allowed or not isinstance(key, str) or not _KEY.fullmatch(key):
                raise _Refusal(f"the header holds a malformed array reference {_short(value)}")
            if version > 1:
                declared = (_declared_dtype(value["dtype"], key), _declared_shape(value["shape"], key))
                if found.setdefault(key, declared) != declared:
                    raise _Refusal(f"the header declares array {key!r} twice, differently")
            else:
                found.setdefault(key, None)
            return
        for v in value.values():
            _references(v, version, found, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _references(v, version, found, depth + 1)


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _declared_dtype(text: Any, key: str) -> np.dtype:
    try:
        if not isinstance(text, str):
            raise TypeError
        dtype = np.dtype(text)
    except (TypeError, ValueError):
        raise _Refusal(f"the header gives array {key!r} an invalid dtype {_short(text)}") from None
    if dtype.kind not in _KINDS:
        raise _Refusal(f"the header gives array {key!r} the dtype {dtype}, which suffstat never saves")
    return dtype


def _declared_shape(shape: Any, key: str) -> tuple[int, ...]:
    if (
        not isinstance(shape, list) or len(shape) > 32
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise _Refusal(f"the header gives array {key!r} an invalid shape {_short(shape)}")
    return tuple(shape)


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize  # Python ints: no overflow


def _read_member(zf: zipfile.ZipFile, name: str, disk_bytes: int,
                 declared: tuple[np.dtype, tuple[int, ...]] | None,
                 limit: tuple[int, str] | None = None) -> np.ndarray:
    """Read the array stored as ``name + ".npy"``, allocating only what it really holds.

    ``limit`` is ``(bytes, why)``: a larger array is refused before it is allocated.
    """
    try:
        info = zf.getinfo(name + ".npy")
    except KeyError:
        raise _Refusal(f"the header refers to a missing array {name!r}") from None
    if info.flag_bits & 0x1:
        raise _Refusal(f"array {name!r} is encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            raise _Refusal(f"array {name!r} has inconsistent sizes in the archive")
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > MAX_EXPANSION * info.compress_size + 4096:
            raise _Refusal(
                f"array {name!r} would expand {info.file_size} bytes from {info.compress_size} "
                f"stored (more than {MAX_EXPANSION} times)"
            )
    else:
        raise _Refusal(f"array {name!r} uses an unsupported compression method ({info.compress_type})")
    if info.compress_size > disk_bytes:
        raise _Refusal(f"array {name!r} claims {info.compress_size} bytes, more than the whole file")
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise _Refusal(f"array {name!r} has an unsupported .npy version {version}")
        if dtype.hasobject:
            raise _Refusal(f"refusing to load {name!r}, which holds pickled Python objects")
        if dtype.kind not in _KINDS:
            raise _Refusal(f"array {name!r} has the dtype {dtype}, which suffstat never saves")
        if declared is not None and (dtype, tuple(shape)) != declared:
            raise _Refusal(
                f"array {name!r} is {dtype} of shape {tuple(shape)}, but the header declares "
                f"{declared[0]} of shape {declared[1]}"
            )
        want = _nbytes(shape, dtype)
        held = info.file_size - fh.tell()
        if want != held:
            raise _Refusal(
                f"array {name!r} declares shape {tuple(shape)} of {dtype} ({want} bytes) but "
                f"holds {held} bytes"
            )
        if limit is not None and want > limit[0]:
            raise _Refusal(f"array {name!r} holds {want} bytes, more than {limit[1]}")
        out = np.empty(tuple(reversed(shape)) if fortran else shape, dtype=dtype)
        view = memoryview(out.reshape(-1).view(np.uint8)) if want else memoryview(b"")
        got = 0
        while got < want:
            n = fh.readinto(view[got:])
            if not n:
                raise _Refusal(f"array {name!r} is truncated")
            got += n
    return out.T if fortran else out


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def load_payload(path: Any) -> dict[str, Any]:
    """Read a dict written by :func:`save_payload`, trusting nothing in the file.

    Only the arrays the header names are read; each one's ``.npy`` header must agree
    with the JSON header's dtype and shape and with the bytes it holds, before
    anything is allocated. Nothing is ever unpickled.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    dict
        The payload, with arrays restored.

    Raises
    ------
    ModelFileError
        If the file is missing, truncated, corrupt, not a suffstat file, holds pickled
        objects, declares arrays that disagree with what it holds, or is nested more
        than :data:`MAX_DEPTH` levels deep.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as raw:
            if raw.read(6) == b"\x93NUMPY":
                raise _Refusal("not a suffstat model file (a plain .npy array)")
            raw.seek(0)
            disk_bytes = os.fstat(raw.fileno()).st_size
            with zipfile.ZipFile(raw) as zf:
                if _HEADER + ".npy" not in zf.namelist():
                    raise _Refusal("not a suffstat model file (no header)")
                blob = _read_member(zf, _HEADER, disk_bytes, None,
                                    (MAX_HEADER_BYTES, f"the {MAX_HEADER_BYTES} a header may hold"))
                if blob.dtype != np.uint8 or blob.ndim != 1:
                    raise _Refusal("the header is corrupt (not a byte string)")
                try:
                    header = json.loads(blob.tobytes().decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    raise _Refusal(f"the header is corrupt ({e})") from None
                except RecursionError:
                    raise _Refusal(f"the header is nested more than {MAX_DEPTH} levels deep") from None
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    raise _Refusal("not a suffstat model file")
                version = header.get("format_version")
                if version not in READABLE_VERSIONS or isinstance(version, bool):
                    raise _Refusal(
                        f"format version {_short(version)} is not supported (this suffstat "
                        f"reads versions {', '.join(map(str, READABLE_VERSIONS))})"
                    )
                payload = header.get("payload")
                if not isinstance(payload, dict):
                    raise _Refusal("the header holds no payload")
                refs: dict[str, Any] = {}
                _references(payload, version, refs)
                # All arrays together may take at most MAX_EXPANSION times the file
                # (members could share their compressed bytes in a forged archive).
                budget = MAX_EXPANSION * disk_bytes + _SLACK
                declared = sum(_nbytes(d[1], d[0]) for d in refs.values() if d is not None)
                if declared > budget:
                    raise _Refusal(
                        f"the header declares {declared} bytes of arrays in a file of {disk_bytes}"
                    )
                arrays = {}
                for key, d in refs.items():
                    why = (f"the {budget} left for all arrays (at most {MAX_EXPANSION} times "
                           "the file's size, plus 1 MiB)")
                    arrays[key] = _read_member(zf, key, disk_bytes, d, (budget, why))
                    budget -= arrays[key].nbytes
    except _Refusal as e:
        raise ModelFileError(f"{path}: {e}") from None
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile, zlib and numpy's header parser
        reason = str(e) or type(e).__name__
        raise ModelFileError(f"{path}: not a readable .npz model file ({reason})") from None
    return _decode(payload, arrays)


def save(model: Any, path: Any) -> None:
    """Save a model to a ``.npz`` file.

    Parameters
    ----------
    model : Distribution
        Any suffstat model.
    path : str or os.PathLike
        Destination file, replaced atomically.

    Examples
    --------
    >>> import suffstat as ss, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "normal.npz")
    >>> ss.Normal(1.0, 2.0).save(path)
    >>> ss.load(path)
    Normal(mean=1, std=2)
    """
    save_payload(path, {"model": model.to_dict()})


def load(path: Any) -> Any:
    """Load a model saved by :func:`save` (without pickle).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    Distribution
        The model, with exactly the saved parameters.

    Raises
    ------
    ModelFileError
        If the file is missing, corrupt, foreign, or describes an unknown class or
        invalid parameters.
    """
    payload = load_payload(path)
    if "model" not in payload:
        raise ModelFileError(f"{path}: the file holds no model (a snapshot's payload?)")
    try:
        return model_from_dict(payload["model"])
    except Exception as e:  # noqa: BLE001 - any invalid description of a registered class
        reason = str(e) or type(e).__name__
        raise ModelFileError(f"{path}: the model description is invalid ({reason})") from None
