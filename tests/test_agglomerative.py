"""StreamingAgglomerative (issue 16) against a slow reference of the published rules."""

from __future__ import annotations

import numpy as np
import pytest

import suffstat as ss
from suffstat.exceptions import DataError, NotFittedError, ParameterError


# -- a straightforward O(k^2 d) reference, slot by slot -------------------------------------------

def _costs(counts, means, ward):
    """The full matrix of merge costs; +inf on and below the diagonal.

    The squared distance is summed over the features in order (vectorised over the
    pairs), as the kernel does, so that exact ties stay exact ties.
    """
    M = np.array(means)
    n = np.array(counts, dtype=np.float64)
    D = np.zeros((len(M), len(M)))
    for t in range(M.shape[1]):
        diff = M[:, None, t] - M[None, :, t]
        D = D + diff * diff
    if ward:
        D = (n[:, None] * n[None, :] / (n[:, None] + n[None, :])) * D
    D[np.tril_indices(len(M))] = np.inf
    return D


def _closest_pair(counts, means, ward):
    D = _costs(counts, means, ward)
    flat = int(np.argmin(D))  # the first pair of smallest cost in row-major order
    return divmod(flat, D.shape[1])


def _merge(slots, i, j):
    counts, means, members = slots
    na, nb = counts[i], counts[j]
    means[i] = (na * means[i] + nb * means[j]) / (na + nb)
    counts[i] = na + nb
    members[i] = members[i] + members[j]


def _move_last_into(slots, j):
    for lst in slots:
        last = lst.pop()
        if j < len(lst):
            lst[j] = last


def reference(X, k, rule="faddc", linkage="centroid", slots=None, w=None):
    """The rule of issue 16 on the rows of X; returns (counts, means, members) lists.

    With weights ``w``, row ``t`` arrives as one summary of count ``w[t]``; a row of
    weight 0 is skipped.
    """
    ward = linkage == "ward"
    counts, means, members = slots if slots is not None else ([], [], [])
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(len(X)) if w is None else np.asarray(w, dtype=np.float64)
    for t, x in enumerate(X):
        if w[t] == 0:
            continue
        if len(counts) < k:
            counts.append(w[t]), means.append(x.copy()), members.append([t])
        elif rule == "faddc":
            i, j = _closest_pair(counts, means, ward)
            _merge((counts, means, members), i, j)
            counts[j], means[j], members[j] = w[t], x.copy(), [t]
        else:
            counts.append(w[t]), means.append(x.copy()), members.append([t])
            i, j = _closest_pair(counts, means, ward)
            _merge((counts, means, members), i, j)
            _move_last_into((counts, means, members), j)
    return counts, means, members


def reference_union(slots_a, slots_b, k, linkage="centroid"):
    counts = list(slots_a[0]) + list(slots_b[0])
    means = [m.copy() for m in slots_a[1]] + [m.copy() for m in slots_b[1]]
    members = [list(m) for m in slots_a[2]] + [list(m) for m in slots_b[2]]
    while len(counts) > k:
        i, j = _closest_pair(counts, means, linkage == "ward")
        _merge((counts, means, members), i, j)
        _move_last_into((counts, means, members), j)
    return counts, means, members


def _check_against(model, ref, X, w=None):
    """Slots in the reference's order; counts, centroids and records (against numpy)."""
    counts, means, members = ref
    w = np.ones(len(X)) if w is None else np.asarray(w, dtype=np.float64)
    if np.array_equal(w, np.round(w)):  # integer weights: the counts are exact
        np.testing.assert_array_equal(model.counts_, np.array(counts))
    else:
        np.testing.assert_allclose(model.counts_, np.array(counts), rtol=1e-13)
    np.testing.assert_allclose(model.cluster_centers_, np.array(means), rtol=0, atol=1e-10)
    assert len(model.summaries_) == len(members)
    for rec, rows in zip(model.summaries_, members, strict=True):
        pts, wts = X[rows], w[rows]
        np.testing.assert_allclose(rec.w_sum, wts.sum(), rtol=1e-13)
        mean = (wts[:, None] * pts).sum(axis=0) / wts.sum()
        np.testing.assert_allclose(rec.mean(), mean, rtol=1e-12, atol=1e-12)
        centred = pts - mean
        np.testing.assert_allclose(rec.xxw_sum, (wts[:, None] * centred).T @ centred,
                                   rtol=1e-10, atol=1e-10)


RULES = [("faddc", "centroid"), ("faddc", "ward"), ("insert-merge", "centroid"),
         ("insert-merge", "ward")]


