"""The ``suffstat`` command line.

Commands: ``fit`` (alias ``train``), ``score``, ``probability``, ``predict``, ``sample``
(alias ``generate``), ``info``, ``plot`` and ``demo``. The option names of mlpack's
``gmm_train``, ``gmm_probability`` and ``gmm_generate`` are accepted as aliases
(see ``docs/cli.rst``). File handling lives in :mod:`suffstat._cli_files`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import traceback
import warnings

import numpy as np

from ._cli_files import (
    CommandError,
    available_memory,
    check_output_file,
    check_output_folder,
    open_input,
    output_name,
    parse_delimiter,
    row_writer,
    size_text,
    write_array,
)
from ._cli_parser import UNTIL_CONVERGENCE, positive_int_argument, build

__all__ = ["CommandError", "asterisk", "build_parser", "main"]

# exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it
INTERRUPTED = 130


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


# -- inputs, positional or given by an mlpack option ----------------------------------------
def _fill_positionals(args: argparse.Namespace, slots: list[tuple[str, str, str]]) -> None:
    """Give each slot its option's value, else the next positional value, in order.

    ``slots`` holds ``(name, option_dest, spelling)``: ``sample -m m.npz 10`` and
    ``sample m.npz -n 10`` both give MODEL and N.
    """
    given = [getattr(args, name) for name, _, _ in slots if getattr(args, name) is not None]
    free = [name for name, dest, _ in slots if getattr(args, dest, None) is None]
    if len(given) > len(free):
        taken = [spelling.split(" (or ")[0] for name, dest, spelling in slots
                 if getattr(args, dest, None) is not None]
        also = f" ({' and '.join(taken)} given by option)" if taken else ""
        raise CommandError(f"unrecognized arguments: {' '.join(given[len(free):])}{also}")
    for name, dest, _ in slots:
        setattr(args, name, getattr(args, dest, None))
    for name, value in zip(free, given):
        setattr(args, name, value)
    missing = [spelling for name, _, spelling in slots if getattr(args, name) is None]
    if missing:
        raise CommandError(f"{args.command} needs " + " and ".join(missing))


def _load_model(path: str):
    import suffstat as ss

    if os.path.isdir(path):
        return ss.load_model_at_lap(path)
    return ss.load(path)


def _delimiter(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The ``--delimiter`` of a command and whether to guess it (when not given)."""
    return parse_delimiter(args.delimiter), args.delimiter is None


# -- fit -----------------------------------------------------------------------------------
def _resolve_fit(args: argparse.Namespace) -> None:
    """Turn the mlpack spellings into our settings, and refuse contradictions."""
    _fill_positionals(args, [("input", "input_option", "INPUT (or --input_file/-i FILE)")])
    if not args.components and not args.input_model:
        raise CommandError(f"{args.command} needs --components K (or --input-model FILE)")
    if args.tol is not None and args.tolerance is not None:
        raise CommandError("give --tol (per row) or --tolerance/-T (total), not both")
    if args.no_force_positive and args.reg_covar not in (None, 0.0):
        raise CommandError("--no_force_positive/-P means --reg-covar 0; got --reg-covar "
                           f"{args.reg_covar:g} too")
    if args.no_force_positive:
        args.reg_covar = 0.0
    if args.kmeans_max_iterations is not None:
        args.max_kmeans_iter = args.kmeans_max_iterations or UNTIL_CONVERGENCE
        if args.init is None:
            args.init = "kmeans"  # mlpack's initialization is k-means
    if args.init is None:
        args.init = "kmeans++"
    if args.resume and not args.output_path:
        raise CommandError("--resume needs the --output-path DIR of the interrupted fit")
    if args.output_model:
        check_output_file(args.output_model, "--output-model")
    if args.output_path:
        check_output_folder(args.output_path, "--output-path")
    if args.plot:
        _check_figure_names(args.plot, "--plot")


# -- pictures ------------------------------------------------------------------------------
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def trace_name(path: str) -> str:
    """The file of the trace drawn beside ``path``: ``out.png`` -> ``out-trace.png``."""
    p = os.path.splitext(path)
    return f"{p[0]}-trace{p[1]}"


def _check_figure_names(path: str, option: str) -> None:
    if os.path.splitext(path)[1].lower() not in FIGURE_SUFFIXES:
        raise CommandError(f"{option} {path}: give a picture file name ending in "
                           f"{', '.join(FIGURE_SUFFIXES)}")
    check_output_file(path, option)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise CommandError("drawing needs matplotlib: pip install 'suffstat[plot]'") from None
    matplotlib.use("Agg")  # files only: never a window
    import matplotlib.pyplot as plt

    return plt


