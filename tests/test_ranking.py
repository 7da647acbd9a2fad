"""The compiled ranking pass (counts, finiteness, top-k lists), and the item-pair hash table of the diversity metric.

Both are shortcuts of the evaluator that must change no result: every test compares them
with the plain computation (a comparison over the whole row, ``torch.topk``, a dense table).
"""

import numpy as np
import pytest
import torch

from sessrec.evaluation import ranking
from sessrec.evaluation.metrics import rank_counts
from sessrec.evaluation.pairs import PairTable
from sessrec.evaluation.ranking import CHUNK, BlockRanker, rank_block, rank_scores
from sessrec.models.sparse_rows import SparseRows


def plain(scores: torch.Tensor, targets: np.ndarray, top_k: int):
    t = scores[torch.arange(len(scores)), torch.from_numpy(targets)].unsqueeze(1)
    better = (scores > t).sum(1).numpy()
    tied = (scores == t).sum(1).numpy() - 1
    return better, tied, torch.topk(scores, top_k, dim=1).indices.numpy()


def check_equal(scores: torch.Tensor, targets: np.ndarray, top_k: int = 20) -> None:
    better, tied, top = rank_block(scores, targets, top_k)
    want_better, want_tied, want_top = plain(scores, targets, top_k)
    np.testing.assert_array_equal(better, want_better)
    np.testing.assert_array_equal(tied, want_tied)
    np.testing.assert_array_equal(top, want_top)
    _, _, none = rank_block(scores, targets, 0)
    assert none is None
    np.testing.assert_array_equal(rank_block(scores, targets, 0)[0], want_better)


@pytest.mark.parametrize("n_items", [40 * CHUNK, 40 * CHUNK + 17, 5_000])
def test_continuous_scores_match_the_full_pass(n_items):
    gen = torch.Generator().manual_seed(n_items)
    scores = torch.randn(150, n_items, generator=gen)
    targets = torch.randint(0, n_items, (150,), generator=gen).numpy()
    # half of the targets near the top (ranked from the candidates), half anywhere
    best = torch.topk(scores, 30, dim=1).indices.numpy()
    targets[::2] = best[np.arange(0, 150, 2), np.arange(75) % 30]
    check_equal(scores, targets)


def test_the_best_items_crowded_into_one_chunk_or_in_the_tail():
    gen = torch.Generator().manual_seed(3)
    n_items = 30 * CHUNK + 40
    scores = torch.randn(6, n_items, generator=gen)
    scores[0, 5 * CHUNK : 6 * CHUNK] += 10  # the whole top 20 in one chunk
    scores[1, -40:] += 10  # the whole top 20 in the tail
    scores[2, :: CHUNK] += 10  # one top item per chunk: the top 20 spans 20 chunks
    scores[3, 7] = 50.0  # one outstanding item
    targets = np.array([5 * CHUNK + 3, n_items - 1, 3 * CHUNK, 7, 0, 100])
    check_equal(scores, targets)


def test_targets_ranked_far_down_use_the_whole_row():
    gen = torch.Generator().manual_seed(4)
    scores = torch.randn(64, 60 * CHUNK, generator=gen)
    order = torch.argsort(scores, dim=1, descending=True).numpy()
    targets = order[np.arange(64), np.linspace(0, 60 * CHUNK - 1, 64).astype(int)]  # ranks 1 to the last
    check_equal(scores, targets)


@pytest.mark.parametrize("levels", [2, 5, 50])
def test_tie_heavy_scores_match_the_full_pass_and_torch_topk(levels):
    # count-based models: many items share a score, at the list's end and inside it
    gen = torch.Generator().manual_seed(levels)
    n_items = 45 * CHUNK + 9
    scores = torch.randint(0, levels, (130, n_items), generator=gen).float()
    scores[:40] = torch.where(torch.rand(40, n_items, generator=gen) < 0.995, 0.0, scores[:40])  # mostly zeros
    targets = torch.randint(0, n_items, (130,), generator=gen).numpy()
    check_equal(scores, targets)


def test_small_catalogues_and_double_precision():
    gen = torch.Generator().manual_seed(5)
    small = torch.randn(10, 300, generator=gen)
    check_equal(small, np.arange(10) * 7)
    check_equal(torch.randn(20, 50 * CHUNK + 1, generator=gen, dtype=torch.float64), np.arange(20) * 3)


def test_lists_come_from_the_compiled_loop(monkeypatch):
    # guard against a silent fallback to torch.topk over the whole row for every event
    gen = torch.Generator().manual_seed(6)
    scores = torch.randn(32, 40 * CHUNK, generator=gen)
    targets = torch.topk(scores, 1, dim=1).indices[:, 0].numpy()
    monkeypatch.setattr(ranking.torch, "topk", lambda *a, **kw: pytest.fail("torch.topk for distinct scores"))
    rank_block(scores, targets, 20)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("top_k", [0, 20])
