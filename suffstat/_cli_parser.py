"""The argument parser of the ``suffstat`` program, with mlpack's option names as aliases.

The commands themselves are in :mod:`suffstat.cli`; nothing here prints.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from . import __version__
from ._cli_files import CommandError

# ``--max_iterations 0`` and ``--kmeans_max_iterations 0``: mlpack's "until convergence"
UNTIL_CONVERGENCE = 2**31 - 1

# The synopses of --help (and of docs/cli.rst): the inputs first, then every option.
FIT_USAGE = """%(prog)s INPUT [--components K] [--covariance {full,diag,spherical}]
         [--max-iter N] [--tol TOL] [--trials T] [--init NAME] [--samplings S]
         [--percentage P] [--batch-size B] [--batches-per-epoch M] [--n-jobs J]
         [--input-model MODEL] [--reg-covar R] [--noise SIGMA]
         [--algorithm {em,stepwise,memoized,vb,stochastic}] [--save-every S]
         [--model {gmm,bayesian}] [--allocation {dp,finite}] [--sF SF]
         [--ECovMat {eye,covdata}] [--kappa KAPPA] [--nu NU] [--gamma0 G] [--gamma G]
         [--moves MOVES] [--b_startLap L] [--b_Kfresh F] [--m_startLap L]
         [--d_startLap L] [--Kmax K] [--max-kmeans-iter N] [--seed SEED] [--output-model FILE]
         [--output-path DIR] [--resume] [--plot FILE] [--delimiter D] [--verbose]
   or: %(prog)s -i INPUT -g K [mlpack gmm_train options, listed below]"""
SCORING_USAGE = """%(prog)s MODEL INPUT [--output FILE]{proba} [--batch-size B]
         [--n-jobs J] [--delimiter D] [--verbose]
   or: %(prog)s -m MODEL -i INPUT [-o FILE] [...]"""
PLOT_USAGE = """%(prog)s RUN_FOLDER [--output FILE] [--data INPUT] [--laps L,L,...]
         [--columns I,J] [--min-weight W] [--delimiter D] [--verbose]"""
SAMPLE_USAGE = """%(prog)s MODEL N --output FILE [--seed SEED] [--verbose]
   or: %(prog)s -m MODEL -n N -o FILE [-s SEED] [--verbose]"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit status 2, printed by :func:`main`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CommandError(message)


class _CommandParser(_Parser):
    """A command's parser: options and positional arguments may come in any order."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inside:  # the two passes of parse_known_intermixed_args
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


# -- argument types ------------------------------------------------------------------------
def _number(text: str, kind: type) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None


def _non_negative(text: str) -> float:
    v = _number(text, float)
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0; got {text}")
    return v


def _fraction(text: str) -> float:
    v = _number(text, float)
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]; got {text}")
    return v


def _positive_int(text: str) -> int:
    v = _number(text, int)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return v


def _lap(text: str) -> int:
    v = _number(text, int)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0; got {text}")
    return v


def _iterations(text: str) -> int:
    """mlpack's iteration counts: 0 means until convergence."""
    v = _number(text, int)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0: until convergence); got {text}")
    return v or UNTIL_CONVERGENCE


def positive_int_argument(name: str, text: str) -> int:
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as e:
        raise CommandError(f"argument {name}: {e}") from None


# -- the parser ----------------------------------------------------------------------------
_S = argparse.SUPPRESS
_FILE_HELP = "a .npy (memory-mapped), .csv, .tsv or .txt (read in chunks) file"
_DELIMITER_HELP = ("column delimiter of a text INPUT: one character, or tab, comma, semicolon, "
                   "space (default: guessed from the first data line)")
_OUTPUT_HELP = ("write the per-row results here: .csv, .tsv, .txt as text, any other name as "
                ".npy (.npy is added to a name without a suffix)")


def _verbose_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", "-v", action="store_true", default=_S,
                   help="show progress, and the traceback of an error")


