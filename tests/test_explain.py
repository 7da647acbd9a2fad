"""Leave-one-out attribution, list changes and agreement measures on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sessrec.data.sessions import Sessions
from sessrec.experiments.analysis.explain import (agreement_table, hit_agreement, jaccard_at_k, leave_one_out, list_changes,
                                         rank_biased_overlap, run_agreement)
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


def fake_run(label, seed, ranks, n_events=None, ranking=None, targets=None, tie_mode="median"):
    """A run record with its arrays kept in memory (what ``load`` returns)."""
    ranks = np.asarray(ranks, dtype=float)
    record = {"run_id": label if seed is None else f"{label}-seed{seed}", "label": label, "model": label,
              "dataset": "toy", "seed": seed,
              "evaluation": {"tie_mode": tie_mode, "min_position": 1, "n_events": n_events or len(ranks)},
              "_arrays": {"ranks": ranks, "positions": np.arange(len(ranks)),
                          "targets": np.arange(len(ranks)) if targets is None else np.asarray(targets)}}
    if ranking:
        record["protocol"] = {"ranking": ranking}
    return record


def load_fake(record, name):
    return record["_arrays"][name]


def test_run_agreement_on_the_first_seed_of_each_run():
    runs = [fake_run("gru", 2, [50, 50, 50, 50]),  # a later seed: ignored
            fake_run("gru", 1, [1, 30, 5, 50]),
            fake_run("knn", None, [2, 3, 40, 60])]
    found = run_agreement(runs, k=20, load=load_fake)
    assert found.runs == {"gru": "gru-seed1", "knn": "knn"} and found.n_events == 4 and not found.left_out
    row = found.table.iloc[0]
    assert (row["A"], row["B"]) == ("gru", "knn")
    assert (row["both"], row["only A"], row["only B"], row["neither"]) == (0.25, 0.25, 0.25, 0.25)
    assert found.hit_rates == {"gru": 0.5, "knn": 0.5}
    assert run_agreement(runs, k=1, load=load_fake).table.iloc[0]["only A"] == 0.25  # k matters


def test_run_agreement_leaves_out_runs_whose_events_do_not_line_up():
    runs = [fake_run("a", None, [1, 2, 3, 4]), fake_run("b", None, [4, 3, 2, 1]),
            fake_run("fewer", None, [1, 2, 3]),  # other test events
            fake_run("sampled", None, [1, 1, 1, 1], ranking="sampled (99 negatives)"),
            fake_run("shuffled", None, [1, 2, 3, 4], targets=[3, 2, 1, 0]),  # same count, other events
            fake_run("ties", None, [1, 2, 3, 4], tie_mode="standard")]
    found = run_agreement(runs, k=2, load=load_fake)
    assert list(found.runs) == ["a", "b"]
    reasons = " | ".join(found.left_out)
    assert "fewer (fewer): evaluated differently" in reasons and "test events 3 vs 4" in reasons
    assert "sampled" in reasons and "ranking sampled" in reasons
    assert "shuffled (shuffled): different test events (its targets differ" in reasons
    assert "ties standard vs median" in reasons
    with pytest.raises(ValueError, match="fewer than two runs"):
        run_agreement([runs[0], runs[2]], load=load_fake)