# -- the rule against the reference ---------------------------------------------------------------

@pytest.mark.parametrize("rule,linkage", RULES)
@pytest.mark.parametrize("k,d", [(2, 1), (3, 2), (5, 3), (8, 10)])
def test_rule_matches_the_reference(rule, linkage, k, d):
    X = np.random.default_rng(k * 10 + d).normal(size=(150, d)) * np.arange(1, d + 1)
    model = ss.StreamingAgglomerative(k, rule=rule, linkage=linkage).fit(X)
    _check_against(model, reference(X, k, rule, linkage), X)


@pytest.mark.parametrize("rule,linkage", RULES)
def test_exact_ties_follow_row_major_order(rule, linkage):
    """Integer data is full of equal costs (and duplicate points): the reference's tie rule holds."""
    X = np.random.default_rng(3).integers(0, 4, size=(300, 2)).astype(np.float64)
    model = ss.StreamingAgglomerative(5, rule=rule, linkage=linkage).fit(X)
    counts, means, members = reference(X, 5, rule, linkage)
    np.testing.assert_array_equal(model.counts_, counts)
    np.testing.assert_array_equal(model.cluster_centers_, np.array(means))


def test_faddc_tie_by_hand():
    # slots [0], [1], [2]; at 10 the pairs (0, 1) and (1, 2) tie at 1: (0, 1) merges into
    # slot 0 and the point takes slot 1
    model = ss.StreamingAgglomerative(3).fit([[0.0], [1.0], [2.0], [10.0]])
    np.testing.assert_array_equal(model.cluster_centers_, [[0.5], [10.0], [2.0]])
    np.testing.assert_array_equal(model.counts_, [2, 1, 1])


def test_insert_merge_tie_by_hand():
    # slots [0], [1]; 2 is inserted as slot 2; (0, 1) and (1, 2) tie: (0, 1) merges into
    # slot 0 and the point moves into the freed slot 1
    model = ss.StreamingAgglomerative(2, rule="insert-merge").fit([[0.0], [1.0], [2.0]])
    np.testing.assert_array_equal(model.cluster_centers_, [[0.5], [2.0]])
    np.testing.assert_array_equal(model.counts_, [2, 1])


def test_the_newest_point_keeps_a_centroid_under_faddc():
    X = np.random.default_rng(1).normal(size=(200, 2))
    model = ss.StreamingAgglomerative(4).fit(X)
    assert any(np.array_equal(c, X[-1]) for c in model.cluster_centers_)


def test_ward_keeps_small_clusters_from_being_absorbed():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(500, 2)), rng.normal(5.0, 0.1, size=(100, 2))])
    X = X[rng.permutation(len(X))]
    ward = ss.StreamingAgglomerative(4, rule="insert-merge", linkage="ward").fit(X)
    near = np.linalg.norm(ward.cluster_centers_ - 5.0, axis=1) < 0.3
    assert ward.counts_[near].sum() >= 90


