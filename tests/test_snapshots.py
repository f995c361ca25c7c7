"""Per-lap snapshots, load_model_at_lap, and bitwise resume after SIGKILL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mixture_helpers import blobs, params

import suffstat as ss

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import suffstat as ss

    data, out, kill_at, algorithm, rule = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    step = None if rule == "-" else getattr(ss.steps, rule)()

    class Killer(ss.Callback):
        def on_epoch_end(self, logs):
            if logs["iteration"] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    comps = [ss.MultivariateNormal(covariance_type="full") for _ in range(3)]
    model = ss.GeneralMixtureModel(comps)
    model.fit(data, max_iter=8, tol=None, batch_size=400, random_state=3, output_path=out,
              algorithm=algorithm, step=step, callbacks=[Killer()], resume=True)
    model.save(os.path.join(out, "final.npz"))
    """
)


def _run(*args):
    return subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True,
                          text=True, timeout=600)


KILLED = [("em", "-"), ("stepwise", "-"), ("memoized", "-"), ("stepwise", "Adam"),
          ("stepwise", "AdaptiveRate"), ("sem-vr", "-"), ("fiem", "-")]


@pytest.mark.parametrize("algorithm,rule", KILLED, ids=[a if r == "-" else f"{a}-{r}" for a, r in KILLED])
def test_killed_fit_resumes_to_the_same_bits(tmp_path, algorithm, rule):
    """Issue 17 adds the adaptive rules' state and the sem-vr / fiem memory to the run state."""
    data = tmp_path / "x.npy"
    np.save(data, blobs(2000, seed=4))
    killed = _run(data, tmp_path / "run", 5, algorithm, rule)
    assert killed.returncode == -9, killed.stderr  # SIGKILL during lap 5, after lap 4 was saved
    assert ss.snapshots.snapshot_laps(tmp_path / "run") == [1, 2, 3, 4]
    resumed = _run(data, tmp_path / "run", 0, algorithm, rule)
    assert resumed.returncode == 0, resumed.stderr
    straight = _run(data, tmp_path / "straight", 0, algorithm, rule)
    assert straight.returncode == 0, straight.stderr
    a = ss.load(tmp_path / "run" / "final.npz")
    b = ss.load(tmp_path / "straight" / "final.npz")
    np.testing.assert_array_equal(params(a), params(b))
    trace_a = (tmp_path / "run" / "trace.csv").read_text()
    trace_b = (tmp_path / "straight" / "trace.csv").read_text()
    assert [r.split(",")[:3] for r in trace_a.splitlines()] == [r.split(",")[:3] for r in trace_b.splitlines()]


@pytest.fixture
def fitted_run(tmp_path):
    X = blobs(1500, seed=2)
    out = tmp_path / "laps"
    m = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, X, random_state=0, max_iter=7,
                                            tol=None, output_path=out, save_every=2)
    return X, out, m


def test_snapshots_trace_and_load_model_at_lap(fitted_run):
    X, out, m = fitted_run
    assert ss.snapshots.snapshot_laps(out) == [2, 4, 6, 7]  # every 2 laps, and the last
    rows = (out / "trace.csv").read_text().splitlines()
    assert rows[0] == "lap,log_likelihood,improvement,K,seconds,elapsed"
    assert len(rows) == 8 and rows[-1].startswith("7,")
    assert float(rows[3].split(",")[1]) == m.history_[2]["log_likelihood"]
    latest = ss.load_model_at_lap(out)
    assert latest.lap_ == 7
    np.testing.assert_array_equal(params(latest), params(m))
    assert ss.load_model_at_lap(out, 4).lap_ == 4
    with pytest.warns(UserWarning, match="no snapshot at lap 5.*loaded lap 4"):
        assert ss.load_model_at_lap(out, 5).lap_ == 4
    with pytest.raises(ss.ModelFileError, match="no snapshot at or before lap 1"):
        ss.load_model_at_lap(out, 1)
    # the model at lap 4 is the 4-pass fit from the same start
    m4 = ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, X, random_state=0, max_iter=4, tol=None)
    np.testing.assert_array_equal(params(ss.load_model_at_lap(out, 4)), params(m4))


def test_damaged_newest_snapshot_is_skipped(fitted_run):
    X, out, m = fitted_run
    newest = out / "lap-0007.npz"
    newest.write_bytes(newest.read_bytes()[:200])
    with pytest.warns(RuntimeWarning, match="skipping damaged snapshot.*lap-0007"):
        assert ss.load_model_at_lap(out).lap_ == 6
    resumed = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    with pytest.warns(RuntimeWarning, match="skipping damaged"):
        resumed.fit(X, max_iter=7, tol=None, random_state=0, output_path=out, save_every=2, resume=True)
    np.testing.assert_array_equal(params(resumed), params(m))
    assert len(resumed.history_) == 7


def test_warm_start_from_a_snapshot_folder(fitted_run):
    X, out, m = fitted_run
    warm = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    warm.fit(X, init=str(out), max_iter=1, tol=None)
    assert warm.history_[0]["mean_log_likelihood"] == pytest.approx(m.score(X), rel=1e-12)


