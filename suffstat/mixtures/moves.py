"""Structure moves of memoized variational mixtures (birth, merge, delete, shuffle), on records.

A move changes the components of a mixture; the memoized algorithm keeps one record
per batch, so every stored record must follow the move for the whole-data record to
stay exact (Hughes and Sudderth's memoized VB). Moves are planned at the end of a
lap (:class:`Plan`); during the next lap every batch's local step adds the terms that
judge them (:class:`~suffstat.statistics.MoveStats`), and at the end of that lap a
move costs a few global steps and ELBO evaluations, no pass over the data. These
functions apply a move to one stacked record; the learner applies them to the global
record and to every stored record alike.

- A merge of components ``a`` and ``b`` adds their moments (re-centred on ``a``'s
  reference point) and their expected counts; its responsibility entropy needs
  :math:`-\\sum_i w_i (r_{ia} + r_{ib}) \\log(r_{ia} + r_{ib})`, which a record only
  knows for the pairs planned before the lap (``MoveStats.pair_entropy``).
- A birth replaces the share of a target component ``t`` in the rows it explains
  (:math:`r_{it} \\ge 0.1`, bnpy's ``b_minRespForEachTargetAtom``) by fresh components
  fitted to those rows: a row's mass :math:`r_{it}` is split over the fresh
  components by their restricted responsibilities :math:`q_{ij}`, which adds
  :math:`\\sum_i w_i r_{it} H(q_i)` to the entropy. The target keeps the rest.
- A delete reassigns a component's mass to the others: the local step of the model
  without it, summed during the lap.
- Shuffle orders the components by expected count, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..exceptions import ParameterError
from ..statistics import GaussianMixtureStats, MoveStats

#: The moves, in the order they are judged at the end of a lap.
MOVES = ("birth", "merge", "delete", "shuffle")
#: bnpy's ``m_maxNumPairsContainingComp``: pairs planned per component and lap.
MAX_PAIRS_PER_COMPONENT = 5
#: bnpy's ``b_minRespForEachTargetAtom``: rows a birth re-clusters.
BIRTH_MIN_RESP = 0.1
#: bnpy's ``b_minNumAtomsForTargetComp``: the smallest component a birth targets.
BIRTH_MIN_TARGET = 2.0
#: bnpy's ``b_minNumAtomsForNewComp``: fresh components lighter than this are dropped.
BIRTH_MIN_NEW = 1.0
#: bnpy's ``b_nRefineSteps``: restricted VB steps fitting the fresh components.
BIRTH_REFINE_STEPS = 5
#: bnpy's ``d_maxNumAtomsForTargetComp``: the largest component a delete targets.
DELETE_MAX_TARGET = 50000.0
#: bnpy's ``*_minPercChangeInNumAtomsToReactivate``: a failed move is tried again
#: once its components' counts changed by this fraction.
REACTIVATE = 0.01


def parse_moves(moves: Any) -> tuple[str, ...]:
    """Return the moves named by a string (``'birth,merge'``) or a sequence of names."""
    if moves is None or moves == "" or moves == ():
        return ()
    names = [m.strip() for m in moves.split(",")] if isinstance(moves, str) else list(moves)
    for m in names:
        if m not in MOVES:
            raise ParameterError(f"moves must be a subset of {MOVES}; got {m!r}")
    return tuple(m for m in MOVES if m in names)


@dataclass
class Plan:
    """The moves planned for the next lap.

    Attributes
    ----------
    pairs : ndarray of shape (p, 2)
        Merge candidates (component indices).
    birth_targets : ndarray of shape (b,)
        Components each birth re-clusters.
    birth_owner : ndarray of shape (m,)
        The proposal of each fresh component.
    birth_means, birth_precision, birth_log_norms, birth_log_rho : ndarray
        The fresh components' local-step parameters (means, precision factors,
        log-normalisers, log-proportions within their target).
    delete_target : int or None
        The component a delete removes.
    delete_shift : ndarray of shape (k - 1, d)
        Reference points of the delete record's moments.
    """

    pairs: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    birth_targets: np.ndarray = field(default_factory=lambda: np.zeros(0))
    birth_owner: np.ndarray = field(default_factory=lambda: np.zeros(0))
    birth_means: np.ndarray | None = None
    birth_precision: np.ndarray | None = None
    birth_log_norms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    birth_log_rho: np.ndarray = field(default_factory=lambda: np.zeros(0))
    delete_target: int | None = None
    delete_shift: np.ndarray | None = None

    @property
    def empty(self) -> bool:
        """Whether nothing is planned."""
        return not len(self.pairs) and not len(self.birth_targets) and self.delete_target is None

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain arrays (saved with the model)."""
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        return {k: (np.asarray(v).copy() if not isinstance(v, int) else v) for k, v in out.items()}

    @classmethod
    def from_dict(cls, d: Any) -> Plan | None:
        """The plan saved by :meth:`to_dict` (a bare pairs array: a merge-only plan)."""
        if d is None:
            return None
        if not isinstance(d, dict):
            return cls(pairs=np.asarray(d, dtype=np.float64).reshape(-1, 2))
        kw = {k: (int(v) if k == "delete_target" else np.asarray(v, dtype=np.float64)) for k, v in d.items()}
        if "pairs" in kw:
            kw["pairs"] = kw["pairs"].reshape(-1, 2)
        return cls(**kw)


