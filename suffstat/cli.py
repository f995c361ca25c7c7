"""The ``suffstat`` command line."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
import tempfile
import traceback
import warnings

import numpy as np

from .io import atomic_open


def asterisk(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate the 2-D "asterisk" dataset: 8 elongated Gaussian clusters.

    Means are evenly spaced on the unit circle; cluster k has covariance
    ``diag(1/16, 1/1600)`` rotated by ``k pi / 4`` and weight proportional to
    1, 2, 1, 2, ... (bnpy's AsteriskK8).

    Parameters
    ----------
    n : int, default=5000
        Number of rows.
    seed : int, default=0
        Random seed.

    Returns
    -------
    X : ndarray of shape (n, 2)
        The points.
    labels : ndarray of shape (n,)
        The true cluster of each point.
    """
    rng = np.random.default_rng(seed)
    weights = np.tile([1.0, 2.0], 4)
    weights /= weights.sum()
    labels = rng.choice(8, size=n, p=weights)
    X = np.empty((n, 2))
    for k in range(8):
        angle = k * np.pi / 4
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        cov = rot @ np.diag([1 / 16, 1 / 1600]) @ rot.T
        rows = labels == k
        X[rows] = rng.multivariate_normal([np.cos(angle), np.sin(angle)], cov, size=rows.sum())
    return X, labels


def _demo(args: argparse.Namespace) -> int:
    import suffstat as ss

    X, _ = asterisk(args.n, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "asterisk.npy")
        np.save(path, X)
        print(f"Fitting an 8-component Gaussian mixture out of core: {path} "
              f"({X.shape[0]} x {X.shape[1]}), batch_size={args.batch_size}, n_jobs=2")
        model = ss.GeneralMixtureModel.from_samples(
            ss.MultivariateNormal, 8, path, batch_size=args.batch_size, n_jobs=2,
            max_iter=args.max_iter, tol=1e-4, random_state=args.seed, verbose=True,
        )
    order = np.argsort(np.arctan2(*np.array([d.mean for d in model.distributions]).T[::-1]))
    print(f"converged: {model.converged_} after {model.n_iter_} passes")
    print(" k  weight    mean")
    for k in order:
        m = model.distributions[k].mean
        print(f"{k:2d}  {model.weights[k]:.4f}  [{m[0]: .4f}, {m[1]: .4f}]")
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CommandError(message)


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


CSV_CHUNK = 100_000


def _csv_to_npy(path: str, folder: str) -> str:
    """Convert a CSV file to a .npy in ``folder``, reading it in chunks."""
    out = os.path.join(folder, os.path.basename(path) + ".npy")
    with open(path) as fh:
        first = fh.readline()
        try:
            [float(x) for x in first.strip().split(",")]
            skip = 0
        except ValueError:
            skip = 1  # a header line
    n, d = 0, None
    tmp = out + ".raw"
    with open(path) as fh, open(tmp, "wb") as raw:
        for _ in range(skip):
            fh.readline()
        while True:
            lines = list(itertools.islice(fh, CSV_CHUNK))
            if not lines:
                break
            try:
                block = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
            except ValueError:
                raise CommandError(_bad_csv_line(path, lines, n + skip)) from None
            if d is None:
                d = block.shape[1]
            elif block.shape[1] != d:
                raise CommandError(f"{path}: rows have {block.shape[1]} columns after {d} earlier")
            raw.write(block.tobytes())
            n += block.shape[0]
    if not n:
        raise CommandError(f"{path}: no data rows")
    _write_npy_from_raw(tmp, out, (n, d))
    return out


def _bad_csv_line(path: str, lines: list[str], before: int) -> str:
    """Name the first line of a chunk that does not parse (only called on error)."""
    for i, line in enumerate(lines):
        try:
            np.loadtxt([line], delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as e:
            return f"{path}, line {before + i + 1}: not a row of numbers ({e})"
    return f"{path}: rows of different lengths near line {before + 1}"


def _write_npy_from_raw(raw: str, out: str, shape: tuple[int, ...]) -> None:
    with open(out, "wb") as fh, open(raw, "rb") as src:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": shape}
        )
        while block := src.read(1 << 24):
            fh.write(block)
    os.unlink(raw)


def _input(path: str, tmp: str) -> str:
    if not os.path.isfile(path):
        raise CommandError(f"no such file: {path}")
    if path.endswith(".csv"):
        return _csv_to_npy(path, tmp)
    if path.endswith(".npy"):
        return path
    raise CommandError(f"{path}: INPUT must be a .npy or .csv file")


def _load_model(path: str):
    import suffstat as ss

    if os.path.isdir(path):
        return ss.load_model_at_lap(path)
    return ss.load(path)


