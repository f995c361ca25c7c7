"""Import works where numba cannot write its cache (read-only package folder and HOME)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import suffstat

SCRIPT = textwrap.dedent(
    """
    import warnings
    warnings.simplefilter("always")
    {prelude}
    with warnings.catch_warnings(record=True) as caught:
        import numpy as np
        import suffstat as ss
        d = ss.MultivariateNormal().fit(np.random.default_rng(0).normal(size=(50, 2)))
        x = ss.Normal().fit([1.0, 2.0, 4.0])
    assert abs(x.mean - 7 / 3) < 1e-12, x
    assert ss.__file__.startswith({root!r}), ss.__file__
    print("|".join(str(w.message) for w in caught))
    """
)

# As root, permissions do not stop writes: make numba's writability probe fail instead,
# which is exactly what it sees on a read-only folder.
ROOT_PRELUDE = textwrap.dedent(
    """
    import numba.core.caching as caching
    def _read_only(self):
        raise PermissionError(13, "Read-only file system", self.get_cache_path())
    caching._CacheLocator.ensure_cache_path = _read_only
    """
)


def _make_read_only(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def test_import_falls_back_when_the_numba_cache_is_not_writable(tmp_path):
    pkg_root = tmp_path / "site"
    shutil.copytree(
        Path(suffstat.__file__).parent,
        pkg_root / "suffstat",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
    )
    home = tmp_path / "home"
    home.mkdir()
    _make_read_only(pkg_root)
    _make_read_only(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(HOME=str(home), PYTHONPATH=str(pkg_root), PYTHONDONTWRITEBYTECODE="1")
    env.pop("XDG_CACHE_HOME", None)
    prelude = ROOT_PRELUDE if os.geteuid() == 0 else ""
    code = SCRIPT.format(prelude=prelude, root=str(pkg_root))
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600,
            cwd=tmp_path,
        )
    finally:
        for p in [pkg_root, *pkg_root.rglob("*"), home]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert out.returncode == 0, out.stderr
    assert "numba cannot write its cache" in out.stdout
    assert "NUMBA_CACHE_DIR" in out.stdout
    assert not list(pkg_root.rglob("*.nbi")), "nothing may be written into the package"


# -- issue 12: numba's cache never goes into the package folder ----------------------------

FIT = textwrap.dedent(
    """
    import numpy as np
    import suffstat as ss
    from suffstat.kernels import gaussian
    d = ss.MultivariateNormal().fit(np.random.default_rng(0).normal(size=(50, 2)))
    assert ss.__file__.startswith({root!r}), ss.__file__
    stats = gaussian.moments_full.stats
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), stats.cache_path)
    """
)


def _site_copy(tmp_path: Path) -> Path:
    """A copy of the package (without any cache) in ``tmp_path/site``, as pip installs it."""
    pkg_root = tmp_path / "site"
    shutil.copytree(
        Path(suffstat.__file__).parent,
        pkg_root / "suffstat",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
    )
    return pkg_root


def _run(code: str, pkg_root: Path, home: Path, *args: str, **env_extra: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.pop("XDG_CACHE_HOME", None)
    env.update(HOME=str(home), PYTHONPATH=str(pkg_root), PYTHONDONTWRITEBYTECODE="1", **env_extra)
    return subprocess.run(
        [sys.executable, *args, "-c", code], env=env, capture_output=True, text=True,
        timeout=600, cwd=home.parent,
    )


def _cache_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".nbi", ".nbc"})


def test_numba_cache_goes_to_the_user_cache_folder_not_the_package(tmp_path):
    """Issue 12: with a writable package folder, numba's ``cache=True`` wrote its cache
    into ``suffstat/kernels/__pycache__``; pip does not know those files, so the next
    (editable) install left ``site-packages/suffstat`` behind as an empty namespace
    package. The cache must go to ``~/.cache/suffstat/numba`` (or ``$XDG_CACHE_HOME``)."""
    pkg_root = _site_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    out = _run(FIT.format(root=str(pkg_root)), pkg_root, home, "-W", "error")
    assert out.returncode == 0, out.stderr
    assert _cache_files(pkg_root) == [], "nothing may be written into the package"
    user_cache = home / ".cache" / "suffstat" / "numba"
    assert _cache_files(user_cache), out.stdout
    assert out.stdout.split()[2].startswith(str(user_cache))
    # the second start reads the cache back
    out = _run(FIT.format(root=str(pkg_root)), pkg_root, home, "-W", "error")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:2] == ["1", "0"], out.stdout

    xdg = tmp_path / "xdg"
    out = _run(FIT.format(root=str(pkg_root)), pkg_root, home, XDG_CACHE_HOME=str(xdg))
    assert out.returncode == 0, out.stderr
    assert _cache_files(xdg / "suffstat" / "numba")
    assert _cache_files(pkg_root) == []


def test_numba_cache_dir_is_honoured(tmp_path):
    """Issue 12: ``NUMBA_CACHE_DIR`` takes precedence over the per-user folder."""
    pkg_root = _site_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    chosen = tmp_path / "chosen"
    out = _run(FIT.format(root=str(pkg_root)), pkg_root, home, NUMBA_CACHE_DIR=str(chosen))
    assert out.returncode == 0, out.stderr
    assert _cache_files(chosen)
    assert _cache_files(pkg_root) == [] and _cache_files(home) == []


def test_import_with_warnings_as_errors_where_nothing_is_writable(tmp_path):
    """Issue 12: ``python -W error -c "import suffstat"`` works with a read-only package
    folder and HOME: the cache folder is looked for at the first compilation, not at
    import, so the fallback warning cannot break an import."""
    pkg_root = _site_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    _make_read_only(pkg_root)
    _make_read_only(home)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a cache folder below a file cannot be created, even by root
    prelude = ROOT_PRELUDE if os.geteuid() == 0 else ""
    code = prelude + "import suffstat; assert suffstat.Normal; print(suffstat.__file__)"
    try:
        out = _run(code, pkg_root, home, "-W", "error", XDG_CACHE_HOME=str(blocker / "cache"))
    finally:
        for p in [pkg_root, *pkg_root.rglob("*"), home]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.startswith(str(pkg_root))


def test_unwritable_cache_folder_falls_back_with_one_warning(tmp_path):
    """Issue 12: when the per-user folder cannot be created (here below a regular file,
    which stops root too), kernels compile in memory after one RuntimeWarning naming
    the folder and NUMBA_CACHE_DIR."""
    pkg_root = _site_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    out = _run(SCRIPT.format(prelude="", root=str(pkg_root)), pkg_root, home,
               XDG_CACHE_HOME=str(blocker / "cache"))
    assert out.returncode == 0, out.stderr
    messages = out.stdout.strip().split("|")
    assert len(messages) == 1, messages
    assert "numba cannot write its cache" in messages[0]
    assert str(blocker / "cache" / "suffstat" / "numba") in messages[0]
    assert "NUMBA_CACHE_DIR" in messages[0]
    assert _cache_files(tmp_path) == []


def test_corrupt_cache_entries_are_dropped_and_recompiled(tmp_path):
    """Issue 12: a truncated cache file (a full disk, a killed process) made every fit
    fail with ``UnpicklingError``. The entry is dropped, the kernel recompiled, and the
    next start reads the rewritten entry."""
    pkg_root = _site_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    chosen = tmp_path / "chosen"
    code = FIT.format(root=str(pkg_root))
    out = _run(code, pkg_root, home, NUMBA_CACHE_DIR=str(chosen))
    assert out.returncode == 0, out.stderr
    files = _cache_files(tmp_path)
    assert files
    for kind, cut in [(".nbc", 20), (".nbi", 30), (".nbc", 0)]:
        for p in files:
            if p.suffix == kind:
                p.write_bytes(p.read_bytes()[:cut])
        out = _run(code, pkg_root, home, NUMBA_CACHE_DIR=str(chosen))
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[:2] == ["0", "1"], out.stdout  # recompiled
        assert "dropping the unreadable numba cache of moments_full" in out.stderr
        out = _run(code, pkg_root, home, NUMBA_CACHE_DIR=str(chosen))
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[:2] == ["1", "0"], out.stdout  # and cached again
        assert out.stderr == ""


def test_kernels_in_this_process_cache_outside_the_package():
    """Issue 12: the kernels' cache object is suffstat's (numba's internals as expected),
    and its folder is not inside the package."""
    import numpy as np

    from suffstat.kernels import _jit, gaussian

    ss_pkg = Path(suffstat.__file__).parent
    gaussian.moments_1d(np.ones(3), np.ones(3), 0.0)
    path = gaussian.moments_1d.stats.cache_path
    if path is None:  # nothing writable here: then the warning was the fallback
        assert _jit._cache_warned
        return
    assert isinstance(gaussian.moments_1d._cache, _jit._KernelCache)
    assert not Path(path).resolve().is_relative_to(ss_pkg.resolve()), path
    expected = os.environ.get("NUMBA_CACHE_DIR") or _jit.cache_dir()
    assert Path(path).resolve().is_relative_to(Path(expected).resolve()), path
