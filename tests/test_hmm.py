"""Hidden Markov models (issue 18): hmmlearn's results from the same start, exactness over
batches of whole sequences and threads, resume, long sequences, guards and bad input.

The hmmlearn comparisons run on 60 sequences of 150 rows (K=3, d=3) so that the suite stays
fast (hmmlearn's full-covariance E-step takes ~40 s per iteration on 1,000 x 1,000 rows);
``benchmarks/bench_hmm.py`` runs the issue's full size.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

import suffstat as ss
from suffstat import parallel

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")
logging.getLogger("hmmlearn").setLevel(logging.ERROR)

K, D, N_SEQ, LENGTH = 3, 3, 60, 150
LENGTHS = [LENGTH] * N_SEQ
TRUE_MEANS = np.array([[0.0, 0.0, 0.0], [3.0, 3.0, -1.0], [-3.0, 2.0, 1.0]])
TRUE_TRANS = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
START = {
    "startprob_": np.full(K, 1.0 / K),
    "transmat_": np.full((K, K), 0.4 / K) + 0.6 * np.eye(K),
    "means_": TRUE_MEANS + np.array([[0.5, 0.0, 0.2], [-0.5, 0.3, 0.0], [0.4, -0.4, 0.3]]),
}
COVARS = {"full": np.array([np.eye(D)] * K), "diag": np.ones((K, D)), "spherical": np.ones(K),
          "tied": np.eye(D)}


def gaussian_data(seed=1, n_seq=N_SEQ, length=LENGTH):
    gen = ss.HiddenMarkovModel([ss.MultivariateNormal(m, np.eye(D) * (0.5 + 0.3 * j))
                                for j, m in enumerate(TRUE_MEANS)],
                               transitions=TRUE_TRANS, starts=[0.5, 0.3, 0.2])
    X, states = gen.sample(n_seq, length, random_state=seed)
    return X, states


@pytest.fixture(scope="module")
def data():
    return gaussian_data()[0]


def started(cls, ctype, **kwargs):
    m = cls(K, covariance_type=ctype, init_params="", n_iter=10, tol=1e-12, **kwargs)
    for name, value in START.items():
        setattr(m, name, value.copy())
    m.covars_ = COVARS[ctype].copy()
    return m


def face_params(m):
    return [m.startprob_, m.transmat_, m.means_, m.covars_]


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical", "tied"])
def test_gaussian_hmm_matches_hmmlearn(data, ctype, tmp_path):
    """Same start, 10 iterations: every parameter to 1e-8, the log-likelihood to 1e-10
    (relative), Viterbi paths identical; n_jobs 1 and 2 bitwise equal; a .npy path too."""
    ref = started(hmmlearn_hmm.GaussianHMM, ctype).fit(data, LENGTHS)
    ours = started(ss.GaussianHMM, ctype, batch_size=7).fit(data, LENGTHS)
    names = ["startprob_", "transmat_", "means_"] + (["covars_"] if ctype != "spherical" else [])
    for name in names:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=0, atol=1e-8, err_msg=name)
    if ctype == "spherical":  # hmmlearn's spherical covars_ getter returns (k*d, d, d) after a fit
        np.testing.assert_allclose(ours._covars_, ref._covars_.mean(axis=1), rtol=0, atol=1e-8)
    assert ours.score(data, LENGTHS) == pytest.approx(ref.score(data, LENGTHS), rel=1e-10, abs=0)
    np.testing.assert_allclose(ours.monitor_.history, ref.monitor_.history, rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(data, LENGTHS), ref.predict(data, LENGTHS))
    np.testing.assert_allclose(ours.predict_proba(data, LENGTHS), ref.predict_proba(data, LENGTHS),
                               rtol=0, atol=1e-8)
    assert ours.decode(data, LENGTHS)[0] == pytest.approx(ref.decode(data, LENGTHS)[0], rel=1e-10)
    threads = started(ss.GaussianHMM, ctype, batch_size=7, n_jobs=2).fit(data, LENGTHS)
    for a, b in zip(face_params(ours), face_params(threads), strict=True):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "x.npy"
    np.save(path, data)
    streamed = started(ss.GaussianHMM, ctype, batch_size=7).fit(str(path), LENGTHS)
    for a, b in zip(face_params(ours), face_params(streamed), strict=True):
        np.testing.assert_array_equal(a, b)
    mm = np.load(path, mmap_mode="r")
    assert ss.GaussianHMM.score(streamed, mm, LENGTHS) == pytest.approx(ours.score(data, LENGTHS), rel=1e-12)


def test_file_pieces_cut_between_sequences_and_n_jobs_are_bitwise(tmp_path, monkeypatch, data):
    """A .npy batch is mapped in cache-sized pieces: for sequences they are whole sequences,
    and the result is bitwise the same for n_jobs 1 and 2."""
    monkeypatch.setattr(parallel, "PIECE_BYTES", 2000)  # ~83 rows: pieces of 1 sequence
    path = tmp_path / "x.npy"
    np.save(path, data)
    a = started(ss.GaussianHMM, "diag", batch_size=9).fit(str(path), LENGTHS)
    b = started(ss.GaussianHMM, "diag", batch_size=9, n_jobs=2).fit(str(path), LENGTHS)
    ref = started(hmmlearn_hmm.GaussianHMM, "diag").fit(data, LENGTHS)
    for x, y in zip(face_params(a), face_params(b), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(a.means_, ref.means_, rtol=0, atol=1e-8)


def test_categorical_hmm_matches_hmmlearn():
    rng = np.random.default_rng(3)
    gen = ss.HiddenMarkovModel([ss.Categorical([0.7, 0.2, 0.1, 0.0]), ss.Categorical([0.1, 0.1, 0.3, 0.5])],
                               transitions=[[0.9, 0.1], [0.3, 0.7]])
    X, _ = gen.sample(40, 100, random_state=rng)
    X = X.astype(np.int64).reshape(-1, 1)
    lengths = [100] * 40
    start = {"startprob_": np.array([0.6, 0.4]), "transmat_": np.array([[0.7, 0.3], [0.4, 0.6]]),
             "emissionprob_": np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])}
    models = []
    for cls in (hmmlearn_hmm.CategoricalHMM, ss.CategoricalHMM):
        m = cls(2, init_params="", n_iter=10, tol=1e-12)
        for name, value in start.items():
            setattr(m, name, value.copy())
        models.append(m.fit(X, lengths))
    ref, ours = models
    for name in start:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=0, atol=1e-8, err_msg=name)
    assert ours.score(X, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-10)
    np.testing.assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))


def test_poisson_hmm_matches_hmmlearn():
    gen = ss.HiddenMarkovModel([ss.IndependentComponents([ss.Poisson(1.0), ss.Poisson(6.0)]),
                                ss.IndependentComponents([ss.Poisson(8.0), ss.Poisson(2.0)])],
                               transitions=[[0.85, 0.15], [0.2, 0.8]])
    X, _ = gen.sample(30, 120, random_state=4)
    lengths = [120] * 30
    start = {"startprob_": np.array([0.5, 0.5]), "transmat_": np.array([[0.6, 0.4], [0.3, 0.7]]),
             "lambdas_": np.array([[2.0, 4.0], [5.0, 3.0]])}
    models = []
    for cls in (hmmlearn_hmm.PoissonHMM, ss.PoissonHMM):
        m = cls(2, init_params="", n_iter=10, tol=1e-12)
        for name, value in start.items():
            setattr(m, name, value.copy())
        models.append(m.fit(X.astype(np.int64), lengths))
    ref, ours = models
    for name in start:
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=0, atol=1e-8, err_msg=name)
    assert ours.score(X, lengths) == pytest.approx(ref.score(X, lengths), rel=1e-10)
    np.testing.assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))


def test_params_letters_keep_the_other_parameters(data):
    """``params='mc'`` leaves startprob_ and transmat_ as they were (as hmmlearn does)."""
    ref = started(hmmlearn_hmm.GaussianHMM, "diag", params="mc").fit(data, LENGTHS)
    ours = started(ss.GaussianHMM, "diag", params="mc").fit(data, LENGTHS)
    np.testing.assert_array_equal(ours.transmat_, START["transmat_"])
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.covars_, ref.covars_, rtol=0, atol=1e-8)


def test_random_start_fits_and_init_params_start_from_the_data(data):
    m = ss.GaussianHMM(K, covariance_type="full", random_state=0, n_iter=30).fit(data, LENGTHS)
    order = np.argsort(m.means_[:, 0])
    np.testing.assert_allclose(m.means_[order], TRUE_MEANS[np.argsort(TRUE_MEANS[:, 0])], atol=0.1)
    assert m.monitor_.history[-1] > m.monitor_.history[0]


# -- the general learner ------------------------------------------------------------------


def general_model():
    return ss.HiddenMarkovModel(
        [ss.MultivariateNormal(m, np.ones(D), covariance_type="diag") for m in START["means_"]],
        transitions=START["transmat_"], starts=START["startprob_"])


def model_params(m):
    out = [m.starts, m.transitions.ravel()]
    for d in m.distributions:
        out.extend(np.ravel(np.asarray(v, dtype=float)) for v in d._get_params().values())
    return np.concatenate(out)


def test_summarize_is_additive_over_sequences(data):
    m = general_model()
    cut = 17 * LENGTH
    a = m.summarize(data[:cut], LENGTHS[:17], accumulate=False)
    b = m.summarize(data[cut:], LENGTHS[17:], accumulate=False)
    whole = m.summarize(data, LENGTHS, accumulate=False)
    assert isinstance(whole, ss.HMMStats)
    assert (a + b).allclose(whole, rtol=1e-12)
    assert float(whole.n_sequences) == N_SEQ and whole.weight == data.shape[0]
    m.summarize(data[:cut], lengths=LENGTHS[:17])
    m.summarize(data[cut:], lengths=LENGTHS[17:])
    direct = general_model()
    direct.from_summaries(whole)
    m.from_summaries()
    np.testing.assert_allclose(model_params(m), model_params(direct), rtol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 7, 25])
def test_batch_invariance_over_sequences(batch_size):
    rng = np.random.default_rng(5)
    lengths = rng.integers(20, 200, size=40)
    X, _ = gaussian_data(seed=2, n_seq=1, length=int(lengths.sum()))
    whole = general_model().fit(X, lengths, max_iter=8, tol=None)
    parts = general_model().fit(X, lengths, max_iter=8, tol=None, batch_size=batch_size)
    np.testing.assert_allclose(model_params(parts), model_params(whole), rtol=1e-10, atol=0)


class Recording(ss.HiddenMarkovModel):
    """Records the lengths of every batch the engine summarizes."""

    seen: list = []

    def summarize(self, X, lengths=None, *, sample_weight=None, accumulate=True):
        Recording.seen.append((X.shape[0], np.array(lengths)))
        return super().summarize(X, lengths, sample_weight=sample_weight, accumulate=accumulate)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_sequence_is_never_split(tmp_path, monkeypatch, n_jobs):
    rng = np.random.default_rng(6)
    lengths = rng.integers(1, 120, size=57)
    X, _ = gaussian_data(seed=3, n_seq=1, length=int(lengths.sum()))
    path = tmp_path / "x.npy"
    np.save(path, X)
    monkeypatch.setattr(parallel, "PIECE_BYTES", 1000)  # pieces of ~40 rows: many cuts to place
    for source in (X, str(path)):
        Recording.seen = []
        m = Recording([ss.MultivariateNormal(mu, np.ones(D), covariance_type="diag") for mu in START["means_"]])
        m.fit(source, lengths, max_iter=2, tol=None, batch_size=5, n_jobs=n_jobs)
        per_pass = Recording.seen[: len(Recording.seen) // 2]  # threads record in completion order
        bounds = set(np.concatenate([[0], np.cumsum(lengths)]).tolist())
        for rows, lens in per_pass:
            assert rows == lens.sum()
            runs = [i for i in range(len(lengths) - len(lens) + 1)
                    if np.array_equal(lengths[i : i + len(lens)], lens)]
            assert runs, "a batch's lengths are not a run of consecutive sequences"
        assert sum(rows for rows, _ in per_pass) == lengths.sum() and len(bounds) == len(lengths) + 1
        np.testing.assert_array_equal(np.sort(np.concatenate([lens for _, lens in per_pass])),
                                      np.sort(lengths))
        if source is X:
            assert len(per_pass) == 12  # 57 sequences in batches of 5
        else:
            assert len(per_pass) > 12  # file batches are cut into pieces, between sequences


class Interrupt(ss.Callback):
    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, logs):
        if logs["iteration"] == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("algorithm", ["em", "stepwise", "memoized"])
def test_resume_after_an_interrupted_fit_is_bitwise(tmp_path, data, algorithm):
    kw = dict(max_iter=6, tol=None, batch_size=8, algorithm=algorithm, random_state=0)
    straight = general_model().fit(data, LENGTHS, **kw)
    out = tmp_path / "laps"
    m = general_model()
    with pytest.raises(KeyboardInterrupt):
        m.fit(data, LENGTHS, output_path=out, callbacks=[Interrupt(3)], **kw)
    assert ss.snapshots.snapshot_laps(out) == [1, 2]  # lap 3 is interrupted before its snapshot
    resumed = general_model().fit(data, LENGTHS, output_path=out, resume=True, **kw)
    np.testing.assert_array_equal(model_params(resumed), model_params(straight))
    assert [h["log_likelihood"] for h in resumed.history_] == [h["log_likelihood"] for h in straight.history_]
    assert isinstance(ss.load_model_at_lap(out), ss.HiddenMarkovModel)


def test_face_resume_is_bitwise_and_refuses_other_sequences(tmp_path, data):
    straight = started(ss.GaussianHMM, "full", batch_size=10)
    straight.n_iter = 6
    straight.fit(data, LENGTHS)
    first = started(ss.GaussianHMM, "full", batch_size=10, output_path=tmp_path)
    first.n_iter = 3
    first.fit(data, LENGTHS)
    again = started(ss.GaussianHMM, "full", batch_size=10, output_path=tmp_path, resume=True)
    again.n_iter = 6
    again.fit(data, LENGTHS)
    for a, b in zip(face_params(again), face_params(straight), strict=True):
        np.testing.assert_array_equal(a, b)
    other = started(ss.GaussianHMM, "full", batch_size=10, output_path=tmp_path, resume=True)
    with pytest.raises(ss.ParameterError, match="sequences="):
        other.fit(data, [LENGTH // 2] * (2 * N_SEQ))


def test_long_sequence_does_not_underflow():
    """One sequence of 100,000 steps: the scaled pass gives hmmlearn's log-space value."""
    X, _ = gaussian_data(seed=7, n_seq=1, length=100_000)
    m = general_model()
    ll = m.log_probability(X)
    assert ll.shape == (1,) and np.isfinite(ll[0]) and ll[0] < -1e5
    ref = hmmlearn_hmm.GaussianHMM(K, covariance_type="diag", init_params="")
    ref.startprob_, ref.transmat_ = m.starts, m.transitions
    ref.means_ = np.array([d.mean for d in m.distributions])
    ref.covars_ = np.array([d.cov for d in m.distributions])
    assert ll[0] == pytest.approx(ref.score(X), rel=1e-10)
    post = m.predict_proba(X)
    assert np.isfinite(post).all() and np.allclose(post.sum(axis=1), 1.0)
    m.fit(X, max_iter=3, tol=None)
    assert np.isfinite(model_params(m)).all()


