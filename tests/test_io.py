"""Saving and loading: exact, atomic, and never through pickle."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import suffstat as ss


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.npz"
    ss.MultivariateNormal().fit(np.random.default_rng(0).normal(size=(100, 3))).save(path)
    return path


def test_round_trip_preserves_options(tmp_path):
    d = ss.Categorical([0.25, 0.75], pseudocount=0.5, inertia=0.1, frozen=True)
    d.save(tmp_path / "c.npz")
    back = ss.load(tmp_path / "c.npz")
    assert (back.pseudocount, back.inertia, back.frozen) == (0.5, 0.1, True)
    np.testing.assert_array_equal(back.probs, d.probs)


def test_missing_file(tmp_path):
    with pytest.raises(ss.ModelFileError, match="no such model file"):
        ss.load(tmp_path / "nope.npz")


def test_truncated_file(model_file):
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(ss.ModelFileError, match=f"{model_file.name}: not a readable .npz"):
        ss.load(model_file)


def test_garbage_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00not a zip at all" * 10)
    with pytest.raises(ss.ModelFileError, match="not a readable"):
        ss.load(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    with pytest.raises(ss.ModelFileError, match="not a suffstat model file"):
        ss.load(foreign)


def test_pickled_object_array_is_refused(tmp_path, model_file):
    with np.load(model_file) as npz:
        arrays = dict(npz)
    arrays["a0"] = np.array([{"payload": "would run code"}], dtype=object)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)  # numpy pickles the object array
    with pytest.raises(ss.ModelFileError, match="refusing to load 'a0'.*pickled"):
        ss.load(evil)


def test_unknown_class_and_bad_parameters_in_the_header(tmp_path, model_file):
    with np.load(model_file) as npz:
        arrays = dict(npz)
    header = json.loads(arrays["__header__"].tobytes())
    for mutate, text in [
        (lambda h: h["payload"]["model"].update({"class": "os.system"}), "unknown model class"),
        (lambda h: h["payload"]["model"]["options"].update({"reg_covar": -1}), "reg_covar must be"),
        (lambda h: h.update({"format_version": 99}), "format version 99"),
    ]:
        h = json.loads(json.dumps(header))
        mutate(h)
        arrays["__header__"] = np.frombuffer(json.dumps(h).encode(), dtype=np.uint8)
        path = tmp_path / "bad.npz"
        np.savez(path, **arrays)
        with pytest.raises(ss.ModelFileError, match=text):
            ss.load(path)


def test_corrupt_header(tmp_path, model_file):
    with np.load(model_file) as npz:
        arrays = dict(npz)
    arrays["__header__"] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(tmp_path / "h.npz", **arrays)
    with pytest.raises(ss.ModelFileError, match="header is corrupt"):
        ss.load(tmp_path / "h.npz")


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    ss.Normal(1.0, 2.0).save(path)
    original = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        ss.Normal(5.0, 6.0).save(path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left behind


def test_plain_npy_array_is_not_a_model(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(4.0))
    with pytest.raises(ss.ModelFileError, match="plain .npy array"):
        ss.load(path)
