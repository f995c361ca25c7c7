"""A product of univariate distributions over the columns of the data."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataError, ParameterError
from ..statistics import IndependentStats
from ._base import Distribution


class IndependentComponents(Distribution):
    """Independent univariate distributions, one per column.

    Parameters
    ----------
    distributions : sequence of Distribution
        One univariate distribution per column (they are used, not copied).
    inertia : float, default=0.0
        Weight of the old parameters in each update, for the columns whose own
        ``inertia`` is 0 (a column's own inertia wins; inertias never compound).
    frozen : bool, default=False
        If True, updates leave every component unchanged.

    Notes
    -----
    :math:`\\log p(x) = \\sum_j \\log p_j(x_j)`. The statistics are the tuple of the
    components' records (:class:`~suffstat.statistics.IndependentStats`); an update
    computes every component's new parameters before committing any of them.

    Examples
    --------
    >>> import numpy as np, suffstat as ss
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=100), rng.poisson(3.0, size=100)])
    >>> d = ss.IndependentComponents([ss.Normal(), ss.Poisson()]).fit(X)
    >>> d.log_probability(X).shape
    (100,)
    """

    _param_names = ("distributions",)
    _ndim = 2
    _stats_type = IndependentStats

    @property
    def _zeros_absorb(self) -> bool:  # type: ignore[override]
        return any(d._zeros_absorb for d in self.distributions)

    def __init__(
        self, distributions: Any, *, inertia: float = 0.0, frozen: bool = False
    ) -> None:
        super().__init__(inertia=inertia, frozen=frozen)
        dists = distributions if isinstance(distributions, list) else list(distributions)
        if not dists:
            raise ParameterError("distributions must hold at least one distribution")
        for j, d in enumerate(dists):
            if not isinstance(d, Distribution) or d._ndim != 1:
                raise ParameterError(
                    f"distributions[{j}] must be a univariate Distribution; got {d!r}"
                )
        self.distributions = dists

    @property
    def n_features(self) -> int:
        """Number of columns (components)."""
        return len(self.distributions)

    @property
    def _fitted(self) -> bool:
        return all(d._fitted for d in self.distributions)

    def _require_fitted(self) -> None:
        for d in self.distributions:
            d._require_fitted()

    def _get_params(self) -> dict[str, Any]:
        return {"distributions": [d._get_params() for d in self.distributions]}

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def _set_params(self, params: dict[str, Any]) -> None:
        for d, p in zip(self.distributions, params["distributions"], strict=True):
            if p is not None:
                d._set_params(p)

    def _check_support(self, X: np.ndarray) -> None:
        for j, d in enumerate(self.distributions):
            try:
                d._check_support(np.ascontiguousarray(X[:, j]))
            except DataError as e:
                raise DataError(f"column {j}: {e.problem}", row=e.row, hint=e.hint) from None

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> IndependentStats:
        parts = [
            d._summarize(np.ascontiguousarray(X[:, j]), w) for j, d in enumerate(self.distributions)
        ]
        return IndependentStats(parts=parts)

    def _propose(self, stats: IndependentStats, *, inertia: float | None = None,
                 inherited: float = 0.0) -> dict[str, Any] | None:
        if not isinstance(stats, IndependentStats) or len(stats.parts) != self.n_features:
            raise TypeError(
                f"IndependentComponents needs IndependentStats with {self.n_features} parts"
            )
        if self.frozen:
            return None
        eff = self._effective_inertia(inertia, inherited)
        proposals = []
        for j, (d, part) in enumerate(zip(self.distributions, stats.parts, strict=True)):
            try:
                p = d._propose(part, inertia=inertia, inherited=eff)
            except ParameterError as e:
                raise ParameterError(f"component {j} ({type(d).__name__}): {e}") from None
            proposals.append(p)
        return {"distributions": proposals}

    def _estimate(self, stats: IndependentStats) -> dict[str, Any]:
        raise NotImplementedError  # _propose is overridden

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros(X.shape[0])
        for j, d in enumerate(self.distributions):
            out += d._log_probability(np.ascontiguousarray(X[:, j]))
        return out

    def _n_parameters(self) -> int:
        return sum(d._n_parameters() for d in self.distributions)

    def _expected_log_probability(self, stats: IndependentStats) -> float:
        return float(sum(d._expected_log_probability(p) for d, p in zip(self.distributions, stats.parts,
                                                                          strict=True)))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.column_stack([d._sample(n, rng) for d in self.distributions])

    def to_dict(self) -> dict[str, Any]:
        """Return the model as a dict, each component as a nested dict.

        Returns
        -------
        dict
            ``{"class": "IndependentComponents", "params": {"distributions": [...]}, ...}``.
        """
        return self._dict_with({"distributions": [d.to_dict() for d in self.distributions]})

    @classmethod
    def _from_parts(cls, params: dict[str, Any], options: dict[str, Any]) -> Distribution:
        dists = [Distribution.from_dict(d) for d in params["distributions"]]
        return cls(dists, **options)

    def __repr__(self) -> str:
        return f"IndependentComponents([{', '.join(map(repr, self.distributions))}])"
