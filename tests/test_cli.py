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
    # issue 12: the whole model, not only the weights (a CLI that dropped --covariance,
    # --init or --seed for the components would still match the weights loosely)
    assert all(c.covariance_type == "diag" for c in cli.distributions)
    np.testing.assert_allclose(params(cli), params(lib), rtol=1e-10, atol=1e-12)


def params(model):
    out = [np.asarray(model.weights)]
    for c in model.distributions:
        out += [np.ravel(c.mean), np.ravel(c.cov)]
    return np.concatenate(out)


def test_trials_refined_snapshots_resume_and_input_model(files, capsys):
    """Issue 12: ``--trials`` and ``--resume`` give the library's models, not just exit 0."""
    d, X = files
    out = d / "laps"
    assert run("fit", d / "x.npy", "-k", 8, "--trials", 2, "--init", "refined", "--samplings", 4,
               "--percentage", 0.1, "--seed", 1, "--output-model", d / "t.npz") == 0
    lib = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(8)])
    lib.fit(X, n_init=2, init="refined", samplings=4, percentage=0.1, random_state=1)
    trials = ss.load(d / "t.npz")
    np.testing.assert_allclose(params(trials), params(lib), rtol=1e-10, atol=1e-12)
    assert len(lib.trials_) == 2
    assert run("fit", d / "x.npy", "-k", 8, "--seed", 2, "--max-iter", 3, "--tol", 0,
               "--output-path", out) == 0
    assert sorted(os.listdir(out)) == ["lap-0001.npz", "lap-0002.npz", "lap-0003.npz", "trace.csv"]
    assert run("fit", d / "x.npy", "-k", 8, "--seed", 2, "--max-iter", 5, "--tol", 0,
               "--output-path", out, "--resume") == 0
    assert "lap-0005.npz" in os.listdir(out)
    # the resumed run ends where an uninterrupted 5-pass run ends (bitwise)
    assert run("fit", d / "x.npy", "-k", 8, "--seed", 2, "--max-iter", 5, "--tol", 0,
               "--output-model", d / "five.npz") == 0
    np.testing.assert_array_equal(params(ss.load(out / "lap-0005.npz")), params(ss.load(d / "five.npz")))
    assert not np.array_equal(params(ss.load(out / "lap-0003.npz")), params(ss.load(d / "five.npz")))
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


# -- issue 12: the command line as an mlpack user types it -------------------------------------
import signal  # noqa: E402
import time  # noqa: E402

import suffstat._cli_files as cli_files  # noqa: E402
import suffstat.cli as cli  # noqa: E402


@pytest.fixture(scope="module")
def gmm(files):
    """A 3-component model fitted to the asterisk rows, and its path."""
    d, X = files
    path = d / "gmm3.npz"
    assert run("fit", d / "x.npy", "-k", 3, "--seed", 0, "--max-iter", 20,
               "--output-model", path) == 0
    return path, ss.load(path)