def test_an_empty_transition_row_raises_naming_it():
    """State 2 cannot be reached: its transition row has no counts (would be 0/0 = NaN)."""
    X, _ = gaussian_data(seed=8, n_seq=10, length=50)
    trans = np.array([[0.7, 0.3, 0.0], [0.4, 0.6, 0.0], [0.3, 0.3, 0.4]])
    m = ss.HiddenMarkovModel([ss.MultivariateNormal(mu, np.eye(D)) for mu in TRUE_MEANS],
                             transitions=trans, starts=[0.5, 0.5, 0.0])
    before = model_params(m)
    with pytest.raises(ss.ParameterError, match=re.escape("transition probabilities of row 2 would be "
                                                          "all zero (state 2 is never occupied")):
        m.fit(X, [50] * 10, max_iter=3)
    np.testing.assert_array_equal(model_params(m), before)
    # a pseudocount (a Dirichlet prior above 1) keeps the row valid
    m = ss.HiddenMarkovModel([ss.MultivariateNormal(mu, np.eye(D)) for mu in TRUE_MEANS],
                             transitions=trans, starts=[0.5, 0.5, 0.0], transition_prior=2.0)
    m.fit(X, [50] * 10, max_iter=3, tol=None)
    np.testing.assert_allclose(m.transitions[2].sum(), 1.0)
    assert np.isfinite(m.transitions).all()