# -- records under a plan ---------------------------------------------------------------
def _empty_fields(rec: GaussianMixtureStats) -> dict[str, np.ndarray]:
    """Every move field of a record with nothing planned."""
    k, d = rec.xw_sum.shape
    s2 = (0, d, d) if rec.xxw_sum.ndim == 3 else (0, d)
    z = np.zeros
    return {"comp_entropy": z(k), "pair_entropy": z(0), "pairs": z((0, 2)),
            "birth_resp": z(0), "birth_xw": z((0, d)), "birth_xxw": z(s2), "birth_shift": z((0, d)),
            "birth_owner": z(0), "birth_entropy": z(0), "birth_targets": z(0),
            "delete_resp": z(0), "delete_xw": z((0, d)), "delete_xxw": z(s2), "delete_shift": z((0, d)),
            "delete_entropy": z(0), "delete_log_likelihood": z(0), "delete_target": z(0)}


def _main(rec: GaussianMixtureStats) -> dict[str, Any]:
    return {f: getattr(rec, f) for f in GaussianMixtureStats._fields}


def plain(rec: GaussianMixtureStats) -> GaussianMixtureStats:
    """The record without move fields."""
    return GaussianMixtureStats(**_main(rec)) if isinstance(rec, MoveStats) else rec


def with_plan(rec: GaussianMixtureStats, plan: Plan | np.ndarray) -> MoveStats:
    """The record under a new plan: its move terms to be summed during the next lap.

    ``plan`` is a :class:`Plan` or, for merges alone, the pairs. The component
    entropies are kept when the record has them (every batch's are renewed during
    the lap anyway).
    """
    if not isinstance(plan, Plan):
        plan = Plan(pairs=np.asarray(plan, dtype=np.float64).reshape(-1, 2))
    k, d = rec.xw_sum.shape
    full = rec.xxw_sum.ndim == 3
    f = _empty_fields(rec)
    if isinstance(rec, MoveStats):
        f["comp_entropy"] = rec.comp_entropy
    f["pairs"], f["pair_entropy"] = plan.pairs, np.zeros(len(plan.pairs))
    m = len(plan.birth_owner)
    if m:
        f.update(birth_resp=np.zeros(m), birth_xw=np.zeros((m, d)),
                 birth_xxw=np.zeros((m, d, d) if full else (m, d)), birth_shift=plan.birth_means,
                 birth_owner=plan.birth_owner, birth_entropy=np.zeros(len(plan.birth_targets)),
                 birth_targets=plan.birth_targets)
    if plan.delete_target is not None:
        f.update(delete_resp=np.zeros(k - 1), delete_xw=np.zeros((k - 1, d)),
                 delete_xxw=np.zeros((k - 1, d, d) if full else (k - 1, d)), delete_shift=plan.delete_shift,
                 delete_entropy=np.zeros(1), delete_log_likelihood=np.zeros(1),
                 delete_target=np.array([float(plan.delete_target)]))
    return MoveStats(**_main(rec), **f)


