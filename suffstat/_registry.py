"""The registry of model classes by name, used to rebuild models from plain dicts.

Every public :class:`~suffstat.Distribution` subclass registers itself here when it
is defined. Loading (``io``, ``snapshots``) looks classes up here instead of importing
the models, so the dependency goes one way: models -> io -> registry (issue 12).
Only registered classes can be named by a model file: a file can describe a model,
never run code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["model_class", "model_from_dict", "register", "registry_name"]

_MODELS: dict[str, type] = {}


def registry_name(cls: type) -> str:
    """Return the name ``cls`` is registered under.

    It is the class's ``__name__`` unless the class itself declares ``_registry_name``
    (the conjugate priors do: ``'priors.Beta'`` is not the distribution ``'Beta'``).

    Parameters
    ----------
    cls : type
        A model class.

    Returns
    -------
    str
        Its name in model files.
    """
    return cls.__dict__.get("_registry_name", cls.__name__)


def register(cls: type) -> type:
    """Register ``cls`` under its :func:`registry_name` and return it.

    Parameters
    ----------
    cls : type
        A model class with a ``from_dict`` class method.

    Returns
    -------
    type
        ``cls``.
    """
    _MODELS[registry_name(cls)] = cls
    return cls


def model_class(name: Any) -> type:
    """Return the registered model class called ``name``.

    Parameters
    ----------
    name : str
        A class name, such as ``"Normal"``.

    Returns
    -------
    type
        The class.

    Raises
    ------
    ValueError
        If no model class has that name.
    """
    if not isinstance(name, str):
        raise ValueError(f"the model class must be given by its name; got {name!r}")
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model class {name!r}") from None


def model_from_dict(d: Any) -> Any:
    """Rebuild a model from its ``to_dict()`` description.

    Parameters
    ----------
    d : dict
        ``{"class": name, "params": {...}, "options": {...}}``.

    Returns
    -------
    Distribution
        A model of the registered class named in ``d["class"]``.

    Raises
    ------
    ValueError
        If ``d`` is not a model description or names an unknown class.
    """
    if not isinstance(d, dict) or "class" not in d:
        raise ValueError(f"a model description is a dict with a 'class' entry; got {type(d).__name__}")
    return model_class(d["class"]).from_dict(d)