def _add_fit(sub, commands) -> None:
    fit = sub.add_parser("fit", aliases=["train"], usage=FIT_USAGE,
                         help="fit a Gaussian mixture to a file (mlpack's gmm_train)",
                         description="Fit a mixture of Gaussians by EM, streaming INPUT in "
                                     "batches.")
    fit.add_argument("input", nargs="?", metavar="INPUT", help=_FILE_HELP)
    fit.add_argument("--components", "-k", type=_positive_int, metavar="K",
                     help="number of components (required unless --input-model is given)")
    fit.add_argument("--covariance", choices=["full", "diag", "spherical"], default=None,
                     help="covariance form (default full; converts an --input-model)")
    fit.add_argument("--max-iter", type=_positive_int, default=100, metavar="N",
                     help="EM passes at most (default 100)")
    fit.add_argument("--tol", type=float, default=None, metavar="TOL",
                     help="stop when the mean log-likelihood per row improves by less "
                          "(default 1e-3)")
    fit.add_argument("--trials", type=_positive_int, default=1, metavar="T",
                     help="fits from T seeds, keeping the best (n_init; default 1)")
    fit.add_argument("--init", choices=["first-k", "random", "kmeans++", "kmeans", "refined",
                                        "randexamples", "randexamplesbydist"],
                     default=None, metavar="NAME",
                     help="first-k, random, kmeans++ (default), kmeans, refined, or bnpy's "
                          "randexamples, randexamplesbydist")
    fit.add_argument("--samplings", type=_positive_int, default=100, metavar="S",
                     help="subsamples of --init refined (default 100)")
    fit.add_argument("--percentage", type=_fraction, default=0.02, metavar="P",
                     help="fraction of the rows in each subsample, in (0, 1] (default 0.02)")
    fit.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                     help="rows per batch (default: about 8 MiB of rows)")
    fit.add_argument("--batches-per-epoch", type=_positive_int, default=None, metavar="M",
                     help="update after every M batches (minibatch EM)")
    fit.add_argument("--n-jobs", type=int, default=1, metavar="J", help="threads (-1: all cores)")
    fit.add_argument("--input-model", metavar="MODEL",
                     help="warm-start from this saved model or snapshot folder")
    fit.add_argument("--reg-covar", type=_non_negative, default=None, metavar="R",
                     help="added to each covariance's diagonal (default 1e-6)")
    fit.add_argument("--noise", type=_non_negative, default=0.0, metavar="SIGMA",
                     help="std of Gaussian noise added to the data (fixed per row)")
    fit.add_argument("--algorithm", choices=["em", "stepwise", "memoized", "vb", "stochastic",
                                             "VB", "soVB", "moVB", "memoVB"], default=None,
                     help="em, stepwise or memoized (default em); with --model bayesian: vb "
                          "(default), stochastic or memoized (bnpy's VB, soVB, moVB/memoVB)")
    fit.add_argument("--model", choices=["gmm", "bayesian"], default="gmm",
                     help="gmm: a Gaussian mixture by EM (default); bayesian: a variational "
                          "Bayesian Gaussian mixture (ss.BayesianGaussianMixture)")
    vb = fit.add_argument_group("the prior of --model bayesian (bnpy's names)")
    vb.add_argument("--allocation", choices=["dp", "finite"], default="dp",
                    help="a Dirichlet-process (default) or a finite Dirichlet weight prior")
    vb.add_argument("--sF", type=_non_negative, default=1.0, metavar="SF",
                    help="scale of the expected covariance (default 1)")
    vb.add_argument("--ECovMat", choices=["eye", "covdata"], default="eye",
                    help="the expected covariance: sF * I (default) or sF * the data's covariance")
    vb.add_argument("--kappa", type=_non_negative, default=1e-4, metavar="KAPPA",
                    help="prior pseudo-count of the means (default 1e-4)")
    vb.add_argument("--nu", type=_non_negative, default=None, metavar="NU",
                    help="prior degrees of freedom (default D + 2)")
    vb.add_argument("--gamma0", type=_non_negative, default=1.0, metavar="G",
                    help="concentration of the DP (default 1)")
    vb.add_argument("--gamma", type=_non_negative, default=1.0, metavar="G",
                    help="total concentration of the finite Dirichlet, split over K (default 1)")
    mv = fit.add_argument_group("the moves of --model bayesian --algorithm memoized (DP; bnpy's names)")
    mv.add_argument("--moves", default=None, metavar="MOVES",
                    help="any of birth, merge, delete, shuffle, comma-separated (default none)")
    mv.add_argument("--b_startLap", type=_lap, default=0, metavar="L",
                    help="first lap whose end tries births (default 0)")
    mv.add_argument("--b_Kfresh", type=_positive_int, default=10, metavar="F",
                    help="fresh components per birth (default 10)")
    mv.add_argument("--m_startLap", type=_lap, default=2, metavar="L",
                    help="first lap whose end tries merges (default 2)")
    mv.add_argument("--d_startLap", type=_lap, default=2, metavar="L",
                    help="first lap whose end tries a delete (default 2)")
    mv.add_argument("--Kmax", type=_positive_int, default=None, metavar="K",
                    help="most components births may make (default max(100, K))")
    fit.add_argument("--save-every", type=_positive_int, default=1, metavar="S",
                     help="write a snapshot every S laps (default 1)")
    fit.add_argument("--max-kmeans-iter", type=_positive_int, default=10, metavar="N",
                     help="Lloyd passes of --init kmeans (default 10)")
    fit.add_argument("--seed", type=int, default=None, metavar="SEED",
                     help="random_state of the fit, and seed of --noise")
    fit.add_argument("--output-model", metavar="FILE",
                     help="save the fitted model here (suffstat's .npz format)")
    fit.add_argument("--output-path", metavar="DIR",
                     help="folder for per-lap snapshots and trace.csv")
    fit.add_argument("--resume", action="store_true",
                     help="continue from --output-path's newest snapshot")
    fit.add_argument("--plot", metavar="FILE",
                     help="draw the fit: the clusters at laps 0, 1, 2, 5, 10 and the last (with "
                          "--output-path) or the final clusters over the data to FILE, and the "
                          "trace to FILE-trace (a .png, .pdf or .svg; needs matplotlib)")
    fit.add_argument("--delimiter", metavar="D", help=_DELIMITER_HELP)
    _verbose_option(fit)
    ml = fit.add_argument_group(
        "mlpack gmm_train names",
        "mlpack_gmm_train's names for the same settings (--trials, --samplings, "
        "--percentage, --noise, --seed and --verbose are spelled alike)")
    ml.add_argument("--input_file", "--input", "-i", dest="input_option", default=None,
                    metavar="FILE", help="= INPUT")
    ml.add_argument("--gaussians", "-g", dest="components", type=_positive_int, default=_S,
                    metavar="K", help="= --components")
    ml.add_argument("--max_iterations", "-n", dest="max_iter", type=_iterations, default=_S,
                    metavar="N", help="= --max-iter; 0: until convergence")
    ml.add_argument("--tolerance", "-T", type=_non_negative, default=None, metavar="T",
                    help="stop when the total log-likelihood improves by less than T "
                         "(= --tol T/rows)")
    ml.add_argument("-t", dest="trials", type=_positive_int, default=_S, metavar="T",
                    help="= --trials")
    ml.add_argument("--diagonal_covariance", "-d", dest="covariance", action="store_const",
                    const="diag", default=_S, help="= --covariance diag")
    ml.add_argument("--refined_start", "-r", dest="init", action="store_const", const="refined",
                    default=_S, help="= --init refined (Bradley-Fayyad)")
    ml.add_argument("-S", dest="samplings", type=_positive_int, default=_S, metavar="S",
                    help="= --samplings")
    ml.add_argument("-p", dest="percentage", type=_fraction, default=_S, metavar="P",
                    help="= --percentage")
    ml.add_argument("--kmeans_max_iterations", type=_iterations, default=None, metavar="N",
                    help="= --max-kmeans-iter (0: until convergence); selects --init kmeans "
                         "unless --init or -r is given")
    ml.add_argument("--no_force_positive", "-P", action="store_true",
                    help="= --reg-covar 0: nothing is added to the covariances, and a singular "
                         "one stops the fit with an error")
    ml.add_argument("-N", dest="noise", type=_non_negative, default=_S, metavar="SIGMA",
                    help="= --noise (mlpack too scales the noise by this standard deviation)")
    ml.add_argument("--input_model_file", "-m", dest="input_model", default=_S, metavar="MODEL",
                    help="= --input-model")
    ml.add_argument("--output_model_file", "-M", dest="output_model", default=_S,
                    metavar="FILE", help="= --output-model")
    ml.add_argument("-s", dest="seed", type=int, default=_S, metavar="SEED",
                    help="= --seed (0 is a seed like any other)")
    fit.set_defaults(func=commands["fit"])


