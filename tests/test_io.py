"""Saving and loading: exact, atomic, and never through pickle."""

from __future__ import annotations

import io
import json
import os
import re
import tracemalloc
import zipfile

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


# -- issue 12: untrusted model files ------------------------------------------------------


def _npy_bytes(shape, descr="<f8", data=b"", fortran=False):
    """The bytes of a .npy member whose header says ``shape`` but which holds ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran,
                                               "shape": tuple(shape)})
    return buf.getvalue() + data


def _header_blob(header):
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def _write_archive(path, header, members=(), compression=zipfile.ZIP_STORED):
    """A .npz with ``header`` as __header__ and ``members`` (name -> npy bytes or array)."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, _header_blob(header))
        zf.writestr("__header__.npy", buf.getvalue())
        for name, content in dict(members).items():
            if isinstance(content, np.ndarray):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, content)
                content = buf.getvalue()
            zf.writestr(name + ".npy", content)


def _parts(path):
    with np.load(path) as npz:
        arrays = dict(npz)
    return json.loads(arrays.pop("__header__").tobytes()), arrays


def test_saved_files_declare_each_arrays_dtype_and_shape(model_file):
    """Issue 12: format version 2 declares every array's dtype and shape in the header."""
    header, arrays = _parts(model_file)
    assert header["format_version"] == 2
    mean = header["payload"]["model"]["params"]["mean"]
    assert mean == {"__array__": mean["__array__"], "dtype": "<f8", "shape": [3]}
    assert arrays[mean["__array__"]].shape == (3,)


def test_version_1_files_still_load(tmp_path, model_file):
    """Issue 12: files of format version 1 (no declared dtypes and shapes) still load."""
    header, arrays = _parts(model_file)

    def strip(v):
        if isinstance(v, dict):
            return {"__array__": v["__array__"]} if "__array__" in v else {k: strip(x) for k, x in v.items()}
        return [strip(x) for x in v] if isinstance(v, list) else v

    header = {**header, "format_version": 1, "payload": strip(header["payload"])}
    old = tmp_path / "v1.npz"
    _write_archive(old, header, arrays)
    back = ss.load(old)
    np.testing.assert_array_equal(back.cov, ss.load(model_file).cov)


def test_arrays_the_header_does_not_name_are_never_read(tmp_path, model_file):
    """Issue 12: ``load`` read every member of the archive, also those the header never
    names: a 60 kB file of deflated zeros made it allocate 64 MB (a 1.9 MB one, 2 GB).
    Only the arrays the header names are read now."""
    header, arrays = _parts(model_file)
    path = tmp_path / "padded.npz"
    _write_archive(path, header, arrays)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("unnamed.npy", "w") as fh:
            fh.write(_npy_bytes((8 * 2**20,)))
            zero = bytes(2**20)
            for _ in range(64):
                fh.write(zero)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        back = ss.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(back.mean, ss.load(model_file).mean)
    assert peak < 4 * 2**20, f"loading allocated {peak / 2**20:.1f} MiB"


def test_a_huge_declared_array_is_refused_before_allocating(tmp_path, model_file):
    """Issue 12: an array whose .npy header declares 8 TiB gave ``MemoryError``. Its
    declared size is compared with what the member holds and with the JSON header
    before anything is allocated."""
    header, arrays = _parts(model_file)
    key = header["payload"]["model"]["params"]["mean"]["__array__"]
    huge = _npy_bytes((2**40,), data=bytes(24))
    path = tmp_path / "huge.npz"
    _write_archive(path, header, {**arrays, key: huge})
    with pytest.raises(ss.ModelFileError, match=re.escape(
        f"huge.npz: array {key!r} is float64 of shape (1099511627776,), but the header declares "
        "float64 of shape (3,)"
    )):
        ss.load(path)
    # the JSON header agrees with the member: its total is refused against the file size
    header["payload"]["model"]["params"]["mean"]["shape"] = [2**40]
    _write_archive(path, header, {**arrays, key: huge})
    with pytest.raises(ss.ModelFileError, match=r"the header declares 879609302\d+ bytes of arrays in a file of \d+"):
        ss.load(path)
    # without declared shapes (version 1), the member's own size is the bound
    header["format_version"] = 1
    header["payload"] = {"model": {"__array__": key}}
    _write_archive(path, header, {**arrays, key: huge})
    with pytest.raises(ss.ModelFileError, match=re.escape(
        f"array {key!r} declares shape (1099511627776,) of float64 (8796093022208 bytes) but holds 24 bytes"
    )):
        ss.load(path)


def test_a_compressed_member_may_not_expand_without_bound(tmp_path, model_file):
    """Issue 12: a deflated member expanding more than 64 times is refused unread."""
    header, arrays = _parts(model_file)
    key = header["payload"]["model"]["params"]["cov"]["__array__"]
    n = 2**22  # 32 MiB of zeros deflate to 32 kB
    path = tmp_path / "bomb.npz"
    _write_archive(path, header, {**arrays, key: _npy_bytes((n,), data=bytes(8 * n))},
                   compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ss.ModelFileError, match=rf"array {key!r} would expand \d+ bytes from \d+ stored \(more than 64 times\)"):
        ss.load(path)
    # a legitimately compressed file (np.savez_compressed) loads
    original, arrays = _parts(model_file)
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, __header__=_header_blob(original), **arrays)
    np.testing.assert_array_equal(ss.load(packed).cov, ss.load(model_file).cov)