def _fit(args: argparse.Namespace) -> int:
    import suffstat as ss
    from suffstat.sources import as_source

    with tempfile.TemporaryDirectory() as tmp:
        data = _input(args.input, tmp)
        source = as_source(data)
        if args.noise:
            source = source.with_noise(args.noise, 0 if args.seed is None else args.seed)
        if args.input_model:
            base = _load_model(args.input_model)
            if not isinstance(base, ss.GeneralMixtureModel):
                raise CommandError(f"{args.input_model} is a {type(base).__name__}, not a mixture")
            if args.components and args.components != base.n_components:
                raise CommandError(
                    f"--components {args.components} does not match --input-model, which has "
                    f"{base.n_components}"
                )
            model = ss.GeneralMixtureModel.from_model(base, covariance_type=args.covariance)
            init = None
        else:
            template = ss.MultivariateNormal(covariance_type=args.covariance or "full",
                                             reg_covar=args.reg_covar)
            comps = [template.copy() for _ in range(args.components)]
            model = ss.GeneralMixtureModel(comps)
            init = args.init
        model.fit(
            source, max_iter=args.max_iter, tol=args.tol, batch_size=args.batch_size,
            batches_per_epoch=args.batches_per_epoch, n_jobs=args.n_jobs, verbose=args.verbose,
            random_state=args.seed, init=init, n_init=args.trials, samplings=args.samplings,
            percentage=args.percentage, output_path=args.output_path, resume=args.resume,
            algorithm=args.algorithm, save_every=args.save_every,
            max_kmeans_iter=args.max_kmeans_iter,
        )
    if args.output_model:
        model.save(args.output_model)
    last = model.history_[-1]
    print(f"fitted {model.n_components} components on {source.n_rows} rows: "
          f"mean log-likelihood {last['mean_log_likelihood']:.6f} after {model.n_iter_} passes"
          f"{' (converged)' if model.converged_ else ''}")
    return 0


def _stream_rows(model, data: str, fn_name: str, args, width: int | None, dtype: str
                 ) -> tuple[np.ndarray, int]:
    from suffstat.mixtures.general import _apply
    from suffstat.parallel import ordered_map
    from suffstat.sources import as_source

    source = as_source(data)
    ranges = source.ranges(args.batch_size or source.default_batch_size())
    shape = (source.n_rows,) if width is None else (source.n_rows, width)
    summary = []
    with contextlib.ExitStack() as stack:
        out = None
        if args.output:  # written batch by batch: the result is never held whole
            out = stack.enter_context(atomic_open(args.output, "wb"))
            np.lib.format.write_array_header_1_0(
                out, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
            )
        for block in ordered_map(_apply, source, ranges, n_jobs=args.n_jobs, args=(model, fn_name)):
            if fn_name == "_predict_log_proba":
                block = np.exp(block) if args.proba else np.argmax(block, axis=1)
            if out is not None:
                out.write(np.ascontiguousarray(block, dtype=dtype).tobytes())
            summary.append(block.sum(axis=0) if fn_name != "_predict_log_proba" or args.proba
                           else np.bincount(block, minlength=model.n_components))
    return np.sum(summary, axis=0), source.n_rows