def test_fewer_points_than_slots():
    model = ss.StreamingAgglomerative(5).fit([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(model.cluster_centers_, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(model.counts_, [1, 1])
    np.testing.assert_array_equal(model.covariances_, np.zeros((2, 2, 2)))


def test_offset_data_keeps_its_scatter():
    """The summaries hold the scatter about the centroid, so 1e8 + N(0, 1) loses nothing."""
    X = 1e8 + np.random.default_rng(0).normal(size=(400, 2))
    model = ss.StreamingAgglomerative(1, rule="insert-merge").fit(X)
    np.testing.assert_allclose(model.covariances_[0], np.cov(X.T, bias=True), rtol=1e-6)


# -- predict, transform, score ---------------------------------------------------------------------

def test_predict_transform_score_against_numpy():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    model = ss.StreamingAgglomerative(6, rule="insert-merge").fit(X)
    Y = rng.normal(size=(50, 3))
    dist = np.sqrt(((Y[:, None, :] - model.cluster_centers_[None]) ** 2).sum(axis=2))
    np.testing.assert_allclose(model.transform(Y), dist, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(Y), dist.argmin(axis=1))
    np.testing.assert_allclose(model.score(Y), -(dist.min(axis=1) ** 2).sum(), rtol=1e-12)


# -- streaming, chunks, threads, merging -------------------------------------------------------------

@pytest.mark.parametrize("rule,linkage", RULES[:3])
def test_partial_fit_on_chunks_equals_fit(rule, linkage):
    X = np.random.default_rng(4).normal(size=(500, 3))
    whole = ss.StreamingAgglomerative(7, rule=rule, linkage=linkage).fit(X)
    parts = ss.StreamingAgglomerative(7, rule=rule, linkage=linkage)
    for a, b in [(0, 3), (3, 100), (100, 101), (101, 500)]:
        parts.partial_fit(X[a:b])
    np.testing.assert_array_equal(parts.cluster_centers_, whole.cluster_centers_)
    np.testing.assert_array_equal(parts.counts_, whole.counts_)
    np.testing.assert_array_equal(parts.covariances_, whole.covariances_)
    assert parts.n_samples_seen_ == 500


@pytest.mark.parametrize("batch_size", [None, 64])
def test_npy_path_and_memmap_equal_in_memory(tmp_path, batch_size):
    X = np.random.default_rng(5).normal(size=(700, 4))
    path = tmp_path / "x.npy"
    np.save(path, X)
    mem = ss.StreamingAgglomerative(6, batch_size=batch_size).fit(X)
    for src in (str(path), np.load(path, mmap_mode="r")):
        got = ss.StreamingAgglomerative(6, batch_size=batch_size).fit(src)
        np.testing.assert_array_equal(got.cluster_centers_, mem.cluster_centers_)
        np.testing.assert_array_equal(got.covariances_, mem.covariances_)


def test_sequential_streaming_reads_in_batches_and_equals_in_memory(tmp_path, monkeypatch):
    from suffstat import sources

    monkeypatch.setattr(sources, "DEFAULT_BATCH_BYTES", 8 * 4 * 50)  # the floor: 1024 rows
    X = np.random.default_rng(6).normal(size=(2500, 4))
    path = tmp_path / "x.npy"
    np.save(path, X)
    assert sources.as_source(str(path)).default_batch_size() == 1024  # three batches
    got = ss.StreamingAgglomerative(5, rule="insert-merge").fit(str(path))
    _check_against(got, reference(X, 5, "insert-merge"), X)


@pytest.mark.parametrize("n_jobs", [2, 3])
def test_batched_mode_is_bitwise_the_same_for_every_n_jobs(n_jobs):
    X = np.random.default_rng(7).normal(size=(2000, 3))
    one = ss.StreamingAgglomerative(8, rule="insert-merge", linkage="ward", batch_size=256).fit(X)
    many = ss.StreamingAgglomerative(8, rule="insert-merge", linkage="ward", batch_size=256,
                                     n_jobs=n_jobs).fit(X)
    np.testing.assert_array_equal(many.cluster_centers_, one.cluster_centers_)
    np.testing.assert_array_equal(many.covariances_, one.covariances_)
    np.testing.assert_array_equal(many.counts_, one.counts_)


def test_batched_mode_is_batches_agglomerated_then_merged_in_order():
    X = np.random.default_rng(8).normal(size=(300, 2))
    got = ss.StreamingAgglomerative(4, batch_size=100).fit(X)
    slots = reference(X[:100], 4)
    for a in (100, 200):
        part = reference(X[a : a + 100], 4)
        part = (part[0], part[1], [[r + a for r in m] for m in part[2]])
        slots = reference_union(slots, part, 4)
    _check_against(got, slots, X)


@pytest.mark.parametrize("linkage", ["centroid", "ward"])
def test_merge_equals_agglomerating_the_union_of_summaries(linkage):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(400, 3))
    a = ss.StreamingAgglomerative(5, rule="insert-merge", linkage=linkage).fit(X[:250])
    b = ss.StreamingAgglomerative(5, rule="insert-merge", linkage=linkage).fit(X[250:])
    ref_a = reference(X[:250], 5, "insert-merge", linkage)
    ref_b = reference(X[250:], 5, "insert-merge", linkage)
    ref_b = (ref_b[0], ref_b[1], [[r + 250 for r in m] for m in ref_b[2]])
    before = a.cluster_centers_.copy()
    merged = a.merge(b)
    _check_against(merged, reference_union(ref_a, ref_b, 5, linkage), X)
    np.testing.assert_array_equal(a.cluster_centers_, before)  # neither input changes
    assert merged.n_samples_seen_ == 400
    # a merge of records: the total record is the sum of both models' records
    total = sum(merged.summaries_[1:], merged.summaries_[0])
    expected = sum(a.summaries_ + b.summaries_[1:], b.summaries_[0])
    assert total.allclose(expected, rtol=1e-9, atol=1e-9)


@pytest.mark.filterwarnings("ignore:EM did not converge")
def test_to_mixture_components_are_the_summaries():
    X = np.random.default_rng(10).normal(size=(300, 2))
    model = ss.StreamingAgglomerative(4, rule="insert-merge", linkage="ward").fit(X)
    mix = model.to_mixture(reg_covar=1e-3)
    assert isinstance(mix, ss.GeneralMixtureModel)
    np.testing.assert_allclose(mix.weights, model.counts_ / 300, rtol=1e-12)
    for comp, rec in zip(mix.distributions, model.summaries_, strict=True):
        np.testing.assert_allclose(comp.mean, rec.mean(), rtol=1e-12)
        np.testing.assert_allclose(comp.cov, rec.scatter() + 1e-3 * np.eye(2), rtol=1e-10)
    # usable as an EM start
    fitted = ss.GeneralMixtureModel([ss.MultivariateNormal() for _ in range(4)]).fit(
        X, init=mix, max_iter=3)
    assert np.isfinite(fitted.log_probability(X)).all()


def test_get_params_and_clone():
    model = ss.StreamingAgglomerative(3, rule="insert-merge", linkage="ward", batch_size=10, n_jobs=2)
    assert model.get_params() == {"n_clusters": 3, "rule": "insert-merge", "linkage": "ward",
                                  "batch_size": 10, "n_jobs": 2}
    assert model.set_params(n_clusters=4).n_clusters == 4


# -- sample weights -------------------------------------------------------------------------------------

def _weights(n, seed, kind="mixed"):
    """Weights with zeros, integers and fractions (kind='integer': integers 0..4)."""
    rng = np.random.default_rng(seed)
    if kind == "integer":
        return rng.integers(0, 5, size=n).astype(np.float64)
    w = rng.uniform(0.1, 3.0, size=n)
    w[rng.random(n) < 0.2] = 0.0
    w[rng.random(n) < 0.2] = 2.0
    return w


@pytest.mark.parametrize("rule,linkage", RULES)
@pytest.mark.parametrize("k,d,kind", [(3, 2, "mixed"), (5, 3, "integer"), (8, 10, "mixed")])
def test_weighted_rule_matches_the_reference(rule, linkage, k, d, kind):
    """A row of weight w arrives as one summary of count w; weight 0 skips it."""
    X = np.random.default_rng(k * 10 + d).normal(size=(200, d)) * np.arange(1, d + 1)
    w = _weights(len(X), k + d, kind)
    model = ss.StreamingAgglomerative(k, rule=rule, linkage=linkage).fit(X, sample_weight=w)
    _check_against(model, reference(X, k, rule, linkage, w=w), X, w)
    assert model.n_samples_seen_ == 200  # rows of weight 0 included


@pytest.mark.parametrize("rule,linkage", RULES)
def test_unit_weights_are_bitwise_no_weights(rule, linkage):
    X = np.random.default_rng(20).normal(size=(300, 3))
    a = ss.StreamingAgglomerative(6, rule=rule, linkage=linkage).fit(X)
    b = ss.StreamingAgglomerative(6, rule=rule, linkage=linkage).fit(X, sample_weight=np.ones(300))
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    np.testing.assert_array_equal(a.counts_, b.counts_)


@pytest.mark.parametrize("batch_size", [None, 50])
def test_zero_weights_skip_the_row(batch_size):
    X = np.random.default_rng(21).normal(size=(300, 2))
    w = np.where(np.random.default_rng(22).random(300) < 0.3, 0.0, 1.0)
    got = ss.StreamingAgglomerative(5, batch_size=batch_size).fit(X, sample_weight=w)
    if batch_size is None:  # the sequential rule never sees the skipped rows
        kept = ss.StreamingAgglomerative(5).fit(X[w > 0])
    else:  # each batch agglomerates its kept rows
        kept = ss.StreamingAgglomerative(5).fit(X[:50][w[:50] > 0])
        for a in range(50, 300, 50):
            part = ss.StreamingAgglomerative(5).fit(X[a : a + 50][w[a : a + 50] > 0])
            kept = kept.merge(part)
    np.testing.assert_array_equal(got.cluster_centers_, kept.cluster_centers_)
    np.testing.assert_array_equal(got.covariances_, kept.covariances_)
    assert got.counts_.sum() == w.sum()
    assert got.n_samples_seen_ == 300


def test_an_integer_weight_is_w_copies_for_the_records_but_one_arrival_for_the_rule():
    # faddc, k = 2: slots [0], [10]; then 11 of weight 3.
    # Weighted, one arrival: (0, 10) merge into slot 0 (5, count 2); 11 takes slot 1 with count 3.
    X = np.array([[0.0], [10.0], [11.0]])
    one = ss.StreamingAgglomerative(2).fit(X, sample_weight=[1.0, 1.0, 3.0])
    np.testing.assert_array_equal(one.cluster_centers_, [[5.0], [11.0]])
    np.testing.assert_array_equal(one.counts_, [2.0, 3.0])
    # Three copies, three arrivals: each merges the closest pair and the last copy is alone:
    # [5](2), [11]  ->  [7](3), [11]  ->  [8](4), [11](1).
    copies = ss.StreamingAgglomerative(2).fit(np.repeat(X, [1, 1, 3], axis=0))
    np.testing.assert_array_equal(copies.cluster_centers_, [[8.0], [11.0]])
    np.testing.assert_array_equal(copies.counts_, [4.0, 1.0])
    # the records of both are those of the same five points: their sums agree
    tot_one = sum(one.summaries_[1:], one.summaries_[0])
    tot_copies = sum(copies.summaries_[1:], copies.summaries_[0])
    assert tot_one.allclose(tot_copies, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tot_one.mean(), [43.0 / 5])


@pytest.mark.parametrize("rule,linkage", RULES)
def test_integer_weights_against_copies_on_random_data(rule, linkage):
    """Records: the weighted total equals the copies' total. Slots: they differ, but for
    insert-merge with centroid linkage, where the copies join one slot one by one (docs)."""
    X = np.random.default_rng(23).normal(size=(200, 2))
    w = _weights(200, 24, "integer")
    weighted = ss.StreamingAgglomerative(6, rule=rule, linkage=linkage).fit(X, sample_weight=w)
    copies = ss.StreamingAgglomerative(6, rule=rule, linkage=linkage).fit(
        np.repeat(X, w.astype(int), axis=0))
    assert weighted.counts_.sum() == copies.counts_.sum() == w.sum()
    tot_w = sum(weighted.summaries_[1:], weighted.summaries_[0])
    tot_c = sum(copies.summaries_[1:], copies.summaries_[0])
    assert tot_w.allclose(tot_c, rtol=1e-9, atol=1e-9)
    if (rule, linkage) == ("insert-merge", "centroid"):
        np.testing.assert_array_equal(weighted.counts_, copies.counts_)
        np.testing.assert_allclose(weighted.cluster_centers_, copies.cluster_centers_, atol=1e-12)
    else:
        assert not np.array_equal(weighted.counts_, copies.counts_)


def test_weighted_partial_fit_on_chunks_equals_fit():
    X = np.random.default_rng(25).normal(size=(500, 3))
    w = _weights(500, 26)
    whole = ss.StreamingAgglomerative(7, linkage="ward").fit(X, sample_weight=w)
    parts = ss.StreamingAgglomerative(7, linkage="ward")
    for a, b in [(0, 3), (3, 100), (100, 101), (101, 500)]:
        parts.partial_fit(X[a:b], sample_weight=w[a:b])
    np.testing.assert_array_equal(parts.cluster_centers_, whole.cluster_centers_)
    np.testing.assert_array_equal(parts.counts_, whole.counts_)
    np.testing.assert_array_equal(parts.covariances_, whole.covariances_)


@pytest.mark.parametrize("batch_size", [None, 64])
def test_weights_stream_from_npy_and_memmap(tmp_path, monkeypatch, batch_size):
    from suffstat import sources

    monkeypatch.setattr(sources, "DEFAULT_BATCH_BYTES", 8 * 4 * 50)  # 1024-row batches
    X = np.random.default_rng(27).normal(size=(2500, 4))
    w = _weights(2500, 28)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "w.npy", w)
    mem = ss.StreamingAgglomerative(6, batch_size=batch_size).fit(X, sample_weight=w)
    if batch_size is None:
        _check_against(mem, reference(X, 6, w=w), X, w)
    for xs, ws in [(str(tmp_path / "x.npy"), str(tmp_path / "w.npy")),
                   (np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "w.npy", mmap_mode="r")),
                   (X, str(tmp_path / "w.npy"))]:
        got = ss.StreamingAgglomerative(6, batch_size=batch_size).fit(xs, sample_weight=ws)
        np.testing.assert_array_equal(got.cluster_centers_, mem.cluster_centers_)
        np.testing.assert_array_equal(got.covariances_, mem.covariances_)
        np.testing.assert_array_equal(got.counts_, mem.counts_)


