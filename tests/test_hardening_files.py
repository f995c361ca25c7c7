"""Issue 12 (hardening): files written, files read while streaming, descriptors."""

from __future__ import annotations

import os
import pickle
import re
import stat
import subprocess
import sys
import textwrap
from contextlib import contextmanager

import numpy as np
import pytest
from mixture_helpers import blobs

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


# -- item 4: a file rewritten during a streamed fit ------------------------------------------


class _ChangeFileAfterPass(ss.Callback):
    """After the first pass, change the data file in one of three ways."""

    def __init__(self, path, how):
        self.path, self.how = path, how

    def on_epoch_end(self, logs):
        if logs["iteration"] != 1:
            return
        before = os.stat(self.path)
        X = np.load(self.path)
        if self.how == "in place":  # same inode and size, new content
            with open(self.path, "r+b") as fh:
                fh.seek(-X.nbytes, os.SEEK_END)
                fh.write((X[::-1] + 1.0).tobytes())
            if os.stat(self.path).st_mtime_ns == before.st_mtime_ns:  # a coarse clock tick
                os.utime(self.path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
        elif self.how == "replaced":
            tmp = self.path.with_name("new.npy")
            np.save(tmp, X[::-1])
            os.replace(tmp, self.path)
        else:  # truncated
            with open(self.path, "r+b") as fh:
                fh.truncate(before.st_size - 8 * X.shape[1])


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize(
    ("how", "change"),
    [("in place", "it was modified"), ("replaced", "it was replaced by another file"),
     ("truncated", "its size changed from")],
)
def test_a_file_changed_during_a_fit_is_an_error_naming_it(tmp_path, how, change, n_jobs):
    """Issue 12: a ``.npy`` rewritten in place during a streamed fit (same path, new
    content) was silently mixed in. Its identity (device, inode, size, mtime) is
    recorded when the source opens and checked at every read."""
    X = blobs(2000, seed=1)
    path = tmp_path / "x.npy"
    np.save(path, X)
    model = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    with pytest.raises(ss.DataError, match=re.escape(
        f"{path} changed on disk while it was being read ({change}"
    )):
        model.fit(str(path), max_iter=4, tol=None, batch_size=300, n_jobs=n_jobs, random_state=0,
                  callbacks=[_ChangeFileAfterPass(path, how)])
    assert model.n_iter_ is None or model.n_iter_ <= 1


def test_a_file_deleted_during_a_fit_is_an_error_naming_it(tmp_path):
    """Issue 12: a file is reopened at each read, so a deleted one is a DataError."""
    path = tmp_path / "x.npy"
    np.save(path, blobs(600))

    class Delete(ss.Callback):
        def on_epoch_end(self, logs):
            os.unlink(path)

    model = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(2)])
    with pytest.raises(ss.DataError, match=re.escape(f"{path} was deleted or moved while it was being read")):
        model.fit(str(path), max_iter=3, tol=None, batch_size=100, random_state=0, callbacks=[Delete()])


def test_a_file_replaced_between_calls_is_read_afresh(tmp_path):
    """Issue 12: replacing a file between two calls is fine: each call opens its source."""
    path = tmp_path / "x.npy"
    X = blobs(600)
    np.save(path, X)
    model = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, str(path), random_state=0)
    first = model.log_probability(str(path), batch_size=100)
    np.save(path, X[::-1])  # in place, between calls
    np.testing.assert_array_equal(model.log_probability(str(path), batch_size=100), first[::-1])


# -- item 5: descriptors are closed -----------------------------------------------------------