def _add_scoring(sub, commands, name: str, helptext: str, description: str) -> None:
    usage = SCORING_USAGE.format(proba=" [--proba]" if name == "predict" else "")
    p = sub.add_parser(name, help=helptext, description=description, usage=usage)
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="a saved model (.npz) or snapshot folder")
    p.add_argument("input", nargs="?", metavar="INPUT", help=_FILE_HELP)
    p.add_argument("--output", help=_OUTPUT_HELP, metavar="FILE")
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                   help="rows per batch (default: about 8 MiB of rows)")
    p.add_argument("--n-jobs", type=int, default=1, metavar="J", help="threads (-1: all cores)")
    if name == "predict":
        p.add_argument("--proba", action="store_true", help="write the responsibilities instead")
    p.add_argument("--delimiter", metavar="D", help=_DELIMITER_HELP)
    _verbose_option(p)
    ml = p.add_argument_group("mlpack gmm_probability names",
                              "mlpack_gmm_probability's names for the same settings")
    ml.add_argument("--input_model_file", "-m", dest="model_option", default=None,
                    metavar="MODEL", help="= MODEL")
    ml.add_argument("--input_file", "--input", "-i", dest="input_option", default=None,
                    metavar="FILE", help="= INPUT")
    ml.add_argument("--output_file", "-o", dest="output", default=_S, metavar="FILE",
                    help="= --output")
    p.set_defaults(func=commands[name], proba=False, command=name)


