"""Ranking metrics computed from per-event ranks of the true next item.

A rank is 1-based: rank 1 means the true item had the best score. With the ``median``
tie mode a rank can be fractional (``3.5``). Every metric is an average over events.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)
TIE_MODES: tuple[str, ...] = ("standard", "conservative", "median")
_RANK_BLOCK = 128


def ranks_of_targets(scores: torch.Tensor, targets: torch.Tensor, tie_mode: str = "standard") -> torch.Tensor:
    """Rank of ``targets[b]`` in row ``b`` of ``scores`` (``(B, n_items)``), as float64.

    Tie modes (GRU4Rec's names): ``standard`` counts only strictly better items
    (optimistic under ties), ``conservative`` also counts every tied item (pessimistic),
    ``median`` is the mean of the two.
    """
    if tie_mode not in TIE_MODES:
        raise ValueError(f"unknown tie mode '{tie_mode}' (choose from {', '.join(TIE_MODES)})")
    # Row blocks keep the (rows, n_items) comparison masks in cache: on CPU this is
    # several times faster than one large comparison over the whole batch.
    out = torch.empty(scores.shape[0], dtype=torch.float64)
    for start in range(0, scores.shape[0], _RANK_BLOCK):
        block = scores[start : start + _RANK_BLOCK]
        target_scores = block.gather(1, targets[start : start + _RANK_BLOCK].view(-1, 1))
        better = torch.gt(block, target_scores).to(torch.uint8).sum(1, dtype=torch.int32)
        if tie_mode == "standard":
            out[start : start + len(block)] = better + 1
            continue
        not_worse = torch.ge(block, target_scores).to(torch.uint8).sum(1, dtype=torch.int32)  # incl. target
        if tie_mode == "conservative":
            out[start : start + len(block)] = not_worse
        else:
            out[start : start + len(block)] = (better + 1 + not_worse).double() / 2.0
    return out


def per_event_metric(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Per-event value of ``recall``/``hitrate``, ``mrr`` or ``ndcg`` at cut-off ``k``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks <= k
    if metric in ("recall", "hitrate"):
        return hit.astype(np.float64)
    if metric == "mrr":
        return np.where(hit, 1.0 / ranks, 0.0)
    if metric == "ndcg":
        return np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0)
    raise ValueError(f"unknown metric '{metric}' (choose from recall, hitrate, mrr, ndcg)")


def metrics_from_ranks(ranks: np.ndarray, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, float]:
    """``{"recall@k", "mrr@k", "ndcg@k"}`` for every ``k``; NaN when there are no events."""
    out: dict[str, float] = {}
    for k in ks:
        for metric in ("recall", "mrr", "ndcg"):
            values = per_event_metric(ranks, metric, k)
            out[f"{metric}@{k}"] = float(values.mean()) if len(values) else float("nan")
    return out
