import numpy as np
import pytest
import torch

from sessrec.evaluation import evaluate, metrics_from_ranks, paired_test, per_event_metric, prepare_test
from sessrec.evaluation.metrics import ranks_of_targets
from tests.helpers import identity_successor_model, sessions_of


def test_ranks_with_each_tie_mode():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1, 0.5]])
    target = torch.tensor([0])  # one better item, two others tied with it
    assert ranks_of_targets(scores, target, "standard").item() == 2
    assert ranks_of_targets(scores, target, "conservative").item() == 4
    assert ranks_of_targets(scores, target, "median").item() == 3
    with pytest.raises(ValueError, match="tie mode"):
        ranks_of_targets(scores, target, "random")


def test_ranks_in_blocks_match_a_direct_computation():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (300, 40), generator=gen).float()  # many ties
    targets = torch.randint(0, 40, (300,), generator=gen)
    t = scores[torch.arange(300), targets].unsqueeze(1)
    assert torch.equal(ranks_of_targets(scores, targets, "standard"), ((scores > t).sum(1) + 1).double())
    assert torch.equal(ranks_of_targets(scores, targets, "conservative"), (scores >= t).sum(1).double())


def test_metrics_from_ranks_by_hand():
    ranks = np.array([1.0, 3.0, 30.0])
    m = metrics_from_ranks(ranks, ks=(1, 5))
    assert m["recall@1"] == pytest.approx(1 / 3)
    assert m["recall@5"] == pytest.approx(2 / 3)
    assert m["mrr@5"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / np.log2(4)) / 3)
    assert per_event_metric(ranks, "hitrate", 5).tolist() == [1, 1, 0]


def test_evaluate_ranks_every_position_and_is_batch_size_invariant():
    model = identity_successor_model()
    test = sessions_of([100, 101, 102], [103, 105], [104, 105, 100, 101])
    results = [evaluate(model, test, ks=(1, 5), batch_size=b, beyond_accuracy=False) for b in (1, 2, 512)]
    # session 1: 100->101 rank1, 101->102 rank1; session 2: 103->105 rank2;
    # session 3: 104->105 rank1, 105->100 rank1, 100->101 rank1
    for r in results:
        assert r.ranks.tolist() == [1, 1, 2, 1, 1, 1]
        assert r.positions.tolist() == [1, 2, 1, 1, 2, 3]
        assert r.session_index.tolist() == [0, 0, 1, 2, 2, 2]
        assert r.metrics["recall@1"] == pytest.approx(5 / 6)


def test_min_position_two_skips_the_first_prediction():
    model = identity_successor_model()
    test = sessions_of([100, 101, 102], [103, 105], [104, 105, 100, 101])
    r = evaluate(model, test, min_position=2, beyond_accuracy=False)
    assert r.positions.tolist() == [2, 2, 3]
    assert r.counts["n_sessions_dropped"] == 1  # [103, 105] has no position 2


def test_unknown_items_are_removed_and_counted():
    model = identity_successor_model()
    test = sessions_of([100, 999, 101], [999, 103], [102, 103])
    prepared = prepare_test(test, model.item_index)
    assert prepared.n_unknown_items_removed == 2
    assert prepared.n_sessions_dropped == 1
    r = evaluate(model, test, beyond_accuracy=False)
    assert r.counts["n_unknown_items_removed"] == 2
    assert r.n_events == 2  # 100->101 and 102->103


def test_beyond_accuracy_metrics():
    model = identity_successor_model()
    train = sessions_of([100, 101], [101, 102], [102, 103], [103, 104], [104, 105], [105, 100])
    test = sessions_of([100, 101, 102])
    r = evaluate(model, test, ks=(1, 2), train=train)
    assert r.metrics["coverage@1"] == pytest.approx(2 / 6)  # top-1 lists: {101}, {102}
    assert r.metrics["popularity@1"] == pytest.approx(1.0)  # every item has the same count
    # top-2 after 100 is {101, 102}: cosine(101, 102) = 1 / sqrt(2 * 2) = 0.5
    assert r.metrics["diversity@2"] == pytest.approx(0.5)


def test_paired_test_detects_a_real_difference_and_rejects_mismatches():
    rng = np.random.default_rng(0)
    worse = rng.integers(1, 50, 500).astype(float)
    better = np.maximum(1, worse - 5)
    res = paired_test(better, worse, "mrr", 20, "wilcoxon")
    assert res.difference > 0 and res.p_value < 1e-6
    same = paired_test(worse, worse, "recall", 20, "ttest")
    assert same.p_value == 1.0
    with pytest.raises(ValueError, match="same events"):
        paired_test(worse, worse[:10])


def test_select_rows_handles_every_builtin_state_kind():
    from sessrec.models.base import select_rows

    rows = torch.tensor([2, 0])
    tensor = torch.arange(12).view(4, 3)
    assert torch.equal(select_rows(tensor, rows), tensor[[2, 0]])
    layers = (torch.arange(8).view(4, 2), torch.arange(4))
    picked = select_rows(layers, rows)
    assert isinstance(picked, tuple) and torch.equal(picked[0], layers[0][[2, 0]]) and picked[1].tolist() == [2, 0]
    per_slot = ((1, 2), (), (7,), (3, 3))  # session-kNN: the clicks of each slot
    assert select_rows(per_slot, rows) == ((7,), (1, 2))
    with pytest.raises(TypeError, match="override select"):
        select_rows({"h": tensor}, rows)


def test_scoring_only_evaluated_slots_gives_the_same_ranks_for_every_state_kind():
    """Slots are scored in blocks of their evaluated rows; ranks must not depend on the batch size."""
    from sessrec.models.factory import make_model

    rng = np.random.default_rng(3)
    train = sessions_of(*[list(rng.integers(1, 30, size=rng.integers(2, 9))) for _ in range(200)])
    test = sessions_of(*[list(rng.integers(1, 30, size=rng.integers(2, 12))) for _ in range(40)], start_id=1000)
    for name in ("item_knn", "vsknn", "gru4rec"):
        params = {"n_epochs": 1, "layers": [8], "batch_size": 4, "n_sample": 0, "seed": 1} if name == "gru4rec" else {}
        model = make_model(name, params).fit(train)
        one = evaluate(model, test, batch_size=1, beyond_accuracy=False)
        many = evaluate(model, test, batch_size=5, min_position=2, beyond_accuracy=False)
        wide = evaluate(model, test, batch_size=512, min_position=2, beyond_accuracy=False)
        keep = one.positions >= 2
        assert np.array_equal(many.ranks, one.ranks[keep]) and np.array_equal(wide.ranks, one.ranks[keep]), name


def test_cosine_table_is_reused_for_the_same_training_data_only():
    from sessrec.data.sessions import ItemIndex
    from sessrec.evaluation.evaluator import session_cosine

    train = sessions_of([1, 2, 3], [2, 3], [3, 4])
    other = sessions_of([1, 2], [3, 4], [2, 4])
    catalogue = ItemIndex.from_items(train.items)
    first = session_cosine(train, catalogue)
    assert session_cosine(train, catalogue) is first
    assert session_cosine(other, ItemIndex.from_items(other.items)) is not first
    with pytest.raises(ValueError, match="catalogue"):
        session_cosine(train, ItemIndex.from_items(np.array([1, 2, 3, 4, 5])))