def recentred(n: np.ndarray, s1: np.ndarray, s2: np.ndarray, shift: np.ndarray,
               new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moments (counts ``n``, ``s1``, ``s2`` about ``shift``) expressed about ``new``."""
    rec = GaussianMixtureStats(w_sum=0.0, resp_sum=n, log_likelihood=0.0, entropy=0.0, xw_sum=s1,
                               xxw_sum=s2, shift=shift).recentered(new)
    return rec.xw_sum, rec.xxw_sum


# -- merge --------------------------------------------------------------------------------
def plan_pairs(counts: np.ndarray, per_component: int = MAX_PAIRS_PER_COMPONENT,
               allowed: Callable[[int, int], bool] | None = None) -> np.ndarray:
    """The merge candidates of the next lap: pairs ranked by total size, largest first
    (bnpy's ``total_size`` ranking), at most ``per_component`` pairs containing a
    component; ``allowed(a, b)`` may rule pairs out (recently rejected ones)."""
    k = len(counts)
    cand = [(counts[a] + counts[b], a, b) for a in range(k) for b in range(a + 1, k)
            if allowed is None or allowed(a, b)]
    cand.sort(key=lambda t: (-t[0], t[1], t[2]))
    used = np.zeros(k, dtype=int)
    out = []
    for _, a, b in cand:
        if used[a] < per_component and used[b] < per_component:
            out.append((a, b))
            used[a] += 1
            used[b] += 1
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def merged(rec: GaussianMixtureStats, a: int, b: int, p: int | None) -> GaussianMixtureStats:
    """The record with component ``b`` merged into ``a`` (``p``: the pair's plan index).

    Without the pair's entropy (``p`` None, or a plain record) the entropy field is kept
    as it is: only planned pairs are ever accepted. Birth and delete terms are
    dropped (they describe the components before the merge).
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
    alive = np.flatnonzero(np.all((pairs != a) & (pairs != b), axis=1))
    renumber = lambda v: v - (v > b)  # noqa: E731 - component indices after b shift down
    out = GaussianMixtureStats(**values)
    f = _empty_fields(out)
    f.update(comp_entropy=comp[keep], pair_entropy=rec.pair_entropy[alive],
             pairs=renumber(pairs[alive]) if len(alive) else np.zeros((0, 2)))
    return MoveStats(**values, **f)


# -- birth --------------------------------------------------------------------------------
def born(rec: MoveStats, p: int) -> MoveStats:
    """The record with birth proposal ``p`` accepted: its fresh components appended.

    The target keeps the mass of its rows below the birth threshold; merge pairs
    that contain the target are dropped (its responsibilities changed), the other
    proposals are kept (they touch other components), the delete terms dropped.
    """
    t = int(rec.birth_targets[p])
    mine = rec.birth_owner == p
    n_f, s1_f, s2_f, sh_f = rec.birth_resp[mine], rec.birth_xw[mine], rec.birth_xxw[mine], rec.birth_shift[mine]
    # what the fresh components took, about the target's reference point
    taken1, taken2 = recentred(n_f, s1_f, s2_f, sh_f, np.repeat(rec.shift[t][None], len(n_f), axis=0))
    w, s1, s2 = rec.resp_sum.copy(), rec.xw_sum.copy(), rec.xxw_sum.copy()
    w[t] -= np.sum(n_f)
    s1[t] -= taken1.sum(axis=0)
    s2[t] -= taken2.sum(axis=0)
    values = {"w_sum": rec.w_sum, "resp_sum": np.concatenate((w, n_f)), "log_likelihood": rec.log_likelihood,
              "entropy": rec.entropy + rec.birth_entropy[p], "xw_sum": np.concatenate((s1, s1_f)),
              "xxw_sum": np.concatenate((s2, s2_f)), "shift": np.concatenate((rec.shift, sh_f))}
    f = _empty_fields(GaussianMixtureStats(**values))
    alive = np.flatnonzero(np.all(rec.pairs != t, axis=1))
    f.update(comp_entropy=np.concatenate((rec.comp_entropy, np.zeros(len(n_f)))),
             pair_entropy=rec.pair_entropy[alive], pairs=rec.pairs[alive] if len(alive) else np.zeros((0, 2)))
    others = ~mine
    if others.any():
        keep_p = np.arange(len(rec.birth_targets)) != p
        owner = rec.birth_owner[others]
        f.update(birth_resp=rec.birth_resp[others], birth_xw=rec.birth_xw[others],
                 birth_xxw=rec.birth_xxw[others], birth_shift=rec.birth_shift[others],
                 birth_owner=owner - (owner > p), birth_entropy=rec.birth_entropy[keep_p],
                 birth_targets=rec.birth_targets[keep_p])
    return MoveStats(**values, **f)


def plan_births(counts: np.ndarray, room: int, allowed: Callable[[int], bool] | None = None) -> list[int]:
    """The birth targets of the next lap: components of at least
    :data:`BIRTH_MIN_TARGET` expected rows, largest first, while the fresh components
    fit in ``room`` (``max_components`` minus the current number; bnpy's planner)."""
    order = np.argsort(-np.asarray(counts), kind="stable")
    out: list[int] = []
    for t in order:
        if counts[t] < BIRTH_MIN_TARGET or (allowed is not None and not allowed(int(t))):
            continue
        if (len(out) + 1) * 2 > room:  # a birth adds at least one component to its target
            break
        out.append(int(t))
    return out


def fresh_components(shared: Any, kernel: Any, full: bool, X: np.ndarray, w: np.ndarray, n_fresh: int,
                     rng: np.random.Generator, scale: float = 1.0) -> dict[str, np.ndarray] | None:
    """Fit up to ``n_fresh`` components to weighted rows (a birth's proposal).

    Seeds by weighted k-means++, one hard k-means assignment (bnpy's Bregman
    k-means with ``b_NiterForBregmanKMeans=1``), then :data:`BIRTH_REFINE_STEPS`
    restricted VB steps under the shared prior; components lighter than
    :data:`BIRTH_MIN_NEW` are dropped. The final posteriors see the record scaled by
    ``scale`` (the target's whole-data mass over the rows' mass), as the whole data
    would show them.

    Returns
    -------
    dict or None
        ``means``, ``precision``, ``log_norms`` and ``log_rho`` of the fresh
        components (None when fewer than two survive: no split).
    """
    d = X.shape[1]
    live = w > 0
    if np.count_nonzero(live) < 2 or n_fresh < 2:
        return None
    X, w = np.ascontiguousarray(X[live]), np.ascontiguousarray(w[live])
    n = len(w)
    k = min(n_fresh, n)
    seeds = [int(rng.choice(n, p=w / w.sum()))]
    d2 = np.sum((X - X[seeds[0]]) ** 2, axis=1)
    for _ in range(1, k):
        p = w * d2
        if not p.sum() > 0:
            break
        seeds.append(int(rng.choice(n, p=p / p.sum())))
        d2 = np.minimum(d2, np.sum((X - X[seeds[-1]]) ** 2, axis=1))
    centres = X[seeds]
    label = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    m = len(seeds)
    cnt, s1 = np.zeros(m), np.zeros((m, d))
    s2 = np.zeros((m, d, d) if full else (m, d))
    for j in range(m):  # the hard record, each cluster's moments about its seed
        z = X[label == j] - centres[j]
        wj = w[label == j]
        cnt[j], s1[j] = wj.sum(), wj @ z
        s2[j] = (z * wj[:, None]).T @ z if full else wj @ (z * z)
    shift = centres
    for step in range(BIRTH_REFINE_STEPS + 1):
        keep = cnt >= (BIRTH_MIN_NEW if step == BIRTH_REFINE_STEPS else 1e-8)
        if np.count_nonzero(keep) < 2:
            return None
        cnt, shift, s1, s2 = cnt[keep], shift[keep], s1[keep], s2[keep]
        c = scale if step == BIRTH_REFINE_STEPS else 1.0
        post = shared._batch_posterior(c * cnt, shift, c * s1, c * s2)
        factors = shared._batch_factors(post)
        means = np.ascontiguousarray(post["mean"])
        precision = np.ascontiguousarray(factors["U"] if full else factors["E_lam"])
        log_norms = np.ascontiguousarray(factors["log_norm"])
        log_rho = np.log(cnt / cnt.sum())
        if step == BIRTH_REFINE_STEPS:
            return {"means": means, "precision": precision, "log_norms": log_norms, "log_rho": log_rho}
        m = len(cnt)
        cnt, s1 = np.zeros(m), np.zeros((m, d))
        s2 = np.zeros((m, d, d) if full else (m, d))
        kernel(X, w, log_rho, means, precision, log_norms, cnt, s1, s2)
        shift = means
    return None  # pragma: no cover - the loop returns


# -- delete -------------------------------------------------------------------------------
def deleted(rec: MoveStats) -> GaussianMixtureStats:
    """The record of the local step without the planned delete's target."""
    return GaussianMixtureStats(w_sum=rec.w_sum, resp_sum=rec.delete_resp,
                                log_likelihood=float(rec.delete_log_likelihood[0]),
                                entropy=float(rec.delete_entropy[0]), xw_sum=rec.delete_xw,
                                xxw_sum=rec.delete_xxw, shift=rec.delete_shift)


def plan_delete(counts: np.ndarray, allowed: Callable[[int], bool] | None = None) -> int | None:
    """The delete target of the next lap: the smallest component of at most
    :data:`DELETE_MAX_TARGET` expected rows (None with one component)."""
    if len(counts) < 2:
        return None
    for t in np.argsort(np.asarray(counts), kind="stable"):
        if counts[t] <= DELETE_MAX_TARGET and (allowed is None or allowed(int(t))):
            return int(t)
    return None


# -- shuffle ------------------------------------------------------------------------------
def permuted(rec: GaussianMixtureStats, order: np.ndarray) -> GaussianMixtureStats:
    """The record with its components in ``order`` (component ``j`` is the old ``order[j]``).

    Only merge terms follow (shuffle comes after births and deletes).
    """
    values = {"w_sum": rec.w_sum, "resp_sum": rec.resp_sum[order], "log_likelihood": rec.log_likelihood,
              "entropy": rec.entropy, "xw_sum": rec.xw_sum[order], "xxw_sum": rec.xxw_sum[order],
              "shift": rec.shift[order]}
    if not isinstance(rec, MoveStats):
        return GaussianMixtureStats(**values)
    inverse = np.argsort(order)
    pairs = inverse[rec.pairs.astype(int)].astype(np.float64) if len(rec.pairs) else rec.pairs
    f = _empty_fields(GaussianMixtureStats(**values))
    f.update(comp_entropy=rec.comp_entropy[order], pair_entropy=rec.pair_entropy, pairs=pairs)
    return MoveStats(**values, **f)