@pytest.mark.parametrize("n_jobs", [2, 3])
def test_weighted_batched_mode_is_bitwise_the_same_for_every_n_jobs(n_jobs):
    X = np.random.default_rng(29).normal(size=(2000, 3))
    w = _weights(2000, 30)
    kw = dict(rule="insert-merge", linkage="ward", batch_size=256)
    one = ss.StreamingAgglomerative(8, **kw).fit(X, sample_weight=w)
    many = ss.StreamingAgglomerative(8, n_jobs=n_jobs, **kw).fit(X, sample_weight=w)
    np.testing.assert_array_equal(many.cluster_centers_, one.cluster_centers_)
    np.testing.assert_array_equal(many.covariances_, one.covariances_)
    np.testing.assert_array_equal(many.counts_, one.counts_)


def test_weighted_batched_mode_is_weighted_batches_then_merged_in_order():
    X = np.random.default_rng(31).normal(size=(300, 2))
    w = _weights(300, 32)
    got = ss.StreamingAgglomerative(4, batch_size=100).fit(X, sample_weight=w)
    slots = reference(X[:100], 4, w=w[:100])
    for a in (100, 200):
        part = reference(X[a : a + 100], 4, w=w[a : a + 100])
        part = (part[0], part[1], [[r + a for r in m] for m in part[2]])
        slots = reference_union(slots, part, 4)
    _check_against(got, slots, X, w)


