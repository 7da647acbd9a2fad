"""Evidence behind a score (counting models) and attention over the clicks (attention models):
hand-counted cases, and the evidence adding up to each model's own score."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sessrec.experiments.analysis.explain import attention_weights, evidence
from sessrec.models.item_knn import ItemKNN
from sessrec.models.last_item import LastItem
from sessrec.models.popular import MostPopular
from sessrec.models.rules import SequentialRules, SessionPop
from sessrec.models.session_knn import SKNN, STAN, VSKNN, VSTAN
from tests.helpers import sessions_of

# transitions: 1->3 twice, 2->3 once, 2->4 three times, 3->4 once
TRAIN = sessions_of([1, 3], [1, 3], [2, 3], [2, 4], [2, 4], [2, 4], [3, 4])
CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints" / "demo"


def score_of(model, session, item) -> float:
    return float(model.score_session(session)[0][model.item_index.to_index(np.array([item]))[0]])


def test_last_item_evidence_is_the_transition_count_from_the_last_click():
    model = LastItem().fit(TRAIN)
    found = evidence(model, [1, 2], 3)
    rows = found.table.set_index("Clicked")
    assert rows.loc[1, "Transitions"] == 2 and not rows.loc[1, "Used"]  # shown, not counted
    assert rows.loc[2, "Transitions"] == 1 and rows.loc[2, "Used"]
    assert found.total == found.score == score_of(model, [1, 2], 3) == 1.0
    # 1 never led to 4: no entry for the first click, 3 transitions from the last one
    found = evidence(model, [1, 2], 4)
    assert math.isnan(found.table.set_index("Clicked").loc[1, "Transitions"]) and found.total == 3.0


def test_last_item_evidence_without_a_transition_is_the_popularity_fallback():
    model = LastItem().fit(TRAIN)
    found = evidence(model, [4], 1)  # 4 never has a successor
    assert found.table["Contribution"].sum() == 0 and found.base < 0
    assert found.total == pytest.approx(score_of(model, [4], 1)) and "fallback" in found.note


def test_item_knn_evidence_is_the_similarity_of_each_click():
    # sessions holding each item: 1 -> 2, 2 -> 4, 3 -> 4, 4 -> 4; together: (1,3) 2, (2,3) 1, (2,4) 3, (3,4) 1
    model = ItemKNN(lambda_=0.0, alpha=0.5, n_neighbors=0).fit(TRAIN)
    found = evidence(model, [1, 2], 3)
    sims = found.table.set_index("Clicked")["Similarity"]
    assert sims[1] == pytest.approx(2 / math.sqrt(2 * 4)) and sims[2] == pytest.approx(1 / 4)
    assert found.total == pytest.approx(0.25) and found.total == pytest.approx(score_of(model, [1, 2], 3))
    assert evidence(model, [1, 2], 4).total == pytest.approx(3 / 4)


def test_sequential_rules_evidence_is_the_decayed_rule_weight():
    # rules with 'div' decay: 5->6 1, 6->7 1 + 1, 5->7 1/2 (two steps) + 1 (the second session)
    model = SequentialRules(steps=2, weighting="div", pruning=0).fit(sessions_of([5, 6, 7], [5, 7], [6, 7]))
    found = evidence(model, [6, 5], 7)
    weights = found.table.set_index("Clicked")["Rule weight"]
    assert weights[6] == pytest.approx(2.0) and weights[5] == pytest.approx(1.5)
    assert found.total == pytest.approx(1.5) == score_of(model, [6, 5], 7)
    assert evidence(model, [7], 5).total == 0.0 == score_of(model, [7], 5)  # no rule 7 -> 5


def test_session_pop_and_most_popular_evidence():
    spop = SessionPop(top_n=100).fit(TRAIN)
    found = evidence(spop, [3, 4, 3], 3)
    assert list(found.table["Position"]) == [1, 3]  # two clicks on item 3
    assert found.base == pytest.approx(4 / 5)  # 4 training clicks: 4 / (4 + 1)
    assert found.total == pytest.approx(2.8) and found.total == pytest.approx(score_of(spop, [3, 4, 3], 3))
    popular = evidence(MostPopular().fit(TRAIN), [1, 2], 4)
    assert popular.total == 4.0 == popular.score


def test_sknn_evidence_lists_the_neighbour_sessions_by_hand():
    # training sessions, numbered by file order (no times): 0 = [1, 2], 1 = [2, 3], 2 = [4, 5]
    model = SKNN(k=10, sample_size=0, similarity="jaccard").fit(sessions_of([1, 2], [2, 3], [4, 5]))
    found = evidence(model, [1, 2], 3)
    table = found.table.set_index("Neighbour")
    assert set(table.index) == {0, 1}, "session 2 shares no click"
    assert table.loc[0, "Similarity"] == pytest.approx(1.0) and table.loc[1, "Similarity"] == pytest.approx(1 / 3)
    assert not table.loc[0, "Has item"] and table.loc[1, "Has item"]
    assert table.loc[0, "Items"] == [1, 2] and table.loc[1, "Items"] == [2, 3]
    assert found.total == pytest.approx(1 / 3) and found.total == pytest.approx(score_of(model, [1, 2], 3))
    assert evidence(model, [1, 2], 2).total == pytest.approx(4 / 3)  # both neighbours hold item 2
    assert evidence(model, [1, 2], 5).total == 0.0 and len(evidence(model, [], 5).table) == 0


@pytest.mark.parametrize("make", [lambda: SKNN(k=5), lambda: VSKNN(k=5, idf_weighting=1.0, remind=False),
                                  lambda: STAN(k=5, lambda_snh=None), lambda: VSTAN(k=5, remind=False)])
def test_session_knn_evidence_adds_up_to_the_score(make):
    rng = np.random.default_rng(3)
    train = sessions_of(*[list(rng.integers(1, 15, rng.integers(2, 7))) for _ in range(60)])
    model = make().fit(train)
    session = [3, 7, 3, 11]
    scores, _ = model.score_session(session)
    for item in model.item_index.item_ids[:14]:
        found = evidence(model, session, int(item))
        assert found.total == pytest.approx(float(scores[model.item_index.to_index(np.array([item]))[0]]), rel=1e-5, abs=1e-7)
        assert len(found.table) <= 5


@pytest.mark.parametrize("name", ["most_popular", "last_item", "item_knn", "sr", "spop", "sknn", "vsknn", "stan", "vstan"])
def test_evidence_reproduces_the_committed_demo_models(name):
    from sessrec.data.dataset import load_dataset
    from sessrec.models.io import load_model

    model = load_model(CHECKPOINTS / f"{name}.pt")
    test = load_dataset(CHECKPOINTS.parents[1] / "data" / "demo").test
    for s in range(3):
        session = [int(i) for i in test.session(s)][:4]
        rec = model.recommend(session, 5)
        for item in list(rec.item_ids) + [int(test.session(s + 3)[0])]:
            found = evidence(model, session, int(item))
            assert found.total == pytest.approx(score_of(model, session, int(item)), rel=1e-5, abs=1e-6)


def test_models_without_evidence_or_attention_say_none():
    from tests.helpers import ScriptedModel

    model = ScriptedModel(np.zeros((3, 2)), np.array([1, 2]))
    assert evidence(model, [1], 2) is None and attention_weights(model, [1]) is None
    with pytest.raises(KeyError, match="does not know item 9"):
        evidence(LastItem().fit(TRAIN), [1], 9)


class WindowedAttention:
    """Stands in for an attention model: uniform weights over the last ``window`` known clicks."""

    name = "windowed"

    def __init__(self, item_ids, window):
        from sessrec.data.sessions import ItemIndex

        self.item_index = ItemIndex.from_items(np.asarray(item_ids))
        self.window = window

    def attention(self, session_items):
        n = min(len(session_items), self.window)
        return np.full(n, 1.0 / n)


def test_attention_weights_map_to_the_clicks_they_read():
    frame = attention_weights(WindowedAttention([1, 2, 3, 4], window=2), [1, 99, 2, 3])
    assert list(frame["Clicked"]) == [1, 99, 2, 3]
    # 99 is unknown, 1 is before the window of the last two known clicks
    assert frame["Attention"].isna().tolist() == [True, True, False, False]
    assert frame["Attention"].sum() == pytest.approx(1.0)