def _open_fds():
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the descriptor of the listing itself
            pass
    return fds


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd (Linux)")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_streamed_calls_leave_no_descriptor_open(tmp_path, n_jobs):
    """Issue 12: every streamed call kept a descriptor of its file open for good: 300
    calls on deleted temporary files kept 300 descriptors and their disk space, then
    ``Too many open files``. 50 calls (fit, predict, log_probability on a path, and a
    memmap) now leave the count unchanged."""
    X = blobs(400, seed=2)

    def calls(i):
        path = tmp_path / f"x{i}.npy"
        np.save(path, X)
        m = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 2, str(path), random_state=0,
                                                max_iter=2, tol=None, batch_size=100, n_jobs=n_jobs)
        m.predict(str(path), batch_size=100, n_jobs=n_jobs)
        m.log_probability(np.load(path, mmap_mode="r")[::2], batch_size=50, n_jobs=n_jobs)
        os.unlink(path)

    calls("warm-up")  # compiles, starts the kept thread pools
    before = _open_fds()
    for i in range(50):
        calls(i)
    after = _open_fds()
    leaked = {fd: target for fd, target in after.items() if fd not in before}
    some = dict(list(leaked.items())[:3])
    assert len(after) <= len(before), f"{len(after) - len(before)} more descriptors, such as {some}"
    assert not [t for t in after.values() if str(tmp_path) in t], "a deleted file is still open"


# -- item 6: empty files, memmap views ---------------------------------------------------------


def test_a_zero_byte_npy_is_a_data_error_naming_the_file(tmp_path):
    """Issue 12: a zero-byte ``.npy`` gave a bare ``EOFError``."""
    path = tmp_path / "empty.npy"
    path.write_bytes(b"")
    model = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(2)])
    with pytest.raises(ss.DataError, match=re.escape(f"{path} is empty (0 bytes), not a .npy file")):
        model.fit(str(path))
    header_only = tmp_path / "header.npy"
    np.save(header_only, np.zeros((10, 2)))
    header_only.write_bytes(header_only.read_bytes()[:140])
    with pytest.raises(ss.DataError, match=re.escape(
        f"{header_only} is shorter than its header says (truncated file: 140 bytes, the header needs 288)"
    )):
        model.fit(str(header_only))
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY\x01")
    with pytest.raises(ss.DataError, match=re.escape(f"{garbage} is not a valid .npy file (")):
        model.fit(str(garbage))


VIEWS = {
    "mm[:, :16]": lambda mm: mm[:, :16],
    "mm[::2]": lambda mm: mm[::2],
    "mm[::-1, 3:30:4]": lambda mm: mm[::-1, 3:30:4],
    "mm[:, ::-3]": lambda mm: mm[:, ::-3],
    "mm[:, 5]": lambda mm: mm[:, 5],
    "mm[::97]": lambda mm: mm[::97],  # sparse rows: one read per row
    "mm + 0 (in memory)": lambda mm: mm + 0,  # not a view of the file: read as an array
}