def test_a_non_finite_score_anywhere_in_the_block_is_reported(bad, top_k):
    gen = torch.Generator().manual_seed(10)
    scores = torch.randn(40, 30 * CHUNK + 5, generator=gen)
    targets = np.arange(40)
    assert rank_scores(scores, targets, top_k).finite
    for row, column in ((0, 0), (39, 30 * CHUNK + 4), (17, 100)):  # first item, the tail, inside
        broken = scores.clone()
        broken[row, column] = bad
        assert not rank_scores(broken, targets, top_k).finite
    with pytest.raises(ValueError, match="NaN or infinite"):
        rank_block(broken, targets, top_k)


def test_rank_counts_row_by_row_on_large_catalogues_with_ties_and_non_finite_scores():
    gen = torch.Generator().manual_seed(7)
    scores = torch.randint(0, 6, (140, 3_000), generator=gen).float()
    scores[0, :10] = float("nan")
    scores[1, 5] = float("inf")
    scores[2, 7] = float("-inf")
    targets = torch.randint(0, 3_000, (140,), generator=gen)
    targets[0] = 3  # a NaN target: below every finite score, tied with the other NaNs
    better, tied = rank_counts(scores, targets)
    clean = torch.where(torch.isfinite(scores), scores, torch.tensor(float("-inf")))
    t = clean[torch.arange(140), targets].unsqueeze(1)
    assert torch.equal(better, (clean > t).sum(1).int())
    assert torch.equal(tied, ((clean == t).sum(1) - 1).int())
    assert better[0] == 3_000 - 10 and tied[0] == 9


def symmetric_table(n_items: int, density: float, seed: int, dtype=np.float32) -> tuple[SparseRows, np.ndarray]:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_items, n_items)) < density, rng.random((n_items, n_items)), 0.0).astype(dtype)
    dense = np.triu(dense, 1)
    dense = dense + dense.T
    rows, columns = np.nonzero(dense)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_items))]
    table = SparseRows(torch.from_numpy(indptr), torch.from_numpy(columns.astype(np.int64)),
                       torch.from_numpy(dense[rows, columns]))
    return table, dense


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # packed slots, then keys and values apart
@pytest.mark.parametrize("density", [0.0, 0.01, 0.3, 1.0])
def test_pair_lookups_equal_the_dense_table(density, dtype):
    table, dense = symmetric_table(300, density, seed=int(density * 100), dtype=dtype)
    pairs = PairTable(table, 300)
    assert (len(pairs.packed) > 0) == (dtype == np.float32)
    rng = np.random.default_rng(1)
    first, second = rng.integers(0, 300, (2, 64, 190))
    second = np.where(first == second, (second + 1) % 300, second)
    got = pairs.lookup(first, second)
    assert got.shape == (64, 190) and got.dtype == np.float64
    np.testing.assert_array_equal(got, dense[first, second].astype(np.float64))
    np.testing.assert_array_equal(pairs.lookup(second, first), got)  # unordered pairs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pair_table_probes_past_collisions(dtype):
    # a full table: every pair stored, so many keys share home slots and runs are long
    table, dense = symmetric_table(120, 1.0, seed=2, dtype=dtype)
    pairs = PairTable(table, 120)
    keys = pairs.slot_keys()
    stored = np.flatnonzero(keys >= 0)
    home = pairs._home(keys[stored].copy())
    assert (stored != home).sum() > 100  # many pairs sit away from their home slot
    first, second = np.triu_indices(120, 1)
    np.testing.assert_array_equal(pairs.lookup(first, second), dense[first, second].astype(np.float64))


def test_a_tie_at_the_end_of_the_list_is_broken_as_torch_topk_breaks_it():
    # ranks 20 and 21 tie, in two chunks placed at random: in the candidate pool the two
    # items often come in another order than in the row, so only the fallback to the
    # whole row keeps torch's choice (removing it fails about a quarter of these rows)
    rng = np.random.default_rng(8)
    n_rows, n_items = 200, 40 * CHUNK
    scores = torch.zeros(n_rows, n_items)
    for row in range(n_rows):
        chunks = rng.permutation(40)[:21]
        for rank, chunk in enumerate(chunks[:19]):
            scores[row, chunk * CHUNK + rng.integers(CHUNK)] = 100.0 - rank
        for chunk in chunks[19:21]:
            scores[row, chunk * CHUNK + rng.integers(CHUNK)] = 50.0
        if row % 2:  # one of the two chunks gets a higher maximum, so it comes first in the pool
            scores[row, chunks[19] * CHUNK + rng.integers(CHUNK)] = 60.0
    check_equal(scores, rng.integers(0, n_items, n_rows))