def _save_figures(figures: list[tuple[object, str]]) -> None:
    plt = _pyplot()
    for fig, path in figures:
        try:
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
        print(f"wrote {path}")


def _draw_fit(args: argparse.Namespace, model, data: str) -> None:
    """``fit --plot``: the laps of --output-path (or the final clusters), and the trace."""
    _pyplot()
    from suffstat import plot

    if args.output_path:
        fig = plot.laps(args.output_path, X=data)
    else:
        fig = plot.components(model, data, title=f"after {model.n_iter_} passes")
    _save_figures([(fig, args.plot), (plot.trace(model), trace_name(args.plot))])


def _plot(args: argparse.Namespace) -> int:
    folder = args.run_folder
    if not os.path.isdir(folder):
        raise CommandError(f"{folder}: no such folder (give the --output-path of a fit)")
    args.output = args.output or os.path.join(folder, "laps.png")
    _check_figure_names(args.output, "--output")
    _pyplot()
    from suffstat import plot

    with tempfile.TemporaryDirectory() as tmp:
        data = open_input(args.data, tmp, *_delimiter(args)) if args.data else None
        fig = plot.laps(folder, laps=args.laps, X=data, columns=args.columns,
                        min_weight=args.min_weight)
        _save_figures([(fig, args.output), (plot.trace(folder), trace_name(args.output))])
    return 0


def _fit(args: argparse.Namespace) -> int:
    import suffstat as ss
    from suffstat.sources import as_source

    _resolve_fit(args)
    with tempfile.TemporaryDirectory() as tmp:
        data = open_input(args.input, tmp, *_delimiter(args))
        source = as_source(data)
        if args.noise:
            source = source.with_noise(args.noise, 0 if args.seed is None else args.seed)
        tol = args.tol if args.tol is not None else 1e-3
        if args.tolerance is not None:  # mlpack's rule is on the total log-likelihood
            tol = args.tolerance / max(source.n_rows, 1)
        if args.model == "bayesian":
            return _fit_bayesian(args, source, data, tol)
        if args.moves:
            raise CommandError("--moves needs --model bayesian --allocation dp --algorithm memoized")
        if args.algorithm is None:
            args.algorithm = "em"
        if args.algorithm not in ("em", "stepwise", "memoized"):
            raise CommandError(f"--algorithm {args.algorithm} needs --model bayesian")
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
            if args.reg_covar is not None:
                for d in model.distributions:
                    if hasattr(d, "reg_covar"):
                        d.reg_covar = args.reg_covar
            init = None
        else:
            template = ss.MultivariateNormal(
                covariance_type=args.covariance or "full",
                reg_covar=1e-6 if args.reg_covar is None else args.reg_covar,
            )
            comps = [template.copy() for _ in range(args.components)]
            model = ss.GeneralMixtureModel(comps)
            init = args.init
        model.fit(
            source, max_iter=args.max_iter, tol=tol, batch_size=args.batch_size,
            batches_per_epoch=args.batches_per_epoch, n_jobs=args.n_jobs, verbose=args.verbose,
            random_state=args.seed, init=init, n_init=args.trials, samplings=args.samplings,
            percentage=args.percentage, output_path=args.output_path, resume=args.resume,
            algorithm=args.algorithm, save_every=args.save_every,
            max_kmeans_iter=args.max_kmeans_iter,
        )
        if args.plot:
            _draw_fit(args, model, data)
    if args.output_model:
        model.save(args.output_model)
    last = model.history_[-1]
    print(f"fitted {model.n_components} components on {source.n_rows} rows: "
          f"mean log-likelihood {last['mean_log_likelihood']:.6f} after {model.n_iter_} passes"
          f"{' (converged)' if model.converged_ else ''}")
    return 0