def one_error_line(capsys, *fragments):
    err = capsys.readouterr().err
    assert err.startswith("suffstat: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    return err


def models_equal(a, b):
    a, b = ss.load(a), ss.load(b)
    np.testing.assert_array_equal(a.weights, b.weights)
    for p, q in zip(a.distributions, b.distributions, strict=True):
        np.testing.assert_array_equal(p.mean, q.mean)
        np.testing.assert_array_equal(p.cov, q.cov)
        assert p.covariance_type == q.covariance_type and p.reg_covar == q.reg_covar


def test_gmm_train_names_fit_the_same_model_as_ours_and_as_the_library(files, capsys):
    d, X = files
    n = X.shape[0]
    assert run("fit", d / "x.csv", "--components", 3, "--max-iter", 6, "--tol", 0.5 / n,
               "--covariance", "diag", "--init", "refined", "--samplings", 4, "--percentage", 0.1,
               "--trials", 2, "--seed", 7, "--output-model", d / "ours.npz") == 0
    ours = capsys.readouterr().out
    assert run("train", "-i", d / "x.csv", "-g", 3, "-n", 6, "-T", 0.5, "-d", "-r", "-S", 4,
               "-p", 0.1, "-t", 2, "-s", 7, "-M", d / "short.npz") == 0
    assert capsys.readouterr().out == ours
    assert run("fit", "--input_file", d / "x.csv", "--gaussians", 3, "--max_iterations", 6,
               "--tolerance", 0.5, "--diagonal_covariance", "--refined_start", "--samplings", 4,
               "--percentage", 0.1, "--trials", 2, "--seed", 7,
               "--output_model_file", d / "long.npz") == 0
    models_equal(d / "ours.npz", d / "short.npz")
    models_equal(d / "ours.npz", d / "long.npz")
    lib = ss.GeneralMixtureModel([ss.MultivariateNormal(covariance_type="diag") for _ in range(3)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ss.ConvergenceWarning)
        lib.fit(X, max_iter=6, tol=0.5 / n, init="refined", samplings=4, percentage=0.1, n_init=2,
                random_state=7)
    cli_model = ss.load(d / "short.npz")
    np.testing.assert_allclose(cli_model.weights, lib.weights, rtol=1e-10)
    np.testing.assert_allclose(np.array([c.mean for c in cli_model.distributions]),
                               np.array([c.mean for c in lib.distributions]), rtol=1e-10)


def test_gmm_train_names_without_a_short_twin_of_ours(files, gmm, capsys):
    d, X = files
    # -P: nothing is added to the covariances (reg_covar 0), instead of 1e-6
    assert run("fit", d / "x.npy", "-g", 2, "-s", 1, "-P", "-M", d / "p.npz") == 0
    assert all(c.reg_covar == 0.0 for c in ss.load(d / "p.npz").distributions)
    assert run("fit", d / "x.npy", "-g", 2, "-s", 1, "--reg-covar", 0, "-M", d / "r0.npz") == 0
    models_equal(d / "p.npz", d / "r0.npz")
    # ... so a constant column is a singular covariance: one line naming it, not a crash
    flat = d / "flat.npy"
    np.save(flat, np.column_stack([X[:, 0], np.ones(len(X))]))
    capsys.readouterr()
    assert run("fit", flat, "-g", 2, "-s", 1, "--no_force_positive") == 2
    one_error_line(capsys, "variance 0", "reg_covar")
    assert run("fit", flat, "-g", 2, "-s", 1) == 0  # 1e-6 by default keeps it positive definite
    # -N is --noise: a standard deviation, as mlpack multiplies randn by it
    assert run("fit", d / "x.npy", "-g", 2, "-s", 1, "-N", 0.05, "-M", d / "n1.npz") == 0
    assert run("fit", d / "x.npy", "-g", 2, "--seed", 1, "--noise", 0.05, "-M", d / "n2.npz") == 0
    models_equal(d / "n1.npz", d / "n2.npz")
    # --kmeans_max_iterations N: mlpack's k-means start, with N Lloyd passes
    assert run("fit", d / "x.npy", "-g", 2, "-s", 1, "--kmeans_max_iterations", 3,
               "-M", d / "k1.npz") == 0
    assert run("fit", d / "x.npy", "-g", 2, "-s", 1, "--init", "kmeans", "--max-kmeans-iter", 3,
               "-M", d / "k2.npz") == 0
    models_equal(d / "k1.npz", d / "k2.npz")
    # -m / -M warm start; --max_iterations 0 runs until convergence
    capsys.readouterr()
    assert run("fit", "--input", d / "x.npy", "-m", gmm[0], "-n", 0, "-M", d / "warm.npz") == 0
    out = capsys.readouterr().out
    assert out.startswith("fitted 3 components on 1500 rows") and out.endswith("(converged)\n")
    assert ss.load(d / "warm.npz").n_components == 3
    # contradictions are refused before any work
    for argv, fragment in [
        (["-k", 2, "--tol", 1e-3, "-T", 1], "give --tol (per row) or --tolerance/-T (total)"),
        (["-k", 2, "-P", "--reg-covar", 1e-3], "--no_force_positive/-P means --reg-covar 0"),
        (["-k", 2, "-p", 0], "argument -p: must be in (0, 1]; got 0"),
        (["-k", 2, "-n", -1], "argument --max_iterations/-n: must be >= 0"),
        (["-i", d / "x.csv", "-k", 2], "unrecognized arguments: "),
    ]:
        assert run("fit", d / "x.npy", *argv) == 2
        one_error_line(capsys, fragment)
    assert run("train", "-g", 2) == 2
    one_error_line(capsys, "train needs INPUT (or --input_file/-i FILE)")


def test_probability_writes_densities_as_gmm_probability_does(files, gmm, capsys):
    d, X = files
    path, m = gmm
    logp = m.log_probability(X)
    assert run("probability", "-m", path, "-i", d / "x.csv", "-o", d / "probs.csv") == 0
    assert capsys.readouterr().out == f"mean log-likelihood: {logp.mean():.6f} over 1500 rows\n"
    text = (d / "probs.csv").read_text()
    assert text.count("\n") == 1500 and "," not in text  # one density per line, as mlpack writes
    np.testing.assert_array_equal(np.loadtxt(d / "probs.csv"), np.exp(logp))
    assert run("probability", path, d / "x.npy", "--output", d / "probs.npy", "--batch-size", 100,
               "--n-jobs", 2) == 0
    np.testing.assert_array_equal(np.load(d / "probs.npy"), np.exp(logp))
    # score keeps writing log-densities; the suffix picks the format
    assert run("score", "--input_model_file", path, "--input_file", d / "x.npy",
               "--output_file", d / "ll.csv") == 0
    np.testing.assert_array_equal(np.loadtxt(d / "ll.csv"), logp)
    assert run("predict", path, d / "x.npy", "--proba", "--output", d / "resp.tsv") == 0
    resp = (d / "resp.tsv").read_text().splitlines()
    assert len(resp) == 1500 and all(line.count("\t") == 2 for line in resp)
    np.testing.assert_array_equal(np.loadtxt(d / "resp.tsv", delimiter="\t"), m.predict_proba(X))
    assert run("predict", path, d / "x.npy", "--output", d / "labels.txt") == 0
    labels = (d / "labels.txt").read_text().split()
    assert labels == [str(v) for v in m.predict(X)]
    assert run("score", path, d / "x.npy", "--output", d / "ll.npy") == 0
    assert (d / "ll.npy").read_bytes()[:6] == b"\x93NUMPY"
    np.testing.assert_array_equal(np.load(d / "ll.npy"), logp)


def test_generate_is_sample_and_the_output_suffix_rule(files, gmm, capsys, monkeypatch):
    d, _ = files
    path, m = gmm
    monkeypatch.chdir(d)
    assert run("generate", "-m", path, "-n", 40, "-s", 1, "-o", "draws") == 0
    assert capsys.readouterr().out == "wrote 40 samples to draws.npy\n"
    assert not (d / "draws").exists()  # no suffix: .npy is added, as the docs say
    np.testing.assert_array_equal(np.load(d / "draws.npy"), m.sample(40, random_state=1))
    assert run("generate", "--input_model_file", path, "--samples", 40, "--seed", 1,
               "--output_file", "draws.csv") == 0
    np.testing.assert_array_equal(np.loadtxt(d / "draws.csv", delimiter=","),
                                  m.sample(40, random_state=1))
    assert run("sample", "-m", path, 40, "-s", 1, "--output", "draws.txt") == 0
    np.testing.assert_array_equal(np.loadtxt(d / "draws.txt"), m.sample(40, random_state=1))
    capsys.readouterr()
    assert run("generate", "-m", path, "-n", 5) == 2
    one_error_line(capsys, "the following arguments are required: --output")
    assert run("generate", "-m", path, "--output", "x.npy") == 2
    one_error_line(capsys, "generate needs N (or --samples/-n N)")
    assert run("sample", path, "many", "--output", "x.npy") == 2
    one_error_line(capsys, "argument N: invalid int value: 'many'")


def test_version_and_help(capsys):
    assert run("--version") == 0
    assert capsys.readouterr().out == f"suffstat {ss.__version__}\n"
    assert run("-V") == 0
    assert capsys.readouterr().out == f"suffstat {ss.__version__}\n"
    assert run("fit", "--help") == 0
    out = capsys.readouterr().out
    for fragment in ["mlpack gmm_train names", "--gaussians K, -g K", "--no_force_positive, -P",
                     "--input_model_file MODEL, -m MODEL", "--output_model_file FILE, -M FILE"]:
        assert fragment in out
    assert run("probability", "--help") == 0
    assert "density (not its log)" in capsys.readouterr().out
    assert run("--help") == 0
    out = capsys.readouterr().out
    assert "fit (train)" in out and "sample (generate)" in out and "probability" in out


@pytest.mark.parametrize(
    "argv, named",
    [
        (["fit", "{d}/x.npy", "-k", "2", "--output-model", "{d}/missing/m.npz"],
         "{d}/missing/m.npz"),
        (["fit", "{d}/x.npy", "-k", "2", "-M", "{d}"], "{d}: is a folder"),
        (["fit", "{d}/x.npy", "-k", "2", "--output-path", "{d}/x.npy"], "{d}/x.npy: is a file"),
        (["fit", "{d}/x.npy", "-k", "2", "--output-path", "{d}/x.npy/laps"], "{d}/x.npy/laps"),
        (["score", "{m}", "{d}/x.npy", "--output", "{d}/missing/ll.csv"], "{d}/missing/ll.csv"),
        (["predict", "{m}", "{d}/x.npy", "-o", "{d}/missing/l.npy"], "{d}/missing/l.npy"),
        (["generate", "-m", "{m}", "-n", "5", "-o", "{d}/missing/s"], "{d}/missing/s.npy"),
    ],
)
def test_output_paths_are_checked_before_any_work(files, gmm, argv, named, capsys, monkeypatch):
    d, _ = files

    def no_work(*args, **kwargs):
        raise AssertionError("the output path was not checked first")

    for name in ("fit", "log_probability", "predict", "predict_proba", "sample"):
        monkeypatch.setattr(ss.GeneralMixtureModel, name, no_work)
    monkeypatch.setattr(cli, "open_input", no_work)
    before = sorted(os.listdir(d))
    assert run(*[a.format(d=d, m=gmm[0]) for a in argv]) == 2
    err = one_error_line(capsys, named.format(d=d))
    assert ".tmp" not in err
    assert sorted(os.listdir(d)) == before  # not even a hidden temporary file


TEXT = "\n".join(["# points, written by hand", "x,y", "1.5,2", "", "-3,4e-1", "5,6"]) + "\n"


@pytest.mark.parametrize(
    "name, content, delimiter",
    [
        ("a.csv", TEXT, None),
        ("a.tsv", TEXT.replace(",", "\t"), None),
        ("a.txt", TEXT.replace(",", "  "), None),
        ("b.csv", TEXT.replace(",", ";"), None),
        ("c.csv", TEXT.replace(",", "|"), "|"),
        ("d.txt", "1.5 2\n-3\t0.4\n5 6\n", "whitespace"),
        ("e.tsv", "x\ty\n1.5\t2\n-3\t0.4\n5\t6\n", "tab"),
        ("f.csv", '"x","y"\n"1.5","2"\n"-3","0.4"\n"5","6"\n', None),
    ],
)
def test_text_inputs(files, gmm, name, content, delimiter, capsys):
    d, _ = files
    path, m = gmm
    (d / name).write_text(content)
    extra = [] if delimiter is None else ["--delimiter", delimiter]
    assert run("score", path, d / name, "--output", d / "t.npy", *extra) == 0
    rows = np.array([[1.5, 2.0], [-3.0, 0.4], [5.0, 6.0]])
    np.testing.assert_array_equal(np.load(d / "t.npy"), m.log_probability(rows))
    assert "over 3 rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        ("# c\nx,y\n1,2\n\n3,4\n5,6,7\n8,9\n", "r.csv, line 6: 3 columns, but line 3 has 2"),
        ("1,2\n3\n", "r.csv, line 2: 1 column, but line 1 has 2"),
        ("a,b\n1,2\n3,4\n5,oops\n", "r.csv, line 4: not a row of numbers ('oops' is not a number"),
        ("1,2\n3,4,\n", "r.csv, line 2: not a row of numbers (''"),
        ("1,2\n# two\n# comments\n3,nan\n", "r.csv, line 4: nan is not a finite number"),
        ("1,2\n3,-inf\n", "r.csv, line 2: -inf is not a finite number"),
        ("# only\n# comments\n", "r.csv: no data rows"),
        ("x,y\n", "r.csv: no data rows"),
    ],
)
def test_bad_text_rows_name_the_line_of_the_file(files, content, message, capsys):
    d, _ = files
    (d / "r.csv").write_text(content)
    assert run("fit", d / "r.csv", "-k", 1) == 2
    one_error_line(capsys, message)