@pytest.fixture(scope="module")
def wide_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("views") / "wide.npy"
    np.save(path, np.random.default_rng(5).normal(size=(3000, 32)))
    return path


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_memmap_views_are_streamed_from_the_file(wide_file, view):
    """Issue 12: a view of a memmap such as ``mm[:, :16]`` or ``mm[::2]`` was read as an
    in-memory array: its pages were faulted in through the mapping (RSS grew by the
    file size) and a Dask task received the whole array. It is now described as a
    strided file view, read batch by batch with ``pread`` into contiguous buffers."""
    from suffstat.sources import NpyFile, as_source

    mm = np.load(wide_file, mmap_mode="r")
    v = VIEWS[view](mm)
    expected = np.array(v, dtype=np.float64)
    source = as_source(v)
    if isinstance(v, np.memmap):
        assert not source.in_memory
        assert isinstance(source.spec, NpyFile)
        assert len(pickle.dumps(source.spec)) < 1000  # what a Dask task receives
    for batch_size in (1, 7, 1000, len(v)):
        got = np.concatenate([source.read(a, b) for a, b in source.ranges(batch_size)])
        np.testing.assert_array_equal(got, expected)
        assert got.flags.c_contiguous and got.dtype == np.float64
    rows = np.array([0, 1, len(v) // 2, len(v) - 1])
    np.testing.assert_array_equal(source.take(rows), expected[rows])


def test_a_fit_on_a_memmap_view_equals_the_fit_in_memory(wide_file):
    """Issue 12: the streamed view gives the in-memory fit (threads and pieces too)."""
    mm = np.load(wide_file, mmap_mode="r")
    for v in (mm[::2, :3], mm[:, 10:13]):
        runs = []
        for X, n_jobs in ((np.array(v), 1), (v, 1), (v, 2)):
            init = [ss.MultivariateNormal(np.full(3, c), np.eye(3)) for c in (-1.0, 1.0)]
            runs.append(ss.GeneralMixtureModel(init).fit(X, max_iter=3, tol=None, batch_size=256,
                                                         n_jobs=n_jobs))
        for other in runs[1:]:
            np.testing.assert_array_equal(other.weights, runs[0].weights)
            for p, q in zip(other.distributions, runs[0].distributions):
                np.testing.assert_array_equal(p.cov, q.cov)


def test_strided_reads_by_row_and_by_column(tmp_path, monkeypatch):
    """Issue 12: sparse views are read one row (or one column, for Fortran order) at a
    time, in spans of bounded size; a Fortran-ordered memmap streams too."""
    import suffstat.sources as sources

    monkeypatch.setattr(sources, "STRIDED_READ_BYTES", 4096)
    path = tmp_path / "f.dat"
    F = np.memmap(path, dtype=np.float32, mode="w+", shape=(5000, 4), order="F")
    F[:] = np.arange(20_000, dtype=np.float32).reshape(5000, 4)
    F.flush()
    C = np.lib.format.open_memmap(tmp_path / "c.npy", mode="w+", dtype="<f8", shape=(5000, 4))
    C[:] = np.arange(20_000.0).reshape(5000, 4)
    C.flush()
    for v in (F, F[::-3, 1:], C[::700], C[::-1001, ::-2]):
        source = sources.as_source(v)
        assert isinstance(source.spec, sources.NpyFile)
        for batch_size in (1, 333, len(v)):
            got = np.concatenate([source.read(a, b) for a, b in source.ranges(batch_size)])
            np.testing.assert_array_equal(got, np.array(v, dtype=np.float64))


def test_a_copy_on_write_memmap_is_read_as_it_is_in_memory(wide_file):
    """Issue 12: a memmap opened with mode "c" may hold changes that are not in the
    file; it was read from the file (its changes silently ignored). It is read as an
    array now."""
    from suffstat.sources import as_source

    mm = np.load(wide_file, mmap_mode="c")
    mm[0, 0] = 12345.0
    assert as_source(mm).read(0, 1)[0, 0] == 12345.0
    assert as_source(mm[:, :4]).read(0, 1)[0, 0] == 12345.0


VIEW_MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np, suffstat as ss
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    def model():
        comps = [ss.MultivariateNormal(np.full(16, float(c)), np.ones(16), covariance_type="diag")
                 for c in range(3)]
        return ss.GeneralMixtureModel(comps)
    model().fit(np.random.default_rng(0).normal(size=(5000, 16)), max_iter=1, tol=None,
                batch_size=1000)                                         # warm-up: compile
    mm = np.load(sys.argv[1], mmap_mode="r")
    with open("/proc/self/clear_refs", "w") as f:                        # reset VmHWM to VmRSS
        f.write("5")
    base = status("VmHWM")
    model().fit(mm[:, :16], max_iter=1, tol=None, batch_size=16384)      # 2 MiB batches
    print(status("VmHWM") - base)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")
def test_streaming_a_memmap_view_keeps_resident_memory_bounded(tmp_path):
    """Issue 12: fitting ``mm[:, :16]`` of a 128 MiB file grew the peak RSS by the file
    size (its pages were read through the mapping)."""
    path = tmp_path / "big.npy"
    rows, d = 500_000, 32  # 128 MB
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, d))
    rng = np.random.default_rng(0)
    for s in range(0, rows, 100_000):
        out[s : s + 100_000] = rng.standard_normal((100_000, d))
    out.flush()
    del out
    res = subprocess.run([sys.executable, "-c", VIEW_MEMORY_SCRIPT, str(path)], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    growth = int(res.stdout.strip().splitlines()[-1])
    assert growth < 32 * 2**20, f"peak RSS grew by {growth / 2**20:.1f} MiB streaming a view of 128 MiB"
