"""Issue 12 (hardening): files written, files read while streaming, descriptors."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

import numpy as np
import pytest

import suffstat as ss
from suffstat.io import atomic_open


@contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# -- item 3: the mode of files written --------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_new_files_get_the_mode_open_would_give(tmp_path, mask):
    """Issue 12: every file suffstat wrote was mode 0600 whatever the umask (the
    temporary file of an atomic write is made by mkstemp). A new file now gets
    0666 & ~umask, as ``open(path, "w")`` gives."""
    with umask(mask):
        ss.Normal(1.0, 2.0).save(tmp_path / "m.npz")
        with atomic_open(tmp_path / "t.csv", "w") as fh:
            fh.write("a,b\n")
        with open(tmp_path / "plain", "w"):
            pass
    assert _mode(tmp_path / "plain") == 0o666 & ~mask
    assert _mode(tmp_path / "m.npz") == 0o666 & ~mask
    assert _mode(tmp_path / "t.csv") == 0o666 & ~mask


def test_snapshots_and_trace_get_the_mode_open_would_give(tmp_path):
    """Issue 12: the same for the snapshot files and trace of a fit."""
    X = np.random.default_rng(0).normal(size=(200, 2))
    with umask(0o022):
        ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, X, random_state=0,
                                            max_iter=2, tol=None, output_path=tmp_path / "run")
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["lap-0001.npz", "lap-0002.npz", "trace.csv"]
    assert {_mode(tmp_path / "run" / n) for n in names} == {0o644}


@pytest.mark.parametrize("existing", [0o644, 0o640, 0o600, 0o664])
def test_a_replaced_file_keeps_its_mode(tmp_path, existing):
    """Issue 12: overwriting a 0644 model made it 0600. A replaced file keeps its mode,
    whatever the umask."""
    path = tmp_path / "m.npz"
    ss.Normal(1.0, 2.0).save(path)
    os.chmod(path, existing)
    with umask(0o077):
        ss.Normal(3.0, 4.0).save(path)
    assert _mode(path) == existing
    assert ss.load(path).mean == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