def test_ragged_rows_are_found_across_chunks(files, capsys, monkeypatch):
    d, _ = files
    monkeypatch.setattr(cli_files, "CHUNK_LINES", 4)
    lines = ["a,b"] + [f"{i},{i % 7}" for i in range(20)]
    lines[13] = "13,1,2"  # line 14 of the file, in the fourth chunk
    (d / "ragged.csv").write_text("\n".join(lines) + "\n")
    assert run("fit", d / "ragged.csv", "-k", 1) == 2
    one_error_line(capsys, "ragged.csv, line 14: 3 columns, but line 2 has 2")
    lines[13] = "13,1"
    (d / "ragged.csv").write_text("\n".join(lines) + "\n")
    assert run("fit", d / "ragged.csv", "-k", 1, "--max-iter", 2) == 0
    assert "on 20 rows" in capsys.readouterr().out
    (d / "bytes.csv").write_bytes(b"\xff\xfe\x00\x01\n")
    assert run("fit", d / "bytes.csv", "-k", 1) == 2
    one_error_line(capsys, "bytes.csv: not a UTF-8 text file")
    assert run("fit", d / "ragged.csv", "-k", 1, "--delimiter", "ab") == 2
    one_error_line(capsys, "--delimiter must be one character")


def test_a_huge_sample_fails_in_one_line(files, gmm, capsys, monkeypatch):
    d, _ = files
    path, _ = gmm
    assert run("sample", path, 100_000_000_000, "--output", d / "huge.npy") == 2
    one_error_line(capsys,
                   "sampling 100000000000 rows of 2 feature(s) needs about 6.5 TiB of memory")
    assert not (d / "huge.npy").exists()
    monkeypatch.setattr(cli, "available_memory", lambda: 2**30)
    assert run("generate", "-m", path, "-n", 50_000_000, "-o", d / "huge.npy") == 2
    one_error_line(capsys, "needs about 3.4 GiB of memory, but 1.0 GiB is available: draw at most "
                   "about 14913080 rows at a time")


