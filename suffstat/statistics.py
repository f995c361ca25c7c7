"""Additive sufficient-statistic records.

A record is an immutable bundle of named float64 arrays (and, for composite models,
child records). Records of the same type add up: ``summarize(A) + summarize(B)``
equals ``summarize(concat(A, B))`` up to rounding, ``0 + a`` is ``a`` (so ``sum``
works), and ``c * a`` scales every sum (used by stochastic EM). ``a - b`` removes
``b``'s data (memoized EM) from every record that is :attr:`Statistic.subtractable`,
and raises TypeError for the others (minimum / maximum fields cannot forget data).

Gaussian records keep *shifted* sums about a reference point ``shift`` (K):
``w_sum = sum w``, ``xw_sum = sum w (x - K)``, ``xxw_sum = sum w (x - K)(x - K)^T``.
Raw power sums lose all precision on offset data; shifted sums keep it, and two
records with different shifts are re-centred exactly before they are added.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "BetaStats",
    "CategoricalStats",
    "ClassifierStats",
    "CountStats",
    "GammaStats",
    "GaussianMixtureStats",
    "HMMStats",
    "IndependentStats",
    "MixtureStats",
    "MoveStats",
    "MultivariateNormalStats",
    "NormalStats",
    "PoissonStats",
    "Statistic",
    "UniformStats",
]

_REGISTRY: dict[str, type[Statistic]] = {}


_F64 = np.dtype(np.float64)


def _frozen(value) -> np.ndarray:
    if type(value) is np.ndarray and value.dtype == np.float64:  # the common case, fast
        arr = value.copy()
        arr.flags.writeable = False
        return arr
    if type(value) is float:
        arr = np.array(value)
        arr.flags.writeable = False
        return arr
    if np.iscomplexobj(value):
        raise TypeError(f"statistic fields must be real; got {np.asarray(value).dtype}")
    arr = np.array(value, dtype=np.float64)
    arr.flags.writeable = False
    return arr


def _moments_realizable(w: np.ndarray, s1: np.ndarray, s2: np.ndarray, rtol: float) -> bool:
    """Whether each moment matrix ``[[w, s1^T], [s1, s2]]`` is positive semi-definite, to rounding.

    ``w`` (k,), ``s1`` (k, d), ``s2`` (k, d, d) or (k, d) (diagonals). With w > 0 that is a
    positive semi-definite centred scatter ``s2 - s1 s1^T / w``; with w = 0, zero sums.
    """
    w, s1, s2 = np.asarray(w, dtype=np.float64), np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
    if not (np.isfinite(w).all() and np.isfinite(s1).all() and np.isfinite(s2).all()) or (w < 0).any():
        return False
    some = w > 0
    if not ((s1[~some] == 0.0).all() and (s2[~some] == 0.0).all()):
        return False
    w, s1, s2 = w[some], s1[some], s2[some]
    outer = s1[:, :, None] * s1[:, None, :] / w[:, None, None] if s2.ndim == 3 else s1 * s1 / w[:, None]
    centred = s2 - outer
    if s2.ndim == 2:
        return bool((centred >= -rtol * (np.abs(s2) + outer)).all())
    size = np.abs(np.trace(s2, axis1=1, axis2=2)) + np.trace(outer, axis1=1, axis2=2)
    return bool((np.linalg.eigvalsh(0.5 * (centred + centred.transpose(0, 2, 1))).min(axis=1)
                 >= -rtol * size).all()) if len(w) else True


class Statistic:
    """Base class of the additive statistic records.

    Subclasses list their array fields in ``_fields``; fields named in ``_min_fields``
    or ``_max_fields`` combine by minimum or maximum instead of addition, and
    ``_parts_field`` names a tuple of child records combined element by element.

    Parameters
    ----------
    **values
        One array-like per field; arrays are copied and made read-only.
    """

    _fields: ClassVar[tuple[str, ...]] = ()
    _min_fields: ClassVar[tuple[str, ...]] = ()
    _max_fields: ClassVar[tuple[str, ...]] = ()
    _parts_field: ClassVar[str | None] = None
    #: Fields that describe the record rather than the data (kept under scaling).
    _kept_fields: ClassVar[tuple[str, ...]] = ()
    #: Per field: kept as it is under scaling (min, max and kept fields); set per subclass.
    _unscaled: ClassVar[tuple[bool, ...]] = ()
    #: The fields that must be finite (all but min and max fields); set per subclass.
    _data_checked: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls
        # what the algebra's loops would otherwise look up per field and per call
        cls._unscaled = tuple(name in cls._min_fields or name in cls._max_fields or name in cls._kept_fields
                              for name in cls._fields)
        cls._data_checked = tuple(name for name in cls._fields
                                  if name not in cls._min_fields and name not in cls._max_fields)

    def __init__(self, **values: Any) -> None:
        expected = set(self._fields) | ({self._parts_field} - {None})
        if set(values) != expected:
            raise TypeError(
                f"{type(self).__name__} takes fields {sorted(expected)}; got {sorted(values)}"
            )
        for name in self._fields:
            object.__setattr__(self, name, _frozen(values[name]))
        if self._parts_field is not None:
            parts = tuple(values[self._parts_field])
            for p in parts:
                if not isinstance(p, Statistic):
                    raise TypeError(f"parts must be Statistic records; got {type(p).__name__}")
            object.__setattr__(self, self._parts_field, parts)

    @classmethod
    def _trusted(cls, values: dict[str, Any]) -> Statistic:
        """A record of fields that the records' own algebra computed (no checks, fewer copies).

        A fresh float64 array (no base, C-contiguous) is made read-only in place and a
        read-only one is shared (only records hold those); anything else is copied
        as the constructor does. Stochastic VB adds and scales records thousands of
        times per lap, where the constructor's copies were most of the cost.
        """
        obj = object.__new__(cls)
        fields = obj.__dict__
        for name in cls._fields:
            v = values[name]
            kind = type(v)
            if kind is np.ndarray and (v.dtype is _F64 or v.dtype == _F64):
                flags = v.flags
                if flags.writeable:
                    if v.base is None and flags.c_contiguous:
                        flags.writeable = False
                    else:
                        v = _frozen(v)
            elif kind is np.float64 or kind is float:  # a 0-d field's sum or product
                v = np.array(v)
                v.flags.writeable = False
            else:
                v = _frozen(v)
            fields[name] = v
        if cls._parts_field is not None:
            fields[cls._parts_field] = tuple(values[cls._parts_field])
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} records are immutable")

    # -- algebra ----------------------------------------------------------------------
    def _values(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in self._fields}
        if self._parts_field is not None:
            out[self._parts_field] = getattr(self, self._parts_field)
        return out

    def _check_other(self, other: Any) -> None:
        if type(other) is not type(self):
            raise TypeError(
                f"cannot add {type(self).__name__} and {type(other).__name__}"
            )

    def _combine(self, other: Statistic) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._fields:
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape:
                raise ValueError(
                    f"cannot add {type(self).__name__} records: field {name!r} has shape "
                    f"{a.shape} in one and {b.shape} in the other"
                )
            if name in self._min_fields:
                out[name] = np.minimum(a, b)
            elif name in self._max_fields:
                out[name] = np.maximum(a, b)
            else:
                out[name] = float(a) + float(b) if a.ndim == 0 else a + b  # floats: the same sum, sooner
        if self._parts_field is not None:
            pa, pb = getattr(self, self._parts_field), getattr(other, self._parts_field)
            if len(pa) != len(pb):
                raise ValueError(
                    f"cannot add {type(self).__name__} records with {len(pa)} and {len(pb)} parts"
                )
            out[self._parts_field] = tuple(x + y for x, y in zip(pa, pb, strict=True))
        return out

    def __add__(self, other: Any) -> Statistic:
        if isinstance(other, numbers.Number) and other == 0:
            return self
        if not isinstance(other, Statistic):
            return NotImplemented
        self._check_other(other)
        return type(self)._trusted(self._combine(other))

    def __radd__(self, other: Any) -> Statistic:
        return self.__add__(other)

    def _scaled(self, c: float, then: float | None = None) -> dict[str, Any]:
        """The fields of ``c * self``, or of ``then * (c * self)`` (0-d fields as numpy scalars)."""
        out: dict[str, Any] = {}
        for name, keep in zip(self._fields, self._unscaled):
            a = getattr(self, name)
            if keep:
                out[name] = a
            elif a.ndim == 0:  # Python floats: the same products, sooner
                out[name] = np.float64(c * float(a) if then is None else then * (c * float(a)))
            else:
                out[name] = c * a if then is None else then * (c * a)
        if self._parts_field is not None:
            parts = getattr(self, self._parts_field)
            out[self._parts_field] = tuple(c * p if then is None else then * (c * p) for p in parts)
        return out

    def __mul__(self, c: Any) -> Statistic:
        if isinstance(c, bool) or not isinstance(c, numbers.Real):
            return NotImplemented
        if not math.isfinite(c):
            raise ValueError(f"a statistic can only be scaled by a finite number; got {c}")
        if c == 0:  # no data left: min / max fields return to their identity too
            return self.zeros_like()
        if c < 0 and not self.subtractable:
            raise self._not_subtractable("scaled by a negative number")
        return type(self)._trusted(self._scaled(float(c)))

    __rmul__ = __mul__

    def step_toward(self, target: Statistic, rho: float, scale: float = 1.0) -> Statistic:
        """Return ``(1 - rho) * self + rho * (scale * target)`` (stochastic EM's and VB's step).

        The same values as that expression; for ``0 < rho < 1`` and a positive finite
        ``scale`` the scaled records are not built as records of their own.

        Parameters
        ----------
        target : Statistic
            A record of the same type.
        rho : float
            The step's rate.
        scale : float, default=1.0
            The target's scale (the data's weight over the batch's).

        Returns
        -------
        Statistic
            The blended record.
        """
        a = 1.0 - rho
        if type(target) is not type(self) or not (0.0 < rho < 1.0 and 0.0 < a and 0.0 < scale < math.inf):
            return a * self + rho * (target if scale == 1.0 else scale * target)
        cls = type(self)
        toward = target._scaled(float(rho)) if scale == 1.0 else target._scaled(float(scale), float(rho))
        return cls._trusted(cls._unchecked(self._scaled(a))._combine(cls._unchecked(toward)))

    @classmethod
    def _unchecked(cls, values: dict[str, Any]) -> Statistic:
        """A record of the algebra's intermediate fields, neither checked nor frozen (never returned)."""
        obj = object.__new__(cls)
        obj.__dict__.update(values)
        return obj

    @property
    def subtractable(self) -> bool:
        """Whether data can be removed from this record (``-``, negative scaling).

        False when the record or one of its parts has minimum or maximum fields
        (:class:`UniformStats`): a minimum cannot forget the row it came from. Such
        records are re-aggregated from their parts instead (memoized EM does).
        """
        if self._min_fields or self._max_fields:
            return False
        parts = getattr(self, self._parts_field) if self._parts_field is not None else ()
        return all(p.subtractable for p in parts)

    def realizable(self, rtol: float = 1e-8) -> bool:
        """Whether some weighted sample could have produced this record.

        A record built from data, or a convex combination of such records, always is;
        a record extrapolated by a momentum or per-element step rule need not be (a
        count of 1e-37 carrying a sum of 1e-9, a scatter with a negative diagonal), and
        a prior added in the global step can hide it. The step rules' guard rejects
        such candidates. Records without moments to check are taken as realizable;
        mixtures also need non-negative counts and realizable parts.

        Parameters
        ----------
        rtol : float, default=1e-8
            Rounding allowed, relative to the size of the moments checked.

        Returns
        -------
        bool
        """
        parts = getattr(self, self._parts_field) if self._parts_field is not None else ()
        return all(p.realizable(rtol) for p in parts)

    def _not_subtractable(self, what: str) -> TypeError:
        culprit = self if (self._min_fields or self._max_fields) else None
        stack = list(getattr(self, self._parts_field)) if self._parts_field is not None else []
        while culprit is None and stack:
            p = stack.pop(0)
            if p._min_fields or p._max_fields:
                culprit = p
            elif p._parts_field is not None:
                stack.extend(getattr(p, p._parts_field))
        name = type(self).__name__
        inner = "" if culprit is self else f" with {type(culprit).__name__} parts"
        fields = ", ".join(culprit._min_fields + culprit._max_fields)
        return TypeError(
            f"{name} records{inner} cannot be {what}: their minimum / maximum fields "
            f"({fields}) cannot forget the data they came from. Add up the records to keep "
            "instead (step rules with momentum cannot use such records)"
        )

    def __neg__(self) -> Statistic:
        if not self.subtractable:
            raise self._not_subtractable("negated")
        return self * -1.0

    def __sub__(self, other: Any) -> Statistic:
        """Remove ``other``'s data (memoized EM): ``a - b == a + (-1) * b``.

        Raises TypeError for records that are not :attr:`subtractable`.
        """
        if isinstance(other, numbers.Number) and other == 0:
            return self
        if not isinstance(other, Statistic):
            return NotImplemented
        for r in (self, other):
            if not r.subtractable:
                raise r._not_subtractable("subtracted")
        return self + (-other)

    def nonfinite_field(self) -> str | None:
        """Name the first field holding a NaN or an infinity (``None`` if there is none).

        Minimum and maximum fields are skipped (their identity is infinite); a part's
        field is named ``parts[j].field``. A record summarised from finite rows with
        such a field has overflowed.

        Returns
        -------
        str or None
            The field's name.
        """
        for name in self._data_checked:
            a = getattr(self, name)
            if not (math.isfinite(a) if a.ndim == 0 else np.isfinite(a).all()):
                return name
        if self._parts_field is not None:
            for j, p in enumerate(getattr(self, self._parts_field)):
                inner = p.nonfinite_field()
                if inner is not None:
                    return f"{self._parts_field}[{j}].{inner}"
        return None

    def zeros_like(self) -> Statistic:
        """Return the record of the same type and shapes describing no data.

        Returns
        -------
        Statistic
            The identity of ``+`` for records shaped like this one.
        """
        out: dict[str, Any] = {}
        for name in self._fields:
            a = getattr(self, name)
            if name in self._min_fields:
                out[name] = np.full(a.shape, np.inf)
            elif name in self._max_fields:
                out[name] = np.full(a.shape, -np.inf)
            elif name in self._kept_fields:
                out[name] = a
            else:
                out[name] = np.zeros(a.shape)
        if self._parts_field is not None:
            out[self._parts_field] = tuple(p.zeros_like() for p in getattr(self, self._parts_field))
        return type(self)._trusted(out)

    @classmethod
    def sum_of(cls, records: list[Statistic], start: Statistic | None = None) -> Statistic:
        """Return ``start`` plus the records, added left to right (a subclass may add them at once).

        Parameters
        ----------
        records : list of Statistic
            At least one record.
        start : Statistic, optional
            What they are added to.

        Returns
        -------
        Statistic
            The sum.
        """
        total = start
        for r in records:
            total = r if total is None else total + r
        return total  # type: ignore[return-value]

    @property
    def weight(self) -> float:
        """Total weight of the data summarised (the sum of sample weights)."""
        w = self.w_sum  # type: ignore[attr-defined]
        return float(w) if w.ndim == 0 else float(np.sum(w))

    # -- comparison and serialisation -------------------------------------------------
    def allclose(self, other: Statistic, rtol: float = 1e-12, atol: float = 0.0) -> bool:
        """Tell whether two records describe the same data up to rounding.

        Parameters
        ----------
        other : Statistic
            A record of the same type.
        rtol, atol : float
            Tolerances as in :func:`numpy.allclose`, applied field by field.

        Returns
        -------
        bool
            True when every field agrees (shifted records are first re-centred on
            ``self``'s reference point).
        """
        self._check_other(other)
        other = self._aligned(other)
        for name in self._fields:
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape or not np.allclose(a, b, rtol=rtol, atol=atol):
                return False
        if self._parts_field is not None:
            pa, pb = getattr(self, self._parts_field), getattr(other, self._parts_field)
            return len(pa) == len(pb) and all(
                x.allclose(y, rtol, atol) for x, y in zip(pa, pb, strict=True)
            )
        return True

    def _aligned(self, other: Statistic) -> Statistic:
        return other

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a dict of arrays (child records as nested dicts).

        Returns
        -------
        dict
            ``{"type": class name, field: array, ...}``; :meth:`from_dict` inverts it.
        """
        out: dict[str, Any] = {"type": type(self).__name__}
        for name in self._fields:
            out[name] = np.array(getattr(self, name))
        if self._parts_field is not None:
            out[self._parts_field] = [p.to_dict() for p in getattr(self, self._parts_field)]
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Statistic:
        """Rebuild a record from :meth:`to_dict` output.

        Parameters
        ----------
        d : dict
            The output of :meth:`to_dict`.

        Returns
        -------
        Statistic
            A record of the type named in ``d["type"]``.
        """
        name = d.get("type")
        cls = _REGISTRY.get(name)  # type: ignore[arg-type]
        if cls is None:
            raise ValueError(f"unknown statistic type {name!r}")
        values: dict[str, Any] = {f: d[f] for f in cls._fields}
        if cls._parts_field is not None:
            values[cls._parts_field] = [Statistic.from_dict(p) for p in d[cls._parts_field]]
        return cls(**values)

    def __repr__(self) -> str:
        parts = []
        for name in self._fields:
            a = getattr(self, name)
            parts.append(f"{name}={a.item()!r}" if a.ndim == 0 else f"{name}=<{a.shape}>")
        if self._parts_field is not None:
            parts.append(f"{self._parts_field}=<{len(getattr(self, self._parts_field))} parts>")
        return f"{type(self).__name__}({', '.join(parts)})"


class _ShiftedMoments(Statistic):
    """Weighted first and second moments about a reference point ``shift``."""

    _fields = ("w_sum", "xw_sum", "xxw_sum", "shift")
    _kept_fields = ("shift",)

    @property
    def full(self) -> bool:
        """Whether ``xxw_sum`` is a full scatter matrix (else only its diagonal)."""
        return self.xxw_sum.ndim == self.xw_sum.ndim + 1  # type: ignore[attr-defined]

    def recentered(self, shift: Any) -> _ShiftedMoments:
        """Return the same statistics expressed about another reference point.

        Parameters
        ----------
        shift : array-like
            The new reference point, shaped like ``self.shift``.

        Returns
        -------
        Statistic
            A record with ``shift`` as its reference point.
        """
        new = np.array(shift, dtype=np.float64).reshape(self.shift.shape)  # type: ignore
        delta = self.shift - new  # type: ignore[attr-defined]
        if not np.any(delta):
            return self
        w, s1, s2 = self.w_sum, self.xw_sum, self.xxw_sum  # type: ignore[attr-defined]
        s1_new = s1 + w * delta
        if self.full:
            s2_new = s2 + np.outer(s1, delta) + np.outer(delta, s1) + w * np.outer(delta, delta)
        else:
            s2_new = s2 + 2.0 * delta * s1 + w * delta * delta
        return type(self)._trusted({"w_sum": w, "xw_sum": s1_new, "xxw_sum": s2_new, "shift": new})

    def _aligned(self, other: Statistic) -> Statistic:
        return other.recentered(self.shift)  # type: ignore[attr-defined]

    def _combine(self, other: Statistic) -> dict[str, Any]:
        if self.xxw_sum.shape != other.xxw_sum.shape:  # type: ignore[attr-defined]
            raise ValueError(
                f"cannot add {type(self).__name__} records of shapes "
                f"{self.xxw_sum.shape} and {other.xxw_sum.shape}"  # type: ignore[attr-defined]
            )
        # Re-centre the lighter record on the heavier one's reference point, so
        # that an empty record (the identity) never moves the shift.
        a, b = (self, other) if self.w_sum >= other.w_sum else (other, self)  # type: ignore
        b = b.recentered(a.shift)  # type: ignore[attr-defined]
        return {
            "w_sum": a.w_sum + b.w_sum,
            "xw_sum": a.xw_sum + b.xw_sum,
            "xxw_sum": a.xxw_sum + b.xxw_sum,
            "shift": a.shift,
        }

    def realizable(self, rtol: float = 1e-8) -> bool:  # noqa: D102 (Statistic.realizable)
        s1 = np.reshape(self.xw_sum, (1, -1))  # type: ignore[attr-defined]
        d = s1.shape[1]
        s2 = np.reshape(self.xxw_sum, (1, d, d) if self.full else (1, d))  # type: ignore[attr-defined]
        return _moments_realizable(np.reshape(self.w_sum, (1,)), s1, s2, rtol)  # type: ignore[attr-defined]

    def mean(self) -> np.ndarray:
        """Return the weighted mean ``shift + xw_sum / w_sum``."""
        return self.shift + self.xw_sum / self.w_sum  # type: ignore[attr-defined]

    def scatter(self) -> np.ndarray:
        """Return the weighted scatter about the mean (full or diagonal) divided by ``w_sum``."""
        w = self.w_sum  # type: ignore[attr-defined]
        d = self.xw_sum / w  # type: ignore[attr-defined]
        if self.full:
            return self.xxw_sum / w - np.outer(d, d)  # type: ignore[attr-defined]
        return self.xxw_sum / w - d * d  # type: ignore[attr-defined]


class NormalStats(_ShiftedMoments):
    """Shifted weighted moments of a univariate sample (all fields are scalars).

    Fields: ``w_sum`` (sum w), ``xw_sum`` (sum w (x - K)), ``xxw_sum``
    (sum w (x - K)^2) and ``shift`` (K). Also used by :class:`~suffstat.LogNormal`
    on log x.

    Parameters
    ----------
    w_sum, xw_sum, xxw_sum, shift : float
        The fields.
    """


class MultivariateNormalStats(_ShiftedMoments):
    """Shifted weighted moments of a d-dimensional sample.

    Fields: ``w_sum`` (scalar), ``xw_sum`` (d,), ``xxw_sum`` ((d, d) scatter matrix,
    or (d,) its diagonal for diagonal and spherical covariances) and ``shift`` (d,).

    Parameters
    ----------
    w_sum : float
        Sum of weights.
    xw_sum : array-like of shape (d,)
        Weighted sum of ``x - shift``.
    xxw_sum : array-like of shape (d, d) or (d,)
        Weighted scatter about ``shift`` (or its diagonal).
    shift : array-like of shape (d,)
        The reference point.
    """


class CountStats(Statistic):
    """Weight and weighted sum: ``w_sum``, ``xw_sum`` (Poisson, Exponential, Bernoulli).

    Parameters
    ----------
    w_sum, xw_sum : float
        The fields.
    """

    _fields = ("w_sum", "xw_sum")


class PoissonStats(Statistic):
    """``w_sum``, ``xw_sum`` and ``logfactw_sum`` (sum w log x!), for Poisson counts.

    :class:`CountStats` plus the constant of the Poisson log-mass, for models whose
    objective keeps every constant (the Gamma prior of a variational mixture:
    :class:`~suffstat.priors.Gamma`). A record of a posterior rather than of data
    (``implied_statistics``) holds 0 there: the field never enters an estimate.

    Parameters
    ----------
    w_sum, xw_sum, logfactw_sum : float
        The fields.
    """

    _fields = ("w_sum", "xw_sum", "logfactw_sum")


class GammaStats(Statistic):
    """``w_sum``, ``xw_sum`` and ``logxw_sum`` (sum w log x), for the Gamma family.

    Parameters
    ----------
    w_sum, xw_sum, logxw_sum : float
        The fields.
    """

    _fields = ("w_sum", "xw_sum", "logxw_sum")


class BetaStats(Statistic):
    """``w_sum``, ``logxw_sum`` (sum w log x) and ``log1mxw_sum`` (sum w log(1 - x)).

    Parameters
    ----------
    w_sum, logxw_sum, log1mxw_sum : float
        The fields.
    """

    _fields = ("w_sum", "logxw_sum", "log1mxw_sum")


class CategoricalStats(Statistic):
    """Weighted counts of the integer codes 0..K-1.

    Records with different numbers of categories add up by padding the shorter
    one with zeros (a category never seen has count 0).

    Parameters
    ----------
    counts : array-like of shape (K,)
        Weighted count of each code.
    """

    _fields = ("counts",)

    @property
    def w_sum(self) -> np.ndarray:
        """Total weight (the sum of the counts)."""
        return np.asarray(self.counts.sum())  # type: ignore[attr-defined]

    def _combine(self, other: Statistic) -> dict[str, Any]:
        a, b = self.counts, other.counts  # type: ignore[attr-defined]
        k = max(a.shape[0], b.shape[0])
        return {"counts": np.pad(a, (0, k - a.shape[0])) + np.pad(b, (0, k - b.shape[0]))}

    def _aligned(self, other: Statistic) -> Statistic:
        k = self.counts.shape[0]  # type: ignore[attr-defined]
        c = other.counts  # type: ignore[attr-defined]
        if c.shape[0] < k:
            return CategoricalStats(counts=np.pad(c, (0, k - c.shape[0])))
        return other


class UniformStats(Statistic):
    """Weight, minimum and maximum of the rows with positive weight.

    ``low`` and ``high`` combine by ``min`` and ``max`` (the empty record holds
    +inf and -inf); scaling by a positive constant leaves them as they are, scaling by
    0 gives the empty record. The records cannot be subtracted (a minimum cannot forget
    the row it came from): ``-``, negation and negative scaling raise TypeError, here
    and in any record with a Uniform part (see :attr:`Statistic.subtractable`).

    Parameters
    ----------
    w_sum, low, high : float
        The fields.
    """

    _fields = ("w_sum", "low", "high")
    _min_fields = ("low",)
    _max_fields = ("high",)


class IndependentStats(Statistic):
    """One child record per column, for :class:`~suffstat.IndependentComponents`.

    Parameters
    ----------
    parts : sequence of Statistic
        The children's records, in column order.
    """

    _fields = ()
    _parts_field = "parts"

    @property
    def w_sum(self) -> np.ndarray:
        """Total weight (that of the first column's record)."""
        return np.asarray(self.parts[0].weight)  # type: ignore[attr-defined]


class MixtureStats(Statistic):
    """E-step statistics of a mixture.

    Fields: ``w_sum`` (total sample weight), ``resp_sum`` ((k,) summed weighted
    responsibilities), ``log_likelihood`` (the weighted log-likelihood of the data
    under the parameters that produced the responsibilities), ``entropy`` (the
    weighted entropy of the responsibilities, for the free energy of memoized EM) and
    ``parts`` (each component's record, its rows weighted by responsibility).

    Parameters
    ----------
    w_sum : float
        Total sample weight.
    resp_sum : array-like of shape (k,)
        Summed weighted responsibilities.
    log_likelihood : float
        Weighted log-likelihood of the data summarised.
    entropy : float
        Weighted entropy of the responsibilities.
    parts : sequence of Statistic
        The components' records.
    """

    _fields = ("w_sum", "resp_sum", "log_likelihood", "entropy")
    _parts_field = "parts"

    def realizable(self, rtol: float = 1e-8) -> bool:  # noqa: D102 (Statistic.realizable)
        counts = np.asarray(self.resp_sum, dtype=np.float64)  # type: ignore[attr-defined]
        return bool(np.isfinite(counts).all() and (counts >= 0).all()) and super().realizable(rtol)


class GaussianMixtureStats(MixtureStats):
    """E-step statistics of a Gaussian mixture with every component's moments stacked.

    The same record as :class:`MixtureStats` with :class:`MultivariateNormalStats`
    parts, held as arrays over the components so that adding, scaling and the
    global step cost a few array operations whatever the number of components
    (variational mixtures make a global step per batch in stochastic VB). Fields:
    ``w_sum``, ``resp_sum`` (k,), ``log_likelihood``, ``entropy``, ``xw_sum`` (k, d),
    ``xxw_sum`` (k, d, d) or (k, d) (diagonal) and ``shift`` (k, d), each component's
    moments about its own reference point. :attr:`parts` gives the per-component
    records.

    Parameters
    ----------
    w_sum, resp_sum, log_likelihood, entropy, xw_sum, xxw_sum, shift : array-like
        The fields.
    """

    _fields = ("w_sum", "resp_sum", "log_likelihood", "entropy", "xw_sum", "xxw_sum", "shift")
    _kept_fields = ("shift",)
    _parts_field = None

    @property
    def full(self) -> bool:
        """Whether ``xxw_sum`` holds full scatter matrices (else their diagonals)."""
        return self.xxw_sum.ndim == 3  # type: ignore[attr-defined]

    @property
    def parts(self) -> tuple[MultivariateNormalStats, ...]:  # type: ignore[override]
        """The components' records (a component's weight is its ``resp_sum``)."""
        return tuple(MultivariateNormalStats(w_sum=self.resp_sum[k], xw_sum=self.xw_sum[k],  # type: ignore
                                             xxw_sum=self.xxw_sum[k], shift=self.shift[k])  # type: ignore
                     for k in range(self.resp_sum.shape[0]))  # type: ignore[attr-defined]

    @classmethod
    def from_parts(cls, stats: MixtureStats) -> GaussianMixtureStats:
        """Stack a :class:`MixtureStats` of :class:`MultivariateNormalStats` parts.

        Parameters
        ----------
        stats : MixtureStats
            The record to stack (returned as it is when already stacked).

        Returns
        -------
        GaussianMixtureStats
            The same record.
        """
        if isinstance(stats, cls):
            return stats
        parts = stats.parts  # type: ignore[attr-defined]
        if not all(isinstance(p, MultivariateNormalStats) for p in parts):
            raise TypeError("GaussianMixtureStats stacks MultivariateNormalStats parts only")
        return cls(w_sum=stats.w_sum, resp_sum=stats.resp_sum,  # type: ignore[attr-defined]
                   log_likelihood=stats.log_likelihood, entropy=stats.entropy,  # type: ignore
                   xw_sum=np.array([p.xw_sum for p in parts]), xxw_sum=np.array([p.xxw_sum for p in parts]),
                   shift=np.array([p.shift for p in parts]))

    def recentered(self, shift: Any) -> GaussianMixtureStats:
        """Return the same statistics about other reference points (one per component).

        Parameters
        ----------
        shift : array-like of shape (k, d)
            The new reference points.

        Returns
        -------
        GaussianMixtureStats
            The record about ``shift``.
        """
        new = np.array(shift, dtype=np.float64).reshape(self.shift.shape)  # type: ignore
        delta = self.shift - new  # type: ignore[attr-defined]
        if not np.any(delta):
            return self
        values = self._values()
        values.update(self._moved(delta), shift=new)
        return type(self)._trusted(values)

    def _moved(self, delta: np.ndarray) -> dict[str, np.ndarray]:
        w, s1, s2 = self.resp_sum, self.xw_sum, self.xxw_sum  # type: ignore[attr-defined]
        s1_new = s1 + w[:, None] * delta
        if self.full:
            cross = s1[:, :, None] * delta[:, None, :]
            s2_new = s2 + cross + cross.transpose(0, 2, 1) + w[:, None, None] * (
                delta[:, :, None] * delta[:, None, :])
        else:
            s2_new = s2 + 2.0 * delta * s1 + w[:, None] * delta * delta
        return {"xw_sum": s1_new, "xxw_sum": s2_new}

    def _aligned(self, other: Statistic) -> Statistic:
        return other.recentered(self.shift)  # type: ignore[attr-defined]

    def _combine(self, other: Statistic) -> dict[str, Any]:
        if self.xxw_sum.shape != other.xxw_sum.shape:  # type: ignore[attr-defined]
            raise ValueError(f"cannot add GaussianMixtureStats records of shapes {self.xxw_sum.shape} "
                             f"and {other.xxw_sum.shape}")  # type: ignore[attr-defined]
        # each component keeps the reference point of the record that weighs more in it,
        # so an empty record (the identity) never moves a shift
        if self.shift is other.shift:  # records of one local step's reference points
            shift = self.shift  # type: ignore[attr-defined]
            a1, a2, b1, b2 = self.xw_sum, self.xxw_sum, other.xw_sum, other.xxw_sum  # type: ignore
        else:
            heavier = self.resp_sum >= other.resp_sum  # type: ignore[attr-defined]
            shift = np.where(heavier[:, None], self.shift, other.shift)  # type: ignore[attr-defined]
            a1, a2 = self._moments_about(shift)
            b1, b2 = other._moments_about(shift)  # type: ignore[attr-defined]
        return {"w_sum": float(self.w_sum) + float(other.w_sum),  # type: ignore[attr-defined]
                "resp_sum": self.resp_sum + other.resp_sum,  # type: ignore[attr-defined]
                "log_likelihood": float(self.log_likelihood) + float(other.log_likelihood),  # type: ignore
                "entropy": float(self.entropy) + float(other.entropy),  # type: ignore[attr-defined]
                "xw_sum": a1 + b1, "xxw_sum": a2 + b2, "shift": shift}

    @classmethod
    def sum_of(cls, records: list[Statistic], start: Statistic | None = None) -> Statistic:
        """Return ``start`` plus the records, recentred at once (stochastic VB adds a lap of small ones).

        Each component takes the reference point of the record that weighs most in it
        (an empty record never moves one), as in ``+``; the sums are numpy's pairwise
        sums over the records, so the result equals the left-to-right sum to rounding.

        Parameters
        ----------
        records : list of GaussianMixtureStats
            At least one record.
        start : GaussianMixtureStats, optional
            What their sum is added to.

        Returns
        -------
        GaussianMixtureStats
            The sum.
        """
        if len(records) < 3 or any(type(r) is not cls for r in records) or \
                len({r.xxw_sum.shape for r in records}) != 1:  # type: ignore[attr-defined]
            return super().sum_of(records, start)
        resp = np.array([r.resp_sum for r in records])  # type: ignore[attr-defined]
        s1 = np.array([r.xw_sum for r in records])  # type: ignore[attr-defined]
        s2 = np.array([r.xxw_sum for r in records])  # type: ignore[attr-defined]
        shifts = np.array([r.shift for r in records])  # type: ignore[attr-defined]
        k = resp.shape[1]
        shift = shifts[np.argmax(resp, axis=0), np.arange(k)]
        delta = shifts - shift
        if s2.ndim == 4:
            cross = s1[:, :, :, None] * delta[:, :, None, :]
            s2 = s2 + cross + cross.transpose(0, 1, 3, 2) + resp[:, :, None, None] * (
                delta[:, :, :, None] * delta[:, :, None, :])
        else:
            s2 = s2 + 2.0 * delta * s1 + resp[:, :, None] * delta * delta
        s1 = s1 + resp[:, :, None] * delta
        scalars = np.array([[float(r.w_sum), float(r.log_likelihood), float(r.entropy)]  # type: ignore
                            for r in records]).sum(axis=0)
        total = cls._trusted({"w_sum": float(scalars[0]), "resp_sum": resp.sum(axis=0),
                              "log_likelihood": float(scalars[1]), "entropy": float(scalars[2]),
                              "xw_sum": s1.sum(axis=0), "xxw_sum": s2.sum(axis=0), "shift": shift})
        return total if start is None else start + total

    def realizable(self, rtol: float = 1e-8) -> bool:  # noqa: D102 (Statistic.realizable)
        return _moments_realizable(self.resp_sum, self.xw_sum, self.xxw_sum, rtol)  # type: ignore[attr-defined]

    def _moments_about(self, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``xw_sum`` and ``xxw_sum`` about ``shift`` (k, d) (:meth:`recentered` without a record)."""
        delta = self.shift - shift  # type: ignore[attr-defined]
        if not delta.any():
            return self.xw_sum, self.xxw_sum  # type: ignore[attr-defined]
        moved = self._moved(delta)
        return moved["xw_sum"], moved["xxw_sum"]


class MoveStats(GaussianMixtureStats):
    r"""A :class:`GaussianMixtureStats` that also carries what the planned moves need.

    Memoized VB plans its structure moves at the end of a lap; during the next lap
    every batch's local step adds, besides its record, the terms that let a move be
    judged at the end of that lap without another pass over the data:

    - merges: ``comp_entropy`` ((k,) each component's share
      :math:`-\sum_i w_i r_{ik} \log r_{ik}` of the responsibility entropy),
      ``pair_entropy`` ((p,) the entropy
      :math:`-\sum_i w_i (r_{ia} + r_{ib}) \log(r_{ia} + r_{ib})` that the planned pair
      ``(a, b)`` would have merged) and ``pairs`` ((p, 2), kept);
    - births: the records of fresh components that take over the mass of their
      target's rows (a restricted local step): ``birth_resp`` (m,), ``birth_xw``
      (m, d), ``birth_xxw`` (m, d, d) or (m, d) about ``birth_shift`` ((m, d), kept,
      the fresh means), ``birth_owner`` ((m,), kept, each fresh component's
      proposal) and ``birth_entropy`` ((b,) the entropy each proposal adds), with
      ``birth_targets`` ((b,), kept);
    - delete: the record of the local step without component ``delete_target``
      ((0,) or (1,), kept): ``delete_resp`` (k - 1,), ``delete_xw``, ``delete_xxw``
      about ``delete_shift`` (kept), ``delete_entropy`` ((1,)) and
      ``delete_log_likelihood`` ((1,)).

    Fields of a move that is not planned have length 0. Kept fields must agree
    between added records (the records of one plan).

    Parameters
    ----------
    w_sum, resp_sum, log_likelihood, entropy, xw_sum, xxw_sum, shift : array-like
        The mixture's fields.
    comp_entropy, pair_entropy, pairs : array-like
        The merge fields.
    birth_resp, birth_xw, birth_xxw, birth_shift, birth_owner, birth_entropy, birth_targets : array-like
        The birth fields.
    delete_resp, delete_xw, delete_xxw, delete_shift, delete_entropy, delete_log_likelihood, delete_target : array-like
        The delete fields.
    """

    _merge_fields = ("comp_entropy", "pair_entropy", "pairs")
    _birth_fields = ("birth_resp", "birth_xw", "birth_xxw", "birth_shift", "birth_owner", "birth_entropy",
                     "birth_targets")
    _delete_fields = ("delete_resp", "delete_xw", "delete_xxw", "delete_shift", "delete_entropy",
                      "delete_log_likelihood", "delete_target")
    _fields = GaussianMixtureStats._fields + _merge_fields + _birth_fields + _delete_fields
    _kept_fields = ("shift", "pairs", "birth_shift", "birth_owner", "birth_targets", "delete_shift",
                    "delete_target")

    def _combine(self, other: Statistic) -> dict[str, Any]:
        out = super()._combine(other)
        for name in self._fields[len(GaussianMixtureStats._fields):]:
            a, b = getattr(self, name), getattr(other, name)
            if name in self._kept_fields:
                if not np.array_equal(a, b):
                    raise ValueError(f"cannot add MoveStats records of different move plans ({name})")
                out[name] = a
            elif a.shape != b.shape:
                raise ValueError(f"cannot add MoveStats records: field {name!r} has shapes {a.shape} "
                                 f"and {b.shape}")
            else:
                out[name] = a + b
        return out


class ClassifierStats(Statistic):
    """Statistics of a Bayes classifier: the weight of each class and its rows' record.

    Fields: ``w_sum`` ((k,) summed sample weight of the rows of each class) and
    ``parts`` (each class distribution's record of its own rows). Records of batches
    add up, so a classifier fitted from the sum of its batches' records is the one
    fitted to all the rows at once.

    Parameters
    ----------
    w_sum : array-like of shape (k,)
        Summed sample weight of each class.
    parts : sequence of Statistic
        The class distributions' records, in the order of the classes.
    """

    _fields = ("w_sum",)
    _parts_field = "parts"


class HMMStats(Statistic):
    """E-step statistics of a hidden Markov model over whole sequences.

    Fields: ``w_sum`` (rows summarised), ``n_sequences`` (sequences summarised),
    ``start`` ((k,) expected count of each state at the first step of a sequence),
    ``trans`` ((k, k) expected count of each transition i -> j), ``log_likelihood``
    (of the sequences under the parameters that produced the posteriors) and
    ``parts`` (each state's emission record, its rows weighted by the state's
    posterior probability).

    Parameters
    ----------
    w_sum : float
        Rows summarised.
    n_sequences : float
        Sequences summarised.
    start : array-like of shape (k,)
        Expected first-state counts.
    trans : array-like of shape (k, k)
        Expected transition counts.
    log_likelihood : float
        Log-likelihood of the sequences.
    parts : sequence of Statistic
        The states' emission records.
    """

    _fields = ("w_sum", "n_sequences", "start", "trans", "log_likelihood")
    _parts_field = "parts"


class SeedStats(Statistic):
    """Statistics of a mixed-family start: every component family on every seed's rows.

    Fields: ``w_sum`` (total sample weight), ``resp_sum`` ((k,) weight of the rows
    nearest each seed), ``outside`` ((k * k,) rows of seed ``j`` outside the support of
    component ``c``, at ``j * k + c``) and ``parts`` (the records of component ``c`` on
    the rows of seed ``j``, at ``j * k + c``). A mixture picks from it which family
    takes which seed.

    Parameters
    ----------
    w_sum : float
        Total sample weight.
    resp_sum : array-like of shape (k,)
        Weight of each seed's rows.
    outside : array-like of shape (k * k,)
        Counts of rows outside each component's support, per (seed, component).
    parts : sequence of Statistic
        The (seed, component) records.
    """

    _fields = ("w_sum", "resp_sum", "outside")
    _parts_field = "parts"



def _data_fields(record: Statistic) -> tuple[str, ...]:
    skip = set(record._min_fields) | set(record._max_fields) | set(record._kept_fields)
    return tuple(name for name in record._fields if name not in skip)


def map_arrays(fn: Any, first: Statistic, *others: Statistic) -> Statistic:
    """Apply ``fn`` elementwise to the data arrays of records of one type.

    The other records are first expressed about ``first``'s reference point
    (shifted-moment records are re-centred, categorical counts padded), so ``fn``
    sees arrays at one shift. Kept fields (``shift``) and minimum / maximum fields
    come from ``first``; child records are mapped part by part. Step rules use it
    to build per-element accumulators (which are not data records: they are never
    re-centred themselves, only the records mapped with them).

    Parameters
    ----------
    fn : callable
        Function of one array per record, returning an array of the same shape.
    first : Statistic
        The record whose type, reference point and kept fields the result takes.
    *others : Statistic
        Records of the same type and shapes.

    Returns
    -------
    Statistic
        A record of ``first``'s type.
    """
    for o in others:
        first._check_other(o)
    aligned = [first._aligned(o) for o in others]
    data = set(_data_fields(first))
    out: dict[str, Any] = {}
    for name in first._fields:
        a = getattr(first, name)
        out[name] = fn(a, *(getattr(o, name) for o in aligned)) if name in data else a
    if first._parts_field is not None:
        groups = zip(getattr(first, first._parts_field),
                     *(getattr(o, first._parts_field) for o in aligned), strict=True)
        out[first._parts_field] = tuple(map_arrays(fn, *g) for g in groups)
    return type(first)(**out)


def record_dot(a: Statistic, b: Statistic) -> float:
    """Return the sum over every data element of ``a * b`` (records at one reference point).

    Parameters
    ----------
    a, b : Statistic
        Records of one type; ``b`` is re-centred on ``a``'s reference point.

    Returns
    -------
    float
        The inner product of the records' data arrays (kept fields excluded).
    """
    a._check_other(b)
    b = a._aligned(b)
    total = 0.0
    for name in _data_fields(a):
        total += float(np.sum(getattr(a, name) * getattr(b, name)))
    if a._parts_field is not None:
        for x, y in zip(getattr(a, a._parts_field), getattr(b, b._parts_field), strict=True):
            total += record_dot(x, y)
    return total
