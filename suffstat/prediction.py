"""Streamed prediction, shared by mixtures, the command line and later classifiers.

A model that mixes in :class:`StreamedPrediction` provides two per-batch methods
on validated data, ``_log_probability(X) -> (n,)`` and
``_predict_log_proba(X) -> (n, k)``, plus ``_check_data`` and
``_require_fitted``. Everything else is here: arrays are scored at once, memory
maps, ``.npy`` paths and other array-likes batch by batch (``n_jobs`` threads, in
row order), and ``predict`` keeps only the labels of each batch, never the whole
``n x k`` matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_count
from .exceptions import DataError
from .parallel import effective_n_jobs, ordered_map
from .sources import as_source


def _batch_result(X: np.ndarray, w: Any, model: Any, fn_name: str) -> np.ndarray:
    """Work item: one per-batch method on one validated batch."""
    return getattr(model, fn_name)(model._check_data(X))


class StreamedPrediction:
    """``log_probability``, ``score_samples``, ``score`` and ``predict*``, streamed."""

    def _map_batches(self, fn_name: str, X: Any, batch_size: int | None, n_jobs: int) -> np.ndarray:
        self._require_fitted()
        if isinstance(X, np.ndarray) and not isinstance(X, np.memmap) and batch_size is None:
            return getattr(self, fn_name)(self._check_data(X))
        source = as_source(X)
        size = source.default_batch_size() if batch_size is None else check_count(
            "batch_size", batch_size, minimum=1)
        ranges = source.ranges(size)
        if not ranges:
            return getattr(self, fn_name)(self._check_data(source.read(0, 0)))
        out = None
        # each batch's result goes straight into the output: no list of parts to join
        for (start, stop), part in zip(ranges, ordered_map(
                _batch_result, source, ranges, n_jobs=effective_n_jobs(n_jobs), args=(self, fn_name)),
                strict=True):
            if out is None:
                out = np.empty((source.n_rows, *part.shape[1:]), dtype=part.dtype)
            out[start:stop] = part
        return out

    def _predict_labels(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self._predict_log_proba(X), axis=1)

    def log_probability(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the log-density of each row under the model.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data; files and memory maps are streamed in batches.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            The log-density of each row.
        """
        return self._map_batches("_log_probability", X, batch_size, n_jobs)

    def score_samples(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Alias of :meth:`log_probability` (scikit-learn's name).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            Per-row log-likelihood.
        """
        return self.log_probability(X, batch_size=batch_size, n_jobs=n_jobs)

    def score(self, X: Any, y: Any = None, *, batch_size: int | None = None, n_jobs: int = 1) -> float:
        """Return the mean per-row log-likelihood (scikit-learn's ``score``).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        y : ignored
            Accepted for scikit-learn compatibility.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        float
            Mean log-likelihood per row.

        Raises
        ------
        DataError
            If ``X`` has no rows.
        """
        ll = self.log_probability(X, batch_size=batch_size, n_jobs=n_jobs)
        if ll.shape[0] == 0:
            raise DataError("X is empty: score needs at least one row")
        return float(np.mean(ll))

    def predict_log_proba(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the log-posterior of each component, ``log p(k | x)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Log posterior probability of each component.
        """
        return self._map_batches("_predict_log_proba", X, batch_size, n_jobs)

    def predict_proba(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the posterior of each component, ``p(k | x)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Posterior probability of each component; rows sum to 1.
        """
        return np.exp(self.predict_log_proba(X, batch_size=batch_size, n_jobs=n_jobs))

    def predict(self, X: Any, *, batch_size: int | None = None, n_jobs: int = 1) -> np.ndarray:
        """Return the most probable component of each row.

        Streamed input keeps only each batch's labels, never the ``n x k`` posterior.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            The data.
        batch_size : int, optional
            Rows per batch when streaming.
        n_jobs : int, default=1
            Batches processed concurrently.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component indices.
        """
        return self._map_batches("_predict_labels", X, batch_size, n_jobs)