def test_block_ranker_drops_the_pool_for_lists_that_mostly_tie_and_keeps_every_result():
    gen = torch.Generator().manual_seed(9)
    n_items = 40 * CHUNK
    sparse = torch.where(torch.rand(1200, n_items, generator=gen) < 0.004, 1.0, 0.0)  # ~10 non-zero scores a row
    dense = torch.randn(1200, n_items, generator=gen)
    targets = torch.randint(0, n_items, (1200,), generator=gen).numpy()
    for scores, keeps_pool in ((sparse, False), (dense, True)):
        ranker = BlockRanker(20)
        for start in range(0, 1200, 128):
            rows = slice(start, start + 128)
            better, tied, top, finite, _ = ranker(scores[rows], targets[rows])
            assert finite
            want_better, want_tied, want_top = plain(scores[rows], targets[rows], 20)
            np.testing.assert_array_equal(better, want_better)
            np.testing.assert_array_equal(tied, want_tied)
            np.testing.assert_array_equal(top, want_top)
        assert ranker.use_pool is keeps_pool
    accuracy_only = BlockRanker(0)
    assert not accuracy_only.use_pool
    better, tied, top, _, _ = accuracy_only(dense[:50], targets[:50])
    assert top is None
    np.testing.assert_array_equal(better, plain(dense[:50], targets[:50], 1)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", [0.0, 0.05, 1.0])
def test_running_pair_sums_equal_the_lookups_summed_in_order(density, dtype):
    table, _ = symmetric_table(200, density, seed=3, dtype=dtype)
    pairs = PairTable(table, 200)
    rng = np.random.default_rng(2)
    top = np.stack([rng.permutation(200)[:20] for _ in range(70)])
    a, b = np.triu_indices(20, k=1)
    order = np.argsort(b, kind="stable")
    pair_a, pair_b = a[order], b[order]
    ends = np.array([0, 1, 10, 45, 190])
    got = pairs.running_sums(top, pair_a, pair_b, ends)
    cumulative = pairs.lookup(top[:, pair_a], top[:, pair_b]).cumsum(1)
    want = np.concatenate([np.zeros((70, 1)), cumulative[:, ends[1:] - 1]], axis=1)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)  # bit for bit: the same additions in the same order


def test_lists_are_right_when_the_sampled_bar_is_too_high_or_too_low():
    # the loop first guesses a bar from every SAMPLE_STRIDE-th item; a guess above the
    # (k + 1)-th best score leaves too few items and the loop starts again without a bar
    from sessrec.evaluation.kernels import SAMPLE_STRIDE

    gen = torch.Generator().manual_seed(11)
    n_items = 50 * CHUNK
    scores = torch.randn(4, n_items, generator=gen)
    sampled = torch.arange(0, n_items, SAMPLE_STRIDE)
    scores[0, sampled[:6]] += 100.0  # only sampled items on top: the bar lets six through
    scores[1, sampled[:6] + 1] += 100.0  # the top items between the samples: a low bar
    scores[2] = -scores[2].abs()  # every score negative
    scores[3, sampled[:3]] = 7.0  # a tie on the bar
    check_equal(scores, np.array([0, 5, 9, n_items - 1]))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_rows_split_between_threads_give_the_same_results(threads):
    gen = torch.Generator().manual_seed(12)
    scores = torch.randn(101, 30 * CHUNK + 3, generator=gen)
    scores[::7, :40] = 1.0  # some lists with ties: taken from torch.topk
    targets = torch.randint(0, scores.shape[1], (101,), generator=gen).numpy()
    got = rank_scores(scores, targets, 20, threads=threads)
    want_better, want_tied, want_top = plain(scores, targets, 20)
    np.testing.assert_array_equal(got.better, want_better)
    np.testing.assert_array_equal(got.tied, want_tied)
    np.testing.assert_array_equal(got.top, want_top)
    broken = scores.clone()
    broken[100, 5] = float("nan")  # in the last thread's rows
    assert not rank_scores(broken, targets, 20, threads=threads).finite


def test_a_catalogue_too_large_for_packed_keys_keeps_keys_and_values_apart():
    # 70,000 items: a pair key reaches 70,000**2 > 2**32, beyond the packed layout's 32-bit keys
    n_items = 70_000
    rows = np.array([3, 69_999, 69_997, 69_998])
    columns = np.array([69_999, 3, 69_998, 69_997])
    order = np.argsort(rows, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_items))]
    values = np.array([0.25, 0.25, 0.5, 0.5], dtype=np.float32)
    table = SparseRows(torch.from_numpy(indptr), torch.from_numpy(columns[order]), torch.from_numpy(values[order]))
    pairs = PairTable(table, n_items)
    assert len(pairs.packed) == 0 and pairs.slot_keys().max() > 2**32
    first, second = np.array([69_999, 69_997, 3, 0]), np.array([3, 69_998, 69_997, 1])
    np.testing.assert_array_equal(pairs.lookup(first, second), [0.25, 0.5, 0.0, 0.0])
    top = np.array([[3, 69_999, 69_997, 69_998]])
    sums = pairs.running_sums(top, np.array([0, 0, 1, 0, 1, 2]), np.array([1, 2, 2, 3, 3, 3]), np.array([1, 6]))
    np.testing.assert_array_equal(sums, [[0.25, 0.75]])
