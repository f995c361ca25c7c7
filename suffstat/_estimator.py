"""scikit-learn's estimator conventions: ``get_params`` / ``set_params`` from ``__init__``."""

from __future__ import annotations

import copy
import inspect
from typing import Any


def param_names(cls: type) -> list[str]:
    """The names of ``cls.__init__``'s arguments (scikit-learn's ``_get_param_names``)."""
    sig = inspect.signature(cls.__init__)
    return sorted(
        p.name for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


class EstimatorParams:
    """``get_params`` and ``set_params`` over the constructor's arguments.

    The names are read from ``__init__``'s signature, as scikit-learn's
    ``BaseEstimator`` does, so ``sklearn.base.clone``, ``Pipeline`` and
    ``GridSearchCV`` work without scikit-learn being a dependency. A class whose
    attribute of a constructor name holds fitted state rather than the value
    given overrides ``_get_param_value``.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return param_names(cls)

    def _get_param_value(self, name: str) -> Any:
        return getattr(self, name)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor's arguments (scikit-learn's estimator API).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of nested estimators as ``name__key``.

        Returns
        -------
        dict
            Argument names mapped to their values.
        """
        out = {}
        for name in self._get_param_names():
            value = self._get_param_value(name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any):
        """Set constructor arguments (scikit-learn's estimator API).

        Parameters
        ----------
        **params
            Argument names and their new values (``name__key`` for nested ones).

        Returns
        -------
        self
            The estimator.

        Raises
        ------
        ValueError
            For a name that is not a constructor argument.
        """
        valid = self._get_param_names()
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid parameters are "
                    f"{valid}"
                )
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                self._set_param_value(name, value)
        for name, sub in nested.items():
            self._get_param_value(name).set_params(**sub)
        return self

    def _set_param_value(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def __sklearn_clone__(self) -> Any:
        """Return a new estimator with copies of the constructor's arguments (``sklearn.base.clone``).

        Models passed as arguments (a mixture's components) are copied whole, their
        parameters included, since they are values here, not estimators to refit.

        Returns
        -------
        object
            The new, unfitted estimator.
        """
        return type(self)(**{k: _duplicate(v) for k, v in self.get_params(deep=False).items()})

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags (a density estimator; ``y`` is not required).

        Returns
        -------
        sklearn.utils.Tags
            The tags; only called by scikit-learn, so it is imported here.
        """
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type="density_estimator", target_tags=TargetTags(required=False))


def _duplicate(value: Any) -> Any:
    if hasattr(value, "__sklearn_clone__") and not isinstance(value, type):
        return value.__sklearn_clone__()
    if isinstance(value, list):
        return [_duplicate(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_duplicate(v) for v in value)
    return copy.deepcopy(value)
