"""The user-context task: its data type, protocol, registry entries and leave-one-out evaluator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sessrec.cli import main
from sessrec.cli.common import EXIT_USAGE
from sessrec.data.interactions import Interactions
from sessrec.errors import DataFormatError, ParameterError
from sessrec.evaluation.user_context import draw_negatives, evaluate_user_context, leave_one_out
from sessrec.models import registry
from sessrec.models.factory import make_model, model_names
from sessrec.data.sessions import ItemIndex
from sessrec.models.user_context.base import UserContextModel, ValueEncoder
from sessrec.models.user_context.popularity import ContextPopularity


def interactions(rows: list[tuple], context: tuple[str, ...] = ()) -> Interactions:
    """``rows`` of (user, item, label, time, *context values)."""
    frame = pd.DataFrame(rows, columns=["UserId", "ItemId", "Label", "Time", *context])
    return Interactions.from_frame(frame, context)


class ItemIdModel:
    """Scores an item by its id (a higher id is better), or one constant score for every item."""

    name = "item_id"

    def __init__(self, constant: bool = False) -> None:
        self.constant = constant

    def fit(self, train: Interactions) -> "ItemIdModel":
        return self

    def score_pairs(self, users, items, context):
        return np.zeros(len(items)) if self.constant else items.astype(np.float64)


def test_interactions_check_their_columns() -> None:
    with pytest.raises(DataFormatError, match="every column needs one value a row"):
        Interactions(np.arange(3), np.arange(2), np.ones(3, np.float32))
    with pytest.raises(DataFormatError, match="missing column.*device"):
        Interactions.from_frame(pd.DataFrame({"UserId": [1], "ItemId": [2]}), ("device",))
    with pytest.raises(DataFormatError, match="ItemId must hold integers"):
        Interactions.from_frame(pd.DataFrame({"UserId": [1], "ItemId": ["a"]}))
    data = interactions([(1, 10, 1.0, 0.0, "mobile"), (2, 11, 0.0, 5.0, "desktop")], ("device",))
    assert data.context_features == ("device",) and len(data.select(data.label > 0)) == 1
    back = Interactions.from_frame(data.to_frame(), ("device",))
    assert back.item.tolist() == [10, 11] and back.context["device"].tolist() == ["mobile", "desktop"]


def test_encoders_map_unknown_values_to_minus_one() -> None:
    ids = ItemIndex.from_items(np.array([30, 10, 20, 10]))  # the one id encoder, for users as for items
    assert ids.to_index(np.array([10, 20, 30, 25, 99, 1])).tolist() == [0, 1, 2, -1, -1, -1] and len(ids) == 3
    assert ItemIndex.from_items(np.array([], dtype=np.int64)).to_index(np.array([1])).tolist() == [-1]
    values = ValueEncoder(np.array(["evening", "morning", "evening"]))
    assert values.values == ["evening", "morning"]
    assert values.encode(np.array(["morning", "night"])).tolist() == [1, -1]


def test_leave_one_out_holds_out_each_users_latest_positive() -> None:
    data = interactions([
        (1, 10, 1.0, 5.0), (1, 11, 1.0, 1.0), (1, 12, 1.0, 9.0), (1, 13, 0.0, 20.0),  # 13: latest, but negative
        (2, 10, 1.0, 3.0),  # a single positive: stays in train
        (3, 14, 1.0, 2.0), (3, 15, 1.0, 2.0),  # same time: the later row is held out
    ])
    train, test = leave_one_out(data)
    assert list(zip(test.user.tolist(), test.item.tolist())) == [(1, 12), (3, 15)]
    assert len(train) + len(test) == len(data) and 13 in train.item.tolist()
    with pytest.raises(ValueError, match="no positive interaction"):
        leave_one_out(interactions([(1, 10, 0.0, 1.0)]))


def test_negatives_are_distinct_and_never_seen_by_the_user() -> None:
    test = interactions([(1, 5, 1.0, 0.0), (2, 6, 1.0, 0.0)])
    seen = {1: {1, 2, 3, 5}, 2: {6}}
    catalogue = np.arange(1, 41)
    drawn = draw_negatives(test, seen, catalogue, 30, seed=3)
    for row, user in enumerate((1, 2)):
        assert len(set(drawn[row].tolist())) == 30 and not set(drawn[row].tolist()) & seen[user]
    assert np.array_equal(drawn, draw_negatives(test, seen, catalogue, 30, seed=3))  # same seed, same negatives
    with pytest.raises(ValueError, match="too many items"):
        draw_negatives(test, seen, catalogue, 37, seed=0)


def test_ranks_count_the_negatives_above_the_held_out_item() -> None:
    train = interactions([(u, i, 1.0, 0.0) for u in (1, 2) for i in range(1, 21)])
    test = interactions([(1, 15, 1.0, 1.0), (2, 20, 1.0, 1.0)])
    train = train.select((train.user != 1) | (train.item != 15))
    train = train.select((train.user != 2) | (train.item != 20))
    extra = interactions([(3, i, 1.0, 0.0) for i in range(21, 41)])  # items only user 3 saw: the negatives' pool
    train = Interactions.from_frame(pd.concat([train.to_frame(), extra.to_frame()]))
    result = evaluate_user_context(ItemIdModel(), train, test, negatives=10, ks=(5, 10), seed=1)
    # users 1 and 2 saw items 1-20, so every negative is one of 21-40: all score above the held-out item
    assert result.ranks.tolist() == [11.0, 11.0]
    assert result.metrics["hitrate@10"] == 0.0 and result.metrics["mrr@10"] == 0.0
    ties = evaluate_user_context(ItemIdModel(constant=True), train, test, negatives=10, ks=(10,), seed=1)
    assert ties.ranks.tolist() == [6.0, 6.0]  # median ties: 1 + 10 / 2
    assert ties.metrics["hitrate@10"] == 1.0 and ties.metrics["mrr@10"] == pytest.approx(1 / 6)
    assert ties.metrics["ndcg@10"] == pytest.approx(1 / np.log2(7))
    with pytest.raises(ValueError, match="negatives = 0"):
        evaluate_user_context(ItemIdModel(), train, test, negatives=0)


def planted_shop(seed: int = 0) -> Interactions:
    """Items 1-5 sell on mobile, items 6-10 on desktop (equally well); items 11-60 are noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, 401):
        for t in range(3):
            device = "mobile" if rng.random() < 0.5 else "desktop"
            planted = int(rng.integers(1, 6)) + (0 if device == "mobile" else 5)
            item = planted if rng.random() < 0.7 else int(rng.integers(11, 61))
            rows.append((user, item, 1.0, float(t), device))
    return interactions(rows, ("device",))


