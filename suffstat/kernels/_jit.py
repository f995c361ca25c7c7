"""The one jit decorator of suffstat: every numba option lives here.

``cache=True`` makes numba look for a writable cache folder when a function is
decorated; where neither the package folder, ``NUMBA_CACHE_DIR`` nor the user
cache is writable it raises, and we fall back to compiling in memory.
"""

from __future__ import annotations

import warnings

import numba

_OPTIONS = {"nogil": True, "error_model": "numpy"}
_cache_warned = False


def kernel(fn):
    """Compile ``fn`` in nopython mode with suffstat's options.

    Parameters
    ----------
    fn : callable
        A Python function using only numpy, math and numba-supported constructs.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The lazily compiled dispatcher (cached on disk when a cache folder is writable).
    """
    global _cache_warned
    try:
        return numba.njit(cache=True, **_OPTIONS)(fn)
    except RuntimeError as exc:  # no writable cache locator
        if not _cache_warned:
            _cache_warned = True
            warnings.warn(
                f"numba cannot write its cache ({exc}); kernels are compiled in memory at "
                "every start. Set NUMBA_CACHE_DIR to a writable folder to cache them.",
                RuntimeWarning,
                stacklevel=2,
            )
        return numba.njit(cache=False, **_OPTIONS)(fn)
