"""suffstat.parallel.ordered_map: order, back-pressure, nesting and early stops."""

from __future__ import annotations

import threading
import time

import joblib
import numpy as np
import pytest

from suffstat.exceptions import DataError
from suffstat.parallel import ordered_map
from suffstat.sources import as_source

X = np.arange(200.0).reshape(100, 2)
RANGES = [(s, s + 10) for s in range(0, 100, 10)]


def first_row(Xb, w):
    time.sleep(0.002 * (Xb[0, 0] % 3))  # finish out of order
    return float(Xb[0, 0])


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_results_come_back_in_submission_order(n_jobs):
    out = list(ordered_map(first_row, as_source(X), RANGES, n_jobs=n_jobs))
    assert out == [float(X[s, 0]) for s, _ in RANGES]


def nested(Xb, w):
    inner = ordered_map(first_row, as_source(X), RANGES[:3], n_jobs=2)
    return sum(inner) + float(Xb[0, 0])


def test_a_task_may_map_again_without_deadlock():
    out = list(ordered_map(nested, as_source(X), RANGES, n_jobs=2))
    assert out == [0.0 + 20.0 + 40.0 + float(X[s, 0]) for s, _ in RANGES]


class Recorder:
    def __init__(self):
        self.started = []
        self.running = 0
        self.lock = threading.Lock()

    def __call__(self, Xb, w):
        with self.lock:
            self.started.append(int(Xb[0, 0]))
            self.running += 1
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        return int(Xb[0, 0])


def test_an_early_stop_cancels_queued_work_and_waits_for_running_tasks():
    rec = Recorder()
    ranges = [(s, s + 1) for s in range(100)]
    gen = ordered_map(rec, as_source(X), ranges, n_jobs=2)
    assert [next(gen) for _ in range(3)] == [0, 2, 4]
    gen.close()
    assert rec.running == 0  # nothing still running behind our back
    assert len(rec.started) <= 3 + 2 * 2  # back-pressure: a bounded window ran ahead


def bad_batch(Xb, w):
    if Xb[0, 0] >= 100:
        raise DataError("X is bad", row=3)
    return 0


def test_a_task_error_names_the_global_row():
    with pytest.raises(DataError, match="at row 53"):
        list(ordered_map(bad_batch, as_source(X), RANGES, n_jobs=2))


def test_an_enclosing_joblib_backend_is_used():
    seen = []

    def where(Xb, w):
        seen.append(threading.current_thread().name)
        return 0

    with joblib.parallel_config(backend="threading", n_jobs=2):
        list(ordered_map(where, as_source(X), RANGES, n_jobs=2))
    assert seen and not any(name.startswith("suffstat") for name in seen)
    seen.clear()
    list(ordered_map(where, as_source(X), RANGES, n_jobs=2))
    assert seen and all(name.startswith("suffstat") for name in seen)


def batch_digest(Xb, w):
    return Xb.shape, float(Xb.sum()), float(Xb[0, 0]), float(Xb[-1, -1])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_file_batches_read_into_reused_buffers_are_the_right_rows(tmp_path, n_jobs):
    data = np.random.default_rng(0).normal(size=(1003, 7))
    path = tmp_path / "x.npy"
    np.save(path, data)
    ranges = [(0, 400), (400, 410), (410, 800), (800, 1003), (0, 1003)]  # sizes vary both ways
    out = list(ordered_map(batch_digest, as_source(str(path)), ranges, n_jobs=n_jobs))
    assert out == [batch_digest(data[a:b], None) for a, b in ranges]


def labelled_sums(Xb, w, yb, scale):
    """Rows and their extra column, read over the same range (a classifier's labels)."""
    assert Xb.shape[0] == yb.shape[0]
    return np.array([float(np.dot(Xb[:, 0], yb)) * scale, float(Xb.shape[0])])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_extra_sources_ride_with_the_rows(tmp_path, monkeypatch, n_jobs):
    """Issue 18: ``extras`` are read over the same ranges and pieces as X, in memory and from files."""
    import suffstat.parallel as par

    monkeypatch.setattr(par, "PIECE_BYTES", 48)  # 3 rows of X per piece: batches are split
    y = (np.arange(100) % 7).astype(np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    want = [np.array([float(np.dot(X[s:e, 0], y[s:e])) * 2.0, e - s]) for s, e in RANGES]
    for xs, ys in [(X, y), (str(tmp_path / "X.npy"), str(tmp_path / "y.npy"))]:
        out = list(ordered_map(labelled_sums, as_source(xs), RANGES, n_jobs=n_jobs, args=(2.0,),
                               additive=True, extras=(as_source(ys),)))
        assert all(np.array_equal(a, b) for a, b in zip(out, want, strict=True))