def _fit_bayesian(args: argparse.Namespace, source, data: str, tol: float) -> int:
    """``fit --model bayesian``: a BayesianGaussianMixture with bnpy's prior names."""
    import suffstat as ss

    algorithm = args.algorithm or "vb"
    if algorithm in ("em", "stepwise"):
        raise CommandError(f"--algorithm {algorithm} is for --model gmm; --model bayesian takes "
                           "vb, stochastic or memoized")
    ctype = args.covariance or "full"
    if args.input_model:
        base = _load_model(args.input_model)
        if not isinstance(base, ss.GeneralMixtureModel):
            raise CommandError(f"{args.input_model} is a {type(base).__name__}, not a mixture")
        k, init = base.n_components, args.input_model
        if args.components and args.components != k:
            raise CommandError(f"--components {args.components} does not match --input-model, "
                               f"which has {k}")
    else:
        k, init = args.components, args.init
    dp = args.allocation == "dp"
    prior = ss.BayesianGaussianMixture.bnpy_prior(
        source.n_features, sF=args.sF, ECovMat=args.ECovMat, kappa=args.kappa, nu=args.nu,
        gamma=args.gamma0 if dp else args.gamma, n_components=k,
        X=source if args.ECovMat == "covdata" else None, dp=dp, covariance_type=ctype)
    est = ss.BayesianGaussianMixture(
        n_components=k, covariance_type=ctype, reg_covar=0.0 if args.reg_covar is None else args.reg_covar,
        max_iter=args.max_iter, tol=tol * source.n_rows, n_init=args.trials, init_params=init,
        random_state=args.seed, verbose=int(bool(args.verbose)), batch_size=args.batch_size,
        batches_per_epoch=args.batches_per_epoch, n_jobs=args.n_jobs, algorithm=algorithm,
        output_path=args.output_path, resume=args.resume, moves=args.moves, birth_start_lap=args.b_startLap,
        birth_n_fresh=args.b_Kfresh, merge_start_lap=args.m_startLap, delete_start_lap=args.d_startLap,
        max_components=args.Kmax, **prior)
    est.fit(source)
    model = est.model_
    if args.plot:
        _draw_fit(args, model, data)
    if args.output_model:
        model.save(args.output_model)
    k = model.n_components  # moves change the number of components
    print(f"fitted {k} components ({model.n_active} active) on {source.n_rows} rows: "
          f"loss {est.history_[-1]['loss']:.9e} (ELBO {est.elbo_:.6f}) after {est.n_iter_} laps"
          f"{' (converged)' if est.converged_ else ''}")
    return 0


# -- score, probability, predict -----------------------------------------------------------
def _rows(X: np.ndarray, w, model, what: str) -> np.ndarray:
    """Work item: the per-row result of one batch, through the model's public methods."""
    if what == "labels":
        return model.predict(X)
    if what == "proba":
        return model.predict_proba(X)
    return model.log_probability(X)


def _stream_rows(model, data: str, what: str, args, width: int | None, dtype: str
                 ) -> tuple[np.ndarray, int]:
    """Write the per-row results batch by batch (never held whole); return their column sums.

    For ``what='density'`` the file holds densities and the sums are of log-densities.
    """
    from suffstat.parallel import ordered_map
    from suffstat.sources import as_source

    source = as_source(data)
    ranges = source.ranges(args.batch_size or source.default_batch_size())
    shape = (source.n_rows,) if width is None else (source.n_rows, width)
    item = "log" if what == "density" else what
    summary = []
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(row_writer(args.output, shape, dtype)) if args.output else None
        for block in ordered_map(_rows, source, ranges, n_jobs=args.n_jobs, args=(model, item)):
            if out is not None:
                out.write(np.exp(block) if what == "density" else block)
            summary.append(np.bincount(block, minlength=model.n_components) if what == "labels"
                           else block.sum(axis=0))
    return np.sum(summary, axis=0), source.n_rows


def _prepare_output(args: argparse.Namespace) -> None:
    if args.output:
        args.output = output_name(args.output)
        check_output_file(args.output, "--output")


def _score(args: argparse.Namespace) -> int:
    _fill_positionals(args, [("model", "model_option", "MODEL (or --input_model_file/-m FILE)"),
                             ("input", "input_option", "INPUT (or --input_file/-i FILE)")])
    _prepare_output(args)
    model = _load_model(args.model)
    what = "density" if args.command == "probability" else "log"
    with tempfile.TemporaryDirectory() as tmp:
        data = open_input(args.input, tmp, *_delimiter(args))
        total, n = _stream_rows(model, data, what, args, None, "<f8")
    print(f"mean log-likelihood: {total / n:.6f} over {n} rows")
    return 0


