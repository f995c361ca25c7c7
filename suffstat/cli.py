"""The ``suffstat`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``suffstat`` program.

    Returns
    -------
    argparse.ArgumentParser
        The parser with one sub-command per task.
    """
    parser = argparse.ArgumentParser(prog="suffstat", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit a mixture out of core on a built-in dataset")
    demo.add_argument("--n", type=int, default=5000, help="number of rows (default 5000)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--batch-size", type=int, default=500, help="rows per batch (default 500)")
    demo.add_argument("--max-iter", type=int, default=200, help="EM passes at most (default 200)")
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