def test_ctrl_c_without_snapshots_and_outside_fit(files, gmm, capsys, monkeypatch):
    d, _ = files

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ss.GeneralMixtureModel, "fit", interrupted)
    assert run("fit", d / "x.npy", "-k", 2, "-M", d / "never.npz") == 130
    err = capsys.readouterr().err
    assert err == ("suffstat: interrupted; nothing was saved: give --output-path DIR to keep a "
                   "snapshot per lap, which --resume continues from\n")
    assert not (d / "never.npz").exists()
    assert run("fit", d / "x.npy", "-k", 2, "--output-path", d / "no-laps-yet") == 130
    assert capsys.readouterr().err == ("suffstat: interrupted before the first lap was saved: run "
                                       "the same command again\n")
    monkeypatch.setattr(cli, "_rows", interrupted)
    assert run("score", gmm[0], d / "x.npy", "--output", d / "never.csv") == 130
    assert capsys.readouterr().err == "suffstat: interrupted; no output was written\n"
    assert not (d / "never.csv").exists()
    assert not any(p.name.startswith(".never") for p in d.iterdir())


def test_unexpected_errors_are_one_line_unless_verbose(files, gmm, capsys, monkeypatch):
    d, _ = files

    def bug(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "_rows", bug)
    assert run("score", gmm[0], d / "x.npy") == 1
    one_error_line(capsys, "suffstat: error: internal error: RuntimeError: boom (--verbose shows")
    assert run("score", gmm[0], d / "x.npy", "-v") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.endswith("RuntimeError: boom (--verbose shows the traceback)\n")


