"""Session-kNN, SR, S-POP and Embedding-KNN: hand-checked scores, batching, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sessrec.data.sessions import Sessions
from sessrec.errors import CheckpointError, ParameterError
from sessrec.models.io import load_model, save_model
from sessrec.models.registry import FAMILIES, SPECS
from sessrec.models.rules import SequentialRules, SessionPop
from sessrec.models.session_knn import SKNN, STAN, VSKNN, VSTAN

E = math.exp


def make_sessions(sessions: list[list[int]], times: list[float] | None = None) -> Sessions:
    lengths = [len(s) for s in sessions]
    items = np.array([i for s in sessions for i in s], np.int64)
    event_times = None
    if times is not None:  # one time per session, events one second apart
        event_times = np.array([t + j for t, s in zip(times, sessions) for j in range(len(s))], np.float64)
    return Sessions(np.arange(len(sessions)), np.r_[0, np.cumsum(lengths)].astype(np.int64), items, event_times)


# S0..S3 in file order (= recency order without times); item ids 1..5 -> indices 0..4
TOY = make_sessions([[1, 2, 3], [2, 3, 4], [1, 4], [3, 5, 2]])


def scores_after(model, item_ids: list[int]) -> np.ndarray:
    """Scores by item id 1..5 after the session ``item_ids``."""
    state = model.init_state(1)
    for i in model.item_index.to_index(np.array(item_ids)):
        state = model.step(state, torch.tensor([i]))
    return model.scores(state)[0].double().numpy()


def test_sknn_jaccard_by_hand():
    model = SKNN(k=2, sample_size=0, similarity="jaccard").fit(TOY)
    # current {1,2}: S0 2/3, S1 1/4, S2 1/3, S3 1/4 -> neighbours S0, S2
    expected = [2 / 3 + 1 / 3, 2 / 3, 2 / 3, 1 / 3, 0.0]
    np.testing.assert_allclose(scores_after(model, [1, 2]), expected, rtol=1e-6)


def test_sknn_recent_sampling_keeps_the_newest_candidates():
    model = SKNN(k=2, sample_size=2, similarity="jaccard").fit(TOY)
    # only S2 (1/3) and S3 (1/4), the two most recent candidates, remain
    expected = [1 / 3, 1 / 4, 1 / 4, 1 / 3, 1 / 4]
    np.testing.assert_allclose(scores_after(model, [1, 2]), expected, rtol=1e-6)


def test_sknn_cosine_by_hand():
    model = SKNN(k=1, sample_size=0, similarity="cosine").fit(TOY)
    # cosine: S0 2/sqrt(6) is the best neighbour
    s = 2 / math.sqrt(6)
    np.testing.assert_allclose(scores_after(model, [1, 2]), [s, s, s, 0, 0], rtol=1e-6)


def test_vsknn_by_hand():
    model = VSKNN(k=4, sample_size=0, similarity="vec", weighting="div", weighting_score="div").fit(TOY)
    # weights: item 1 -> 1/2, item 2 -> 1; vec sims S0 .75, S1 .5, S2 .25, S3 .5
    # step decays: S2 matches only item 1 (one click back) -> 1/2, the others match the last click -> 1
    expected = np.array([0.75 + 0.125, 0.75 + 0.5 + 0.5, 0.75 + 0.5 + 0.5, 0.5 + 0.125, 0.5])
    np.testing.assert_allclose(scores_after(model, [1, 2]), expected, rtol=1e-6)
    clicks = np.array([2, 3, 3, 2, 1])
    idf_model = VSKNN(k=4, sample_size=0, weighting="div", weighting_score="div", idf_weighting=1.0).fit(TOY)
    np.testing.assert_allclose(scores_after(idf_model, [1, 2]), expected * (1 + np.log(4 / clicks)), rtol=1e-6)
    no_remind = VSKNN(k=4, sample_size=0, weighting="div", weighting_score="div", remind=False).fit(TOY)
    np.testing.assert_allclose(scores_after(no_remind, [1, 2]), [0, 0, *expected[2:]], rtol=1e-6)


def test_vsknn_cosine_and_linear_weighting():
    model = VSKNN(k=1, sample_size=0, similarity="cosine", weighting="linear", weighting_score="same").fit(TOY)
    # linear: w = 1 - 0.1 * (L - i): item 1 -> 0.9, item 2 -> 1; best: S0 (1.9 / (sqrt(1.81) * sqrt(3)))
    s = 1.9 / (math.sqrt(0.81 + 1) * math.sqrt(3))
    np.testing.assert_allclose(scores_after(model, [1, 2]), [s, s, s, 0, 0], rtol=1e-6)


def _stan_by_hand(idf: np.ndarray | None = None, ipw: bool = False) -> np.ndarray:
    """STAN/VSTAN with every lambda = 1 (no time decay) on TOY after [1, 2]."""
    w1, w2 = E(-1), 1.0  # position weights of items 1 and 2
    norm = math.sqrt(w1 * w1 + w2 * w2)
    sim = {0: (w1 + w2) / (norm * math.sqrt(3)), 1: w2 / (norm * math.sqrt(3)),
           2: w1 / (norm * math.sqrt(2)), 3: w2 / (norm * math.sqrt(3))}
    # (item -> |q_i - q*|) per neighbour; q* = neighbour's latest position holding item 1 or 2
    dist = {0: {1: 1, 2: 0, 3: 1}, 1: {2: 0, 3: 1, 4: 2}, 2: {1: 0, 4: 1}, 3: {3: 2, 5: 1, 2: 0}}
    # latest click of the current session the neighbour contains: item 2 (p*=2) except S2 (item 1, p*=1)
    ipw_decay = {0: 1.0, 1: 1.0, 2: E(-1), 3: 1.0}
    out = np.zeros(5)
    for n, items in dist.items():
        for item, d in items.items():
            v = sim[n] * E(-d)
            if idf is not None:
                v *= 1 + idf[item - 1]
            if ipw:
                v *= ipw_decay[n]
            out[item - 1] += v
    return out


def test_stan_by_hand():
    model = STAN(k=4, sample_size=0, lambda_spw=1, lambda_snh=None, lambda_inh=1).fit(TOY)
    np.testing.assert_allclose(scores_after(model, [1, 2]), _stan_by_hand(), rtol=1e-5)


def test_stan_neighbour_recency_decay():
    day = 86400.0
    train = make_sessions([[1, 2], [1, 3]], times=[0.0, 2 * day])  # identical similarity, S0 two days older
    model = STAN(k=2, sample_size=0, lambda_spw=None, lambda_snh=1, lambda_inh=None).fit(train)
    s = scores_after(model, [1])
    sim = 1 / math.sqrt(2)
    # times are last clicks: S0 at 1 s, S1 at 2 days + 1 s
    np.testing.assert_allclose(s, [sim * (1 + E(-2)), sim * E(-2), sim], rtol=1e-5)


def test_vstan_by_hand():
    clicks = np.array([2, 3, 3, 2, 1])
    idf = np.log(4 / clicks)
    model = VSTAN(k=4, sample_size=0, lambda_spw=1, lambda_snh=None, lambda_inh=1, lambda_ipw=1,
                  lambda_idf=1).fit(TOY)
    np.testing.assert_allclose(scores_after(model, [1, 2]), _stan_by_hand(idf, ipw=True), rtol=1e-5)


def test_sequential_rules_by_hand():
    model = SequentialRules(steps=2, weighting="div", pruning=0).fit(TOY)
    # rules from 2: 2->3 (S0: 1, S1: 1), 2->4 (S1, two steps: 1/2)
    np.testing.assert_allclose(scores_after(model, [5, 2]), [0, 0, 2, 0.5, 0])
    # rules from 3: 3->4 1, 3->5 1, 3->2 1/2; pruning=1 keeps one (tie: 3->4, seen first)
    np.testing.assert_allclose(scores_after(model, [3]), [0, 0.5, 0, 1, 1])
    pruned = SequentialRules(steps=2, weighting="div", pruning=1).fit(TOY)
    np.testing.assert_allclose(scores_after(pruned, [3]), [0, 0, 0, 1, 0])
    repeat = SequentialRules(steps=3, weighting="div", pruning=0).fit(make_sessions([[1, 1, 2]]))
    np.testing.assert_allclose(scores_after(repeat, [1]), [1, 1 + 0.5])  # 1->1, 1->2 at 1 and 2 steps


def test_session_pop_by_hand():
    model = SessionPop(top_n=2).fit(TOY)
    # clicks: 1:2 2:3 3:3 4:2 5:1; the top 2 (items 2, 3) get 3/4
    np.testing.assert_allclose(scores_after(model, [5, 5, 1]), [1, 0.75, 0.75, 0, 2])
    np.testing.assert_allclose(scores_after(model, []), [0, 0.75, 0.75, 0, 0])


def random_sessions(seed: int, n_sessions: int = 300, n_items: int = 60, with_times: bool = True) -> Sessions:
    rng = np.random.default_rng(seed)
    sessions = [list(rng.integers(1, n_items, rng.integers(2, 9))) for _ in range(n_sessions)]
    times = list(np.sort(rng.uniform(0, 20 * 86400, n_sessions))) if with_times else None
    return make_sessions(sessions, times)


ALL_MODELS = [
    lambda: SKNN(k=20, sample_size=60),
    lambda: VSKNN(k=20, sample_size=60, similarity="cosine", weighting="quadratic", weighting_score="linear",
                  idf_weighting=2),
    lambda: STAN(k=20, sample_size=60, lambda_spw=1.5, lambda_snh=3, lambda_inh=2),
    lambda: VSTAN(k=20, sample_size=60, remind=False),
    lambda: SequentialRules(steps=4, pruning=5),
    lambda: SessionPop(top_n=10),
]


@pytest.mark.parametrize("factory", ALL_MODELS)
def test_batched_equals_one_at_a_time_and_states_are_values(factory):
    train, test = random_sessions(1), random_sessions(2, n_sessions=6)
    model = factory().fit(train)
    idx = model.item_index.to_index(test.items)
    seqs = [idx[test.offsets[s]:test.offsets[s + 1]] for s in range(test.n_sessions)]
    longest = max(len(s) for s in seqs)
    state = model.init_state(len(seqs))
    single = [model.init_state(1) for _ in seqs]
    for p in range(longest):
        items = torch.tensor([s[p] if p < len(s) else -1 for s in seqs])
        before = model.scores(state).clone()
        new_state = model.step(state, items)
        torch.testing.assert_close(model.scores(state), before)  # the old state is untouched
        state = new_state
        batched = model.scores(state)
        for b, s in enumerate(seqs):
            if p < len(s):
                single[b] = model.step(single[b], torch.tensor([s[p]]))
                torch.testing.assert_close(batched[b], model.scores(single[b])[0], rtol=1e-6, atol=1e-7)
    reset = model.reset(state, torch.tensor([True] + [False] * (len(seqs) - 1)))
    torch.testing.assert_close(model.scores(reset)[0], model.scores(model.init_state(1))[0])


@pytest.mark.parametrize("factory", ALL_MODELS)
def test_checkpoint_round_trip(tmp_path, factory):
    train = random_sessions(3)
    model = factory().fit(train)
    path = save_model(model, tmp_path / "m.pt")
    torch.load(path, weights_only=True)  # loads without pickled objects
    loaded = load_model(path)
    assert loaded.hyperparameters() == model.hyperparameters()
    state, state2 = model.init_state(1), loaded.init_state(1)
    for i in (3, 7, 3, 11):
        state = model.step(state, torch.tensor([i]))
        state2 = loaded.step(state2, torch.tensor([i]))
        torch.testing.assert_close(loaded.scores(state2), model.scores(state))


@pytest.mark.parametrize("factory", ALL_MODELS[:4] + ALL_MODELS[4:5])
def test_corrupt_checkpoint_is_refused(tmp_path, factory):
    model = factory().fit(random_sessions(4))
    path = save_model(model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    key = "sess_items" if "sess_items" in payload["tensors"] else "indices"
    payload["tensors"][key] = payload["tensors"][key] + model.n_items  # out of the catalogue
    torch.save(payload, path)
    with pytest.raises(CheckpointError):
        load_model(path)


def test_time_order_is_validated(tmp_path):
    model = STAN(k=5).fit(random_sessions(5))
    path = save_model(model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["tensors"]["sess_time"] = payload["tensors"]["sess_time"].flip(0)
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="recency"):
        load_model(path)


@pytest.mark.parametrize("make", [
    lambda: SKNN(k=0), lambda: SKNN(similarity="euclid"), lambda: VSKNN(weighting="cubic"),
    lambda: VSKNN(sample_size=-1), lambda: STAN(lambda_spw=0), lambda: STAN(sampling="random"),
    lambda: VSTAN(lambda_idf=-1), lambda: SequentialRules(steps=0), lambda: SessionPop(top_n=-3),
    lambda: SKNN(k=2.5),
])
def test_bad_parameters_raise_parameter_error(make):
    with pytest.raises(ParameterError):
        make()


def test_registry_lists_the_new_models():
    expected = {"sknn": "session_knn", "vsknn": "session_knn", "stan": "session_knn", "vstan": "session_knn",
                "sr": "rules", "spop": "rules", "embedding_knn": "neural"}
    for name, family in expected.items():
        assert SPECS[name].family == family and family in FAMILIES
    assert SPECS["embedding_knn"].label == "Embedding-KNN" != SPECS["last_item"].label


def test_embedding_knn(tmp_path):
    from sessrec.models.embedding_knn import EmbeddingKNN
    from sessrec.models.gru4rec import GRU4Rec

    train = random_sessions(6, n_sessions=120, n_items=30, with_times=False)
    gru = GRU4Rec(layers=[8], n_epochs=1, batch_size=8, n_sample=16, seed=3).fit(train, progress=False)
    gru_path = save_model(gru, tmp_path / "gru.pt")
    model = EmbeddingKNN(gru4rec_checkpoint=str(gru_path)).fit(train)
    vectors = gru.E if gru.E is not None else gru.Wy
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    s = scores_after(model, [int(train.items[0]), int(train.items[1])])
    last = model.item_index.to_index(np.array([train.items[1]]))[0]
    np.testing.assert_allclose(s, (unit @ unit[last]).double().numpy(), rtol=1e-5, atol=1e-6)
    assert s.argmax() == last and s.max() == pytest.approx(1.0, abs=1e-5)
    loaded = load_model(save_model(model, tmp_path / "eknn.pt"))
    np.testing.assert_allclose(scores_after(loaded, [int(train.items[1])]), s, rtol=1e-6)
    other = random_sessions(7, n_sessions=50, n_items=12, with_times=False)
    with pytest.raises(CheckpointError):
        EmbeddingKNN(gru4rec_checkpoint=str(gru_path)).fit(other)
    trained = EmbeddingKNN(gru4rec_params={"layers": [8], "n_epochs": 1, "batch_size": 8, "n_sample": 16},
                           seed=3).fit(train)
    assert trained.embeddings.shape == (trained.n_items, 8) and trained.training_log


@pytest.mark.parametrize("n, shuffled", [(2000, False), (2000, True), (20, False)])
def test_add_scores_equals_a_dense_float64_sum(n, shuffled):
    """Both paths (dense rows: many pairs per row, sorted; scatter: few pairs or unsorted rows)
    give the float64 sums, added in input order and rounded once."""
    from sessrec.models.session_knn.index import add_scores

    rng = np.random.default_rng(0)
    n_rows, n_items = 7, 50
    row, item = np.sort(rng.integers(0, n_rows, n)), rng.integers(0, n_items, n)  # many duplicate pairs
    if shuffled:
        row = rng.permutation(row)
    value = rng.normal(size=n) * 10.0 ** rng.integers(-8, 3, n)
    dense = np.zeros((n_rows, n_items))
    np.add.at(dense, (row, item), value)
    expected = torch.from_numpy(dense.astype(np.float32))
    buffer = torch.zeros(n_rows * n_items + 5, dtype=torch.float64)
    out = torch.full((n_rows, n_items), 7.0)  # stale values must be overwritten
    for _ in range(2):  # the buffer comes back zeroed and is reusable
        add_scores(out, row, item, value, buffer)
        assert torch.equal(out, expected)
        assert not buffer.any()
    wide = torch.full((n_rows, n_items + 3), 7.0)
    add_scores(wide[:, :n_items], row, item, value)  # a non-contiguous view is written through
    assert torch.equal(wide[:, :n_items], expected) and torch.all(wide[:, n_items:] == 7.0)


def test_session_index_tables_equal_the_direct_computation():
    """The cached per-session tables give exactly the values computed on any subset."""
    from sessrec.models.session_knn.index import neighbour_items
    from sessrec.models.session_knn.stan import SECONDS_PER_DAY, recency_decay

    index = STAN().fit(random_sessions(4)).index
    sess = np.random.default_rng(2).integers(0, index.n_sessions, 300)
    assert np.array_equal(index.sess_size_sqrt[sess], np.sqrt(index.sess_size[sess]))
    for lam in (5.0, 0.3, 5.0):  # a changed parameter replaces the table
        direct = np.exp(-(index.sess_time[-1] - index.sess_time[sess]) / (lam * SECONDS_PER_DAY))
        assert np.array_equal(recency_decay(index, lam)[sess], direct)
    owner, item, pos = neighbour_items(index, sess)
    at = np.concatenate([np.arange(index.sess_indptr[s], index.sess_indptr[s + 1]) for s in sess])
    assert np.array_equal(owner, np.repeat(np.arange(len(sess)), index.sess_size[sess]))
    assert np.array_equal(item, index.sess_items[at]) and np.array_equal(pos, index.sess_pos[at])
    assert neighbour_items(index, sess, with_pos=False)[2] is None


def test_stan_distance_table_equals_exp():
    model = STAN(k=20, sample_size=60, lambda_inh=2.05).fit(random_sessions(4))
    d = np.arange(int(model.index.sess_pos.max()))  # every distance inside a training session
    assert np.array_equal(model._inh_decay()[d], np.exp(-np.abs(d) / 2.05))
    model.lambda_inh = 0.7  # a changed parameter rebuilds the table
    assert np.array_equal(model._inh_decay()[d], np.exp(-d / 0.7))
    model.fit(random_sessions(5, n_sessions=20, n_items=10))  # and so does a refit
    assert len(model._inh_decay()) == int(model.index.sess_pos.max()) + 1


def test_score_buffers_never_lend_memory_in_use():
    from sessrec.models.session_knn.base import GrowingScoreBuffers

    pool, cols = GrowingScoreBuffers(), 1 << 20  # 4 MB a row: above the pooling threshold
    first = pool.empty(3, cols)
    first.fill_(1.0)
    second = pool.empty(2, cols)  # ``first`` is alive: fresh memory
    second.fill_(2.0)
    assert torch.all(first == 1.0)
    first_ptr = first.data_ptr()
    del first
    third = pool.empty(2, cols)  # a prefix of the freed, larger array
    assert third.data_ptr() == first_ptr and third.shape == (2, cols) and third.is_contiguous()
    assert torch.all(second == 2.0)


def test_candidates_equal_the_unique_and_ufunc_at_reference():
    """The sort-and-reduceat grouping gives exactly the previous np.unique / ufunc.at aggregates."""
    from sessrec.models.session_knn.index import Query, _expand, candidates

    model = STAN(k=20, sample_size=0).fit(random_sessions(5))
    index, test = model.index, random_sessions(6, n_sessions=40)
    idx = model.item_index.to_index(test.items)
    seqs = tuple(tuple(int(i) for i in idx[test.offsets[s]:test.offsets[s + 1]] if i >= 0) for s in range(40))
    query = Query.from_sequences(seqs, model.n_items)
    weights = np.random.default_rng(0).uniform(size=len(query.item))
    owner, data_pos = _expand(index.item_indptr, query.item)
    key = query.row[owner] * index.n_sessions + index.item_sess[data_pos]
    uniq, inv = np.unique(key, return_inverse=True)
    last, nb_last = np.zeros(len(uniq), np.int64), np.zeros(len(uniq), np.int64)
    np.maximum.at(last, inv, query.last[owner])
    np.maximum.at(nb_last, inv, index.item_pos[data_pos])
    got = candidates(index, query, weights, 0)
    assert np.array_equal(got.row * index.n_sessions + got.sess, uniq)
    assert np.array_equal(got.n_shared, np.bincount(inv))
    assert np.array_equal(got.weight_sum, np.bincount(inv, weights=weights[owner]))
    assert np.array_equal(got.last_shared, last) and np.array_equal(got.nb_last_shared, nb_last)
    assert len(uniq) > 100  # the example has real overlap
    bare = candidates(index, query, None, 0, last_shared=False, nb_last_shared=False)
    assert np.array_equal(bare.sess, got.sess) and np.array_equal(bare.n_shared, got.n_shared)
    assert bare.weight_sum is None and bare.last_shared is None and bare.nb_last_shared is None
    # sampling keeps the 3 most recent candidates of each row, aggregates alike
    sampled = candidates(index, query, weights, 3)
    recent = (np.cumsum(np.bincount(got.row))[got.row] - np.arange(len(got.row))) <= 3
    for field in ("row", "sess", "n_shared", "weight_sum", "last_shared", "nb_last_shared"):
        assert np.array_equal(getattr(sampled, field), getattr(got, field)[recent])
    # the query: one entry per distinct (row, item), at the item's last click
    assert len(query.item) == len(set(zip(query.row.tolist(), query.item.tolist())))
    for r in range(0, 40, 7):
        mine = query.row == r
        last_click = {i: p + 1 for p, i in enumerate(seqs[r])}  # later clicks overwrite earlier ones
        assert query.last[mine].tolist() == [last_click[i] for i in query.item[mine].tolist()]


def test_top_k_equals_the_full_sort_reference():
    from sessrec.models.session_knn.index import top_k

    rng = np.random.default_rng(1)
    n = 3000
    row = np.sort(rng.integers(0, 30, n))
    sess = np.zeros(n, np.int64)
    for r in np.unique(row):  # distinct, ascending sessions within a row
        at = np.flatnonzero(row == r)
        sess[at] = np.sort(rng.choice(10_000, len(at), replace=False))
    sim = rng.integers(-2, 6, n) / 4.0  # many exact ties and some non-positive entries
    sim[row == 3] = rng.uniform(size=int((row == 3).sum()))  # and a row without ties
    for k in (1, 7, 60, 90, 10_000):  # rows crowded, some crowded, none
        got = top_k(row, sess, sim, k)
        expected = np.zeros(n, bool)
        for r in np.unique(row):
            at = np.flatnonzero((row == r) & (sim > 0))
            best = at[np.lexsort((-sess[at], -sim[at]))][:k]
            expected[best] = True
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("sample_size", [1, 7, 40])
def test_candidates_read_only_each_items_most_recent_sessions_with_the_same_result(monkeypatch, sample_size):
    """The sample_size most recent candidates, and their aggregates, come out the same when each
    query item's session list is cut to its sample_size most recent sessions (what candidates()
    does so that its cost stops growing with the data) as from the whole lists."""
    import pandas as pd

    import sessrec.models.session_knn.index as knn_index
    from sessrec.data.sessions import ItemIndex

    rng = np.random.default_rng(sample_size)
    lengths = rng.integers(2, 6, 400)
    items = rng.zipf(1.4, lengths.sum()) % 30  # a few items in most sessions
    frame = pd.DataFrame({"SessionId": np.repeat(np.arange(400), lengths), "ItemId": items,
                          "Time": np.arange(lengths.sum(), dtype=float)})
    train = Sessions.from_frame(frame)
    item_index = ItemIndex.from_items(train.items)
    index = knn_index.SessionIndex.build(train, item_index)
    sequences = [tuple(rng.integers(0, len(item_index), rng.integers(1, 6)).tolist()) for _ in range(50)]
    query = knn_index.Query.from_sequences(sequences, len(item_index))
    weights = rng.random(len(query.item))
    cut = knn_index.candidates(index, query, weights, sample_size)
    whole_lists = knn_index._expand
    monkeypatch.setattr(knn_index, "_expand", lambda indptr, rows, last=0: whole_lists(indptr, rows, 0))
    whole = knn_index.candidates(index, query, weights, sample_size)
    assert len(whole.row) == len(cut.row) > 0
    for name in ("row", "sess", "n_shared", "weight_sum", "last_shared", "nb_last_shared"):
        assert np.array_equal(getattr(cut, name), getattr(whole, name)), name