def test_a_start_vector_that_would_vanish_raises():
    X, _ = gaussian_data(seed=9, n_seq=1, length=30)
    m = general_model()
    m2 = ss.HiddenMarkovModel(m.distributions, transitions=m.transitions, starts=[1 / 3] * 3,
                              start_prior=0.0)
    gamma0 = m2.predict_proba(X)[0]
    assert gamma0.max() < 1.0  # max(count - 1, 0) is 0 for every state
    with pytest.raises(ss.ParameterError, match="start probabilities would be all zero"):
        m2.fit(X, max_iter=2)


def test_hmmlearn_face_guards_an_empty_state(data):
    m = started(ss.GaussianHMM, "diag", params="mc")  # transitions fixed: the emission guard
    m.startprob_ = np.array([0.5, 0.5, 0.0])
    m.transmat_ = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.3, 0.3, 0.4]])
    with pytest.raises(ss.ParameterError, match="state 2 received no posterior weight"):
        m.fit(data, LENGTHS)
    assert not hasattr(m, "monitor_")


@pytest.mark.parametrize("lengths, message", [
    ([LENGTH] * (N_SEQ - 1), f"lengths must sum to the number of rows of X ({N_SEQ * LENGTH}); they sum to"),
    ([LENGTH, -3] + [LENGTH] * (N_SEQ - 2) + [LENGTH + 3], "lengths must be positive; got -3 at index 1"),
    ([[LENGTH] * N_SEQ], "lengths must be 1-dimensional"),
    ([150.5] * N_SEQ, "lengths must hold whole numbers; got 150.5 at index 0"),
])
def test_bad_lengths_raise_and_leave_the_model_unchanged(data, lengths, message):
    m = general_model()
    before = model_params(m)
    with pytest.raises(ss.DataError, match=re.escape(message)):
        m.fit(data, lengths)
    np.testing.assert_array_equal(model_params(m), before)
    face = started(ss.GaussianHMM, "diag")
    with pytest.raises(ss.DataError, match=re.escape(message)):
        face.fit(data, lengths)
    np.testing.assert_array_equal(face.means_, START["means_"])
    assert not hasattr(face, "monitor_")


