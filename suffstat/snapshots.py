"""Per-lap snapshots of a fit, the trace file, and resuming (bnpy's workflow).

``fit(..., output_path=DIR, save_every=s)`` writes ``DIR/lap-0003.npz`` after every
``s`` laps (full passes over the data): the model's parameters plus the driver's
whole state (lap counter, history, random state, stochastic / memoized statistics),
so that ``fit(..., output_path=DIR, resume=True)`` continues exactly where the
newest snapshot left off. ``DIR/trace.csv`` holds one row per lap, and a fit with
structure moves (births, merges, deletes) writes its move log to ``DIR/moves.csv``. Every file is
written to a temporary name and renamed, so a killed fit never leaves a half file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from ._registry import model_from_dict
from .exceptions import ModelFileError, warn_at_caller
from .io import atomic_open, load_payload, save_payload

__all__ = ["load_model_at_lap", "load_snapshot", "snapshot_laps"]

_LAP = re.compile(r"^lap-(\d+)\.npz$")
#: The move log of a fit with structure moves.
MOVES_FILE = "moves.csv"
TRACE_COLUMNS = ("lap", "log_likelihood", "improvement", "K", "seconds", "elapsed")


def snapshot_laps(folder: Any) -> list[int]:
    """Return the laps saved in ``folder``, in increasing order.

    Parameters
    ----------
    folder : str or os.PathLike
        A snapshot folder.

    Returns
    -------
    list of int
        The laps with a ``lap-NNNN.npz`` file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    laps = [int(m.group(1)) for p in folder.iterdir() if (m := _LAP.match(p.name))]
    return sorted(laps)


def snapshot_path(folder: Any, lap: int) -> Path:
    """Return the path of lap ``lap``'s snapshot in ``folder``."""
    return Path(folder) / f"lap-{lap:04d}.npz"


