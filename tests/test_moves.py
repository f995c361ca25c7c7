"""Issue 14: birth, merge, delete and shuffle moves of memoized Dirichlet-process VB.

Moves act on records: a merge adds two components' records in the global record and in
every stored per-batch record, with the merged responsibility entropy the lap's local
steps summed for the planned pairs; a birth appends fresh components that took over
their target's mass in its rows (a restricted local step summed during the lap); a
delete swaps in the lap's local step without its target; shuffle reorders the
components by size.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from mixture_helpers import asterisk_k8

import suffstat as ss
from suffstat.fitting.driver import EMRun
from suffstat.fitting.fit import prepare
from suffstat.kernels.gaussian import mvn_full_logpdf
from suffstat.mixtures.moves import Plan, born, deleted, merged, parse_moves, permuted, plan_pairs, with_plan
from suffstat.statistics import GaussianMixtureStats, MixtureStats, MoveStats

pytestmark = pytest.mark.filterwarnings("ignore::suffstat.ConvergenceWarning")


def three_blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, 0.5, (n, 2)) for c in [(-4, 0), (4, 0), (0, 5)]])
    return X[rng.permutation(len(X))]


def dp_mixture(k=8, moves="merge,shuffle", **kw):
    prior = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, n_components=k, dp=True)
    comps = [ss.priors.NormalWishart(prior["mean_prior"], prior["covariance_prior"],
                                     mean_precision_prior=prior["mean_precision_prior"],
                                     degrees_of_freedom_prior=prior["degrees_of_freedom_prior"]) for _ in range(k)]
    return ss.BayesianMixture(comps, weight_concentration_prior=1.0, moves=moves, **kw)


FIT = dict(init="randexamples", random_state=1, algorithm="memoized", batch_size=100, max_iter=12, tol=None)


def test_moves_find_the_number_of_clusters_and_never_decrease_the_elbo():
    X = three_blobs()
    m = dp_mixture().fit(X, **FIT)
    assert m.n_components == 3
    elbo = np.array([h["elbo"] for h in m.history_])
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:]))
    assert sum(h.get("merge_accepted", 0) for h in m.history_) == 5
    assert sorted(m.component_ids) == sorted(set(m.component_ids))
    np.testing.assert_array_equal(np.argsort(-m.weights, kind="stable"), np.arange(3))  # shuffled


def _record_of(model, X, resp):
    """The stacked record of rows with given responsibilities (computed from scratch)."""
    parts = [c.summarize(X, np.ascontiguousarray(resp[:, k]), accumulate=False) for k, c in enumerate(model.priors)]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -float(np.sum(np.where(resp > 0, resp * np.log(resp), 0.0)))
    return GaussianMixtureStats.from_parts(MixtureStats(w_sum=float(len(X)), resp_sum=resp.sum(0), log_likelihood=0.0,
                                                        entropy=ent, parts=parts))


def test_a_merge_is_the_global_step_of_the_pooled_record_and_its_elbo_is_exact():
    X = three_blobs(100)
    m = dp_mixture(moves="merge").fit(X, **{**FIT, "max_iter": 1})
    plan = plan_pairs(np.asarray(m._counts))
    m._plan, m._stacked_run = Plan(pairs=plan), None
    S = m.summarize(X, accumulate=False)
    assert isinstance(S, MoveStats) and np.array_equal(S.pairs, plan)
    a, b = (int(v) for v in plan[0])
    M = merged(S, a, b, 0)
    # the merged record: the pooled statistics of the two components ...
    pooled = S.parts[a] + S.parts[b]
    assert M.parts[a].allclose(pooled, rtol=1e-12, atol=1e-9)
    # ... and its ELBO, from the tracked pair entropy, is that of the merged responsibilities
    resp = m.predict_proba(X)
    merged_resp = np.delete(resp, b, axis=1)
    merged_resp[:, a] = resp[:, a] + resp[:, b]
    fresh = dp_mixture(k=len(resp[0]) - 1, moves=None)
    direct = _record_of(fresh, X, merged_resp)
    assert M.entropy == pytest.approx(direct.entropy, rel=1e-10)
    assert m._elbo_at_step(M) == pytest.approx(m._elbo_at_step(direct), rel=1e-10)


def test_records_follow_the_moves():
    S = GaussianMixtureStats(w_sum=6.0, resp_sum=[1.0, 2.0, 3.0], log_likelihood=0.0, entropy=1.0,
                             xw_sum=np.arange(6.0).reshape(3, 2), xxw_sum=np.ones((3, 2, 2)) * np.eye(2),
                             shift=[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    order = np.array([2, 1, 0])
    P = permuted(S, order)
    for j, o in enumerate(order):
        assert P.parts[j].allclose(S.parts[o])
    plan = plan_pairs(np.asarray(S.resp_sum))
    assert plan.tolist() == [[1, 2], [0, 2], [0, 1]]  # by total size, largest first
    W = with_plan(S, plan)
    assert isinstance(W, MoveStats) and W.pair_entropy.tolist() == [0, 0, 0]
    assert parse_moves("shuffle, merge") == ("merge", "shuffle")
    assert parse_moves(("delete", "birth", "merge")) == ("birth", "merge", "delete")


class _CheckedRun(EMRun):
    def _commit(self, stats):
        kept = [s for s in self.stored if s is not None]
        if len(kept) == len(self.stored):
            self.checks.append(stats.allclose(sum(kept[1:], kept[0]), rtol=1e-10, atol=1e-9 * 900))
        super()._commit(stats)


def test_the_memoized_record_stays_exact_through_moves():
    X = three_blobs()
    m = dp_mixture()
    m._lap = 0
    prepare(m, EMRun(m, X), "randexamples", np.random.default_rng(1), {})
    run = _CheckedRun(m, X, batch_size=100, max_iter=8, tol=None, algorithm="memoized", random_state=0)
    run.checks = []
    run.run()
    assert m.n_components < 8 and len(run.checks) > 40 and all(run.checks)


def test_moves_are_bitwise_for_any_n_jobs_and_from_a_file(tmp_path):
    X = three_blobs()
    np.save(tmp_path / "x.npy", X)
    a = dp_mixture().fit(X, n_jobs=1, **FIT)
    b = dp_mixture().fit(str(tmp_path / "x.npy"), n_jobs=2, **FIT)
    assert a.component_ids == b.component_ids
    np.testing.assert_array_equal(a.concentration, b.concentration)
    np.testing.assert_array_equal([c.mean for c in a.priors], [c.mean for c in b.priors])


def test_an_interrupted_fit_with_moves_resumes_bitwise(tmp_path):
    X = three_blobs()

    class Stop(ss.Callback):
        def on_epoch_end(self, logs):
            if logs["iteration"] == 4:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dp_mixture().fit(X, output_path=tmp_path / "run", callbacks=[Stop()], **FIT)
    resumed = dp_mixture().fit(X, output_path=tmp_path / "run", resume=True, **FIT)
    straight = dp_mixture().fit(X, **FIT)
    assert resumed.component_ids == straight.component_ids
    np.testing.assert_array_equal(resumed.concentration, straight.concentration)
    assert [h["elbo"] for h in resumed.history_] == [h["elbo"] for h in straight.history_]


def test_the_estimator_reports_the_components_left():
    X = three_blobs()
    est = ss.BayesianGaussianMixture(n_components=8, algorithm="memoized", batch_size=100, moves="merge,shuffle",
                                     init_params="randexamples", random_state=1, max_iter=12, tol=0.0,
                                     reg_covar=0.0, **ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, dp=True))
    est.fit(X)
    assert est.n_components_ == 3 and est.means_.shape == (3, 2) and len(est.component_ids_) == 3
    assert sorted(np.round(est.means_[:, 0]).tolist()) == [-4.0, 0.0, 4.0]


def test_bad_move_settings_are_refused():
    with pytest.raises(ss.ParameterError, match="birth_n_fresh"):
        dp_mixture(moves="birth", birth_n_fresh=1)
    with pytest.raises(ss.ParameterError, match="delete_start_lap"):
        dp_mixture(moves="delete", delete_start_lap=-1)
    with pytest.raises(ss.ParameterError, match="max_components"):
        dp_mixture(moves="birth", max_components=0)
    with pytest.raises(ss.ParameterError, match="subset"):
        dp_mixture(moves="split")
    with pytest.raises(ss.ParameterError, match="Dirichlet-process"):
        ss.BayesianMixture([ss.priors.NormalWishart(np.zeros(2), np.eye(2))], "dirichlet_distribution", moves="merge")
    with pytest.raises(ss.ParameterError, match="memoized"):
        dp_mixture().fit(three_blobs(20), init="randexamples", algorithm="vb")


def four_blobs(n=250, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, 0.5, (n, 2)) for c in [(-4, 0), (4, 0), (0, 5), (0, -5)]])
    return X[rng.permutation(len(X))]


ALL = "birth,merge,delete,shuffle"


def _planned(moves, k, **kw):
    """A DP mixture after one lap, with births (or a delete) planned for the next."""
    X = four_blobs()
    m = dp_mixture(k=k, moves=moves, birth_n_fresh=3, **kw)
    m.fit(X, init="randexamples", random_state=1, algorithm="memoized", max_iter=1, tol=None)
    return X, m


def _fresh_log_probs(plan, X, sel):
    out = np.empty((len(X), len(sel)))
    col = np.empty(len(X))
    for i, j in enumerate(sel):
        mvn_full_logpdf(X, plan.birth_means[j], plan.birth_precision[j], float(plan.birth_log_norms[j]), col)
        out[:, i] = col + plan.birth_log_rho[j]
    return out


def test_a_birth_is_the_restricted_split_of_its_target_and_its_elbo_is_exact():
    X, m = _planned("birth", 2)
    plan = m._plan
    assert plan is not None and len(plan.birth_targets) >= 1
    m._stacked_run = None
    S = m.summarize(X, accumulate=False)
    assert isinstance(S, MoveStats) and np.array_equal(S.birth_targets, plan.birth_targets)
    resp = m.predict_proba(X)
    for p, t in enumerate(plan.birth_targets.astype(int)):
        B = born(S, p)
        # the same record from explicit responsibilities: the target's mass in its rows
        # (r >= 0.1) split over the fresh components by their restricted responsibilities
        sel = np.flatnonzero(plan.birth_owner == p)
        lq = _fresh_log_probs(plan, X, sel)
        q = np.exp(lq - np.logaddexp.reduce(lq, axis=1)[:, None])
        rows = resp[:, t] >= 0.1
        split = np.where(rows[:, None], resp[:, [t]] * q, 0.0)
        new = np.column_stack((resp, split))
        new[:, t] -= split.sum(axis=1)
        direct = _record_of(dp_mixture(k=new.shape[1], moves=None), X, np.clip(new, 0.0, None))
        assert B.resp_sum.shape == (2 + len(sel),)
        for a, b in zip(B.parts, direct.parts, strict=True):
            assert a.allclose(b, rtol=1e-9, atol=1e-8)
        assert B.entropy == pytest.approx(direct.entropy, rel=1e-10)
        assert m._elbo_at_step(B) == pytest.approx(m._elbo_at_step(direct), rel=1e-10)


def test_a_delete_swaps_in_the_local_step_without_its_target():
    X, m = _planned("delete", 6, delete_start_lap=0)
    t = m._plan.delete_target
    assert t is not None
    m._stacked_run = None
    S = m.summarize(X, accumulate=False)
    D = deleted(S)
    logp = np.delete(m._component_log_probs(X), t, axis=1)
    resp = np.exp(logp - np.logaddexp.reduce(logp, axis=1)[:, None])
    direct = _record_of(dp_mixture(k=5, moves=None), X, resp)
    for a, b in zip(D.parts, direct.parts, strict=True):
        assert a.allclose(b, rtol=1e-9, atol=1e-8)
    assert D.entropy == pytest.approx(direct.entropy, rel=1e-10)
    assert m._elbo_at_step(D) == pytest.approx(m._elbo_at_step(direct), rel=1e-10)


@pytest.mark.parametrize("moves,k", [("birth,merge,shuffle", 2), (ALL, 8), ("delete,shuffle", 8)])
def test_births_and_deletes_find_the_clusters_and_never_decrease_the_elbo(moves, k):
    X = four_blobs()
    m = dp_mixture(k=k, moves=moves, birth_n_fresh=3)
    m.fit(X, init="randexamples", random_state=1, algorithm="memoized", batch_size=250, max_iter=40, tol=1e-8)
    assert m.n_components == 4
    assert sorted(np.round(np.array([c.mean for c in m.priors])[:, 0]).tolist()) == [-4.0, 0.0, 0.0, 4.0]
    elbo = np.array([h["elbo"] for h in m.history_])
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:]))
    log = m.move_log_
    if "birth" in moves and k == 2:
        assert sum(e.get("birth_accepted", 0) for e in log) >= 2
    if moves.startswith("delete"):
        assert sum(e.get("deleted", 0) for e in log) == 4
    assert len(set(m.component_ids)) == 4 and not m.history_[-1]["moves_pending"]


def test_every_accepted_move_keeps_the_memoized_record_exact_and_is_judged_on_the_elbo():
    X = four_blobs()
    m = dp_mixture(k=3, moves=ALL, birth_n_fresh=3, delete_start_lap=0)
    prepare(m, EMRun(m, X), "randexamples", np.random.default_rng(1), {})
    run = _CheckedRun(m, X, batch_size=200, max_iter=12, tol=None, algorithm="memoized", random_state=0)
    run.checks, gains = [], []
    end_of_pass = m.end_of_pass

    def checked(stats, stored, read_batch=None):
        before = m._elbo_at_step(GaussianMixtureStats.from_parts(stats)) if isinstance(stats, MoveStats) else None
        S, records = end_of_pass(stats, stored, read_batch=read_batch)
        # the moved record is the sum of the moved stored records
        run.checks.append(S.allclose(sum(records[1:], records[0]), rtol=1e-10, atol=1e-9 * 1000))
        entry = m.move_log_[-1]
        if before is not None and (entry.get("birth_accepted") or entry.get("merge_accepted") or entry.get("deleted")):
            gains.append(m._elbo_at_step(S) - before)
        return S, records

    m.end_of_pass = checked
    run.run()
    del m.end_of_pass
    assert sum(e.get("birth_accepted", 0) for e in m.move_log_) >= 1 and m.n_components == 4
    assert all(run.checks) and len(run.checks) > 50
    assert gains and all(g >= -1e-6 * 2000 for g in gains)  # accepted moves never lower the ELBO


def test_births_are_bitwise_for_any_n_jobs_from_a_file_and_after_a_resume(tmp_path):
    X = four_blobs()
    np.save(tmp_path / "x.npy", X)
    fit = dict(init="randexamples", random_state=1, algorithm="memoized", batch_size=200, max_iter=10, tol=None)
    a = dp_mixture(k=2, moves=ALL, birth_n_fresh=3).fit(X, n_jobs=1, **fit)
    b = dp_mixture(k=2, moves=ALL, birth_n_fresh=3).fit(str(tmp_path / "x.npy"), n_jobs=2, **fit)
    assert sum(e.get("birth_accepted", 0) for e in a.move_log_) >= 2
    assert a.component_ids == b.component_ids
    np.testing.assert_array_equal(a.concentration, b.concentration)
    np.testing.assert_array_equal([c.scale for c in a.priors], [c.scale for c in b.priors])

    class Stop(ss.Callback):
        def on_epoch_end(self, logs):
            if logs["iteration"] == 3:  # births planned at the end of lap 2 are pending
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dp_mixture(k=2, moves=ALL, birth_n_fresh=3).fit(X, output_path=tmp_path / "run", callbacks=[Stop()], **fit)
    saved = ss.load_model_at_lap(tmp_path / "run", 2)
    assert saved._plan is not None and len(saved._plan.birth_targets)
    resumed = dp_mixture(k=2, moves=ALL, birth_n_fresh=3).fit(X, output_path=tmp_path / "run", resume=True, **fit)
    assert resumed.component_ids == a.component_ids
    np.testing.assert_array_equal([c.scale for c in resumed.priors], [c.scale for c in a.priors])
    assert [h["elbo"] for h in resumed.history_] == [h["elbo"] for h in a.history_]
    assert resumed.move_log_ == a.move_log_


def test_the_run_folder_keeps_the_move_log_and_each_laps_model(tmp_path):
    import csv

    X = four_blobs()
    m = dp_mixture(k=2, moves=ALL, birth_n_fresh=3).fit(
        X, init="randexamples", random_state=1, algorithm="memoized", batch_size=500, max_iter=8, tol=None,
        output_path=tmp_path)
    with open(tmp_path / "moves.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["lap"]) for r in rows] == list(range(1, 9))
    assert sum(int(r["birth_accepted"] or 0) for r in rows) == sum(e.get("birth_accepted", 0) for e in m.move_log_) > 0
    for r in rows:
        assert int(r["K"]) == ss.load_model_at_lap(tmp_path, int(r["lap"])).n_components


def test_the_trace_prints_bnpys_move_lines(capsys):
    X = four_blobs()
    est = ss.BayesianGaussianMixture(n_components=2, algorithm="memoized", moves=ALL, birth_n_fresh=3, max_iter=6,
                                     tol=0.0, init_params="randexamples", random_state=1, reg_covar=0.0, verbose=1,
                                     **ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, dp=True))
    est.fit(X)
    out = capsys.readouterr().out
    assert re.search(r"BIRTH @ lap 2\.00 : Added [1-9]\d* states\. [1-9]\d*/\d+ succeeded\.", out)
    assert re.search(r"MERGE @ lap \d\.00 : \d+/\d+ accepted\. Ndiff \d+\.\d\d\. \d+ skipped\.", out)
    assert est.n_components_ >= 4
    assert [e["lap"] for e in est.move_log_] == list(range(1, 7)) and est.move_log_[-1]["K"] == est.n_components_


#: bnpy 0.1.7's gallery (``../shared/peers/bnpy/gallery.py``): the final losses of the DP
#: stage and of the stage with 100 points added
BNPY_DP_LOSS, BNPY_EXTRA_LOSS = -0.0478796, 0.0117562


@pytest.mark.parametrize("seed,batch_size,n_jobs,folders", [(0, None, 1, False), (3, None, 1, False),
                                                            (5, None, 1, True), (1, 500, 2, False)])
def test_the_bnpy_gallery_finds_8_clusters_then_a_9th_from_every_cold_start(seed, batch_size, n_jobs, folders,
                                                                            tmp_path):
    """bnpy's gallery; with ``folders``, each stage starts from the previous stage's run folder."""
    X = asterisk_k8()
    finite = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", n_components=10)
    out = (lambda name: tmp_path / name) if folders else (lambda name: None)
    cold = ss.BayesianGaussianMixture(n_components=10, init_params="randexamples", random_state=seed, max_iter=25,
                                      tol=0.0, reg_covar=0.0, output_path=out("cold"), **finite).fit(X)
    dp = ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, ECovMat="eye", gamma=1.0, dp=True)
    kw = dict(n_components=10, reg_covar=0.0, algorithm="memoized", moves="birth,merge,shuffle", merge_start_lap=5,
              birth_n_fresh=4, max_iter=100, convergence="counts", batch_size=batch_size, n_jobs=n_jobs, **dp)
    first = ss.BayesianGaussianMixture(init_params=str(out("cold")) if folders else cold, birth_start_lap=2,
                                       output_path=out("dp"), **kw).fit(X)
    assert first.converged_ and first.n_components_ == 8
    assert first.history_[-1]["loss"] <= BNPY_DP_LOSS + 5e-8
    new = np.random.RandomState(0).multivariate_normal([1, 1], 0.2 * np.eye(2), size=100)
    more = ss.BayesianGaussianMixture(init_params=str(out("dp")) if folders else first, birth_start_lap=0,
                                      **kw).fit(np.vstack([X, new]))
    assert more.converged_ and more.n_components_ == 9
    assert more.history_[-1]["loss"] <= BNPY_EXTRA_LOSS + 5e-8
    j = np.argmin(np.linalg.norm(more.means_ - 1.0, axis=1))
    assert np.linalg.norm(more.means_[j] - 1.0) < 0.15 and abs(more.weights_[j] * 5100 - 100) < 3


def test_a_model_with_planned_moves_saves_and_loads_them(tmp_path):
    X, m = _planned(ALL, 2)
    assert m._plan is not None and len(m._plan.birth_targets)
    m.save(tmp_path / "m.npz")
    back = ss.load(tmp_path / "m.npz")
    for name, value in m._plan.to_dict().items():
        np.testing.assert_array_equal(getattr(back._plan, name), value)
    assert back._move_state()["failed_merge"].shape == (0, 3) and back.move_log_ == m.move_log_
    np.testing.assert_array_equal(back.summarize(X).birth_resp, m.summarize(X).birth_resp)



def test_a_fit_with_moves_killed_mid_lap_resumes_to_the_same_bits(tmp_path):
    import subprocess
    import sys

    np.save(tmp_path / "x.npy", four_blobs())
    script = """
