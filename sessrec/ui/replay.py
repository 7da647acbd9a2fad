"""Replay a test session: at each step, the rank of the true next item under every model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sessrec.ui.catalogue import Catalogue
from sessrec.evaluation.metrics import ranks_in
from sessrec.ui.playground import ModelSlot


def replay_ranks(slots: list[ModelSlot], items: list[int], catalogue: Catalogue) -> pd.DataFrame:
    """Step p (1..n-1): each model has read items[:p]; rank of items[p] over its whole
    catalogue (median ties, nothing excluded: the evaluator's protocol). Rank is NaN
    when the model does not know the true item."""
    rows = []
    for slot in slots:
        index = slot.model.item_index
        for p in range(1, len(items)):
            scores, _ = slot.model.score_session(items[:p])
            target = int(index.to_index(np.array([items[p]]))[0])
            rank = float(ranks_in(scores, np.array([target]))[0]) if target >= 0 else float("nan")
            rows.append({"Step": p, "Model": slot.label, "Rank": rank, "Target": catalogue.name(items[p]),
                         "TargetId": int(items[p])})
    return pd.DataFrame(rows, columns=["Step", "Model", "Rank", "Target", "TargetId"])


def step_summary(ranks: pd.DataFrame, ks: tuple[int, ...] = (1, 5, 10, 20)) -> pd.DataFrame:
    """Per model over the replayed session: hits@k and mean reciprocal rank."""
    out = []
    for model, group in ranks.groupby("Model", sort=False):
        r = group["Rank"].to_numpy(float)
        row = {"Model": model}
        for k in ks:
            row[f"Hits@{k}"] = int(np.nansum(r <= k))
        row["MRR@20"] = float(np.nanmean(np.where(r <= 20, 1.0 / r, 0.0))) if len(r) else float("nan")
        out.append(row)
    return pd.DataFrame(out)


def top_k_side_by_side(lists) -> pd.DataFrame:
    """Rank x model table of item names (from :func:`sessrec.ui.playground.recommend` lists)."""
    from sessrec.ui.playground import comparison_table

    return comparison_table(lists)


def highlight_item(table: pd.DataFrame, name: str):
    """Styler: the cells holding ``name`` (the true next item) bold on a tint."""
    return table.style.map(lambda cell: "font-weight: bold; background-color: rgba(214, 51, 108, 0.18)"
                           if cell == name else "")