def test_a_declared_dtype_must_match(tmp_path, model_file):
    """Issue 12: the JSON header's dtype and the member's must agree."""
    header, arrays = _parts(model_file)
    key = header["payload"]["model"]["params"]["mean"]["__array__"]
    path = tmp_path / "dtype.npz"
    _write_archive(path, header, {**arrays, key: arrays[key].astype(np.float32)})
    with pytest.raises(ss.ModelFileError, match=re.escape(
        f"array {key!r} is float32 of shape (3,), but the header declares float64 of shape (3,)"
    )):
        ss.load(path)
    for bad, text in [("O", "the dtype object, which suffstat never saves"),
                      ("not a dtype", "an invalid dtype \"not a dtype\""),
                      (["<f8"], "an invalid dtype [\"<f8\"]")]:
        header["payload"]["model"]["params"]["mean"]["dtype"] = bad
        _write_archive(path, header, arrays)
        with pytest.raises(ss.ModelFileError, match=re.escape(f"the header gives array {key!r} {text}")):
            ss.load(path)
    header["payload"]["model"]["params"]["mean"].update(dtype="<f8", shape=[-3])
    _write_archive(path, header, arrays)
    with pytest.raises(ss.ModelFileError, match=re.escape(f"array {key!r} an invalid shape [-3]")):
        ss.load(path)


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deep_nesting_is_refused(tmp_path, model_file, depth):
    """Issue 12: 900 levels of nesting gave ``RecursionError`` (deeper ones fail in the
    JSON parser itself)."""
    header, arrays = _parts(model_file)
    path = tmp_path / "deep.npz"
    text = json.dumps(header).replace('"frozen": false', '"frozen": ' + "[" * depth + "]" * depth)
    assert text != json.dumps(header)
    with zipfile.ZipFile(path, "w") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.frombuffer(text.encode(), dtype=np.uint8))
        zf.writestr("__header__.npy", buf.getvalue())
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a)
            zf.writestr(name + ".npy", buf.getvalue())
    with pytest.raises(ss.ModelFileError, match="deep.npz: the header is nested more than 64 levels deep"):
        ss.load(path)


def test_too_deep_a_payload_is_not_saved(tmp_path):
    """Issue 12: what load refuses, save refuses too."""
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 64 levels deep"):
        ss.io.save_payload(tmp_path / "deep.npz", {"x": deep})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("reference", "text"),
    [
        ([1, 2], 'a malformed array reference {"__array__": [1, 2]'),
        ("../../etc/passwd", 'a malformed array reference {"__array__": "../../etc/passwd"'),
        ("__header__", 'a malformed array reference {"__array__": "__header__"'),
    ],
)
def test_malformed_array_references(tmp_path, model_file, reference, text):
    """Issue 12: a list where an array reference belongs gave ``TypeError``."""
    header, arrays = _parts(model_file)
    header["payload"]["model"]["params"]["mean"]["__array__"] = reference
    path = tmp_path / "ref.npz"
    _write_archive(path, header, arrays)
    with pytest.raises(ss.ModelFileError, match=re.escape(f"ref.npz: the header holds {text}")):
        ss.load(path)


def test_missing_array_and_mangled_descriptions(tmp_path, model_file):
    """Issue 12: every failure of a crafted file is a ModelFileError naming the file."""
    header, arrays = _parts(model_file)
    path = tmp_path / "m.npz"
    key = header["payload"]["model"]["params"]["mean"]["__array__"]
    _write_archive(path, header, {k: v for k, v in arrays.items() if k != key})
    with pytest.raises(ss.ModelFileError, match=f"m.npz: the header refers to a missing array '{key}'"):
        ss.load(path)
    for mutate, text in [
        (lambda h: h["payload"].update(model=[1, 2]), "the model description is invalid"),
        (lambda h: h["payload"]["model"].update(params=[1, 2]), "the model description is invalid"),
        (lambda h: h["payload"]["model"].update(options="x"), "the model description is invalid"),
        (lambda h: h["payload"]["model"].update({"class": ["Normal"]}), "the model class must be given by its name"),
        (lambda h: h["payload"]["model"]["params"].update(bogus=1), "unexpected keyword argument 'bogus'"),
        (lambda h: h.update(payload=[1]), "the header holds no payload"),
        (lambda h: h.update(payload={}), "the file holds no model"),
        (lambda h: h.update(format_version=True), "format version true is not supported"),
    ]:
        h = json.loads(json.dumps(header))
        mutate(h)
        _write_archive(path, h, arrays)
        with pytest.raises(ss.ModelFileError, match=re.escape(text)):
            ss.load(path)
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ss.ModelFileError, match="m.npz: not a readable .npz model file"):
        ss.load(path)


def test_all_arrays_together_are_bounded(tmp_path, model_file, monkeypatch):
    """Issue 12: besides each member's own bound, all the arrays read together may not
    take more than 64 times the file (plus 1 MiB): a defence should a forged archive get
    members to share compressed bytes. Shown here with the factor set to 0, so that the
    1 MiB alone is left for 40 stored arrays of 64 KiB."""
    header, arrays = _parts(model_file)
    members = {f"a{i}": np.zeros(8192) for i in range(40)}
    header = {**header, "format_version": 1,
              "payload": {"model": [{"__array__": k} for k in members]}}
    path = tmp_path / "many.npz"
    _write_archive(path, header, members)
    monkeypatch.setattr(ss.io, "MAX_EXPANSION", 0)
    with pytest.raises(ss.ModelFileError, match=re.escape(
        "array 'a16' holds 65536 bytes, more than the 0 left for all arrays (at most 0 times the "
        "file's size, plus 1 MiB)"
    )):
        ss.load(path)