def test_empty_input_is_a_clear_error():
    m = general_model()
    with pytest.raises(ss.DataError, match="X has no rows: give at least one sequence"):
        m.fit(np.zeros((0, D)))
    with pytest.raises(ss.DataError, match="X has no rows"):
        started(ss.GaussianHMM, "diag").fit(np.zeros((0, D)))


def test_nan_raises_naming_the_row_and_leaves_the_model_unchanged(data, tmp_path):
    bad = data.copy()
    bad[4321, 1] = np.nan
    m = general_model()
    before = model_params(m)
    with pytest.raises(ss.DataError, match="NaN at row 4321"):
        m.fit(bad, LENGTHS, batch_size=7)
    np.testing.assert_array_equal(model_params(m), before)
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    face = started(ss.GaussianHMM, "full", n_jobs=2, batch_size=5)
    with pytest.raises(ss.DataError, match="NaN at row 4321"):
        face.fit(str(path), LENGTHS)
    np.testing.assert_array_equal(face.means_, START["means_"])


def test_an_impossible_sequence_is_a_clear_error():
    m = ss.HiddenMarkovModel([ss.Poisson(1.0), ss.Poisson(3.0)])
    with pytest.raises(ss.DataError, match="negative"):
        m.fit(np.array([0.0, 1.0, -1.0, 2.0]), [2, 2])
    m = ss.HiddenMarkovModel([ss.Categorical([0.5, 0.5, 0.0]), ss.Categorical([0.3, 0.7, 0.0])])
    with pytest.raises(ss.DataError, match="sequence 1 has probability 0 under the model.*row 3"):
        m.summarize(np.array([0.0, 1.0, 1.0, 2.0]), lengths=[2, 2])
    assert np.isneginf(m.log_probability(np.array([0.0, 1.0, 1.0, 2.0]), [2, 2])[1])


