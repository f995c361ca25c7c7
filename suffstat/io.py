"""Save and load models as ``.npz`` files: arrays plus a JSON header, never pickle.

A file holds one uint8 array ``__header__`` (UTF-8 JSON describing the model, with
every array replaced by a reference ``{"__array__": "a3"}``) and the arrays it
refers to. Loading uses ``allow_pickle=False`` and a registry of known classes, so
a file can describe a model but never run code. Writes go to a temporary file in
the same folder that is then renamed over the target, so a crash never leaves a
half-written model.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from .exceptions import ModelFileError

__all__ = ["atomic_open", "load", "load_payload", "save", "save_payload"]

FORMAT = "suffstat"
FORMAT_VERSION = 1
_HEADER = "__header__"


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        return {str(k): _encode(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot be saved")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def save_payload(path: Any, payload: dict[str, Any]) -> None:
    """Write a dict of plain values and arrays to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (written as given, no suffix added).
    payload : dict
        JSON-able values and numpy arrays, nested in dicts and lists.
    """
    from . import __version__

    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suffstat_version": __version__,
        "payload": _encode(payload, arrays),
    }
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **{_HEADER: blob}, **arrays)


@contextmanager
def atomic_open(path: Any, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The destination.
    mode : str, default="wb"
        ``"wb"`` or ``"w"``.

    Yields
    ------
    file object
        The temporary file. If the block raises, it is removed and ``path`` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_payload(path: Any) -> dict[str, Any]:
    """Read a dict written by :func:`save_payload`, refusing anything pickled.

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
        If the file is missing, truncated, corrupt, not a suffstat file, or holds
        pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as fh:
            npz = np.load(fh, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{path}: not a suffstat model file (a plain .npy array)")
            names = list(npz.files)
            if _HEADER not in names:
                raise ModelFileError(f"{path}: not a suffstat model file (no header)")
            arrays = {}
            for name in names:
                try:
                    arrays[name] = npz[name]
                except ValueError as e:
                    if "allow_pickle" in str(e):
                        raise ModelFileError(
                            f"{path}: refusing to load {name!r}, which holds pickled Python "
                            "objects"
                        ) from None
                    raise
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        # np.load calls anything that is neither .npy nor .npz "pickled data"
        reason = "unrecognised content" if "pickled" in str(e) else str(e)
        raise ModelFileError(f"{path}: not a readable .npz model file ({reason})") from None
    try:
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: the header is corrupt ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a suffstat model file")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {header.get('format_version')!r} is not supported "
            f"(this suffstat reads version {FORMAT_VERSION})"
        )
    try:
        return _decode(header["payload"], arrays)
    except KeyError as e:
        raise ModelFileError(f"{path}: the header refers to a missing array {e}") from None


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
    from .distributions._base import Distribution

    payload = load_payload(path)
    try:
        return Distribution.from_dict(payload["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: the model description is invalid ({e})") from None