def _add_sample(sub, commands) -> None:
    p = sub.add_parser("sample", aliases=["generate"], usage=SAMPLE_USAGE,
                       help="draw rows from a saved model (mlpack's gmm_generate)",
                       description="Draw N rows from MODEL and write them to FILE.")
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="a saved model (.npz) or snapshot folder")
    p.add_argument("n", nargs="?", metavar="N", help="the number of rows to draw")
    p.add_argument("--seed", type=int, default=None, metavar="SEED",
                   help="seed of the draw (default: unseeded)")
    p.add_argument("--output", metavar="FILE", help="required: the file to write (.csv, .tsv, "
                   ".txt as text, any other name as .npy; .npy is added to a name without a "
                   "suffix)")
    _verbose_option(p)
    ml = p.add_argument_group("mlpack gmm_generate names",
                              "mlpack_gmm_generate's names for the same settings (--seed is "
                              "spelled alike)")
    ml.add_argument("--input_model_file", "-m", dest="model_option", default=None,
                    metavar="MODEL", help="= MODEL")
    ml.add_argument("--samples", "-n", dest="n_option", type=_positive_int, default=None,
                    metavar="N", help="= N")
    ml.add_argument("--output_file", "-o", dest="output", default=_S, metavar="FILE",
                    help="= --output")
    ml.add_argument("-s", dest="seed", type=int, default=_S, metavar="SEED", help="= --seed")
    p.set_defaults(func=commands["sample"])