def test_save_load_round_trip_without_pickle(tmp_path, data):
    m = general_model().fit(data, LENGTHS, max_iter=3, tol=None)
    path = tmp_path / "hmm.npz"
    m.save(path)
    back = ss.load(path)
    assert isinstance(back, ss.HiddenMarkovModel)
    np.testing.assert_array_equal(model_params(back), model_params(m))
    np.testing.assert_array_equal(back.predict(data, LENGTHS), m.predict(data, LENGTHS))
    np.testing.assert_array_equal(back.log_probability(data, LENGTHS), m.log_probability(data, LENGTHS))
    with np.load(path, allow_pickle=False) as z:
        assert "__header__" in z.files


def test_named_start_of_unfitted_emissions_and_sampling():
    X, states = gaussian_data(seed=10)
    assert X.shape == (N_SEQ * LENGTH, D) and states.shape == (N_SEQ * LENGTH,)
    m = ss.HiddenMarkovModel([ss.MultivariateNormal() for _ in range(K)])
    m.fit(X, LENGTHS, random_state=0, max_iter=30)
    order = np.argsort([d.mean[0] for d in m.distributions])
    np.testing.assert_allclose(np.array([m.distributions[i].mean for i in order]),
                               TRUE_MEANS[np.argsort(TRUE_MEANS[:, 0])], atol=0.15)
    np.testing.assert_allclose(m.transitions[np.ix_(order, order)],
                               TRUE_TRANS[np.ix_(np.argsort(TRUE_MEANS[:, 0]), np.argsort(TRUE_MEANS[:, 0]))],
                               atol=0.03)
    accuracy = np.mean(np.argsort(order)[m.predict(X, LENGTHS)] == np.argsort(np.argsort(TRUE_MEANS[:, 0]))[states])
    assert accuracy > 0.97