@pytest.mark.parametrize("linkage", ["centroid", "ward"])
def test_weighted_merge_equals_agglomerating_the_union(linkage):
    X = np.random.default_rng(33).normal(size=(400, 3))
    w = _weights(400, 34)
    a = ss.StreamingAgglomerative(5, linkage=linkage).fit(X[:250], sample_weight=w[:250])
    b = ss.StreamingAgglomerative(5, linkage=linkage).fit(X[250:], sample_weight=w[250:])
    ref_a = reference(X[:250], 5, linkage=linkage, w=w[:250])
    ref_b = reference(X[250:], 5, linkage=linkage, w=w[250:])
    ref_b = (ref_b[0], ref_b[1], [[r + 250 for r in m] for m in ref_b[2]])
    merged = a.merge(b)
    _check_against(merged, reference_union(ref_a, ref_b, 5, linkage), X, w)
    total = sum(merged.summaries_[1:], merged.summaries_[0])  # the weighted record of all rows
    np.testing.assert_allclose(total.w_sum, w.sum(), rtol=1e-13)
    np.testing.assert_allclose(total.mean(), (w[:, None] * X).sum(axis=0) / w.sum(), rtol=1e-12)


def test_merge_of_a_clusterer_with_more_slots():
    """other's slots are kept whole and reduced with this clusterer's: the union's capacity grows."""
    X = np.random.default_rng(39).normal(size=(300, 2))
    w = _weights(300, 40)
    a = ss.StreamingAgglomerative(3, linkage="ward").fit(X[:100], sample_weight=w[:100])
    b = ss.StreamingAgglomerative(9, linkage="ward").fit(X[100:], sample_weight=w[100:])
    ref_a = reference(X[:100], 3, linkage="ward", w=w[:100])
    ref_b = reference(X[100:], 9, linkage="ward", w=w[100:])
    ref_b = (ref_b[0], ref_b[1], [[r + 100 for r in m] for m in ref_b[2]])
    merged = a.merge(b)
    union = reference_union(ref_a, ref_b, 3, "ward")
    _check_against(merged, union, X, w)
    # the reduced state feeds on (rows 0..49 again: each is then in two summaries' members)
    merged.partial_fit(X[:50], sample_weight=w[:50])
    _check_against(merged, reference(X[:50], 3, linkage="ward", slots=union, w=w[:50]), X, w)