def _cli(*argv):
    """Run ``python -m suffstat`` (this checkout's code: PYTHONPATH is inherited)."""
    return [sys.executable, "-m", "suffstat", *map(str, argv)]


def test_python_dash_m_suffstat(files):
    d, _ = files
    res = subprocess.run(_cli("--version"), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout == f"suffstat {ss.__version__}\n"
    res = subprocess.run(_cli("generate", "-m", d / "nope.npz", "-n", 3, "-o", d / "g.csv"),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("suffstat: error: ") and "no such model file" in res.stderr


@pytest.mark.slow
def test_ctrl_c_during_a_fit_says_how_to_resume(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 2)) + rng.integers(0, 4, size=(200_000, 1)) * 3.0
    np.save(tmp_path / "big.npy", X)
    laps = tmp_path / "laps"
    argv = ["fit", tmp_path / "big.npy", "-k", 6, "--seed", 0, "--tol", 0, "--output-path", laps]
    # A child inherits an ignored SIGINT (as a background job's is), and Python then keeps
    # ignoring it; a handled one is reset to the default at exec, which Python turns into
    # KeyboardInterrupt. So SIGINT is handled here while the child starts.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(_cli(*argv, "--max-iter", 100_000), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + 240
        while not (laps / "lap-0001.npz").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no lap within 240 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err == (f"suffstat: interrupted; the finished laps are saved in {laps}: add --resume to "
                   "the same command to continue from the newest one\n")
    done = sorted(p.name for p in laps.glob("lap-*.npz"))
    assert done and out == ""
    # as told: the same command with --resume continues from the newest lap
    n = len(done)
    assert main([str(a) for a in [*argv, "--max-iter", n + 1, "--resume"]]) == 0
    assert sorted(p.name for p in laps.glob("lap-*.npz")) == done + [f"lap-{n + 1:04d}.npz"]


# -- issue 15: fit --plot and suffstat plot ------------------------------------------------
@pytest.fixture
def _agg():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _png(path):
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_fit_plot_draws_the_final_clusters_and_the_trace(files, tmp_path, capsys, _agg):
    d, _ = files
    out = tmp_path / "fit.png"
    assert run("fit", d / "x.csv", "-k", "3", "--max-iter", "4", "--tol", "0", "--seed", "0",
               "--plot", out) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and f"wrote {tmp_path / 'fit-trace.png'}" in text
    assert _png(out) and _png(tmp_path / "fit-trace.png")


def test_fit_plot_with_output_path_draws_the_laps(files, tmp_path, capsys, monkeypatch, _agg):
    from suffstat import plot

    d, _ = files
    drawn = {}
    laps = plot.laps

    def spy(folder, **kw):
        fig = laps(folder, **kw)
        drawn["titles"] = [ax.get_title() for ax in fig.axes]
        return fig

    monkeypatch.setattr(plot, "laps", spy)
    out = tmp_path / "laps.svg"
    assert run("fit", d / "x.npy", "-k", "2", "--max-iter", "3", "--tol", "0", "--seed", "0",
               "--output-path", tmp_path / "run", "--plot", out) == 0
    assert drawn["titles"] == ["lap 1", "lap 2", "lap 3 (last; nearest to 5, 10)"]
    assert out.read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "laps-trace.svg").is_file()