@pytest.mark.parametrize("algorithm", ["stepwise", "memoized"])
def test_stochastic_algorithms_fit(data, algorithm):
    m = general_model().fit(data, LENGTHS, algorithm=algorithm, batch_size=6, max_iter=8, tol=None,
                            random_state=0)
    lls = [h["mean_log_likelihood"] for h in m.history_]
    assert lls[-1] > lls[0]
    ref = general_model().fit(data, LENGTHS, max_iter=50, tol=1e-9)
    assert abs(m.score(data, LENGTHS) - ref.score(data, LENGTHS)) < 1e-3 * abs(ref.score(data, LENGTHS))


def test_a_dask_cluster_gives_bitwise_the_same_fit(tmp_path, data):
    """Work items are (source spec, row range) with the sequence boundaries in the spec:
    the workers read their own whole sequences."""
    distributed = pytest.importorskip("distributed")
    import joblib

    path = tmp_path / "x.npy"
    np.save(path, data)
    reference = general_model().fit(str(path), LENGTHS, max_iter=3, tol=None, batch_size=12)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            on_dask = general_model().fit(str(path), LENGTHS, max_iter=3, tol=None, batch_size=12,
                                          n_jobs=2)
    np.testing.assert_array_equal(model_params(on_dask), model_params(reference))


def test_face_accepts_a_memmap_and_samples(tmp_path, data):
    path = tmp_path / "x.npy"
    np.save(path, data)
    mm = np.load(path, mmap_mode="r")
    a = started(ss.GaussianHMM, "diag", batch_size=11).fit(mm, LENGTHS)
    b = started(ss.GaussianHMM, "diag", batch_size=11).fit(data, LENGTHS)
    np.testing.assert_array_equal(a.means_, b.means_)
    X, Z = a.sample(500, random_state=0)
    assert X.shape == (500, D) and Z.shape == (500,)
    X2, Z2 = a.sample(5, random_state=0, currstate=2)
    assert Z2[0] == 2
    logprob, post = a.score_samples(data[:300], [150, 150])
    assert np.isfinite(logprob) and post.shape == (300, K)
    ss_sklearn = pytest.importorskip("sklearn.base")
    clone = ss_sklearn.clone(a)
    assert clone.get_params()["covariance_type"] == "diag" and not hasattr(clone, "monitor_")


def test_mixture_emissions():
    """Emissions may be mixtures: each state's GeneralMixtureModel summarizes its rows
    weighted by the state's posteriors, and EM never decreases the log-likelihood."""
    X, _ = gaussian_data(seed=11, n_seq=20, length=100)
    states = [ss.GeneralMixtureModel([ss.MultivariateNormal(m + s, np.eye(D)) for s in (-0.5, 0.5)])
              for m in START["means_"]]
    m = ss.HiddenMarkovModel(states, transitions=START["transmat_"])
    m.fit(X, [100] * 20, max_iter=5, tol=None, batch_size=3)
    lls = [h["log_likelihood"] for h in m.history_]
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(lls, lls[1:]))
    back = ss.HiddenMarkovModel.from_dict(m.to_dict())
    np.testing.assert_array_equal(back.log_probability(X, [100] * 20), m.log_probability(X, [100] * 20))