def _predict(args: argparse.Namespace) -> int:
    _fill_positionals(args, [("model", "model_option", "MODEL (or --input_model_file/-m FILE)"),
                             ("input", "input_option", "INPUT (or --input_file/-i FILE)")])
    _prepare_output(args)
    model = _load_model(args.model)
    k = getattr(model, "n_components", None)
    if k is None:
        raise CommandError(f"{args.model} is a {type(model).__name__}, not a mixture")
    with tempfile.TemporaryDirectory() as tmp:
        data = open_input(args.input, tmp, *_delimiter(args))
        total, n = _stream_rows(model, data, "proba" if args.proba else "labels", args,
                                k if args.proba else None, "<f8" if args.proba else "<i8")
    what = "expected rows" if args.proba else "rows"
    print(f"{what} per component: " + ", ".join(f"{c}: {v:.6g}" for c, v in enumerate(total)))
    return 0


# -- sample --------------------------------------------------------------------------------
def _check_sample_memory(n: int, d: int) -> None:
    """Refuse a draw that cannot fit in memory, before trying it."""
    per_row = 8 * (3 * d + 3)  # the draws, their shuffled copy, labels and the permutation
    need = n * per_row
    free = available_memory()
    if free is not None and need > free:
        raise CommandError(
            f"sampling {n} rows of {d} feature(s) needs about {size_text(need)} of memory, "
            f"but {size_text(free)} is available: draw at most about {free // per_row} rows "
            "at a time (with different --seed values)"
        )


def _sample(args: argparse.Namespace) -> int:
    _fill_positionals(args, [("model", "model_option", "MODEL (or --input_model_file/-m FILE)"),
                             ("n", "n_option", "N (or --samples/-n N)")])
    if not isinstance(args.n, int):
        args.n = positive_int_argument("N", args.n)
    if not args.output:
        raise CommandError("the following arguments are required: --output (or --output_file/-o)")
    args.output = output_name(args.output)
    check_output_file(args.output, "--output")
    model = _load_model(args.model)
    _check_sample_memory(args.n, int(getattr(model, "n_features", 1) or 1))
    X = model.sample(args.n, random_state=args.seed)
    write_array(args.output, X)
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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``suffstat`` program.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one sub-command per task.
    """
    return build({"demo": _demo, "fit": _fit, "score": _score, "probability": _score,
                  "predict": _predict, "sample": _sample, "info": _info, "plot": _plot})


def _interrupted(args: argparse.Namespace | None) -> str:
    """The one line printed on Ctrl-C: what was kept, and how to carry on."""
    if args is None or getattr(args, "func", None) is not _fit:
        return "interrupted; no output was written"
    if args.output_path:
        folder = args.output_path
        if not (os.path.isdir(folder) and any(n.startswith("lap-") for n in os.listdir(folder))):
            return "interrupted before the first lap was saved: run the same command again"
        how = "run the same command again" if args.resume else "add --resume to the same command"
        return (f"interrupted; the finished laps are saved in {args.output_path}: {how} to "
                "continue from the newest one")
    return ("interrupted; nothing was saved: give --output-path DIR to keep a snapshot per lap, "
            "which --resume continues from")


def _flush_stdout() -> None:
    """Flush what was printed so far, so that an error line on stderr comes after it."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 on a user error, 1 on an internal error (one
        line on stderr each), 130 when interrupted by Ctrl-C.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = "--verbose" in argv or "-v" in argv  # before the parse, for its errors
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help, --version
            return int(e.code or 0)
        verbose = args.verbose = bool(args.verbose)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = int(args.func(args))
        sys.stdout.flush()  # stdout and stderr in the order written, even into one pipe
        for w in caught:  # the library's warnings, one line each
            print(f"suffstat: warning: {w.message}", file=sys.stderr)
        return status
    except KeyboardInterrupt:
        _flush_stdout()
        print(f"suffstat: {_interrupted(args)}", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # e.g. `suffstat info m.npz | head`: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except (CommandError, ValueError, OSError, KeyError, MemoryError) as e:
        _flush_stdout()
        if verbose:
            traceback.print_exc()
        if isinstance(e, KeyError):
            message = f"missing {e}"
        elif isinstance(e, MemoryError):
            message = f"out of memory{': ' + str(e) if str(e) else ''}"
        else:
            message = str(e) or type(e).__name__
        print(f"suffstat: error: {message}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug of ours: still one line, unless --verbose
        _flush_stdout()
        if verbose:
            traceback.print_exc()
        print(f"suffstat: error: internal error: {type(e).__name__}: {e} (--verbose shows the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