def test_snapshot_arguments(tmp_path):
    m = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(2)])
    with pytest.raises(ss.ParameterError, match="resume=True needs the output_path"):
        m.fit(blobs(100), resume=True)
    with pytest.raises(ss.ParameterError, match="n_init=1"):
        m.fit(blobs(100), n_init=2, output_path=tmp_path)
    assert not os.listdir(tmp_path)


def test_last_snapshot_is_the_returned_model_and_old_laps_are_cleared(tmp_path):
    X = blobs(1200, seed=6)
    out = tmp_path / "laps"
    ss.GeneralMixtureModel.from_samples(ss.MultivariateNormal, 3, X, random_state=0, max_iter=7, tol=None,
                                        output_path=out)
    averaged = ss.GeneralMixtureModel.from_samples(
        ss.MultivariateNormal, 3, X, random_state=0, max_iter=4, tol=None, output_path=out,
        algorithm="stepwise", batch_size=300, average=True,
    )
    assert ss.snapshots.snapshot_laps(out) == [1, 2, 3, 4]  # laps 5-7 of the earlier fit are gone
    np.testing.assert_array_equal(params(ss.load_model_at_lap(out)), params(averaged))
    rows = (out / "trace.csv").read_text().splitlines()[1:]
    assert [r.split(",")[3] for r in rows] == [str(h["K"]) for h in averaged.history_]


def test_bad_init_names_and_too_few_distinct_rows():
    m = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    with pytest.raises(ss.ParameterError, match=re.escape("got 'kmeans+' (no such file or folder)")):
        m.fit(blobs(100), init="kmeans+")
    X = np.repeat(blobs(2), 50, axis=0)  # two distinct rows
    with pytest.raises(ss.ParameterError, match="cannot initialize 3 components"):
        m.fit(X)


def _rewrite(path, mutate):
    """Rewrite the snapshot ``path`` with its JSON header changed by ``mutate``."""
    with np.load(path) as npz:
        arrays = dict(npz)
    header = json.loads(arrays.pop("__header__").tobytes())
    text = mutate(header, arrays)
    arrays["__header__"] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def _first_ref(value):
    if isinstance(value, dict):
        if "__array__" in value:
            return value
        value = list(value.values())
    for v in value if isinstance(value, list) else ():
        found = _first_ref(v)
        if found:
            return found
    return None


CRAFTED = {
    "deep nesting": (
        lambda h, a: json.dumps(h).replace('"frozen": false', '"frozen": ' + "[" * 900 + "]" * 900, 1),
        "nested more than 64 levels deep",
    ),
    "list for an array": (
        lambda h, a: json.dumps(h).replace('{"__array__": "a0"', '{"__array__": [0]', 1),
        "malformed array reference",
    ),
    "wrong declared shape": (
        lambda h, a: (a.update(a0=np.zeros(2**16)), json.dumps(h))[1],
        "'a0' is float64 of shape (65536,), but the header declares",
    ),
    "no state": (
        lambda h, a: (h["payload"].pop("state"), json.dumps(h))[1],
        "not a snapshot (no model and driver state)",
    ),
    "unknown class": (
        lambda h, a: json.dumps(h).replace('"class": "GeneralMixtureModel"', '"class": "os.system"', 1),
        "unknown model class 'os.system'",
    ),
}


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_crafted_snapshots_are_skipped_with_a_warning(fitted_run, kind):
    """Issue 12: a snapshot with a forged header (deep nesting, a list where an array
    reference belongs, an array other than declared, no driver state, an unknown
    class) raised RecursionError, TypeError or KeyError at resume. It is skipped with
    a warning naming the file and the problem, and the newest readable one is used."""
    X, out, m = fitted_run
    mutate, problem = CRAFTED[kind]
    newest = out / "lap-0007.npz"
    _rewrite(newest, mutate)
    with pytest.warns(RuntimeWarning, match=re.escape(f"skipping damaged snapshot: {newest}: ") + ".*"
                      + re.escape(problem)):
        assert ss.load_model_at_lap(out).lap_ == 6
    resumed = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(3)])
    with pytest.warns(RuntimeWarning, match=re.escape(problem)):
        resumed.fit(X, max_iter=7, tol=None, random_state=0, output_path=out, save_every=2, resume=True)
    np.testing.assert_array_equal(params(resumed), params(m))
    assert len(resumed.history_) == 7


def test_snapshots_are_flushed_to_disk_at_the_end_and_once_a_second(tmp_path, monkeypatch):
    import suffstat.io as sio

    flushed = []
    real = os.fsync
    monkeypatch.setattr(sio.os, "fsync", lambda fd: (flushed.append(fd), real(fd)))
    model = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(2)])
    model.fit(blobs(300, seed=1), max_iter=6, tol=None, random_state=0, output_path=tmp_path)
    assert ss.snapshots.snapshot_laps(tmp_path) == [1, 2, 3, 4, 5, 6]
    assert len(flushed) == 1  # six fast laps: only the last snapshot (trace.csv is a view of it)
    flushed.clear()
    monkeypatch.setattr("suffstat.fitting.fit.DURABLE_EVERY", 0.0)
    model.fit(blobs(300, seed=1), max_iter=6, tol=None, random_state=0, output_path=tmp_path)
    assert len(flushed) == 6
