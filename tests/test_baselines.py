import numpy as np
import pytest
import torch

from sessrec.errors import CheckpointError
from sessrec.evaluation import evaluate
from sessrec.models.io import load_model, save_model
from sessrec.models.item_knn import ItemKNN
from sessrec.models.last_item import LastItem
from sessrec.models.popular import MostPopular
from tests.helpers import sessions_of

TRAIN = sessions_of([1, 2, 3], [1, 2, 4], [2, 3], [5, 1, 2], [3, 1])


def test_most_popular_counts_training_clicks():
    model = MostPopular().fit(TRAIN)
    rec = model.recommend([3], k=3)
    # counts: 1->4, 2->4, 3->3, 4->1, 5->1; ties by smaller index first
    assert rec.item_ids.tolist() == [1, 2, 3]
    assert rec.scores.tolist() == [4, 4, 3]


def test_last_item_follows_transitions_then_popularity():
    model = LastItem().fit(TRAIN)
    # successors of 2: 3 (twice), 4 (once); the rest by popularity below them
    rec = model.recommend([5, 2], k=4)
    assert rec.item_ids.tolist() == [3, 4, 1, 2]
    assert rec.scores[0] == 2 and rec.scores[1] == 1 and rec.scores[2] < 0
    # item 4 has no successor: pure popularity order
    assert model.recommend([4], k=3).item_ids.tolist() == [1, 2, 3]


def test_item_knn_similarity_by_hand():
    model = ItemKNN(lambda_=1.0, alpha=0.5).fit(TRAIN)
    # sessions containing: 1 -> {s0, s1, s3, s4} (4), 2 -> {s0, s1, s2, s3} (4), 3 -> {s0, s2, s4} (3)
    # co(1,2)=3, co(1,3)=2: sim(1,2) = 3/(sqrt(4*4)+1) = 0.6; sim(1,3) = 2/(sqrt(4*3)+1)
    rec = model.recommend([1], k=2)
    assert rec.item_ids.tolist() == [2, 3]
    assert rec.scores[0] == pytest.approx(0.6)
    assert rec.scores[1] == pytest.approx(2 / (np.sqrt(12) + 1))


def test_item_knn_keeps_only_top_neighbours():
    model = ItemKNN(lambda_=0.0, n_neighbors=1).fit(TRAIN)
    rec = model.recommend([1], k=2)
    assert rec.scores[0] > 0 and rec.scores[1] < 0  # only one neighbour kept


@pytest.mark.parametrize("cls", [MostPopular, LastItem, ItemKNN])
def test_save_load_gives_identical_scores(tmp_path, cls):
    model = cls().fit(TRAIN)
    path = save_model(model, tmp_path / f"{cls.name}.pt", {"dataset": "tiny"})
    loaded = load_model(path)
    assert loaded.checkpoint_meta["dataset"] == "tiny"
    for session in ([1], [2, 3], [5, 1, 2]):
        a, _ = model.score_session(session)
        b, _ = loaded.score_session(session)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [MostPopular, LastItem, ItemKNN])
def test_recommend_matches_evaluation_scores(cls):
    model = cls().fit(TRAIN)
    test = sessions_of([5, 1, 2, 3])
    result = evaluate(model, test, tie_mode="standard", beyond_accuracy=False)
    for p in range(1, 4):
        scores, _ = model.score_session(test.items[:p])
        target = model.item_index.to_index(test.items[p : p + 1])[0]
        assert result.ranks[p - 1] == 1 + (scores > scores[target]).sum()


def test_unknown_items_are_skipped_and_reported():
    model = LastItem().fit(TRAIN)
    rec = model.recommend([2, 77], k=2)
    assert rec.unknown_items == [77]
    assert rec.item_ids.tolist() == [3, 4]  # as if the session were [2]


def test_exclude_seen():
    model = MostPopular().fit(TRAIN)
    assert model.recommend([1, 2], k=2, exclude_seen=True).item_ids.tolist() == [3, 4]


def test_live_cache_reuses_prefix_states():
    model = LastItem().fit(TRAIN)
    calls = []
    original = model.step
    model.step = lambda state, items: calls.append(1) or original(state, items)
    model.recommend([1, 2], k=1)
    model.recommend([1, 2, 3], k=1)
    assert len(calls) == 3  # 2 steps for [1, 2], then one more click


def test_live_cache_is_bounded_and_drops_the_least_recently_used_prefix():
    model = LastItem().fit(TRAIN)
    model._live_cache = type(model._live_cache)(maxsize=3)
    model.session_state((1, 2))  # caches (1,) and (1, 2)
    model.session_state((3,))  # a third prefix
    model.session_state((1,))  # used again: now the most recent
    model.session_state((4,))  # evicts the least recently used, (1, 2)
    assert set(model._live_cache) == {(1,), (3,), (4,)}


def test_corrupt_and_foreign_checkpoints_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a sessrec checkpoint"):
        load_model(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="missing format marker"):
        load_model(foreign)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_model(tmp_path / "missing.pt")


def test_checkpoint_refuses_pickled_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this would run",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "sessrec-checkpoint", "format_version": 1, "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="not a sessrec checkpoint .*refused for safety"):
        load_model(path)


def test_the_apps_loader_names_a_model_whose_module_cannot_be_imported(tmp_path):
    """The app loads checkpoints with the one loader (models.io); a checkpoint of a model whose
    module is missing gets a one-line CheckpointError, and the other models keep loading."""
    from sessrec.models.io import save_model
    from sessrec.models.registry import ModelSpec, register, unregister
    from sessrec.ui.models import load_checkpoint

    good = save_model(LastItem().fit(TRAIN), tmp_path / "last_item.pt", {"dataset": "toy"})
    payload = torch.load(good, weights_only=True)
    torch.save({**payload, "model": "toy_broken"}, tmp_path / "broken.pt")
    register(ModelSpec("toy_broken", "sessrec.no_such_module:Broken", "Broken", "baseline", "a model whose module "
                       "is gone", demo=None))
    try:
        with pytest.raises(CheckpointError, match="model 'toy_broken' cannot be imported") as err:
            load_checkpoint(tmp_path / "broken.pt")
        assert "\n" not in str(err.value)
        assert load_checkpoint(good).name == "last_item"
    finally:
        unregister("toy_broken")
