"""The one jit decorator of suffstat: every numba option lives here.

Kernels are compiled with ``nogil=True, error_model="numpy"`` and cached on disk,
but never in the installed package folder (issue 12). numba's own ``cache=True``
stores the compiled code in the package's ``__pycache__`` whenever that folder is
writable; an installed package then owns files that pip does not know about, and an
uninstall or an editable reinstall leaves ``site-packages/suffstat/`` behind as an
empty namespace package that shadows the real one.

So each kernel's dispatcher gets its own cache object instead of numba's default one:

- the folder is ``NUMBA_CACHE_DIR`` when that is set (numba's own variable), else a
  per-user cache folder, :func:`cache_dir` (``$XDG_CACHE_HOME/suffstat/numba`` or
  ``~/.cache/suffstat/numba`` on Linux). numba's locator keys the entries by the
  source folder, the Python version, the numba version and a hash of the source
  file, so installs and versions never read each other's entries;
- the folder is chosen at the first compilation, not at import: importing suffstat
  touches no file (``python -W error -c "import suffstat"`` works anywhere);
- when no folder is writable, kernels are compiled in memory, with one
  ``RuntimeWarning`` per process;
- an entry that cannot be read back (a truncated or corrupt file, e.g. after a full
  disk or a killed process) is dropped and the kernel recompiled, instead of failing
  at every call.

This is done per dispatcher rather than by setting ``numba.config.CACHE_DIR`` or
adding a locator to numba's global list, which would move the caches of the user's
own numba functions too.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import numba
from numba.core import caching

_OPTIONS = {"nogil": True, "error_model": "numpy"}
# The only fast-math flag we use, and only on small reduction helpers: it lets LLVM
# keep a sum over an array in vector partial sums (no finite-math or contraction
# assumptions, so NaN and infinity still propagate and products round as written).
_REASSOCIATE = {"fastmath": {"reassoc"}}
_cache_warned = False
_log = logging.getLogger("suffstat")


def cache_dir() -> str:
    """Return the per-user folder where compiled kernels are cached.

    ``NUMBA_CACHE_DIR``, when set, takes precedence over this folder.

    Returns
    -------
    str
        ``$XDG_CACHE_HOME/suffstat/numba`` (``~/.cache/suffstat/numba`` when
        ``XDG_CACHE_HOME`` is unset or relative) on Linux and other POSIX systems,
        ``~/Library/Caches/suffstat/numba`` on macOS and
        ``%LOCALAPPDATA%\\suffstat\\numba`` on Windows.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(base):  # the XDG spec says to ignore relative paths
            base = os.path.expanduser("~/.cache")
    return os.path.join(base, "suffstat", "numba")


# numba's own locator of NUMBA_CACHE_DIR (with a leading underscore in older numba).
_NumbaDirLocator = getattr(caching, "UserProvidedCacheLocator", None) or getattr(
    caching, "_UserProvidedCacheLocator", None
)
_FunctionCache: type | None = None

if _NumbaDirLocator is not None and hasattr(caching, "CompileResultCacheImpl"):

    class _UserCacheLocator(_NumbaDirLocator):
        """numba's ``NUMBA_CACHE_DIR`` locator, pointed at :func:`cache_dir` instead."""

        def __init__(self, py_func, py_file):
            super().__init__(py_func, py_file)
            self._cache_path = os.path.join(cache_dir(), self.get_suitable_cache_subpath(py_file))

        def ensure_cache_path(self):
            # The entries are pickles that numba loads: keep the folders private.
            os.makedirs(cache_dir(), mode=0o700, exist_ok=True)
            os.makedirs(self._cache_path, mode=0o700, exist_ok=True)
            super().ensure_cache_path()

        @classmethod
        def from_function(cls, py_func, py_file):
            # Skip the parent's "is NUMBA_CACHE_DIR set" test.
            return super(_NumbaDirLocator, cls).from_function(py_func, py_file)

    class _CacheImpl(caching.CompileResultCacheImpl):
        # NUMBA_CACHE_DIR first (numba's variable), then the per-user folder. Never the
        # package folder (the in-tree locator), which is numba's first choice.
        _locator_classes = [_NumbaDirLocator, _UserCacheLocator]

    class _FunctionCache(caching.FunctionCache):
        _impl_class = _CacheImpl


def _warn_no_cache(reason: object) -> None:
    global _cache_warned
    if not _cache_warned:
        _cache_warned = True
        warnings.warn(
            f"numba cannot write its cache ({reason}); kernels are compiled in memory at "
            f"every start. Make {cache_dir()} writable, or set NUMBA_CACHE_DIR to a writable "
            "folder, to cache them.",
            RuntimeWarning,
            stacklevel=4,
        )


class _KernelCache:
    """The disk cache of one kernel, found at its first compilation (the dispatcher's ``_cache``).

    It offers what numba's dispatcher asks of a cache (``load_overload``,
    ``save_overload``, ``flush``, ``cache_path``), and degrades to no cache rather than
    failing a compilation.
    """

    def __init__(self, py_func) -> None:
        self._py_func = py_func
        self._cache: caching.FunctionCache | None = None
        self._resolved = False

    def _get(self) -> caching.FunctionCache | None:
        if not self._resolved:
            self._resolved = True
            if _FunctionCache is None:
                _warn_no_cache(f"numba {numba.__version__} has no cache locator suffstat knows")
                return None
            try:
                self._cache = _FunctionCache(self._py_func)
            except RuntimeError as exc:  # "no locator available": nothing writable
                _warn_no_cache(exc)
        return self._cache

    @property
    def cache_path(self) -> str | None:
        """The folder of this kernel's entries, or None when it is compiled in memory."""
        cache = self._get()
        return None if cache is None else cache.cache_path

    def load_overload(self, sig, target_context):
        cache = self._get()
        if cache is None:
            return None
        try:
            return cache.load_overload(sig, target_context)
        except Exception as exc:  # noqa: BLE001 - any unreadable entry: drop it, recompile
            _log.warning("dropping the unreadable numba cache of %s in %s (%s: %s); recompiling",
                         self._py_func.__qualname__, cache.cache_path, type(exc).__name__, exc)
            try:
                cache.flush()  # an empty index: the entries are rewritten after compiling
            except OSError:
                self._cache = None
            return None

    def save_overload(self, sig, data) -> None:
        cache = self._get()
        if cache is None:
            return
        try:
            cache.save_overload(sig, data)
        except OSError as exc:  # the folder became unwritable, or the disk is full
            _log.warning("cannot write the numba cache of %s in %s (%s); compiling in memory",
                         self._py_func.__qualname__, cache.cache_path, exc)
            self._cache = None

    def flush(self) -> None:
        cache = self._get()
        if cache is not None:
            cache.flush()


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
        The lazily compiled dispatcher, cached on disk outside the package folder
        (``NUMBA_CACHE_DIR`` or :func:`cache_dir`) when that folder is writable.
    """
    if fn is None:
        return lambda f: kernel(f, reassociate=reassociate)
    options = dict(_OPTIONS, **(_REASSOCIATE if reassociate else {}))
    dispatcher = numba.njit(cache=False, **options)(fn)
    # What numba's own enable_caching() does, with our cache object.
    dispatcher._cache = _KernelCache(dispatcher.py_func)
    return dispatcher
