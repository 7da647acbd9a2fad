"""What the playground's recommendation lists send to the browser (sessrec.ui.rec_lists)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sessrec.ui.playground import ModelSlot, RecList
from sessrec.ui.rec_lists import caption, change_badge, list_view


def make_list(scores, role="last_item", is_fallback=False, unknown=()) -> RecList:
    ids = [11, 12, 13][: len(scores)]
    items = pd.DataFrame({"Rank": np.arange(1, len(ids) + 1), "ItemId": ids,
                          "Name": [f"Item <b>{i}</b>" for i in ids], "Category": ["Toys"] * len(ids),
                          "Score": np.asarray(scores, dtype=np.float64)})
    slot = ModelSlot(role, "LastItem", model=None, source="checkpoints/demo/last_item.pt", is_fallback=is_fallback,
                     note="no checkpoint" if is_fallback else None)
    return RecList(slot, items, np.asarray(scores), list(unknown), seconds=0.0042)


def test_rows_carry_id_rank_name_score_and_a_tooltip():
    view = list_view(make_list([0.91234, 0.5, 0.0001]))
    assert [r["id"] for r in view["rows"]] == [11, 12, 13]
    assert [r["rank"] for r in view["rows"]] == [1, 2, 3]
    assert [r["score"] for r in view["rows"]] == ["0.912", "0.500", "1.0e-04"]
    # names travel as text: the component sets textContent, so markup in a name is never parsed
    assert view["rows"][0]["name"] == "Item <b>11</b>"
    assert view["rows"][0]["title"] == "Item <b>11</b> · Toys · id 11 · score 0.91234 — click to add"
    assert view["caption"] == "checkpoints/demo/last_item.pt · 4.2 ms"
    json.dumps(view)  # plain JSON, as the component needs


def test_counts_are_shown_as_integers_across_the_whole_list():
    assert [r["score"] for r in list_view(make_list([467.0, 56.0, 3.0]))["rows"]] == ["467", "56", "3"]
    # one non-integral score: the list is not counts, so small values keep their decimals
    assert [r["score"] for r in list_view(make_list([467.0, 56.5]))["rows"]] == ["467", "56.50"]


def test_negative_scores_read_by_popularity_only_where_they_mean_it():
    mixed = make_list([3.0, -0.25, -0.5])
    assert [r["score"] for r in list_view(mixed, negative_is_fallback=True)["rows"]] == [
        "3.00", "by popularity", "by popularity"]
    assert [r["score"] for r in list_view(mixed)["rows"]] == ["3.00", "-0.250", "-0.500"]
    # a column that is the popularity fallback as a whole shows its counts, not the mark
    fallback = make_list([-1.0, -2.0], is_fallback=True)
    assert [r["score"] for r in list_view(fallback, negative_is_fallback=True)["rows"]] == ["-1", "-2"]
    assert caption(fallback).startswith("popularity fallback")


def test_highlight_and_change_marks():
    view = list_view(make_list([3.0, 2.0, 1.0]), highlight={12}, changes={11: "new", 12: "up 2", 13: "left"})
    assert [(r["star"], r["change"]) for r in view["rows"]] == [(False, "new"), (True, "↑2"), (False, "")]
    assert [r["star"] for r in list_view(make_list([3.0, 2.0]))["rows"]] == [False, False]
    assert change_badge("down 3") == "↓3"


def test_caption_says_what_was_skipped():
    assert caption(make_list([1.0], unknown=[5, 6])).endswith("skipped 2 session item(s) it does not know")


def test_a_list_that_ranks_nothing_says_so_in_one_line_instead_of_rows():
    flat = list_view(make_list([0.0, 0.0, 0.0]))
    assert flat["rows"] == [] and "same score" in flat["note"] and "LastItem" in flat["note"]
    borrowed = list_view(make_list([-1.0, -2.0, -3.0]), negative_is_fallback=True)
    assert borrowed["rows"] == [] and "would only repeat the popularity ranking" in borrowed["note"]
    # the popularity fallback column is a ranking of its own; a model with evidence keeps its rows
    assert list_view(make_list([-1.0, -2.0], is_fallback=True), negative_is_fallback=True)["note"] is None
    assert len(list_view(make_list([3.0, -1.0]), negative_is_fallback=True)["rows"]) == 2
    # what the scores mean travels with each list
    assert list_view(make_list([2.0, 1.0]), meaning="transition counts")["meaning"] == "transition counts"
