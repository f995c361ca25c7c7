"""The learner protocol: the handful of methods the fitting engine uses, and nothing else.

A *learner* is any model the engine can fit by streaming batches: a mixture fitted
by EM today; variational and Dirichlet-process mixtures, hidden Markov models and
Bayes classifiers later. The engine (:mod:`suffstat.fitting.driver`) owns what all
of them share: sources and batches, threads and Dask, the algorithms (full-pass,
minibatch, stepwise and memoized), step rules, convergence, callbacks, the trace,
snapshots and resume; :mod:`suffstat.fitting.fit` owns initialization, trials and
warm starts. It reads no field of a learner and imports no model class: everything
it needs goes through the methods below, and the additive records they return
(``+``, scalar ``*``, ``-`` for memoized algorithms, ``weight``, ``to_dict``).

One pass of the engine, for a group of batches (a whole pass in batch EM)::

    S = learner.summarize(batch_1) + ... + learner.summarize(batch_g)    # local step
    value = learner.objective(S)                # declared objective of S's local step
    proposal = learner.propose(S, inertia=...)  # global step: compute and validate ...
    learner.commit(proposal)                    # ... then commit (never raises)
    ...                                         # after the pass's last group:
    moved = learner.end_of_pass(S, stored)      # structure moves (None: no change)

Parameters change only at ``commit``, so an interrupt or an error inside a pass
leaves the learner as its last completed update left it.

Sequences: a fit given ``lengths`` (``fit_learner(learner, X, lengths=...)``, or a
source from :meth:`~suffstat.sources.BatchSource.with_lengths`) groups the rows into
consecutive sequences. Every batch is then ``batch_size`` whole sequences (never a
part of one), and ``summarize`` is called as ``summarize(batch, lengths=...,
sample_weight=None, accumulate=False)`` (keywords only after the batch), with the
lengths of the sequences that make up the batch, in row order. A learner of
sequences (a hidden Markov model) must accept the ``lengths`` keyword; learners of
rows are never given it.

How a variational learner plugs in: its ``summarize`` is the VB local step (the
E-step with expected log-parameters) returning the data record; ``propose`` adds
the prior record (pseudo-counts) to ``S`` and computes the posterior in natural
parameters; ``objective`` is the ELBO of ``S`` under the posterior, so the
engine's convergence and memoized bookkeeping apply unchanged; a Dirichlet-process
learner uses ``end_of_pass`` to birth, merge or delete components, returning the
global record and the memoized per-batch records remapped to the new components.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

from ..statistics import Statistic

#: The methods and attributes of the protocol: the only names the engine may use on a learner.
PROTOCOL = (
    "objective_name",
    "summarize",
    "objective",
    "propose",
    "commit",
    "end_of_pass",
    "get_parameters",
    "implied_statistics",
    "step_toward",
    "validate",
    "trace_values",
    "is_fitted",
    "seed_count",
    "blank",
    "seed_statistics",
    "empty_seeds",
    "seeded",
    "warm_start",
    "copy",
    "to_dict",
    "n_features_in",
)


class EMLearnerDefaults:
    """The learner protocol's stochastic-step defaults for an EM learner.

    An EM update forgets the record it came from, and its records blend by their own
    algebra; :class:`~suffstat.GeneralMixtureModel` and
    :class:`~suffstat.HiddenMarkovModel` take both methods from here (a variational
    learner overrides them).
    """

    def step_toward(self, stats: Statistic, target: Statistic, rho: float, scale: float = 1.0) -> Statistic:
        """Return the stochastic step's blend ``(1 - rho) * stats + rho * (scale * target)``.

        The records' own :meth:`~suffstat.statistics.Statistic.step_toward`; a learner
        may compute the same blend faster for its own records.

        Parameters
        ----------
        stats, target : Statistic
            The running record and the batch's.
        rho : float
            The step's rate.
        scale : float, default=1.0
            The target's scale (the data's weight over the batch's).

        Returns
        -------
        Statistic
            The blended record.
        """
        return stats.step_toward(target, rho, scale)

    def implied_statistics(self) -> None:
        """Return the record whose update gives the current parameters: None for EM.

        An EM update forgets the record it came from, so stepwise EM starts from the
        first batch's record (a variational learner returns its posterior's).

        Returns
        -------
        None
            Always.
        """
        return None


@runtime_checkable
class Learner(Protocol):
    """What the fitting engine needs from a model.

    Attributes
    ----------
    objective_name : str
        Name of the declared objective in traces and messages: ``'log_likelihood'``
        for EM learners, ``'elbo'`` for variational ones.
    """

    objective_name: ClassVar[str]

    def summarize(self, X: Any, sample_weight: Any = None, *, accumulate: bool = True) -> Statistic:
        """Local step: the additive record of one batch under the current parameters.

        Pure (with ``accumulate=False``, the only way the engine calls it) and
        thread-safe: the engine summarizes batches concurrently and adds the
        records in batch order. In a fit over sequences the engine also passes
        ``lengths=`` (the lengths of the whole sequences in the batch).
        """

    def objective(self, stats: Statistic, *, fresh: bool = True) -> float | None:
        """The declared objective of a record.

        ``fresh=True``: ``stats`` holds the local steps of a pass (full-pass and
        minibatch algorithms), scored once after the pass's updates; the value is
        what the local steps computed for EM (the log-likelihood of the batches), and
        the ELBO of the record under the current posterior for VB (an ELBO is not
        a sum over batches). ``fresh=False``: the
        record holds local variables of earlier parameters (memoized algorithms);
        the value is the bound of those local variables under the current
        parameters (Neal and Hinton's free energy for EM), or None when the learner
        cannot compute it from the record alone.
        """

    def propose(self, stats: Statistic, *, inertia: float | None = None) -> Any | None:
        """Global step, part one: the validated update for ``stats``, changing nothing.

        Raises ParameterError (or ValueError) when the update would be invalid;
        returns None when nothing would change (frozen, no weight). ``inertia``,
        when given, overrides every inertia of the learner and its parts for this
        update (the fit-wide setting).
        """

    def commit(self, proposal: Any) -> None:
        """Global step, part two: apply a proposal from :meth:`propose` (never raises)."""

    def end_of_pass(self, stats: Statistic, stored: list[Statistic | None],
                    read_batch: Callable[[int], tuple] | None = None
                    ) -> tuple[Statistic, list[Statistic | None]] | None:
        """Structure moves at the end of a full pass: None when nothing changes.

        A learner may add, merge, remove or reorder components here. It then
        returns the global record and the memoized per-batch records (``stored``,
        empty outside memoized algorithms) remapped to its new structure.
        ``read_batch(b)`` returns batch ``b``'s rows and weights (None: unit
        weights), for moves that look at data (a birth re-clusters a component's
        rows); it is called at this sequential point only, so what the learner
        plans from it is the same for any ``n_jobs``. A learner that reports
        ``moves_pending`` true in :meth:`trace_values` does not converge.
        """

    def get_parameters(self) -> Any:
        """The current parameters as a nested value (for averaging and snapshots)."""

    def implied_statistics(self) -> Statistic | None:
        """The record whose global step gives the current parameters, or None.

        Stochastic algorithms blend their first step from it: a variational
        posterior is prior + record, so its record is known exactly; an EM learner
        returns None and its first stochastic step takes the first batch's record.
        """

    def step_toward(self, stats: Statistic, target: Statistic, rho: float, scale: float = 1.0) -> Statistic:
        """The stochastic step's blend ``(1 - rho) * stats + rho * (scale * target)``.

        ``stats.step_toward(target, rho, scale)`` (the records' algebra), or the same
        values computed faster for the learner's own records (stochastic VB blends a
        record per batch of a few rows).
        """

    def validate(self, params: Any) -> Any:
        """Validate a nested parameter value (as from :meth:`get_parameters`) into a proposal."""

    def trace_values(self) -> dict[str, Any]:
        """Extra per-pass trace columns (e.g. the number of active components ``K``)."""

    def is_fitted(self) -> bool:
        """Whether the learner has parameters to summarize under."""

    def seed_count(self) -> int:
        """How many seeds a named initialization draws (the number of components)."""

    def blank(self) -> Learner:
        """A copy with the same structure and options but no parameters (to start from seeds)."""

    def seed_statistics(self, X: Any, sample_weight: Any, labels: Any) -> Statistic:
        """Local step of a start: each row given wholly to the seed ``labels`` names (pure, additive).

        The engine finds each row's nearest seed; the learner only summarizes.
        """

    def empty_seeds(self, stats: Statistic) -> list[int]:
        """The seeds of a start record that received no row."""

    def seeded(self, params: Any) -> Any:
        """The proposal to commit for the parameters a named start found (validated).

        A learner may adjust them here, e.g. replace some by user-given initial values.
        """

    def warm_start(self, other: Any, what: str = "init") -> Any | None:
        """Take a compatible fitted model's parameters (raise ParameterError otherwise).

        Returns None when the parameters were taken. A learner may instead return a
        model whose local step (``summarize``) gives records its own global step
        takes (e.g. an EM mixture starting a variational one): the engine then
        summarizes the data once under that model and commits
        ``seeded(propose(record))``.
        """

    def copy(self) -> Learner:
        """An independent copy of the learner and its parameters."""

    def to_dict(self) -> dict[str, Any]:
        """The learner as plain values and arrays (what snapshots save)."""

    def n_features_in(self) -> int | None:
        """The number of data columns the learner expects (None when not yet known)."""
