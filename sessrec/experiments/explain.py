"""Why a model recommends an item, and how much models agree: model-agnostic analysis.

Everything here goes through the models' live interface (``score_session``), so it works
for every registered model the same way; models answer cheaply because the states of a
session's prefixes are cached (leaving out click ``i`` re-reads only the clicks after it).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd


def _rank(scores: np.ndarray, index: int, masked: np.ndarray | None = None) -> float:
    """Rank of item ``index`` under ``scores`` with median ties (1 = best); NaN if masked."""
    scores = scores.astype(np.float64, copy=True)
    if masked is not None and len(masked):
        if index in set(masked.tolist()):
            return float("nan")
        scores[masked] = -np.inf
    target = scores[index]
    better = int(np.sum(scores > target))
    tied = int(np.sum(scores == target)) - 1
    return 1.0 + better + tied / 2.0


def leave_one_out(model: Any, session: Sequence[int], item_id: int, exclude_seen: bool = False) -> pd.DataFrame:
    """How much each click of ``session`` contributes to ``item_id``'s score and rank.

    For every position ``p``, the session is re-scored without click ``p`` (all other
    clicks kept, in order). Columns: Position (1-based), Clicked, ScoreWithout,
    DeltaScore (full score minus score without the click: positive = the click raised
    the item), RankWithout, DeltaRank (rank without minus full rank: positive = the
    click moved the item up). Ranks use median ties. Raises ``KeyError`` for an item
    the model does not know.
    """
    index = int(model.item_index.to_index(np.asarray([item_id], dtype=np.int64))[0])
    if index < 0:
        raise KeyError(f"{model.name} does not know item {item_id}")
    session = [int(i) for i in session]

    def masked_of(items: list[int]) -> np.ndarray | None:
        if not exclude_seen:
            return None
        seen = model.item_index.to_index(np.asarray(items, dtype=np.int64))
        return seen[seen >= 0]

    full_scores, _ = model.score_session(session)
    full_score = float(full_scores[index])
    full_rank = _rank(full_scores, index, masked_of(session))
    rows = []
    for pos, clicked in enumerate(session):
        rest = session[:pos] + session[pos + 1:]
        scores, _ = model.score_session(rest)
        rank = _rank(scores, index, masked_of(rest))
        rows.append({"Position": pos + 1, "Clicked": clicked, "ScoreWithout": float(scores[index]),
                     "DeltaScore": full_score - float(scores[index]), "RankWithout": rank,
                     "DeltaRank": rank - full_rank})
    frame = pd.DataFrame(rows, columns=["Position", "Clicked", "ScoreWithout", "DeltaScore", "RankWithout",
                                        "DeltaRank"])
    frame.attrs.update(score=full_score, rank=full_rank)
    return frame


def list_changes(before: Sequence[int], after: Sequence[int]) -> dict[int, str]:
    """Per item of ``after``: "new" (entered the list), "up N" / "down N" (moved), "" (same
    place); plus the items that left, as ``{item: "left"}``."""
    old = {int(item): pos for pos, item in enumerate(before)}
    out: dict[int, str] = {}
    for pos, item in enumerate(after):
        item = int(item)
        if item not in old:
            out[item] = "new"
        elif old[item] > pos:
            out[item] = f"up {old[item] - pos}"
        elif old[item] < pos:
            out[item] = f"down {pos - old[item]}"
        else:
            out[item] = ""
    for item in old:
        if item not in out:
            out[item] = "left"
    return out


def jaccard_at_k(a: Sequence[int], b: Sequence[int], k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / |top-k(a) ∪ top-k(b)|; 1.0 for two empty lists."""
    sa, sb = set(list(a)[:k]), set(list(b)[:k])
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def rank_biased_overlap(a: Sequence[int], b: Sequence[int], p: float = 0.9) -> float:
    """Rank-biased overlap (Webber et al., 2010) of two ranked lists, truncated at their
    common depth ``d``: ``(1 - p) * sum_{i<=d} p^(i-1) * |A_i ∩ B_i| / i``, rescaled by
    ``1 - p^d`` so identical lists score exactly 1 and disjoint lists 0."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    depth = min(len(a), len(b))
    if depth == 0:
        return 1.0 if len(a) == len(b) else 0.0
    seen_a: set[int] = set()
    seen_b: set[int] = set()
    overlap = 0
    total = 0.0
    for i in range(depth):
        x, y = int(a[i]), int(b[i])
        if x == y:
            overlap += 1
        else:
            overlap += (x in seen_b) + (y in seen_a)
        seen_a.add(x)
        seen_b.add(y)
        total += p ** i * overlap / (i + 1)
    return (1 - p) * total / (1 - p ** depth)


def agreement_table(lists: dict[str, Sequence[int]], k: int, p: float = 0.9) -> pd.DataFrame:
    """Every pair of models' top-k lists: Jaccard@k and RBO. Columns: A, B, Jaccard, RBO."""
    names = list(lists)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            la, lb = list(lists[a])[:k], list(lists[b])[:k]
            rows.append({"A": a, "B": b, "Jaccard": jaccard_at_k(la, lb, k), "RBO": rank_biased_overlap(la, lb, p)})
    return pd.DataFrame(rows, columns=["A", "B", "Jaccard", "RBO"])


def hit_agreement(ranks: dict[str, np.ndarray], k: int = 20) -> pd.DataFrame:
    """How often two models are right on the same test events (target within top-``k``).

    ``ranks``: model -> per-event ranks over the same events in the same order (the
    ``ranks`` arrays of the run records). Columns: A, B, both (share of events both hit),
    only A, only B, neither, and Jaccard of the two hit sets.
    """
    names = list(ranks)
    sizes = {len(np.asarray(r)) for r in ranks.values()}
    if len(sizes) > 1:
        raise ValueError(f"rank arrays cover different events (lengths {sorted(sizes)})")
    rows = []
    for i, a in enumerate(names):
        hit_a = np.asarray(ranks[a]) <= k
        for b in names[i + 1:]:
            hit_b = np.asarray(ranks[b]) <= k
            union = np.sum(hit_a | hit_b)
            rows.append({"A": a, "B": b, "both": float(np.mean(hit_a & hit_b)),
                         "only A": float(np.mean(hit_a & ~hit_b)), "only B": float(np.mean(~hit_a & hit_b)),
                         "neither": float(np.mean(~hit_a & ~hit_b)),
                         "Jaccard": float(np.sum(hit_a & hit_b) / union) if union else 1.0})
    return pd.DataFrame(rows, columns=["A", "B", "both", "only A", "only B", "neither", "Jaccard"])
