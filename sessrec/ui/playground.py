"""What the playground computes after a click: every model's top-k, rank trajectories,
the score distribution. Plain functions over models; the page only shows the results.

All models go through ``model.recommend`` (:mod:`sessrec.models.base`), which keeps the
state of every prefix of a live session, so a click costs one ``step`` per model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sessrec.evaluation.metrics import ranks_in
from sessrec.ui.catalogue import Catalogue


@dataclass
class ModelSlot:
    """One column of the playground: a model plus where it came from."""

    role: str  # gru4rec, most_popular, ...
    label: str  # GRU4Rec, MostPopular, ...
    model: Any
    source: str  # checkpoint path, or a description of the fallback
    is_fallback: bool = False
    note: str | None = None  # why a fallback is used, or a catalogue warning


@dataclass
class RecList:
    slot: ModelSlot
    items: pd.DataFrame  # Rank, ItemId, Name, Category, Score
    all_scores: np.ndarray
    unknown_items: list[int] = field(default_factory=list)
    seconds: float = 0.0


def recommend(slot: ModelSlot, session: list[int], k: int, exclude_seen: bool, catalogue: Catalogue) -> RecList:
    started = time.perf_counter()
    rec = slot.model.recommend(session, k, exclude_seen=exclude_seen, return_all_scores=True)
    seconds = time.perf_counter() - started
    ids = np.asarray(rec.item_ids, dtype=np.int64)
    frame = pd.DataFrame({  # one constructor call: a click builds one of these per model
        "Rank": np.arange(1, len(ids) + 1),
        "ItemId": ids,
        "Name": catalogue.names(ids.tolist()),
        "Category": [catalogue.category(i) for i in ids.tolist()],
        "Score": np.asarray(rec.scores, dtype=np.float64),
    })
    return RecList(slot, frame, rec.all_scores, list(rec.unknown_items), seconds)


def recommend_all(slots: list[ModelSlot], session: list[int], k: int, exclude_seen: bool,
                  catalogue: Catalogue) -> list[RecList]:
    return [recommend(slot, session, k, exclude_seen, catalogue) for slot in slots]


def rank_trajectory(model: Any, session: list[int], item_ids: list[int], exclude_seen: bool) -> pd.DataFrame:
    """Rank of each of ``item_ids`` after every click of ``session``.

    Columns: Step (1..len(session)), Clicked (the item clicked at that step), ItemId, Rank.
    Items the model does not know are left out. Every prefix state is in the model's
    live cache already (the playground recommended after each click), so this is cheap.
    """
    index = model.item_index
    targets = index.to_index(np.asarray(item_ids, dtype=np.int64))
    keep = targets >= 0
    targets, kept_ids = targets[keep], np.asarray(item_ids, dtype=np.int64)[keep]
    rows = []
    for step in range(1, len(session) + 1):
        prefix = session[:step]
        scores, _ = model.score_session(prefix)
        masked = None
        if exclude_seen:
            seen = index.to_index(np.asarray(prefix, dtype=np.int64))
            masked = seen[seen >= 0]
        ranks = ranks_in(scores, targets, masked)
        if masked is not None:
            ranks = np.where(np.isin(targets, masked), -1, ranks)  # a seen item has no rank
        for item, rank in zip(kept_ids, ranks):
            if rank > 0:
                rows.append({"Step": step, "Clicked": int(session[step - 1]), "ItemId": int(item), "Rank": float(rank)})
    return pd.DataFrame(rows, columns=["Step", "Clicked", "ItemId", "Rank"])


def score_histogram(scores: np.ndarray, bins: int = 60) -> pd.DataFrame:
    """Histogram of a full score vector: Low, High, Count (few rows however big the catalogue)."""
    finite = scores[np.isfinite(scores)].astype(np.float64)
    if len(finite) == 0:
        return pd.DataFrame(columns=["Low", "High", "Count"])
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    return pd.DataFrame({"Low": edges[:-1], "High": edges[1:], "Count": counts})


def comparison_table(lists: list[RecList]) -> pd.DataFrame:
    """Rank x model table of item names (for the side-by-side view and CSV export)."""
    columns = {}
    for rec in lists:
        columns[rec.slot.label] = rec.items["Name"].tolist()
    depth = max((len(c) for c in columns.values()), default=0)
    table = pd.DataFrame({k: v + [""] * (depth - len(v)) for k, v in columns.items()})
    table.index = pd.RangeIndex(1, depth + 1, name="Rank")
    return table
