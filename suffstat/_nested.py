"""Arithmetic on nested parameter values (dicts and lists of arrays), shared by every layer."""

from __future__ import annotations

from typing import Any

import numpy as np


def blend(old: Any, new: Any, inertia: float) -> Any:
    """Return ``inertia * old + (1 - inertia) * new``, recursing into dicts and lists.

    Private entries (names starting with ``_``, caches) are dropped: the model's
    parameter check recomputes them. Strings and None are taken from ``new``.
    """
    if isinstance(new, dict):
        return {k: blend(old[k], v, inertia) for k, v in new.items() if not k.startswith("_")}
    if isinstance(new, (list, tuple)):
        return [blend(o, v, inertia) for o, v in zip(old, new, strict=True)]
    if old is None or new is None or isinstance(new, str):
        return new
    return inertia * np.asarray(old, dtype=np.float64) + (1.0 - inertia) * np.asarray(new)
