"""The evidence behind one item's score, for the models whose scores are built from counts.

Neighbourhood models (LastItem, Item-KNN, SR, S-POP, MostPopular, the session-kNN family)
implement the optional method ``evidence(session_items, item_id) -> Evidence``: the table
rows (transitions, similarities, rules, neighbour sessions, clicks) that add up to the
item's score. The table is exact, not an approximation: ``Evidence.total`` reproduces the
model's own score (up to float32 rounding), which the tests check model by model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from sessrec.models.sparse_rows import SparseRows

CONTRIBUTION = "Contribution"


@dataclass
class Evidence:
    """What produced ``score``: ``table[Contribution].sum() + base == score``."""

    kind: str  #: what a row is: "transitions", "similarities", "rules", "neighbours", "clicks", "popularity"
    table: pd.DataFrame  #: one row per piece of evidence, with a ``Contribution`` column
    score: float  #: the model's own score for the item after the session
    base: float = 0.0  #: the part of the score that no row explains (popularity fallback, tie-break)
    note: str = ""  #: how the rows combine into the score, in words

    @property
    def total(self) -> float:
        """The score rebuilt from the evidence (float64 sum of the contributions plus ``base``)."""
        return float(self.table[CONTRIBUTION].astype(np.float64).sum()) + float(self.base)


def dense_index(model, item_id: int) -> int:
    """Dense index of ``item_id`` (``KeyError`` naming the model when it does not know it)."""
    index = int(model.item_index.to_index(np.asarray([item_id], dtype=np.int64))[0])
    if index < 0:
        raise KeyError(f"{model.name} does not know item {item_id}")
    return index


def known_clicks(model, session_items) -> tuple[list[int], list[int], np.ndarray]:
    """The clicks the model reads: (1-based positions, original ids, dense indices); unknown ones skipped."""
    ids = np.asarray(list(session_items), dtype=np.int64)
    idx = model.item_index.to_index(ids) if len(ids) else np.zeros(0, np.int64)
    keep = np.flatnonzero(idx >= 0)
    return [int(p) + 1 for p in keep], [int(i) for i in ids[keep]], idx[keep]


def table_entry(rows: SparseRows, row: int, column: int) -> float | None:
    """``rows[row, column]``, or ``None`` when the table has no such entry."""
    start, end = int(rows.indptr[row]), int(rows.indptr[row + 1])
    cols = rows.indices[start:end]
    at = int(torch.searchsorted(cols, torch.tensor(column)))  # columns are sorted within a row
    if at < len(cols) and int(cols[at]) == column:
        return float(rows.values[start + at])
    return None


def last_item_evidence(model, rows: SparseRows | None, fallback: torch.Tensor | None, session_items, item_id: int,
                       kind: str, value_name: str, what: str) -> Evidence:
    """Evidence of a model that scores ``rows[last click, item]`` (LastItem, Item-KNN, SR).

    One row per known click with its table value towards the item, so the reader sees what
    the other clicks would have given; only the last click counts (``Used``). Without an
    entry for the last click the score is ``fallback[item]`` (0 when there is no fallback).
    """
    target = dense_index(model, item_id)
    assert rows is not None  # a model that knows the item is fitted, so it has its table
    positions, ids, idx = known_clicks(model, session_items)
    values = [table_entry(rows, int(i), target) for i in idx]
    last = len(idx) - 1
    used = [p == last for p in range(len(idx))]
    contributions = [v if (u and v is not None) else 0.0 for v, u in zip(values, used)]
    table = pd.DataFrame({"Position": positions, "Clicked": ids,
                          value_name: [np.nan if v is None else v for v in values],
                          "Used": used, CONTRIBUTION: contributions})
    has_entry = last >= 0 and values[last] is not None
    base = 0.0 if has_entry or fallback is None else float(fallback[target])
    score = float(np.float32(values[last])) if has_entry else float(np.float32(base))
    note = (f"Only the session's last click counts: the score is {what}. The other clicks' values are shown "
            "for comparison.")
    if not has_entry:
        note += (" The last click has no entry for this item, so its score is the popularity fallback "
                 "(below every item with an entry)." if fallback is not None else
                 " The last click has no entry for this item: its score is 0.")
    return Evidence(kind, table, score, base, note)