def write_snapshot(folder: Any, run: Any, settings: dict[str, Any], *, durable: bool = True) -> Path:
    """Save the model and the driver state of ``run`` as its current lap, and the trace.

    Parameters
    ----------
    folder : str or os.PathLike
        The snapshot folder (created if needed).
    run : EMRun
        The running fit.
    settings : dict
        Settings recorded with the snapshot (for information).
    durable : bool, default=True
        Flush the snapshot to the disk before it replaces the lap's file (an
        ``fsync``: milliseconds); the rename is atomic either way.

    Returns
    -------
    pathlib.Path
        The snapshot file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(folder, run.iteration)
    save_payload(path, {"model": run.model.to_dict(), "state": run.state(), "settings": settings},
                 durable=durable)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TRACE_COLUMNS)
    elapsed = 0.0
    for h in run.history:
        elapsed += h["time"]
        writer.writerow([h["iteration"], repr(h["log_likelihood"]), repr(h["improvement"]), h.get("K", 1),
                         f"{h['time']:.6f}", f"{elapsed:.6f}"])
    # the trace and the move log are views of the snapshot's history and model, which
    # is flushed to the disk at the end of a fit and once a second: they need not be
    with atomic_open(folder / "trace.csv", "w", durable=False) as fh:
        fh.write(buf.getvalue())
    log = getattr(run.model, "move_log_", None)
    if log:  # structure moves (births, merges, deletes, shuffles), one row per lap
        columns = getattr(type(run.model), "move_log_columns", None) or sorted({k for e in log for k in e})
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        for e in log:
            writer.writerow([(repr(e[c]) if isinstance(e[c], float) else int(e[c])) if c in e else ""
                             for c in columns])
        with atomic_open(folder / MOVES_FILE, "w", durable=False) as fh:
            fh.write(buf.getvalue())
    return path


def clear_snapshots(folder: Any) -> None:
    """Remove the snapshots and trace of an earlier fit from ``folder`` (nothing else)."""
    folder = Path(folder)
    for lap in snapshot_laps(folder):
        snapshot_path(folder, lap).unlink()
    for name in ("trace.csv", MOVES_FILE):
        if (folder / name).exists():
            (folder / name).unlink()


def _read_snapshot(path: Path) -> tuple[dict, Any]:
    """Read one snapshot file and rebuild its model: ``(payload, model)``.

    Raises
    ------
    ModelFileError
        If the file cannot be read (see :func:`suffstat.io.load_payload`), or does not
        hold a model and a driver state, or its model cannot be rebuilt.
    """
    payload = load_payload(path)
    if not isinstance(payload.get("model"), dict) or not isinstance(payload.get("state"), dict):
        raise ModelFileError(f"{path}: not a snapshot (no model and driver state)")
    try:
        model = model_from_dict(payload["model"])
    except Exception as e:  # noqa: BLE001 - any invalid description of a registered class
        raise ModelFileError(f"{path}: the model description is invalid ({e or type(e).__name__})") from None
    return payload, model


def _newest_readable(folder: Any, lap: int | None, skip_damaged: bool) -> tuple[int, dict, Any]:
    laps = snapshot_laps(folder)
    candidates = [x for x in laps if lap is None or x <= lap]
    if not candidates:
        where = "" if lap is None else f" at or before lap {lap}"
        raise ModelFileError(f"{folder}: no snapshot{where} (found laps {laps})")
    for x in reversed(candidates):
        try:
            return (x, *_read_snapshot(snapshot_path(folder, x)))
        except ModelFileError as e:
            if not skip_damaged:
                raise
            warn_at_caller(f"skipping damaged snapshot: {e}", RuntimeWarning)
    raise ModelFileError(f"{folder}: every snapshot{'' if lap is None else f' up to lap {lap}'} is damaged")


def load_snapshot(folder: Any, lap: int | None = None, *, skip_damaged: bool = True) -> tuple[int, dict]:
    """Return ``(lap, payload)`` of the newest readable snapshot at or before ``lap``.

    A snapshot is readable when :func:`suffstat.io.load_payload` accepts the file (no
    pickle, arrays as declared, bounded nesting) and it holds a model that can be
    rebuilt and a driver state.

    Parameters
    ----------
    folder : str or os.PathLike
        The snapshot folder.
    lap : int, optional
        The lap wanted; the newest when None.
    skip_damaged : bool, default=True
        Fall back to the previous snapshot (with a ``RuntimeWarning`` naming the file
        and the problem) when one cannot be read.

    Returns
    -------
    tuple of (int, dict)
        The lap found and its payload (``model``, ``state``, ``settings``).

    Raises
    ------
    ModelFileError
        If no readable snapshot exists at or before ``lap``.
    """
    found, payload, _ = _newest_readable(folder, lap, skip_damaged)
    return found, payload


def load_model_at_lap(folder: Any, lap: int | None = None) -> Any:
    """Load the model saved at a lap of a fit (bnpy's ``load_model_at_lap``).

    Parameters
    ----------
    folder : str or os.PathLike
        The ``output_path`` of a fit.
    lap : int, optional
        The lap wanted: the newest snapshot when None, otherwise the nearest saved
        lap at or before ``lap`` (a warning says which when it is not ``lap`` itself).

    Returns
    -------
    Distribution
        The model, with ``lap_`` set to the lap it was saved at.

    Raises
    ------
    ModelFileError
        If no readable snapshot exists at or before ``lap``. A snapshot that cannot be
        read (damaged or forged) is skipped with a ``RuntimeWarning`` naming the file
        and the problem, and the newest readable one before it is used.

    Examples
    --------
    >>> import numpy as np, suffstat as ss, tempfile
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> out = tempfile.mkdtemp()
    >>> m = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, random_state=0,
    ...                                         max_iter=3, tol=None, output_path=out)
    >>> ss.load_model_at_lap(out).lap_
    3
    """
    found, _, model = _newest_readable(folder, lap, skip_damaged=True)
    if lap is not None and found != lap:
        warn_at_caller(f"no snapshot at lap {lap} in {folder}; loaded lap {found}", UserWarning)
    model.lap_ = found
    return model
