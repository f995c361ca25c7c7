"""Fit orchestration for any learner: initialization, trials, warm starts, snapshots, resume.

:func:`fit_learner` is what an estimator's ``fit`` calls. It decides where the fit
starts (the learner's current parameters, a named initialization, a fitted model,
a saved model file or a snapshot folder), runs ``n_init`` trials and keeps the
best, writes per-lap snapshots and resumes from them, and hands each trial to the
pass loop (:class:`~suffstat.fitting.driver.EMRun`). Like the loop, it uses only
the learner protocol (:mod:`suffstat.fitting.learner`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .._validation import check_count, check_random_state, check_scalar
from ..exceptions import ParameterError
from ..parallel import ordered_map
from .driver import EMRun, summarize_batch
from .init import INITS, start_from_seeds

#: Settings of the pass loop (passed to EMRun as they are).
RUN_SETTINGS = ("converge_on", "max_iter", "tol", "batch_size", "batches_per_epoch", "n_jobs", "inertia", "verbose",
                "callbacks", "algorithm", "step", "shuffle", "n_total", "average", "average_start")
#: Options of the named initializations.
INIT_OPTIONS = ("max_kmeans_iter", "samplings", "percentage")
#: Seconds of fitting between two snapshots flushed to the disk (the last one always is).
DURABLE_EVERY = 1.0


class FitResult:
    """What a fit leaves on the estimator: the trace and the trials.

    Attributes
    ----------
    history : list of dict
        One entry per completed pass of the kept trial.
    n_iter : int
        Completed passes.
    converged : bool
        Whether the kept trial met its convergence criterion.
    trials : list of dict
        One record per trial (``trial``, ``seed``, ``log_likelihood``,
        ``mean_log_likelihood``, ``n_iter``, ``converged``).
    """

    def __init__(self, history: list, converged: bool, trials: list) -> None:
        self.history = history
        self.n_iter = len(history)
        self.converged = converged
        self.trials = trials


def _trial_record(trial: int, seed: Any, history: list, converged: bool) -> dict[str, Any]:
    last = history[-1] if history else {}
    return {
        "trial": trial,
        "seed": seed if isinstance(seed, (int, np.integer)) or seed is None else None,
        "log_likelihood": last.get("log_likelihood", math.nan),
        "mean_log_likelihood": last.get("mean_log_likelihood", math.nan),
        "n_iter": len(history),
        "converged": converged,
    }


def prepare(learner: Any, run: EMRun, init: Any, rng: np.random.Generator,
            init_options: dict[str, Any]) -> None:
    """Set the learner's starting point: keep, initialize, or warm-start.

    A named start streams the run's own source, weights and batches.

    ``init=None`` keeps the current parameters when the learner has them and uses
    ``'kmeans++'`` otherwise. The learner is changed only once its new starting
    point is complete and valid.
    """
    if init is None:
        if learner.is_fitted():
            return
        init = "kmeans++"
    if isinstance(init, str) and not os.path.exists(init):
        if init not in INITS:
            raise ParameterError(
                f"init must be one of {INITS}, a fitted model, or a path to a saved model or "
                f"snapshot folder; got {init!r} (no such file or folder)"
            )
        source = run.source
        n_features = learner.n_features_in()
        if n_features is not None and source.n_features != n_features:
            from ..exceptions import DataError

            raise DataError(f"X must have {n_features} features (the model has {n_features}); "
                            f"got {source.n_features}")
        options = {
            "max_kmeans_iter": check_count("max_kmeans_iter", init_options.get("max_kmeans_iter", 10),
                                           minimum=0),
            "samplings": check_count("samplings", init_options.get("samplings", 100), minimum=1),
            "percentage": check_scalar("percentage", init_options.get("percentage", 0.02), low=0.0,
                                       low_open=True, high=1.0),
        }
        start_from_seeds(learner, source, run.weights, init=init, rng=rng, ranges=run.ranges,
                         n_jobs=run.n_jobs, options=options)
        return
    if isinstance(init, (str, os.PathLike)):
        from ..io import load
        from ..snapshots import load_model_at_lap

        other = load_model_at_lap(init) if os.path.isdir(init) else load(init)
    elif hasattr(init, "to_dict") and hasattr(init, "is_fitted"):
        other = init
    else:
        raise ParameterError(
            "init must be an initialization name, a fitted model, or a path to a saved "
            f"model or snapshot folder; got {init!r}"
        )
    starter = learner.warm_start(other, "init")
    if starter is not None:
        start_from_local_step(learner, starter, run)


def start_from_local_step(learner: Any, starter: Any, run: EMRun) -> None:
    """Start ``learner`` from another model's responsibilities: one streamed pass.

    The data is summarized under ``starter`` (the model a learner's ``warm_start``
    returned: one whose records this learner's global step takes), and the learner
    makes its global step from the whole record. The learner changes only if that
    step is valid.
    """
    total = None
    for s in ordered_map(summarize_batch, run.source, run.ranges, weights=run.weights,
                         n_jobs=run.n_jobs, args=(starter,), additive=True, with_lengths=True):
        total = s if total is None else total + s
    proposal = learner.propose(total)
    if proposal is not None:
        learner.commit(learner.seeded(proposal))


def fit_learner(learner: Any, X: Any, sample_weight: Any = None, *, lengths: Any = None,
                random_state: Any = None,
                init: Any = None, n_init: int = 1, init_options: dict[str, Any] | None = None,
                output_path: Any = None, save_every: int = 1, resume: bool = False,
                **settings: Any) -> FitResult:
    """Fit a learner to ``X``: start, run the passes (``n_init`` times), keep the best.

    Parameters
    ----------
    learner : Learner
        The model to fit (changed in place).
    X : array-like, numpy.memmap, str or BatchSource
        The data.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights.
    lengths : array-like of int, optional
        Sequence lengths (summing to the rows of ``X``): batches are then whole
        sequences, ``batch_size`` counts sequences, and the learner's ``summarize``
        receives each batch's lengths (see :class:`~suffstat.fitting.driver.EMRun`).
    random_state : None, int or numpy.random.Generator
        Seeds the initialization, the trials and the batch order of minibatch modes.
    init : str, model, path or None
        Where the fit starts (see :func:`prepare`).
    n_init : int, default=1
        Trials from seeds derived from ``random_state``; the highest final objective
        is kept. Each trial starts from ``init`` (for a warm start, every trial
        starts from the same parameters and differs only in its batch order).
    init_options : dict, optional
        ``max_kmeans_iter``, ``samplings`` and ``percentage`` of the named starts.
    output_path : str or os.PathLike, optional
        Snapshot folder (``n_init=1`` only).
    save_every : int, default=1
        Snapshot every this many laps.
    resume : bool, default=False
        Continue from the newest readable snapshot in ``output_path``.
    **settings
        Settings of the pass loop (:data:`RUN_SETTINGS`).

    Returns
    -------
    FitResult
        The kept trial's trace and every trial's record. If the fit is interrupted
        (an exception, Ctrl-C), the learner holds its last completed update and the
        exception carries the completed passes as ``exc.fit_result``.
    """
    unknown = set(settings) - set(RUN_SETTINGS)
    if unknown:
        raise TypeError(f"unknown fit setting(s) {sorted(unknown)}")
    init_options = dict(init_options or {})
    n_init = check_count("n_init", n_init, minimum=1)
    save_every = check_count("save_every", save_every, minimum=1)
    if (output_path is not None or resume) and n_init > 1:
        raise ParameterError("output_path and resume work with n_init=1")
    if resume and output_path is None:
        raise ParameterError("resume=True needs the output_path of the interrupted fit")
    rng = check_random_state(random_state)
    if n_init > 1:
        return _fit_trials(learner, X, sample_weight, rng, init, n_init, init_options, settings,
                           lengths)

    checkpoint = None
    # settings are validated before any initialization work
    run = EMRun(learner, X, sample_weight, random_state=rng, checkpoint=None, lengths=lengths,
                **settings)
    saved = {k: v for k, v in settings.items() if k not in ("callbacks", "step", "verbose")}
    saved["step"] = None if settings.get("step") is None else run.step.to_dict()
    saved["data_shape"] = list(run.source.shape)
    seqs = run.source.sequences
    if seqs is not None:  # the same rows cut into other sequences is other data
        saved["sequences"] = hashlib.sha256(np.ascontiguousarray(seqs.bounds).tobytes()).hexdigest()
    before = learner.get_parameters()
    with folder_lock(output_path) if output_path is not None else contextlib.nullcontext():
        state = None
        if output_path is not None:
            from ..snapshots import clear_snapshots, load_snapshot, snapshot_laps, write_snapshot

            written = []
            flushed = [time.perf_counter()]

            def checkpoint(run: EMRun) -> None:
                last = run.converged or run.iteration == run.max_iter
                if run.iteration % save_every == 0 or last:
                    if not written and not resume:
                        # a new fit replaces an earlier one's laps when it has one of its own
                        clear_snapshots(output_path)
                    # Every snapshot is replaced atomically (a killed fit resumes from it);
                    # it is also flushed to the disk (against a power loss) at the end and
                    # once a second of fitting: an fsync per lap doubled the cost of fast laps.
                    now = time.perf_counter()
                    durable = last or now - flushed[0] >= DURABLE_EVERY
                    write_snapshot(output_path, run, saved, durable=durable)
                    if durable:
                        flushed[0] = now
                    written.append(run.iteration)

            if resume and snapshot_laps(output_path):
                _, payload = load_snapshot(output_path)
                check_resumable(payload.get("settings", {}), saved, output_path)
                state = payload["state"]
                learner.warm_start(payload["model"], "the snapshot")
        run.checkpoint = checkpoint
        try:
            if state is None:
                prepare(learner, run, init, rng, init_options)
            else:
                run.restore(state)
            record = run.run()
        except BaseException as exc:
            rec = run.record()
            if not rec["history"]:
                # no pass completed: the model keeps the parameters it had before the fit
                learner.commit(learner.validate(before))
            exc.fit_result = FitResult(rec["history"], rec["converged"],
                                       [_trial_record(0, random_state, rec["history"], rec["converged"])])
            raise
    return FitResult(record["history"], record["converged"],
                     [_trial_record(0, random_state, record["history"], record["converged"])])


#: Settings a resumed fit must share with the snapshot's (they decide the trajectory).
RESUME_SETTINGS = ("algorithm", "batch_size", "batches_per_epoch", "shuffle", "inertia", "step",
                   "n_total", "average", "average_start", "data_shape", "sequences")


def check_resumable(saved: dict[str, Any], current: dict[str, Any], folder: Any) -> None:
    """Refuse to resume a snapshot whose trajectory settings differ from this fit's."""
    differ = [f"{k}={saved[k]!r} in the snapshot, {current.get(k)!r} now"
              for k in RESUME_SETTINGS if k in saved and saved[k] != current.get(k)]
    if differ:
        raise ParameterError(
            f"cannot resume the fit in {folder}: its settings differ ({'; '.join(differ)}); "
            "resume with the same settings and data, or start a new fit without resume=True"
        )


@contextlib.contextmanager
def folder_lock(folder: Any) -> Iterator[None]:
    """Hold ``folder/.lock`` for the fit: two fits never write one snapshot folder.

    A lock left by a process that no longer runs (killed) is taken over.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise ParameterError(
                    f"another fit (process {pid}) is writing to {folder}: use another "
                    "output_path, or wait for it to finish"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    else:
        raise ParameterError(f"cannot lock {folder} for the fit")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process holds it: another fit in this process (a thread)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fit_trials(learner: Any, X: Any, sample_weight: Any, rng: np.random.Generator, init: Any,
                n_init: int, init_options: dict[str, Any], settings: dict[str, Any],
                lengths: Any = None) -> FitResult:
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=n_init)]
    # Callbacks see the kept trial only, replayed once it is chosen.
    callbacks = list(settings.get("callbacks") or [])
    settings = {**settings, "callbacks": None}
    template = learner.copy()
    best: tuple[Any, FitResult] | None = None
    trials = []
    for i, seed in enumerate(seeds):
        candidate = template.copy()
        result = fit_learner(candidate, X, sample_weight, lengths=lengths, random_state=seed, init=init,
                             init_options=init_options, **settings)
        record = dict(result.trials[0], trial=i)
        trials.append(record)
        if best is None or record["log_likelihood"] > best[1].trials[0]["log_likelihood"]:
            best = (candidate, result)
    winner, result = best
    learner.commit(learner.validate(winner.get_parameters()))
    for cb in callbacks:
        cb.model = learner
        cb.on_training_begin()
        for logs in result.history:
            cb.on_epoch_end(logs)
        cb.on_training_end(result.history[-1] if result.history else None)
    return FitResult(result.history, result.converged, trials)
