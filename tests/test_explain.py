"""Leave-one-out attribution, list changes and agreement measures on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sessrec.data.sessions import Sessions
from sessrec.experiments.explain import (agreement_table, hit_agreement, jaccard_at_k, leave_one_out, list_changes,
                                         rank_biased_overlap)
from sessrec.models.last_item import LastItem
from sessrec.models.popular import MostPopular


def sessions(lists):
    rows = [(s, item, pos) for s, items in enumerate(lists) for pos, item in enumerate(items)]
    return Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"]))


# transitions: 1->3 twice, 2->3 once, 2->4 three times, 3->4 once
TRAIN = sessions([[1, 3], [1, 3], [2, 3], [2, 4], [2, 4], [2, 4], [3, 4]])


def test_leave_one_out_on_last_item_matches_hand_counts():
    model = LastItem().fit(TRAIN)
    frame = leave_one_out(model, [1, 2], 3)
    # full session [1, 2]: score(3) = count(2 -> 3) = 1; items 4 (3) ahead of it -> rank 2
    assert frame.attrs["score"] == 1.0 and frame.attrs["rank"] == 2.0
    first, last = frame.iloc[0], frame.iloc[1]
    # without click 1 the session is [2]: nothing changes for LastItem
    assert first["Clicked"] == 1 and first["DeltaScore"] == 0.0 and first["DeltaRank"] == 0.0
    # without click 2 the session is [1]: score(3) = count(1 -> 3) = 2, now rank 1
    assert last["Clicked"] == 2 and last["ScoreWithout"] == 2.0
    assert last["DeltaScore"] == -1.0 and last["DeltaRank"] == -1.0  # click 2 pushed item 3 down one place


def test_leave_one_out_is_zero_for_a_model_that_ignores_the_session():
    frame = leave_one_out(MostPopular().fit(TRAIN), [1, 2, 3], 4)
    assert (frame["DeltaScore"] == 0).all() and (frame["DeltaRank"] == 0).all() and len(frame) == 3


def test_leave_one_out_refuses_an_unknown_item():
    with pytest.raises(KeyError, match="does not know item 99"):
        leave_one_out(LastItem().fit(TRAIN), [1], 99)


def test_list_changes():
    changes = list_changes([10, 20, 30], [20, 10, 40])
    assert changes == {20: "up 1", 10: "down 1", 40: "new", 30: "left"}


def test_jaccard_and_rbo_by_hand():
    assert jaccard_at_k([1, 2, 3], [3, 4, 5], 3) == pytest.approx(1 / 5)
    assert jaccard_at_k([1, 2, 3, 9], [1, 2, 3, 8], 3) == 1.0
    assert rank_biased_overlap([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert rank_biased_overlap([1, 2], [3, 4]) == 0.0
    # depth 1: A_1 = 0; depth 2: A_2 = 2/2 = 1 -> (1 - p) * p / (1 - p^2)
    p = 0.9
    assert rank_biased_overlap([1, 2], [2, 1], p) == pytest.approx((1 - p) * p / (1 - p ** 2))
    # swapping the top matters more than swapping the bottom
    assert rank_biased_overlap([1, 2, 3, 4], [1, 2, 4, 3]) > rank_biased_overlap([1, 2, 3, 4], [2, 1, 3, 4])
    table = agreement_table({"a": [1, 2, 3], "b": [1, 2, 3], "c": [7, 8, 9]}, k=3)
    assert table.set_index(["A", "B"]).loc[("a", "b"), "Jaccard"] == 1.0
    assert table.set_index(["A", "B"]).loc[("a", "c"), "RBO"] == 0.0


def test_hit_agreement_counts_events():
    ranks = {"x": np.array([1, 30, 5, 50]), "y": np.array([2, 3, 40, 60])}
    row = hit_agreement(ranks, k=20).iloc[0]
    assert (row["both"], row["only A"], row["only B"], row["neither"]) == (0.25, 0.25, 0.25, 0.25)
    assert row["Jaccard"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="different events"):
        hit_agreement({"x": np.array([1]), "y": np.array([1, 2])})
