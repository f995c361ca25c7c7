"""What scikit-learn's mixture faces share: tags, settings checks, streamed predictions.

:class:`~suffstat.GaussianMixture` and :class:`~suffstat.BayesianGaussianMixture` are
thin faces over a learner (``model_``) and the engine; this base holds their common
part, so both answer scikit-learn's prediction methods the same way, streamed with
their ``batch_size`` and ``n_jobs``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._estimator import EstimatorParams
from ..exceptions import NotFittedError, ParameterError


class MixtureFace(EstimatorParams):
    """Base of the scikit-learn mixture faces (a fitted learner in ``model_``)."""

    _estimator_type = "density_estimator"

    def __sklearn_tags__(self) -> Any:
        """Return scikit-learn's estimator tags (a density estimator; scikit-learn >= 1.6).

        Returns
        -------
        sklearn.utils.Tags
            scikit-learn's default tags with ``estimator_type='density_estimator'``.
        """
        from sklearn.base import BaseEstimator  # only scikit-learn calls this

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "density_estimator"
        return tags

    def _check_common(self) -> None:
        """The settings scikit-learn's mixtures share: n_components, tol, reg_covar, max_iter, n_init."""
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ParameterError(f"n_components must be a positive integer; got {k!r}")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or not value >= 0:
                raise ParameterError(f"{name} must be a non-negative number; got {value!r}")
        for name in ("max_iter", "n_init"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name} must be a positive integer; got {value!r}")

    @staticmethod
    def _as_data(X: Any) -> Any:
        """Arrays, memory maps, paths and array-likes with a shape pass; lists become arrays."""
        if not (isinstance(X, np.ndarray) or hasattr(X, "shape") or isinstance(X, (str, bytes))
                or hasattr(X, "__fspath__")):
            X = np.asarray(X, dtype=np.float64)
        return X

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> np.ndarray:
        """Fit, then return the most probable component of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data.
        y : ignored
            Accepted for scikit-learn compatibility.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component labels under the fitted parameters.
        """
        return self.fit(X, y, sample_weight).predict(X)

    def _model(self) -> Any:
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit with appropriate data first"
            )
        return model

    def _stream(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "n_jobs": self.n_jobs}

    def score_samples(self, X: Any) -> np.ndarray:
        """Return each row's log-density under the fitted mixture (scikit-learn's).

        For a variational mixture this is scikit-learn's quantity,
        ``log sum_k exp(E[log pi_k] + E[log p_k(x)])``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data (streamed with ``batch_size`` and ``n_jobs``).

        Returns
        -------
        ndarray of shape (n_samples,)
            One value per row.
        """
        return self._model().score_samples(X, **self._stream())

    def score(self, X: Any, y: Any = None) -> float:
        """Return the mean of :meth:`score_samples`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data.
        y : ignored
            Accepted for scikit-learn compatibility.

        Returns
        -------
        float
            The mean per row.

        Raises
        ------
        DataError
            If ``X`` has no rows.
        """
        return self._model().score(X, **self._stream())

    def predict(self, X: Any) -> np.ndarray:
        """Return the most probable component of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component labels.
        """
        return self._model().predict(X, **self._stream())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return the posterior probability of each component for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), numpy.memmap, str or os.PathLike
            The data.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Responsibilities (rows sum to 1).
        """
        return self._model().predict_proba(X, **self._stream())