import os, signal, sys
import numpy as np
import suffstat as ss

data, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Killer(ss.Callback):
    def on_epoch_end(self, logs):
        if logs["iteration"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

prior = [ss.priors.NormalWishart(np.zeros(2), 0.1 * np.eye(2), mean_precision_prior=1e-4,
                                 degrees_of_freedom_prior=4.0) for _ in range(2)]
model = ss.BayesianMixture(prior, weight_concentration_prior=1.0, moves="birth,merge,delete,shuffle",
                           birth_n_fresh=3)
model.fit(data, init="randexamples", random_state=1, algorithm="memoized", batch_size=200, n_jobs=2,
          max_iter=10, tol=None, output_path=out, resume=True, callbacks=[Killer()])
model.save(os.path.join(out, "final.npz"))
"""

    def run(out, kill_at):
        return subprocess.run([sys.executable, "-c", script, str(tmp_path / "x.npy"), str(out), str(kill_at)],
                              capture_output=True, text=True, timeout=600)

    killed = run(tmp_path / "run", 4)
    assert killed.returncode == -9, killed.stderr  # killed during lap 4, after lap 3 was saved
    assert ss.snapshots.snapshot_laps(tmp_path / "run") == [1, 2, 3]
    saved = ss.load_model_at_lap(tmp_path / "run", 3)
    assert saved._plan is not None  # the killed lap had moves to judge
    assert run(tmp_path / "run", 0).returncode == 0
    assert run(tmp_path / "straight", 0).returncode == 0
    a, b = ss.load(tmp_path / "run" / "final.npz"), ss.load(tmp_path / "straight" / "final.npz")
    assert a.component_ids == b.component_ids and a.n_components >= 4
    np.testing.assert_array_equal(a.concentration, b.concentration)
    np.testing.assert_array_equal([c.scale for c in a.priors], [c.scale for c in b.priors])
    assert a.move_log_ == b.move_log_


def test_an_em_run_folder_starts_a_dp_fit_that_finds_the_missing_cluster(tmp_path):
    X = four_blobs()
    ss.GaussianMixture(n_components=3, random_state=0, output_path=tmp_path / "em").fit(X)
    dp = ss.BayesianGaussianMixture(n_components=3, init_params=str(tmp_path / "em"), algorithm="memoized",
                                    moves="birth,merge,shuffle", birth_n_fresh=3, reg_covar=0.0,
                                    convergence="counts", max_iter=50,
                                    **ss.BayesianGaussianMixture.bnpy_prior(2, sF=0.1, dp=True)).fit(X)
    assert dp.converged_ and dp.n_components_ == 4
    assert sum(e.get("birth_accepted", 0) for e in dp.move_log_) >= 1