def test_weighted_to_mixture_and_score():
    rng = np.random.default_rng(35)
    X = rng.normal(size=(300, 2))
    w = _weights(300, 36)
    model = ss.StreamingAgglomerative(4, rule="insert-merge", linkage="ward").fit(X, sample_weight=w)
    mix = model.to_mixture(reg_covar=1e-3)
    np.testing.assert_allclose(mix.weights, model.counts_ / w.sum(), rtol=1e-12)
    for comp, rec in zip(mix.distributions, model.summaries_, strict=True):
        np.testing.assert_allclose(comp.mean, rec.mean(), rtol=1e-12)
        np.testing.assert_allclose(comp.cov, rec.scatter() + 1e-3 * np.eye(2), rtol=1e-10)
    Y, v = rng.normal(size=(50, 2)), rng.uniform(0, 2, size=50)
    d2 = ((Y[:, None, :] - model.cluster_centers_[None]) ** 2).sum(axis=2).min(axis=1)
    np.testing.assert_allclose(model.score(Y, sample_weight=v), -(v * d2).sum(), rtol=1e-12)
    np.testing.assert_allclose(model.score(Y, sample_weight=np.ones(50)), model.score(Y), rtol=0)


@pytest.mark.parametrize("batch_size", [None, 4])
@pytest.mark.parametrize("value,match", [(-1.0, "non-negative"), (np.nan, "finite"),
                                         (np.inf, "finite")])
