"""The streaming driver: batch and thread invariance, files, interrupts, bad rows, memory, Dask."""

from __future__ import annotations

import csv
import re
import warnings
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mixture_helpers import blobs, initial_gmm, params

import suffstat as ss

CTYPES = ["full", "diag", "spherical"]


OFFSET = 50.0  # data away from 0 exercises the shifted sums


@pytest.fixture(scope="module")
def X():
    return blobs(3000, offset=OFFSET)


@pytest.fixture(scope="module")
def npy(X, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "blobs.npy"
    np.save(path, X)
    return path


def fitted(X, ctype="full", **kwargs):
    kwargs = {"max_iter": 5, "tol": None, **kwargs}
    return initial_gmm(ctype, offset=OFFSET).fit(X, **kwargs)


@pytest.mark.parametrize("ctype", CTYPES)
def test_batch_invariance_in_memory_and_from_a_file(X, npy, ctype):
    reference = params(fitted(X, ctype))
    for b in (1000, 333, 64):
        for source in (X, str(npy), np.load(npy, mmap_mode="r")):
            got = params(fitted(source, ctype, batch_size=b))
            np.testing.assert_allclose(got, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ctype", ["full", "diag"])
@pytest.mark.parametrize("minibatch", [None, 3])
def test_thread_invariance_is_bitwise(X, npy, ctype, minibatch):
    runs = [fitted(str(npy), ctype, batch_size=200, n_jobs=n, batches_per_epoch=minibatch, random_state=7)
            for n in (1, 2, 4)]
    for r in runs[1:]:
        np.testing.assert_array_equal(params(r), params(runs[0]))
        assert [h["log_likelihood"] for h in r.history_] == [h["log_likelihood"] for h in runs[0].history_]


@pytest.mark.parametrize("ctype", ["full", "diag"])
@pytest.mark.parametrize("algorithm", ["em", "memoized"])
def test_file_batches_in_pieces_are_bitwise_thread_invariant(X, npy, ctype, algorithm, monkeypatch):
    # Batches of a file are read and summarised in cache-sized pieces; make the pieces
    # tiny (26 rows of 3 floats) so that every batch of 200 rows is split unevenly.
    import suffstat.parallel

    monkeypatch.setattr(suffstat.parallel, "PIECE_BYTES", 26 * 3 * 8)
    runs = [fitted(str(npy), ctype, batch_size=200, n_jobs=n, algorithm=algorithm, random_state=7)
            for n in (1, 2, 3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(params(r), params(runs[0]))
    in_memory = fitted(X, ctype, batch_size=200, algorithm=algorithm, random_state=7)
    np.testing.assert_allclose(params(runs[0]), params(in_memory), rtol=1e-10, atol=1e-12)
    bad = X.copy()
    bad[1234, 2] = np.nan
    path = npy.parent / "bad_pieces.npy"
    np.save(path, bad)
    for n_jobs in (1, 2):
        with pytest.raises(ss.DataError, match=re.escape("X contains NaN at row 1234 (batch 6)")):
            fitted(str(path), ctype, batch_size=200, n_jobs=n_jobs)


def test_thread_invariance_for_the_generic_path(X):
    a = initial_gmm("diag", offset=OFFSET)
    a._fused = False
    b = a.copy()
    b._fused = False
    a.fit(X, max_iter=3, tol=None, batch_size=256, n_jobs=1)
    b.fit(X, max_iter=3, tol=None, batch_size=256, n_jobs=2)
    np.testing.assert_array_equal(params(a), params(b))


def test_float32_and_weights_from_a_memmap(X, tmp_path):
    path32 = tmp_path / "x32.npy"
    np.save(path32, X.astype(np.float32))
    w = np.random.default_rng(0).integers(0, 3, size=len(X)).astype(float)
    np.save(tmp_path / "w.npy", w)
    a = fitted(X.astype(np.float32).astype(np.float64), sample_weight=w)
    b = fitted(str(path32), sample_weight=np.load(tmp_path / "w.npy", mmap_mode="r"), batch_size=500)
    np.testing.assert_allclose(params(b), params(a), rtol=1e-10, atol=1e-12)
    repeated = fitted(np.repeat(X, w.astype(int), axis=0).astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(params(b), params(repeated), rtol=1e-9, atol=1e-12)


def test_h5py_and_zarr_sources(X, tmp_path):
    reference = params(fitted(X))
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["X"] = X
    with h5py.File(tmp_path / "x.h5", "r") as f:
        np.testing.assert_allclose(params(fitted(f["X"], batch_size=700)), reference, rtol=1e-10)
    zarr = pytest.importorskip("zarr")
    z = zarr.open(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(500, 3), dtype="f8")
    z[:] = X
    np.testing.assert_allclose(params(fitted(z, batch_size=700)), reference, rtol=1e-10)


def test_streamed_predictions_equal_in_memory(X, npy):
    m = fitted(X)
    for method in ("log_probability", "predict_proba", "predict", "score_samples"):
        mem = getattr(m, method)(X)
        streamed = getattr(m, method)(str(npy), batch_size=257, n_jobs=2)
        np.testing.assert_array_equal(streamed, mem) if method == "predict" else \
            np.testing.assert_allclose(streamed, mem, rtol=1e-12)
    assert m.score(str(npy), batch_size=100) == pytest.approx(m.score(X), rel=1e-12)


class Recorder:
    """An array-like that records which rows were read."""

    def __init__(self, X):
        self.X, self.shape, self.dtype, self.seen = X, X.shape, X.dtype, []

    def __getitem__(self, item):
        self.seen.append((item.start, item.stop))
        return self.X[item]


def test_minibatch_mode_reads_every_row_every_pass(X):
    rec = Recorder(X)
    m = initial_gmm(offset=OFFSET).fit(rec, batch_size=400, batches_per_epoch=2, max_iter=3, tol=None,
                                      random_state=1)
    per_pass = len(rec.seen) // 3
    for p in range(3):
        ranges = sorted(rec.seen[p * per_pass : (p + 1) * per_pass])
        assert ranges[0][0] == 0 and ranges[-1][1] == len(X)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert rec.seen[:per_pass] != sorted(rec.seen[:per_pass])  # the batch order is shuffled
    assert all(h["weight"] == len(X) for h in m.history_)


def test_minibatch_mode_fits_data_whose_first_rows_differ():
    """pomegranate 0.14 restarted at row 0 each epoch: with 4 batches of 500 per epoch it
    only ever saw the first 2000 rows, here all from one cluster, and never found the other."""
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.zeros(2000, int), rng.integers(0, 2, 8000)])
    x = np.where(labels == 0, -5.0, 5.0) + rng.normal(0, 1, 10000)
    m = ss.GeneralMixtureModel([ss.Normal(-1.0, 2.0), ss.Normal(1.0, 2.0)])
    with warnings.catch_warnings():
        # a group made only of first rows gives the second component no responsibility
        warnings.simplefilter("ignore", ss.EmptyComponentWarning)
        m.fit(x, batch_size=500, batches_per_epoch=4, max_iter=10, tol=None, inertia=0.5,
              random_state=0)
    assert [d.mean for d in m.distributions] == pytest.approx([-5.0, 5.0], abs=0.3)
    assert 0.2 < m.weights[1] < 0.6
    assert len(m.history_) == 10  # max_iter counts full passes


def test_history_convergence_and_tol(X):
    m = initial_gmm(offset=OFFSET).fit(X, max_iter=200, tol=1e-6)
    assert m.converged_ and m.n_iter_ == len(m.history_) < 200
    h = m.history_
    assert set(h[0]) >= {"iteration", "log_likelihood", "improvement", "time"}
    assert np.isnan(h[0]["improvement"])
    assert h[1]["improvement"] == pytest.approx(h[1]["log_likelihood"] - h[0]["log_likelihood"])
    assert (h[-1]["log_likelihood"] - h[-2]["log_likelihood"]) / len(X) < 1e-6
    with pytest.warns(ss.ConvergenceWarning, match="did not converge in 2 passes"):
        initial_gmm(offset=OFFSET).fit(X, max_iter=2, tol=1e-12)


def test_verbose_trace_and_callbacks(X, tmp_path, capsys):
    hist = ss.History()
    m = initial_gmm(offset=OFFSET).fit(X, max_iter=3, tol=None, verbose=True,
                          callbacks=[hist, ss.CSVLogger(tmp_path / "log.csv")])
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[1\] Improvement: nan\tTime \(s\): \d+\.\d+", out[0])
    assert re.fullmatch(r"\[3\] Improvement: -?\d+\.\d{3}\tTime \(s\): \d+\.\d+", out[2])
    assert out[3].startswith("Total Improvement: ") and out[4].startswith("Total Time (s): ")
    assert hist.model is m and [h["iteration"] for h in hist.history] == [1, 2, 3]
    with open(tmp_path / "log.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["iteration", "log_likelihood", "improvement", "time"] and len(rows) == 4
    assert float(rows[3][1]) == m.history_[2]["log_likelihood"]


class StopAfter(ss.Callback):
    def __init__(self, n):
        self.n = n

    def on_epoch_end(self, logs):
        if logs["iteration"] == self.n:
            raise KeyboardInterrupt


class Exploding:
    """An array-like whose n-th row slice raises (an interrupt in the middle of a pass)."""

    def __init__(self, X, after):
        self.X, self.shape, self.dtype, self.after, self.reads = X, X.shape, X.dtype, after, 0

    def __getitem__(self, item):
        self.reads += 1
        if self.reads > self.after:
            raise KeyboardInterrupt
        return self.X[item]


def test_interrupt_leaves_the_last_completed_update(X):
    m = initial_gmm(offset=OFFSET)
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, max_iter=10, tol=None, callbacks=[StopAfter(2)])
    np.testing.assert_array_equal(params(m), params(fitted(X, max_iter=2)))
    # in the middle of the third pass (10 batches a pass)
    m = initial_gmm(offset=OFFSET)
    with pytest.raises(KeyboardInterrupt):
        m.fit(Exploding(X, after=25), max_iter=10, tol=None, batch_size=300)
    np.testing.assert_array_equal(params(m), params(fitted(X, max_iter=2, batch_size=300)))


def test_nan_in_the_middle_of_a_stream_names_the_global_row(X, tmp_path):
    bad = X.copy()
    bad[1234, 2] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    m = initial_gmm(offset=OFFSET)
    before = params(m)
    for n_jobs in (1, 2):
        with pytest.raises(ss.DataError, match=re.escape("X contains NaN at row 1234 (batch 12)")) as e:
            m.fit(str(tmp_path / "bad.npy"), batch_size=100, n_jobs=n_jobs, max_iter=3)
        assert e.value.row == 1234
        np.testing.assert_array_equal(params(m), before)


def test_bad_sources(tmp_path):
    m = initial_gmm(offset=OFFSET)
    with pytest.raises(ss.DataError, match="no such file"):
        m.fit(str(tmp_path / "missing.npy"))
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(ss.DataError, match="only .npy files"):
        m.fit(str(tmp_path / "x.csv"))
    with pytest.raises(ss.DataError, match="X must have 3 features"):
        m.fit(np.zeros((10, 2)))
    with pytest.raises(ss.DataError, match="sample_weight must have shape"):
        m.fit(blobs(10), sample_weight=np.ones(3))


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, numpy as np, suffstat as ss
    path = sys.argv[1]
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    def model():
        comps = [ss.MultivariateNormal(np.full(32, float(c)), np.ones(32), covariance_type="diag")
                 for c in range(3)]
        return ss.GeneralMixtureModel(comps)
    model().fit(np.random.default_rng(0).normal(size=(5000, 32)), max_iter=2, tol=None,
                batch_size=1000, n_jobs=2)                               # warm-up: compile, threads
    with open("/proc/self/clear_refs", "w") as f:                        # reset VmHWM to VmRSS
        f.write("5")
    base = status("VmHWM")
    model().fit(path, max_iter=2, tol=None, batch_size=16384, n_jobs=2)  # 4 MiB batches
    print(status("VmHWM") - base)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux only)")
def test_streaming_a_file_keeps_resident_memory_bounded(tmp_path):
    path = tmp_path / "big.npy"
    rows, d = 1_000_000, 32  # 256 MB
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, d))
    rng = np.random.default_rng(0)
    for s in range(0, rows, 100_000):
        out[s : s + 100_000] = rng.standard_normal((100_000, d))
    out.flush()
    del out
    res = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path)], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    growth = int(res.stdout.strip().splitlines()[-1])
    assert growth < 64 * 2**20, f"peak RSS grew by {growth / 2**20:.1f} MiB streaming a 256 MiB file"


def test_dask_cluster_gives_bitwise_the_same_fit(npy):
    distributed = pytest.importorskip("distributed")
    import joblib

    reference = fitted(str(npy), batch_size=500, n_jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"), distributed.get_task_stream(client) as stream:
            on_dask = fitted(str(npy), batch_size=500, n_jobs=2)
    assert len(stream.data) >= 5  # every pass ran on the cluster (joblib groups some tasks)
    np.testing.assert_array_equal(params(on_dask), params(reference))
    assert [h["log_likelihood"] for h in on_dask.history_] == [h["log_likelihood"] for h in reference.history_]


def test_memmap_slices_and_replaced_files(X, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    m = fitted(X)
    np.testing.assert_array_equal(m.predict(mm[1000:1100]), m.predict(X[1000:1100]))
    np.testing.assert_allclose(params(fitted(mm[500:], batch_size=300)), params(fitted(X[500:])), rtol=1e-10)
    before = m.log_probability(str(path), batch_size=1000)
    np.save(tmp_path / "y.npy", X[::-1].copy())
    import os

    os.replace(tmp_path / "y.npy", path)  # same path, new content
    np.testing.assert_allclose(m.log_probability(str(path), batch_size=1000), before[::-1], rtol=1e-12)
