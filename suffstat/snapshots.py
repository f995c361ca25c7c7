"""Per-lap snapshots of a fit, the trace file, and resuming (bnpy's workflow).

``fit(..., output_path=DIR, save_every=s)`` writes ``DIR/lap-0003.npz`` after every
``s`` laps (full passes over the data): the model's parameters plus the driver's
whole state (lap counter, history, random state, stochastic / memoized statistics),
so that ``fit(..., output_path=DIR, resume=True)`` continues exactly where the
newest snapshot left off. ``DIR/trace.csv`` holds one row per lap. Every file is
written to a temporary name and renamed, so a killed fit never leaves a half file.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import Any

from .exceptions import ModelFileError
from .io import atomic_open, load_payload, save_payload

__all__ = ["load_model_at_lap", "load_snapshot", "snapshot_laps"]

_LAP = re.compile(r"^lap-(\d+)\.npz$")
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


def write_snapshot(folder: Any, run: Any, settings: dict[str, Any]) -> Path:
    """Save the model and the driver state of ``run`` as its current lap, and the trace.

    Parameters
    ----------
    folder : str or os.PathLike
        The snapshot folder (created if needed).
    run : EMRun
        The running fit.
    settings : dict
        Settings recorded with the snapshot (for information).

    Returns
    -------
    pathlib.Path
        The snapshot file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(folder, run.iteration)
    save_payload(path, {"model": run.model.to_dict(), "state": run.state(), "settings": settings})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TRACE_COLUMNS)
    elapsed = 0.0
    for h in run.history:
        elapsed += h["time"]
        writer.writerow([h["iteration"], repr(h["log_likelihood"]), repr(h["improvement"]), h.get("K", 1),
                         f"{h['time']:.6f}", f"{elapsed:.6f}"])
    with atomic_open(folder / "trace.csv", "w") as fh:
        fh.write(buf.getvalue())
    return path


def clear_snapshots(folder: Any) -> None:
    """Remove the snapshots and trace of an earlier fit from ``folder`` (nothing else)."""
    folder = Path(folder)
    for lap in snapshot_laps(folder):
        snapshot_path(folder, lap).unlink()
    trace = folder / "trace.csv"
    if trace.exists():
        trace.unlink()


def load_snapshot(folder: Any, lap: int | None = None, *, skip_damaged: bool = True) -> tuple[int, dict]:
    """Return ``(lap, payload)`` of the newest readable snapshot at or before ``lap``.

    Parameters
    ----------
    folder : str or os.PathLike
        The snapshot folder.
    lap : int, optional
        The lap wanted; the newest when None.
    skip_damaged : bool, default=True
        Fall back to the previous snapshot (with a warning) when one cannot be read.

    Returns
    -------
    tuple of (int, dict)
        The lap found and its payload (``model``, ``state``, ``settings``).

    Raises
    ------
    ModelFileError
        If no readable snapshot exists at or before ``lap``.
    """
    laps = snapshot_laps(folder)
    candidates = [x for x in laps if lap is None or x <= lap]
    if not candidates:
        where = "" if lap is None else f" at or before lap {lap}"
        raise ModelFileError(f"{folder}: no snapshot{where} (found laps {laps})")
    for x in reversed(candidates):
        try:
            return x, load_payload(snapshot_path(folder, x))
        except ModelFileError as e:
            if not skip_damaged:
                raise
            warnings.warn(f"skipping damaged snapshot: {e}", RuntimeWarning, stacklevel=2)
    raise ModelFileError(f"{folder}: every snapshot{'' if lap is None else f' up to lap {lap}'} is damaged")


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
    from .distributions._base import Distribution

    found, payload = load_snapshot(folder, lap)
    if lap is not None and found != lap:
        warnings.warn(f"no snapshot at lap {lap} in {folder}; loaded lap {found}", UserWarning,
                      stacklevel=2)
    model = Distribution.from_dict(payload["model"])
    model.lap_ = found
    return model