def test_bad_weights_name_the_row_and_keep_the_model(batch_size, value, match):
    X = np.random.default_rng(37).normal(size=(20, 2))
    model = ss.StreamingAgglomerative(3, batch_size=batch_size).fit(X)
    before = model.cluster_centers_.copy()
    w = np.ones(20)
    w[13] = value
    with pytest.raises(DataError, match=match) as info:
        model.partial_fit(X, sample_weight=w)
    assert info.value.row == 13
    assert "at row 13" in str(info.value)
    np.testing.assert_array_equal(model.cluster_centers_, before)
    assert model.n_samples_seen_ == 20
    with pytest.raises(DataError, match=match):
        model.fit(X, sample_weight=w)
    np.testing.assert_array_equal(model.cluster_centers_, before)


def test_bad_weights_in_a_streamed_file_name_the_global_row(tmp_path, monkeypatch):
    from suffstat import sources

    monkeypatch.setattr(sources, "DEFAULT_BATCH_BYTES", 8 * 4 * 50)  # 1024-row batches
    X = np.random.default_rng(38).normal(size=(2500, 4))
    w = np.ones(2500)
    w[2100] = -0.5
    np.save(tmp_path / "w.npy", w)
    with pytest.raises(DataError, match="non-negative") as info:
        ss.StreamingAgglomerative(4).fit(X, sample_weight=str(tmp_path / "w.npy"))
    assert info.value.row == 2100


def test_weights_of_the_wrong_shape_or_all_zero():
    X = np.zeros((5, 2))
    with pytest.raises(DataError, match=r"sample_weight must have shape \(5,\)"):
        ss.StreamingAgglomerative(3).fit(X, sample_weight=np.ones(4))
    with pytest.raises(DataError, match="every sample_weight is 0"):
        ss.StreamingAgglomerative(3).fit(X, sample_weight=np.zeros(5))
    with pytest.raises(DataError, match="every sample_weight is 0"):
        ss.StreamingAgglomerative(3, batch_size=2).fit(X, sample_weight=np.zeros(5))
    model = ss.StreamingAgglomerative(3).fit(np.arange(8.0).reshape(4, 2))
    before = model.cluster_centers_.copy()
    model.partial_fit(X, sample_weight=np.zeros(5))  # nothing to add: the slots stay
    np.testing.assert_array_equal(model.cluster_centers_, before)
    assert model.n_samples_seen_ == 9


# -- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    ({"rule": "kmeans"}, "rule must be one of"),
    ({"linkage": "single"}, "linkage must be one of"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"n_jobs": 0}, "n_jobs must be a positive integer"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ss.StreamingAgglomerative(3, **kwargs).fit(np.zeros((4, 2)))


def test_bad_n_clusters():
    with pytest.raises(ParameterError, match="n_clusters must be >= 2"):
        ss.StreamingAgglomerative(1).fit(np.zeros((4, 2)))
    with pytest.raises(ParameterError, match="n_clusters must be an integer"):
        ss.StreamingAgglomerative(2.5).fit(np.zeros((4, 2)))


@pytest.mark.parametrize("batch_size", [None, 4])
def test_nan_names_the_row_and_keeps_the_model(batch_size):
    X = np.random.default_rng(11).normal(size=(20, 2))
    model = ss.StreamingAgglomerative(3, batch_size=batch_size).fit(X)
    before = model.cluster_centers_.copy()
    bad = X.copy()
    bad[13, 1] = np.nan
    with pytest.raises(DataError, match="X contains NaN") as info:
        model.partial_fit(bad)
    assert info.value.row == 13
    np.testing.assert_array_equal(model.cluster_centers_, before)
    assert model.n_samples_seen_ == 20
    bad[13, 1] = np.inf
    with pytest.raises(DataError, match="infinity"):
        model.fit(bad)
    np.testing.assert_array_equal(model.cluster_centers_, before)