def test_context_popularity_uses_the_context() -> None:
    train, test = leave_one_out(planted_shop())
    with_context = ContextPopularity().fit(train)
    without = ContextPopularity().fit(Interactions(train.user, train.item, train.label, train.time))
    assert isinstance(with_context, UserContextModel)
    scored = evaluate_user_context(with_context, train, test, negatives=20, ks=(1,), seed=0)
    plain = evaluate_user_context(without, train, Interactions(test.user, test.item, test.label, test.time),
                                  negatives=20, ks=(1,), seed=0)
    # without the device, the other device's five items are as popular as the held-out item's
    assert scored.metrics["hitrate@1"] > plain.metrics["hitrate@1"] + 0.1, (scored.metrics, plain.metrics)
    with pytest.raises(ValueError, match="lack the context feature 'device'"):
        with_context.score_pairs(test.user, test.item, {})


def test_the_registry_keeps_the_tasks_apart(tmp_path, capsys) -> None:
    assert registry.SPECS["context_pop"].task == registry.USER_CONTEXT
    assert "context_pop" not in model_names() and "context_pop" in model_names(registry.USER_CONTEXT)
    assert "context_pop" not in {s.name for s in registry.REGISTRY}
    assert isinstance(make_model("context_pop"), ContextPopularity)
    toy = registry.ModelSpec("toy_user_pop", "sessrec.models.user_context.popularity:ContextPopularity", "ToyPop",
                             "user_context", "a second popularity", task=registry.USER_CONTEXT, demo=None)
    registry.register(toy)
    try:
        assert registry.models_of(registry.USER_CONTEXT)[-1] is toy and toy not in registry.REGISTRY
    finally:
        registry.unregister("toy_user_pop")
    assert "toy_user_pop" not in registry.SPECS and toy not in registry.USER_CONTEXT_REGISTRY
    from sessrec.experiments.runs.training import check_session_model

    with pytest.raises(ParameterError, match="user-context model, not a session model"):
        check_session_model("context_pop")
    code = main(["train", "--dataset", "data/demo", "--model", "context_pop", "--out", str(tmp_path / "x.pt")])
    assert code == EXIT_USAGE and "not a session model" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown task"):
        registry.models_of("graph")