def _score(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        total, n = _stream_rows(model, _input(args.input, tmp), "_log_probability", args, None, "<f8")
    print(f"mean log-likelihood: {total / n:.6f} over {n} rows")
    return 0


def _predict(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    k = getattr(model, "n_components", None)
    if k is None:
        raise CommandError(f"{args.model} is a {type(model).__name__}, not a mixture")
    with tempfile.TemporaryDirectory() as tmp:
        total, n = _stream_rows(model, _input(args.input, tmp), "_predict_log_proba", args,
                                k if args.proba else None, "<f8" if args.proba else "<i8")
    what = "expected rows" if args.proba else "rows"
    print(f"{what} per component: " + ", ".join(f"{c}: {v:.6g}" for c, v in enumerate(total)))
    return 0


def _sample(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    X = model.sample(args.n, random_state=args.seed)
    with atomic_open(args.output, "wb") as fh:  # the name as given (np.save would add .npy)
        np.save(fh, X)
    print(f"wrote {args.n} samples to {args.output}")
    return 0


def _info(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    print(f"{type(model).__name__} with {getattr(model, 'n_components', 1)} component(s), "
          f"{model.n_features} feature(s)")
    if hasattr(model, "weights"):
        for c, (w, d) in enumerate(zip(model.weights, model.distributions)):
            print(f"  component {c}: weight {w:.6f}  {d!r}".replace("\n", " "))
    else:
        print(f"  {model!r}")
    return 0


def _non_negative(text: str) -> float:
    v = float(text)
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0; got {text}")
    return v


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``suffstat`` program.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one sub-command per task.
    """
    parser = _Parser(prog="suffstat", description="Fit, score and sample mixture models.")
    parser.add_argument("--verbose", action="store_true", help="show progress and tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="fit a mixture out of core on a built-in dataset")
    demo.add_argument("--n", type=_positive_int, default=5000, help="number of rows (default 5000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--batch-size", type=_positive_int, default=500, help="rows per batch (default 500)")
    demo.add_argument("--max-iter", type=_positive_int, default=200, help="EM passes at most (default 200)")
    demo.set_defaults(func=_demo)

    fit = sub.add_parser("fit", help="fit a Gaussian mixture to a .npy or .csv file")
    fit.add_argument("input", help="a .npy (memory-mapped) or .csv (read in chunks) file")
    fit.add_argument("--components", "-k", type=_positive_int, help="number of components K")
    fit.add_argument("--covariance", choices=["full", "diag", "spherical"], default=None,
                     help="covariance form (default full; converts an --input-model)")
    fit.add_argument("--max-iter", type=_positive_int, default=100)
    fit.add_argument("--tol", type=float, default=1e-3)
    fit.add_argument("--trials", type=_positive_int, default=1, help="n_init: keep the best trial")
    fit.add_argument("--init", choices=["first-k", "random", "kmeans++", "kmeans", "refined"],
                     default="kmeans++")
    fit.add_argument("--samplings", type=_positive_int, default=100, help="refined start subsamples")
    fit.add_argument("--percentage", type=float, default=0.02, help="refined start sample fraction")
    fit.add_argument("--batch-size", type=_positive_int, default=None)
    fit.add_argument("--batches-per-epoch", type=_positive_int, default=None)
    fit.add_argument("--n-jobs", type=int, default=1)
    fit.add_argument("--input-model", help="warm-start from this saved model or snapshot folder")
    fit.add_argument("--reg-covar", type=float, default=1e-6)
    fit.add_argument("--noise", type=_non_negative, default=0.0,
                     help="std of Gaussian noise added to the data (fixed per row)")
    fit.add_argument("--algorithm", choices=["em", "stepwise", "memoized"], default="em")
    fit.add_argument("--save-every", type=_positive_int, default=1, help="laps between snapshots")
    fit.add_argument("--max-kmeans-iter", type=int, default=10, help="Lloyd passes of --init kmeans")
    fit.add_argument("--seed", type=int, default=None)
    fit.add_argument("--output-model", help="save the fitted model here (.npz)")
    fit.add_argument("--output-path", help="folder for per-lap snapshots and trace.csv")
    fit.add_argument("--resume", action="store_true", help="continue from --output-path's newest snapshot")
    fit.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS)
    fit.set_defaults(func=_fit)

    for name, helptext in [("score", "per-row log-likelihood"), ("predict", "most likely component")]:
        p = sub.add_parser(name, help=helptext)
        p.add_argument("model", help="a saved model (.npz) or snapshot folder")
        p.add_argument("input", help="a .npy or .csv file")
        p.add_argument("--output", help="write the per-row result to this .npy")
        p.add_argument("--batch-size", type=_positive_int, default=None)
        p.add_argument("--n-jobs", type=int, default=1)
        if name == "predict":
            p.add_argument("--proba", action="store_true", help="write the responsibilities instead")
        p.set_defaults(func=_score if name == "score" else _predict, proba=False)

    sample = sub.add_parser("sample", help="draw samples from a saved model")
    sample.add_argument("model")
    sample.add_argument("n", type=_positive_int)
    sample.add_argument("--seed", type=int, default=None)
    sample.add_argument("--output", required=True, help="the .npy to write")
    sample.set_defaults(func=_sample)

    info = sub.add_parser("info", help="describe a saved model")
    info.add_argument("model")
    info.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 on a user error (one line on stderr).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = "--verbose" in argv
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "command", None) == "fit" and not args.components and not args.input_model:
            raise CommandError("fit needs --components K (or --input-model FILE)")
        args.verbose = verbose
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = int(args.func(args))
        for w in caught:  # the library's warnings, one line each
            print(f"suffstat: warning: {w.message}", file=sys.stderr)
        return status
    except BrokenPipeError:  # e.g. `suffstat info m.npz | head`: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except (CommandError, ValueError, OSError, KeyError) as e:
        if verbose:
            traceback.print_exc()
        message = str(e) if not isinstance(e, KeyError) else f"missing {e}"
        print(f"suffstat: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