def test_bad_shapes():
    model = ss.StreamingAgglomerative(3)
    with pytest.raises(DataError, match="must be 2-D"):
        model.fit(np.zeros(5))
    with pytest.raises(DataError, match="empty"):
        model.fit(np.zeros((0, 2)))
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(np.zeros((1, 2)))
    model.fit(np.zeros((5, 2)))
    with pytest.raises(DataError, match="has 3 features"):
        model.partial_fit(np.zeros((5, 3)))
    with pytest.raises(DataError, match=r"shape \(n_samples, 2\)"):
        model.predict(np.zeros((5, 3)))
    with pytest.raises(DataError, match="features"):
        model.merge(ss.StreamingAgglomerative(3).fit(np.zeros((4, 3))))


# -- phase transitions and the author's claim -----------------------------------------------------------

def author_data(seed):
    """The data shape of issue 16: a diffuse cloud, a tight cluster at (2, 2), a far one at (20, 20)."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0.0, 1.0, (1000, 2)), rng.normal(2.0, 0.25, (125, 2)),
                        rng.normal(20.0, 0.25, (125, 2))])
    return X[rng.permutation(len(X))]


def test_phase_transitions_distortions_are_reproduced_independently():
    X = author_data(0)
    result = ss.phase_transitions(X, [2, 3, 4, 5], methods=("faddc", "insert-merge-ward", "kmeans"),
                                  random_state=0)
    np.testing.assert_array_equal(result.k, [2, 3, 4, 5])
    for method in ("faddc", "insert-merge-ward", "kmeans"):
        for i, k in enumerate(result.k):
            centers = result.centers[method][i]
            assert len(centers) == k
            d2 = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
            np.testing.assert_allclose(result.distortion[method][i], d2.min(axis=1).sum(), rtol=1e-12)
            if method == "kmeans":  # k-means counts are the final assignment's
                np.testing.assert_array_equal(result.counts[method][i],
                                              np.bincount(d2.argmin(axis=1), minlength=k))
            assert result.counts[method][i].sum() == len(X)
        drop = -np.diff(result.distortion[method])
        np.testing.assert_allclose(result.derivative[method], drop / np.abs(drop).max(), rtol=1e-12)
        assert result.jumps[method][0] == result.k[1:][np.argmax(drop)]
    # the agglomerative centroids are those of the estimator
    model = ss.StreamingAgglomerative(3).fit(X)
    np.testing.assert_array_equal(result.centers["faddc"][1], model.cluster_centers_)
    # the far cluster gives every method its largest drop at k = 3
    assert all(result.jumps[m][0] == 3 for m in result.jumps)


def test_phase_transitions_bad_input():
    with pytest.raises(ParameterError, match="methods must be among"):
        ss.phase_transitions(np.zeros((5, 2)), [2, 3], methods=("birch",))
    with pytest.raises(ParameterError, match="at least two"):
        ss.phase_transitions(np.zeros((5, 2)), [2])
    with pytest.raises(DataError, match="NaN"):
        ss.phase_transitions(np.full((5, 2), np.nan), [2, 3])


def test_plots_draw():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X = author_data(1)
    result = ss.phase_transitions(X, [2, 3, 4], random_state=0)
    ax = ss.plot.phase_transitions(result)
    assert len(ax.lines) == 2
    ax = ss.plot.centroids(X, result.centers["kmeans"][1], result.counts["kmeans"][1], label="kmeans")
    ss.plot.centroids(None, result.centers["faddc"][1], result.counts["faddc"][1], ax=ax, label="faddc")
    assert len(ax.collections) == 3
    plt.close("all")


def _docs_claim_table():
    """The table of docs/agglomerative.rst: {method: [seeds kept at k = 2..8]}."""
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "agglomerative.rst").read_text()
    block = text.split(".. claim-table-start")[1].split(".. claim-table-end")[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1].startswith("``"):
            rows[cells[1].strip("`")] = [int(c) for c in cells[2:-1]]
    return rows


def _keeps_the_dense_cluster(centers, counts):
    near = np.linalg.norm(centers - 2.0, axis=1) <= 0.3
    return bool(np.any(near & (counts >= 20)))


def test_the_authors_claim_as_measured_in_the_docs():
    """How often each method keeps a centroid of >= 20 points within 0.3 of (2, 2), 20 seeds."""
    from suffstat.agglomerative import fit_centers

    table = _docs_claim_table()
    assert set(table) == {"faddc", "faddc-ward", "insert-merge", "insert-merge-ward", "kmeans"}
    data = [author_data(s) for s in range(20)]
    for method, expected in table.items():
        got = [sum(_keeps_the_dense_cluster(*fit_centers(X, k, method, np.random.default_rng(s)))
                   for s, X in enumerate(data)) for k in range(2, 9)]
        assert got == expected, method
