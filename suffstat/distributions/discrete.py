"""Discrete families: Poisson, Bernoulli and Categorical."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from .._validation import check_count, check_probs, check_scalar, support_error
from ..exceptions import DataError
from ..kernels.univariate import (
    bernoulli_logpmf,
    category_counts,
    count_violations,
    first_at_least,
    first_not_binary,
    poisson_logpmf,
)
from ..statistics import CategoricalStats, CountStats
from ._base import Distribution
from ._univariate import _Univariate

#: Largest number of categories a Categorical infers from the codes it sees (when
#: neither probs nor n_categories declares it): a larger code is refused before any
#: count array is allocated (a code of 2e8 would allocate gigabytes).
MAX_CATEGORIES = 2**20


def _whole(X: np.ndarray) -> np.ndarray:
    return X == np.floor(X)


#: log j! for j < 1024, the Poisson log-mass of small counts without an lgamma call.
_LOG_FACTORIALS = special.gammaln(np.arange(1.0, 1025.0))


class Poisson(_Univariate):
    r"""The Poisson distribution of non-negative integer counts.

    Parameters
    ----------
    rate : float, optional
        Mean count (>= 0).
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.poisson : The same mass function with ``mu=rate``.

    Notes
    -----
    .. math:: \log p(x) = x\log\lambda - \lambda - \log x!

    Statistics :math:`(\sum w, \sum w x)`; the MLE is the weighted mean.

    Examples
    --------
    >>> import suffstat as ss
    >>> ss.Poisson().fit([0, 1, 2, 5]).rate
    2.0
    """

    _param_names = ("rate",)
    _constraints = {"rate": {"low": 0.0}}
    _stats_type = CountStats

    def __init__(self, rate: float | None = None, *, inertia: float = 0.0, frozen: bool = False):
        super().__init__(rate=rate, inertia=inertia, frozen=frozen)

    def _check_support(self, X: np.ndarray) -> None:
        neg, frac = count_violations(X)  # one pass, no temporaries
        if neg >= 0:
            raise support_error(X[neg], neg, "non-negative counts for Poisson")
        if frac >= 0:
            raise support_error(X[frac], frac, "whole-number counts for Poisson")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CountStats:
        w_sum, xw_sum = self._sums(w, X)
        return CountStats(w_sum=w_sum, xw_sum=xw_sum)

    def _estimate(self, stats: CountStats) -> dict[str, Any]:
        return {"rate": float(stats.xw_sum / stats.w_sum)}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.empty_like(X)
        poisson_logpmf(X, self.rate, _LOG_FACTORIALS, out)
        return out

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.poisson(self.rate, size=n).astype(np.float64)


class Bernoulli(_Univariate):
    r"""The Bernoulli distribution of 0/1 outcomes.

    Parameters
    ----------
    p : float, optional
        Probability of a 1, in [0, 1].
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.bernoulli : The same mass function.

    Notes
    -----
    .. math:: \log p(x) = x \log p + (1-x)\log(1-p), \quad x\in\{0,1\}

    Statistics :math:`(\sum w, \sum w x)`; the MLE is the weighted mean.

    Examples
    --------
    >>> import suffstat as ss
    >>> ss.Bernoulli().fit([0, 1, 1, 1]).p
    0.75
    """

    _param_names = ("p",)
    _constraints = {"p": {"low": 0.0, "high": 1.0}}
    _stats_type = CountStats
    _zeros_absorb = True

    def __init__(self, p: float | None = None, *, inertia: float = 0.0, frozen: bool = False):
        super().__init__(p=p, inertia=inertia, frozen=frozen)

    def _check_support(self, X: np.ndarray) -> None:
        bad = first_not_binary(X)
        if bad >= 0:
            raise support_error(X[bad], bad, "0 or 1 for Bernoulli")

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CountStats:
        w_sum, xw_sum = self._sums(w, X)
        return CountStats(w_sum=w_sum, xw_sum=xw_sum)

    def _estimate(self, stats: CountStats) -> dict[str, Any]:
        return {"p": float(stats.xw_sum / stats.w_sum)}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        out = np.empty_like(X)
        bernoulli_logpmf(X, self.p, out)
        return out

    def _expected_log_probability(self, stats: CountStats) -> float:
        w, s = float(stats.w_sum), float(stats.xw_sum)
        return float(special.xlogy(s, self.p) + special.xlogy(w - s, 1.0 - self.p))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.random(n) < self.p).astype(np.float64)


class Categorical(Distribution):
    r"""A distribution over the integer codes 0..K-1.

    Parameters
    ----------
    probs : array-like of shape (K,), optional
        Probability of each code (non-negative, summing to 1). When None, K is
        ``n_categories`` or, failing that, one more than the largest code seen (codes
        must then be below ``MAX_CATEGORIES`` = 2**20).
    n_categories : int, optional
        Number of codes K when ``probs`` is None.
    pseudocount : float, default=0.0
        Added to every count in each update (Laplace smoothing).
    inertia : float, default=0.0
        Weight of the old parameters in each update.
    frozen : bool, default=False
        If True, updates leave the parameters unchanged.

    See Also
    --------
    scipy.stats.multinomial : With one trial, the same mass function.

    Notes
    -----
    Statistics: the weighted count :math:`c_k` of each code; the update is
    :math:`p_k = (c_k + a) / (\sum_j c_j + K a)` with pseudocount :math:`a`.

    Codes are validated before they index the counts: whole numbers, non-negative,
    below K when it is known (``probs`` or ``n_categories``) and below
    ``suffstat.distributions.discrete.MAX_CATEGORIES`` (2**20) otherwise; anything else
    raises :class:`~suffstat.DataError` naming the row and the value.

    Examples
    --------
    >>> import suffstat as ss
    >>> ss.Categorical().fit([0, 2, 2, 1]).probs.tolist()
    [0.25, 0.25, 0.5]
    """

    _param_names = ("probs",)
    _option_names = ("n_categories", "pseudocount", "inertia", "frozen")
    _stats_type = CategoricalStats
    _zeros_absorb = True

    def __init__(
        self,
        probs: Any = None,
        *,
        n_categories: int | None = None,
        pseudocount: float = 0.0,
        inertia: float = 0.0,
        frozen: bool = False,
    ) -> None:
        super().__init__(inertia=inertia, frozen=frozen)
        self.pseudocount = check_scalar("pseudocount", pseudocount, low=0.0)
        self.n_categories = None if n_categories is None else check_count(
            "n_categories", n_categories, minimum=1
        )
        params = self._check_params({"probs": probs})
        if params["probs"] is not None and self.n_categories is not None:
            if len(params["probs"]) != self.n_categories:
                raise ValueError(
                    f"probs has {len(params['probs'])} entries but n_categories is "
                    f"{self.n_categories}"
                )
        self._set_params(params)

    @property
    def _k(self) -> int | None:
        return len(self.probs) if self.probs is not None else self.n_categories

    def _check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        p = params.get("probs")
        return {"probs": None if p is None else check_probs("probs", p)}

    def _set_params(self, params: dict[str, Any]) -> None:
        p = params["probs"]
        self.probs = p
        with np.errstate(divide="ignore"):  # a category of probability 0 has log -inf
            self._logp = None if p is None else np.log(p)

    def _check_support(self, X: np.ndarray) -> None:
        neg, frac = count_violations(X)  # one pass, no temporaries
        if neg >= 0:
            raise support_error(X[neg], neg, "non-negative integer codes for Categorical")
        if frac >= 0:
            raise support_error(X[frac], frac, "whole-number codes for Categorical")
        k = self._k
        bound = MAX_CATEGORIES if k is None else k
        big = first_at_least(X, float(bound))
        if big < 0:
            return
        if k is not None:
            raise support_error(X[big], big, f"a code below {k} (the number of categories)")
        raise DataError(
            f"X must be a code below MAX_CATEGORIES = {MAX_CATEGORIES} when the number of "
            f"categories is not declared; got {X[big]:g}", row=big,
            hint="Pass n_categories (or probs) to use larger codes",
        )

    def _summarize(self, X: np.ndarray, w: np.ndarray) -> CategoricalStats:
        k = self._k
        if k is None:  # validated codes are below MAX_CATEGORIES; a bad one fails below
            positive = w > 0
            top = X[positive].max() if positive.any() else 0.0
            k = int(top) + 1 if 0.0 <= top < MAX_CATEGORIES else MAX_CATEGORIES
        counts = np.zeros(k)
        bad = category_counts(X, w, counts)  # bounds-checked: never writes outside counts
        if bad >= 0:
            raise support_error(X[bad], bad, f"a whole-number code in 0..{k - 1} for Categorical")
        return CategoricalStats(counts=counts)

    def _estimate(self, stats: CategoricalStats) -> dict[str, Any]:
        counts = np.asarray(stats.counts)
        k = self._k
        if k is not None:
            if counts.shape[0] > k:
                raise ValueError(
                    f"the statistics have {counts.shape[0]} categories; the model has {k}"
                )
            counts = np.pad(counts, (0, k - counts.shape[0]))
        c = counts + self.pseudocount
        return {"probs": c / c.sum()}

    def _log_probability(self, X: np.ndarray) -> np.ndarray:
        k = len(self.probs)
        out = np.full(X.shape[0], -np.inf)
        ok = (X >= 0) & (X < k) & _whole(X)
        out[ok] = self._logp[X[ok].astype(np.int64)]
        return out

    def _n_parameters(self) -> int:
        return int(np.size(self.probs)) - 1  # the probabilities sum to 1

    def _expected_log_probability(self, stats: CategoricalStats) -> float:
        counts = np.asarray(stats.counts, dtype=np.float64)
        probs = np.pad(self.probs, (0, max(0, counts.shape[0] - self.probs.shape[0])))
        return float(np.sum(special.xlogy(counts, probs[: counts.shape[0]])))

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(len(self.probs), size=n, p=self.probs).astype(np.float64)
