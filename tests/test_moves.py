"""Issue 14 (first step): merge and shuffle moves of memoized Dirichlet-process VB.

Moves act on records: a merge adds two components' records in the global record and in
every stored per-batch record, with the merged responsibility entropy the lap's local
steps summed for the planned pairs; shuffle reorders the components by size.
"""

from __future__ import annotations

import numpy as np
import pytest

import suffstat as ss
from suffstat.fitting.driver import EMRun
from suffstat.fitting.fit import prepare
from suffstat.mixtures.moves import merged, parse_moves, permuted, plan_pairs, with_plan
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
    m._plan, m._stacked_run = plan, None
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