def _laps(text: str) -> list:
    """``0,1,2,5,10,last``: laps, ``last`` (or ``None``) for the newest."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        if item.lower() in ("last", "none"):
            out.append(None)
            continue
        v = _number(item, int)
        if v < 0:
            raise argparse.ArgumentTypeError(f"laps must be >= 0 or 'last'; got {item}")
        out.append(v)
    if not out:
        raise argparse.ArgumentTypeError(f"give at least one lap; got {text!r}")
    return out


def _columns(text: str) -> tuple[int, ...]:
    items = [t.strip() for t in text.split(",")]
    if len(items) not in (1, 2):
        raise argparse.ArgumentTypeError(f"give one or two column indices; got {text!r}")
    cols = tuple(int(_number(t, int)) for t in items)
    if any(c < 0 for c in cols):
        raise argparse.ArgumentTypeError(f"columns must be >= 0; got {text}")
    return cols


def _add_plot(sub, commands) -> None:
    p = sub.add_parser("plot", usage=PLOT_USAGE,
                       help="draw a fit's clusters over its laps and its trace",
                       description="Draw the components saved in RUN_FOLDER (the --output-path of "
                                   "a fit) at the laps nearest to those asked, and the trace "
                                   "(log-likelihood, components, step size) over the laps.")
    p.add_argument("run_folder", metavar="RUN_FOLDER", help="a folder of lap-NNNN.npz snapshots")
    p.add_argument("--output", "-o", metavar="FILE", default=None,
                   help="the clusters over the laps go here (default RUN_FOLDER/laps.png), the "
                        "trace to FILE-trace (e.g. laps-trace.png)")
    p.add_argument("--data", metavar="INPUT", default=None,
                   help="draw (a subsample of) these rows under the clusters: " + _FILE_HELP)
    p.add_argument("--laps", type=_laps, default=[0, 1, 2, 5, 10, None], metavar="L,L,...",
                   help="laps to draw, comma-separated; 'last' is the newest; the nearest saved "
                        "lap is drawn (default 0,1,2,5,10,last)")
    p.add_argument("--columns", type=_columns, default=(0, 1), metavar="I,J",
                   help="the two columns of the ellipses, or one for densities (default 0,1)")
    p.add_argument("--min-weight", type=_non_negative, default=1e-3, metavar="W",
                   help="skip components lighter than W (default 0.001)")
    p.add_argument("--delimiter", metavar="D", help=_DELIMITER_HELP)
    _verbose_option(p)
    p.set_defaults(func=commands["plot"])


def build(commands: dict[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """Return the parser of the ``suffstat`` program; ``commands`` maps names to functions."""
    parser = _Parser(prog="suffstat", description="Fit, score and sample Gaussian mixture "
                     "models, out of core. The option names of mlpack's gmm_train, "
                     "gmm_probability and gmm_generate work too.",
                     epilog="'suffstat COMMAND --help' lists the options of a command.")
    parser.add_argument("--version", "-V", action="version", version=f"suffstat {__version__}")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="show progress, and the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    demo = sub.add_parser("demo", help="fit a mixture out of core on a built-in dataset")
    demo.add_argument("--n", type=_positive_int, default=5000, help="number of rows (default 5000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--batch-size", type=_positive_int, default=500, metavar="B",
                      help="rows per batch (default 500)")
    demo.add_argument("--max-iter", type=_positive_int, default=200, metavar="N",
                      help="EM passes at most (default 200)")
    _verbose_option(demo)
    demo.set_defaults(func=commands["demo"])

    _add_fit(sub, commands)
    _add_scoring(sub, commands, "score", "per-row log-likelihood",
                 "Compute the log-density of every row of INPUT under MODEL.")
    _add_scoring(sub, commands, "probability", "per-row density (mlpack's gmm_probability)",
                 "Compute the density (not its log) of every row of INPUT under MODEL, as "
                 "mlpack's gmm_probability does.")
    _add_scoring(sub, commands, "predict", "most likely component",
                 "Compute the most likely component (or the responsibilities) of every row.")
    _add_sample(sub, commands)
    _add_plot(sub, commands)

    info = sub.add_parser("info", help="describe a saved model")
    info.add_argument("model", metavar="MODEL", help="a saved model (.npz) or snapshot folder")
    _verbose_option(info)
    info.set_defaults(func=commands["info"])
    return parser