def test_plot_command_draws_a_run_folder(files, tmp_path, capsys, _agg):
    d, _ = files
    folder = tmp_path / "run"
    assert run("fit", d / "x.npy", "-k", "2", "--max-iter", "3", "--tol", "0", "--seed", "0",
               "--output-path", folder) == 0
    capsys.readouterr()
    assert run("plot", folder) == 0
    assert _png(folder / "laps.png") and _png(folder / "laps-trace.png")
    out = tmp_path / "p.png"
    assert run("plot", folder, "--output", out, "--data", d / "x.csv", "--laps", "1,last",
               "--columns", "1,0") == 0
    assert _png(out) and _png(tmp_path / "p-trace.png")
    assert f"wrote {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plot", "{t}/nowhere"], "{t}/nowhere: no such folder"),
        (["plot", "{t}"], "{t}: no snapshot"),
        (["plot", "{t}", "--output", "{t}/x.txt"], "--output {t}/x.txt: give a picture file name"),
        (["plot", "{t}", "--laps", "1,-2"], "laps must be >= 0 or 'last'; got -2"),
        (["plot", "{t}", "--columns", "0,1,2"], "give one or two column indices"),
        (["fit", "{d}/x.npy", "-k", "2", "--plot", "{t}/missing/p.png"], "{t}/missing/p.png"),
    ],
)
def test_plot_errors_are_one_line(files, tmp_path, argv, message, capsys, _agg):
    d, _ = files
    fmt = {"t": tmp_path, "d": d}
    assert run(*[a.format(**fmt) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.format(**fmt) in err


def test_fit_bayesian_with_moves_finds_the_clusters_and_keeps_the_move_log(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.5, (250, 2)) for c in [(-4, 0), (4, 0), (0, 5), (0, -5)]])
    np.save(tmp_path / "x.npy", X[rng.permutation(len(X))])
    assert run("fit", tmp_path / "x.npy", "--model", "bayesian", "-k", 2, "--sF", 0.1, "--algorithm", "memoized",
               "--moves", "birth,merge,shuffle", "--b_Kfresh", 3, "--seed", 1, "--batch-size", 250,
               "--output-path", tmp_path / "run", "--output-model", tmp_path / "dp.npz", "--verbose") == 0
    out = capsys.readouterr().out
    assert "BIRTH @ lap" in out and "fitted 4 components (4 active)" in out
    assert ss.load(tmp_path / "dp.npz").n_components == 4 and (tmp_path / "run" / "moves.csv").is_file()
    assert run("fit", tmp_path / "x.npy", "-k", 2, "--moves", "birth") == 2
    assert "--moves needs --model bayesian" in capsys.readouterr().err
