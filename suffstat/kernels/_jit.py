"""The one jit decorator of suffstat: every numba option lives here.

``cache=True`` makes numba look for a writable cache folder when a function is
decorated; where neither the package folder, ``NUMBA_CACHE_DIR`` nor the user
cache is writable it raises, and we fall back to compiling in memory.
"""

from __future__ import annotations

import warnings

import numba

_OPTIONS = {"nogil": True, "error_model": "numpy"}
# The only fast-math flag we use, and only on small reduction helpers: it lets LLVM
# keep a sum over an array in vector partial sums (no finite-math or contraction
# assumptions, so NaN and infinity still propagate and products round as written).
_REASSOCIATE = {"fastmath": {"reassoc"}}
_cache_warned = False


def kernel(fn=None, *, reassociate=False):
    """Compile ``fn`` in nopython mode with suffstat's options.

    Use as ``@kernel`` or ``@kernel(reassociate=True)``.

    Parameters
    ----------
    fn : callable
        A Python function using only numpy, math and numba-supported constructs.
    reassociate : bool, default False
        Allow LLVM to reorder floating-point additions (the ``reassoc`` fast-math flag
        alone), so that a reduction over an array vectorises into partial sums. Meant
        for small summation helpers: their rounding then depends on the vector width
        chosen for the machine, but stays the same from call to call on one machine.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The lazily compiled dispatcher (cached on disk when a cache folder is writable).
    """
    if fn is None:
        return lambda f: kernel(f, reassociate=reassociate)
    options = dict(_OPTIONS, **(_REASSOCIATE if reassociate else {}))
    global _cache_warned
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError as exc:  # no writable cache locator
        if not _cache_warned:
            _cache_warned = True
            warnings.warn(
                f"numba cannot write its cache ({exc}); kernels are compiled in memory at "
                "every start. Set NUMBA_CACHE_DIR to a writable folder to cache them.",
                RuntimeWarning,
                stacklevel=2,
            )
        return numba.njit(cache=False, **options)(fn)