def test_an_hmm_is_a_learner_and_the_faces_sample_integers():
    from suffstat.fitting.learner import PROTOCOL, Learner

    m = general_model()
    assert isinstance(m, Learner)
    for name in PROTOCOL:
        assert hasattr(m, name), name
    cat = ss.CategoricalHMM(2, init_params="", n_iter=2)
    cat.startprob_, cat.transmat_ = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]])
    cat.emissionprob_ = np.array([[0.8, 0.2, 0.0], [0.0, 0.3, 0.7]])
    X, Z = cat.sample(200, random_state=0)
    assert X.dtype.kind == "i" and X.shape == (200, 1) and set(np.unique(X)) <= {0, 1, 2}
    assert np.all(X[Z == 0] < 2) and np.all(X[Z == 1] > 0)
    pois = ss.PoissonHMM(2, init_params="")
    pois.startprob_, pois.transmat_ = cat.startprob_, cat.transmat_
    pois.lambdas_ = np.array([[1.0, 5.0], [9.0, 2.0]])
    X, Z = pois.sample(100, random_state=0)
    assert X.dtype.kind == "i" and X.shape == (100, 2)


# -- the fused Gaussian emissions ------------------------------------------------------------


def _gaussian_model(ctype, seed=0, far=None):
    rng = np.random.default_rng(seed)
    dists = []
    for j, m in enumerate(START["means_"]):
        if ctype == "full":
            a = rng.normal(size=(D, D)) * 0.3
            cov = np.eye(D) * (0.5 + 0.3 * j) + a @ a.T
        elif ctype == "diag":
            cov = 0.5 + rng.random(D)
        else:
            cov = 0.5 + 0.3 * j
        mean = m if far is None else m + far
        dists.append(ss.MultivariateNormal(mean, cov, covariance_type=ctype))
    return ss.HiddenMarkovModel(dists, transitions=START["transmat_"], starts=START["startprob_"])


def _general(model):
    forced = model.copy()
    forced._fuse_gaussian = False
    return forced


def _assert_records_close(fused, general, rtol=1e-12):
    """Two moment records of the same rows agree to rtol (relative to the data's scale: a
    first moment about a mean near the data's is a sum that cancels)."""
    assert np.array_equal(fused.shift, general.shift)
    np.testing.assert_allclose(fused.w_sum, general.w_sum, rtol=rtol, atol=0)
    scale = float(np.sqrt(np.abs(np.atleast_2d(general.xxw_sum)).max() * general.w_sum))
    np.testing.assert_allclose(fused.xw_sum, general.xw_sum, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(fused.xxw_sum, general.xxw_sum, rtol=0,
                               atol=rtol * np.abs(general.xxw_sum).max())


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical"])
def test_fused_gaussian_emissions_match_the_general_path(data, ctype, monkeypatch):
    model = _gaussian_model(ctype)
    general = _general(model)
    assert model._layout() is not None and general._layout() is None
    a = model.summarize(data, LENGTHS, accumulate=False)
    b = general.summarize(data, LENGTHS, accumulate=False)
    np.testing.assert_allclose(a.log_likelihood, b.log_likelihood, rtol=1e-12)
    np.testing.assert_allclose(a.start, b.start, rtol=1e-12)
    np.testing.assert_allclose(a.trans, b.trans, rtol=1e-12)
    for pa, pb in zip(a.parts, b.parts, strict=True):
        _assert_records_close(pa, pb)
    np.testing.assert_allclose(model.log_probability(data, LENGTHS),
                               general.log_probability(data, LENGTHS), rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(data, LENGTHS),
                               general.predict_proba(data, LENGTHS), rtol=0, atol=1e-12)
    pa, la = model.viterbi(data, LENGTHS)
    pb, lb = general.viterbi(data, LENGTHS)
    assert np.array_equal(pa, pb)
    np.testing.assert_allclose(la, lb, rtol=1e-12)
    calls = []
    estep = ss.hmm.model._GaussianLayout.estep
    monkeypatch.setattr(ss.hmm.model._GaussianLayout, "estep",
                        lambda self, *a: calls.append(1) or estep(self, *a))
    fb = general.fit(data, LENGTHS, max_iter=5, tol=None)
    assert not calls  # the forced fit took the general path all along
    fa = model.copy().fit(data, LENGTHS, max_iter=5, tol=None)
    assert len(calls) >= 5
    np.testing.assert_allclose(fa.lower_bound_, fb.lower_bound_, rtol=1e-12)
    for da, db in zip(fa.distributions, fb.distributions, strict=True):
        np.testing.assert_allclose(da.mean, db.mean, rtol=1e-11)
        np.testing.assert_allclose(da.cov, db.cov, rtol=1e-11)


@pytest.mark.parametrize("ctype", ["full", "diag"])
def test_fused_gaussian_records_match_each_states_summary_for_any_weights(ctype):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1234, D)) * [1.0, 10.0, 0.1] + [5.0, -200.0, 0.0]
    model = _gaussian_model(ctype)
    layout = model._layout()
    w = rng.random((K, X.shape[0])) * (rng.random((K, X.shape[0])) > 0.3)  # zeros too
    w[1, 600:] = 0.0  # whole blocks without weight
    w = np.ascontiguousarray(w)
    fused = layout.records(X, w, model.distributions)
    for c, d in enumerate(model.distributions):
        _assert_records_close(fused[c], d._summarize(X, w[c]))


