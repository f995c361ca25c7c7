"""Structure moves of memoized variational mixtures: merge and shuffle, on records.

A move changes the components of a mixture; the memoized algorithm keeps one record
per batch, so every stored record must follow the move for the whole-data record to
stay exact (Hughes and Sudderth's memoized VB). These functions apply a move to one
stacked record (:class:`~suffstat.statistics.GaussianMixtureStats` or its
:class:`~suffstat.statistics.MoveStats`); the learner applies them to the global record
and to every stored record alike.

A merge of components ``a`` and ``b`` adds their moments (re-centred on ``a``'s
reference point) and their expected counts; its responsibility entropy needs
:math:`-\\sum_i w_i (r_{ia} + r_{ib}) \\log(r_{ia} + r_{ib})`, which a record only
knows for the pairs planned before the lap (``MoveStats.pair_entropy``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..statistics import GaussianMixtureStats, MoveStats

MOVES = ("merge", "shuffle")
#: bnpy's ``m_maxNumPairsContainingComp``: pairs planned per component and lap.
MAX_PAIRS_PER_COMPONENT = 5


def parse_moves(moves: Any) -> tuple[str, ...]:
    """Return the moves named by a string (``'merge,shuffle'``) or a sequence of names."""
    if moves is None or moves == "" or moves == ():
        return ()
    names = [m.strip() for m in moves.split(",")] if isinstance(moves, str) else list(moves)
    for m in names:
        if m not in MOVES:
            hint = " (birth and delete are not implemented yet)" if m in ("birth", "delete") else ""
            raise ParameterError(f"moves must be a subset of {MOVES}; got {m!r}{hint}")
    return tuple(m for m in MOVES if m in names)


def plan_pairs(counts: np.ndarray, per_component: int = MAX_PAIRS_PER_COMPONENT) -> np.ndarray:
    """The merge candidates of the next lap: pairs ranked by total size, largest first
    (bnpy's ``total_size`` ranking), at most ``per_component`` pairs containing a component."""
    k = len(counts)
    cand = [(counts[a] + counts[b], a, b) for a in range(k) for b in range(a + 1, k)]
    cand.sort(key=lambda t: (-t[0], t[1], t[2]))
    used = np.zeros(k, dtype=int)
    out = []
    for _, a, b in cand:
        if used[a] < per_component and used[b] < per_component:
            out.append((a, b))
            used[a] += 1
            used[b] += 1
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def with_plan(rec: GaussianMixtureStats, pairs: np.ndarray) -> MoveStats:
    """The record under a new plan: pair entropies to be summed during the next lap.

    The component entropies are kept when the record has them (every batch's are
    renewed during the lap anyway).
    """
    k = rec.resp_sum.shape[0]
    comp = rec.comp_entropy if isinstance(rec, MoveStats) else np.zeros(k)
    values = {f: getattr(rec, f) for f in GaussianMixtureStats._fields}
    return MoveStats(**values, comp_entropy=comp, pair_entropy=np.zeros(len(pairs)), pairs=pairs)


def merged(rec: GaussianMixtureStats, a: int, b: int, p: int | None) -> GaussianMixtureStats:
    """The record with component ``b`` merged into ``a`` (``p``: the pair's plan index).

    Without the pair's entropy (``p`` None, or a plain record) the entropy field is kept
    as it is: only planned pairs are ever accepted.
    """
    w, s1, s2, shift = rec.resp_sum.copy(), rec.xw_sum.copy(), rec.xxw_sum.copy(), rec.shift.copy()
    delta = shift[b] - shift[a]
    wb = w[b]
    s1b = s1[b] + wb * delta
    if s2.ndim == 3:
        s2b = s2[b] + np.outer(s1[b], delta) + np.outer(delta, s1[b]) + wb * np.outer(delta, delta)
    else:
        s2b = s2[b] + 2.0 * delta * s1[b] + wb * delta * delta
    w[a] += wb
    s1[a] += s1b
    s2[a] += s2b
    keep = np.arange(len(w)) != b
    values = {"w_sum": rec.w_sum, "resp_sum": w[keep], "log_likelihood": rec.log_likelihood,
              "entropy": rec.entropy, "xw_sum": s1[keep], "xxw_sum": s2[keep], "shift": shift[keep]}
    if not isinstance(rec, MoveStats):
        return GaussianMixtureStats(**values)
    comp = rec.comp_entropy.copy()
    if p is not None:
        values["entropy"] = rec.entropy - comp[a] - comp[b] + rec.pair_entropy[p]
        comp[a] = rec.pair_entropy[p]
    pairs = rec.pairs
    alive = [q for q in range(len(pairs)) if b not in pairs[q] and a not in pairs[q]]
    renumber = lambda v: v - (v > b)  # noqa: E731 - component indices after b shift down
    return MoveStats(**values, comp_entropy=comp[keep], pair_entropy=rec.pair_entropy[alive],
                     pairs=renumber(pairs[alive]) if alive else np.zeros((0, 2)))


def permuted(rec: GaussianMixtureStats, order: np.ndarray) -> GaussianMixtureStats:
    """The record with its components in ``order`` (component ``j`` is the old ``order[j]``)."""
    values = {"w_sum": rec.w_sum, "resp_sum": rec.resp_sum[order], "log_likelihood": rec.log_likelihood,
              "entropy": rec.entropy, "xw_sum": rec.xw_sum[order], "xxw_sum": rec.xxw_sum[order],
              "shift": rec.shift[order]}
    if not isinstance(rec, MoveStats):
        return GaussianMixtureStats(**values)
    inverse = np.argsort(order)
    pairs = inverse[rec.pairs.astype(int)].astype(np.float64) if len(rec.pairs) else rec.pairs
    return MoveStats(**values, comp_entropy=rec.comp_entropy[order], pair_entropy=rec.pair_entropy,
                     pairs=pairs)
