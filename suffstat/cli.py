"""The ``suffstat`` command line."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args: argparse.Namespace) -> int:
    import suffstat as ss

    rng = np.random.default_rng(args.seed)
    X = rng.normal(3.0, 5.0, size=args.n)
    batch = max(1, args.n // 5)
    whole = ss.Normal(1.0, 1.0).fit(X)
    streamed = ss.Normal(1.0, 1.0)
    for start in range(0, args.n, batch):
        streamed.summarize(X[start : start + batch])
    streamed.from_summaries()
    print(f"Normal fitted on {args.n} rows at once:        {whole}")
    print(f"Normal fitted over {-(-args.n // batch)} summarize() calls: {streamed}")
    print(
        f"difference: mean {abs(whole.mean - streamed.mean):.2e}, "
        f"std {abs(whole.std - streamed.std):.2e}"
    )
    Y = 1e8 + rng.standard_normal((args.n, 3)) @ np.array([[1, 0, 0], [0.5, 1, 0], [0, 0.2, 2]])
    mvn = ss.MultivariateNormal(covariance_type="full").fit(Y)
    print("MultivariateNormal on 1e8 + N(0, S) data, covariance:")
    print(np.array2string(mvn.cov, precision=4, suppress_small=True))
    print("numpy's covariance (for comparison):")
    print(np.array2string(np.cov(Y.T, bias=True) + 1e-6 * np.eye(3), precision=4, suppress_small=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``suffstat`` program.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one sub-command per task.
    """
    parser = argparse.ArgumentParser(prog="suffstat", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit models on a built-in dataset and print them")
    demo.add_argument("--n", type=int, default=5000, help="number of rows (default 5000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_demo)
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
        The exit status.
    """
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