def test_fused_gaussian_path_recentres_a_far_state_like_its_own_summary(data):
    # A start 1e6 away from the data: the state's own summary centres again on the rows
    model = _gaussian_model("diag", far=np.array([1e6, 0.0, 0.0]))
    layout = model._layout()
    rng = np.random.default_rng(0)
    w = np.ascontiguousarray(rng.random((K, data.shape[0])))
    fused = layout.records(data, w, model.distributions)
    for c, d in enumerate(model.distributions):
        own = d._summarize(data, w[c])
        assert not np.array_equal(own.shift, d.mean)  # the own summary moved
        assert np.array_equal(fused[c].shift, own.shift)
        assert np.array_equal(fused[c].xxw_sum, own.xxw_sum)


def test_other_emissions_take_the_general_path():
    mvn = [ss.MultivariateNormal(m, np.eye(D)) for m in START["means_"]]
    mixed = ss.HiddenMarkovModel(mvn[:2] + [ss.MultivariateNormal(START["means_"][2], np.ones(D),
                                                                  covariance_type="diag")])
    assert mixed._layout() is None  # full and diagonal forms do not share a layout
    ind = ss.HiddenMarkovModel(mvn[:2] + [ss.IndependentComponents([ss.Normal(0.0, 1.0)] * D)])
    assert ind._layout() is None
    unfitted = ss.HiddenMarkovModel([ss.MultivariateNormal() for _ in range(K)])
    assert unfitted._layout() is None
    assert ss.HiddenMarkovModel(mvn)._layout() is not None


@pytest.mark.parametrize("chunk", [149, 1000, 1 << 30])
@pytest.mark.parametrize("ctype", ["full", "diag"])
def test_fused_estep_over_chunks_of_sequences_matches_the_general_path(data, ctype, chunk,
                                                                      monkeypatch):
    # chunks of whole sequences: shorter than a sequence, several sequences, the whole batch
    monkeypatch.setattr(ss.hmm.model, "CHUNK_ROWS", chunk)
    lengths = [150] * 20 + [1, 2, 897] + [150] * 34  # 9000 rows, uneven sequences too
    model = _gaussian_model(ctype)
    a = model.summarize(data, lengths, accumulate=False)
    b = _general(model).summarize(data, lengths, accumulate=False)
    np.testing.assert_allclose(a.log_likelihood, b.log_likelihood, rtol=1e-12)
    np.testing.assert_allclose(a.start, b.start, rtol=1e-12)
    np.testing.assert_allclose(a.trans, b.trans, rtol=1e-12)
    for pa, pb in zip(a.parts, b.parts, strict=True):
        _assert_records_close(pa, pb)


def test_fused_estep_recentres_and_reports_impossible_rows_like_the_general_path(data, monkeypatch):
    monkeypatch.setattr(ss.hmm.model, "CHUNK_ROWS", 1000)
    far = _gaussian_model("full", far=np.array([0.0, 1e5, 0.0]))  # summaries centre again
    a = far.summarize(data, LENGTHS, accumulate=False)
    b = _general(far).summarize(data, LENGTHS, accumulate=False)
    np.testing.assert_allclose(a.log_likelihood, b.log_likelihood, rtol=1e-12)
    moved = 0
    for c, (pa, pb) in enumerate(zip(a.parts, b.parts, strict=True)):
        moved += not np.array_equal(pb.shift, far.distributions[c].mean)
        _assert_records_close(pa, pb)
    assert moved  # the states that received rows
    X = data.copy()
    X[7000, 1] = 1e160  # no state can produce it: its squared distance overflows
    model = _gaussian_model("diag")
    for m in (model, _general(model)):
        with pytest.raises(ss.DataError,
                           match="sequence 46 has probability 0 under the model.*row 7000"):
            m.summarize(X, LENGTHS)
        assert m._pending is None
