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
