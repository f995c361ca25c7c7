"""The suffstat command line: fit -> score / predict / sample / info, and its errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import suffstat as ss
from suffstat.cli import asterisk, main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    X, _ = asterisk(1500, seed=3)
    np.save(d / "x.npy", X)
    np.savetxt(d / "x.csv", X, delimiter=",", header="a,b", comments="")
    return d, X


def run(*argv):
    return main([str(a) for a in argv])


@pytest.mark.parametrize("ext", ["npy", "csv"])
def test_round_trip(files, ext, capsys):
    d, X = files
    model = d / f"m-{ext}.npz"
    assert run("fit", d / f"x.{ext}", "--components", 8, "--seed", 0, "--batch-size", 400,
               "--n-jobs", 2, "--output-model", model) == 0
    assert "fitted 8 components on 1500 rows" in capsys.readouterr().out
    m = ss.load(model)
    assert run("score", model, d / f"x.{ext}", "--output", d / "s.npy") == 0
    np.testing.assert_allclose(np.load(d / "s.npy"), m.log_probability(X), rtol=1e-12)
    assert f"mean log-likelihood: {m.score(X):.6f} over 1500 rows" in capsys.readouterr().out
    assert run("predict", model, d / f"x.{ext}", "--output", d / "p.npy", "--batch-size", 100) == 0
    np.testing.assert_array_equal(np.load(d / "p.npy"), m.predict(X))
    assert run("predict", model, d / f"x.{ext}", "--proba", "--output", d / "pp.npy") == 0
    np.testing.assert_allclose(np.load(d / "pp.npy"), m.predict_proba(X), rtol=1e-12)
    assert run("sample", model, 50, "--seed", 1, "--output", d / "draw.npy") == 0
    np.testing.assert_array_equal(np.load(d / "draw.npy"), m.sample(50, random_state=1))
    capsys.readouterr()
    assert run("info", model) == 0
    out = capsys.readouterr().out
    assert "GeneralMixtureModel with 8 component(s), 2 feature(s)" in out and "component 7: weight" in out


def test_fit_equals_the_library_fit(files):
    d, X = files
    assert run("fit", d / "x.npy", "-k", 4, "--covariance", "diag", "--seed", 5, "--max-iter", 7,
               "--tol", 0, "--init", "kmeans", "--output-model", d / "k.npz") == 0
    lib = ss.GeneralMixtureModel([ss.MultivariateNormal(covariance_type="diag") for _ in range(4)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ss.ConvergenceWarning)
        lib.fit(X, init="kmeans", random_state=5, max_iter=7, tol=0.0)
    cli = ss.load(d / "k.npz")
    np.testing.assert_allclose(cli.weights, lib.weights, rtol=1e-10)


def test_trials_refined_snapshots_resume_and_input_model(files, capsys):
    d, X = files
    out = d / "laps"
    assert run("fit", d / "x.npy", "-k", 8, "--trials", 2, "--init", "refined", "--samplings", 4,
               "--percentage", 0.1, "--seed", 1, "--output-model", d / "t.npz") == 0
    assert run("fit", d / "x.npy", "-k", 8, "--seed", 2, "--max-iter", 3, "--tol", 0,
               "--output-path", out) == 0
    assert sorted(os.listdir(out)) == ["lap-0001.npz", "lap-0002.npz", "lap-0003.npz", "trace.csv"]
    assert run("fit", d / "x.npy", "-k", 8, "--seed", 2, "--max-iter", 5, "--tol", 0,
               "--output-path", out, "--resume") == 0
    assert "lap-0005.npz" in os.listdir(out)
    assert run("fit", d / "x.npy", "--input-model", d / "t.npz", "--max-iter", 2, "--noise", 0.01,
               "--output-model", d / "w.npz") == 0
    assert ss.load(d / "w.npz").n_components == 8


@pytest.mark.parametrize(
    "argv, message",
    [
        (["score", "{d}/missing.npz", "{d}/x.npy"], "no such model file"),
        (["score", "{d}/m-npy.npz", "{d}/missing.npy"], "no such file: "),
        (["score", "{d}/m-npy.npz", "{d}/three.npy"], "X must have 2 features (the model has 2); got 3"),
        (["fit", "{d}/x.npy"], "fit needs --components K"),
        (["fit", "{d}/x.npy", "-k", "0"], "--components/-k: must be a positive integer; got 0"),
        (["fit", "{d}/x.npy", "-k", "2", "--covariance", "tied"], "invalid choice: 'tied'"),
        (["fit", "{d}/x.npy", "-k", "2", "--tol", "-1"], "tol must be >= 0"),
        # .txt is text input now (issue 12); a suffix we do not read is still refused
        (["fit", "{d}/x.json", "-k", "2"], "INPUT must be a .npy, .csv, .tsv or .txt file"),
        (["info", "{d}/corrupt.npz"], "not a readable .npz model file"),
        (["sample", "{d}/m-npy.npz", "5"], "the following arguments are required: --output"),
    ],
)
def test_errors_are_one_line_and_exit_2(files, argv, message, capsys):
    d, X = files
    if not (d / "m-npy.npz").exists():
        run("fit", d / "x.npy", "-k", 8, "--seed", 0, "--output-model", d / "m-npy.npz")
    np.save(d / "three.npy", np.zeros((5, 3)))
    (d / "x.json").write_text("[[1, 2]]\n")
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04 truncated")
    capsys.readouterr()
    assert run(*[a.format(d=d) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("suffstat: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_and_verbose_traceback(files):
    d, _ = files
    exe = shutil.which("suffstat")
    cmd = [exe] if exe else [sys.executable, "-m", "suffstat.cli"]
    res = subprocess.run([*cmd, "info", str(d / "nope.npz")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and res.stderr.strip().startswith("suffstat: error:")
    res = subprocess.run([*cmd, "--verbose", "info", str(d / "nope.npz")], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 2 and "Traceback" in res.stderr


def test_input_model_options_and_csv_errors(files, capsys):
    d, X = files
    run("fit", d / "x.npy", "-k", 3, "--seed", 0, "--output-model", d / "three.npz")
    assert run("fit", d / "x.npy", "--input-model", d / "three.npz", "-k", 4) == 2
    assert "--components 4 does not match --input-model, which has 3" in capsys.readouterr().err
    assert run("fit", d / "x.npy", "--input-model", d / "three.npz", "--covariance", "diag",
               "--max-iter", 2, "--algorithm", "memoized", "--batch-size", 500,
               "--output-model", d / "diag.npz") == 0
    assert ss.load(d / "diag.npz").distributions[0].covariance_type == "diag"
    assert run("sample", d / "diag.npz", 5, "--output", d / "draw.bin") == 0
    assert np.load(d / "draw.bin").shape == (5, 2)
    assert run("fit", d / "x.npy", "-k", 2, "--noise", -1) == 2
    assert "--noise: must be >= 0; got -1" in capsys.readouterr().err
    bad = d / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4\n5,oops\n")
    assert run("fit", bad, "-k", 1) == 2
    assert "bad.csv, line 4: not a row of numbers" in capsys.readouterr().err
