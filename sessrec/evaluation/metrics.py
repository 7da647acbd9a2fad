"""Ranking metrics computed from per-event ranks of the true next item.

A rank is 1-based: rank 1 means the true item had the best score. With the ``median``
tie mode (the default) a rank can be fractional (``3.5``). Every metric is an average
over events.

Ties. Let ``better`` be the number of items scored strictly above the target and
``tied`` the number of *other* items scored exactly as the target. Then (GRU4Rec's names)

* ``standard``     rank = better + 1              (the target wins every tie: optimistic)
* ``conservative`` rank = better + tied + 1       (the target loses every tie: pessimistic)
* ``median``       rank = better + tied / 2 + 1   (their mean: the expected rank when ties
  are broken uniformly at random)

``median`` is the default because count-based models (LastItem, Item-KNN, MostPopular)
tie often and ``standard`` would hand them the best rank of every tie; ``standard`` stays
available to reproduce published GRU4Rec numbers, which use it.

Metrics at cut-off ``k`` for one relevant item per event (the true next item):

* ``recall@k`` (= HitRate@k): 1 when rank <= k;
* ``mrr@k``: 1 / rank when rank <= k, else 0;
* ``ndcg@k``: 1 / log2(rank + 1) when rank <= k, else 0;
* ``precision@k``: hits in the top k / k, i.e. ``recall@k / k``;
* ``map@k``: average precision at k, which with a single relevant item is 1 / rank when
  rank <= k: the same number as ``mrr@k``. Precision@k and MAP@k are reported under
  their own names because papers using sampled metrics (:mod:`sessrec.evaluation.sampled`)
  report them.

Non-finite scores (NaN, +inf, -inf) never rank above a finite score: they count as
below every finite score and tied with each other.
"""

from __future__ import annotations

import numpy as np
import torch

from sessrec.models.validation import all_finite  # noqa: F401  (re-exported: the evaluator's check)

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 20)
TIE_MODES: tuple[str, ...] = ("standard", "conservative", "median")
DEFAULT_TIE_MODE = "median"
_RANK_BLOCK = 128
#: catalogue size from which rank counts go row by row
_ROW_BY_ROW_ITEMS = 2048


def check_tie_mode(tie_mode: str) -> None:
    """Raise ``ValueError`` for an unknown tie mode."""
    if tie_mode not in TIE_MODES:
        raise ValueError(f"unknown tie mode '{tie_mode}' (choose from {', '.join(TIE_MODES)})")


def rank_counts(
    scores: torch.Tensor, targets: torch.Tensor, *, finite: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(better, tied)`` per row of ``scores`` (``(B, n_items)``) for the item ``targets[b]``.

    ``better``: items scored strictly above the target; ``tied``: *other* items scored
    exactly as the target (both int32). Non-finite scores are treated as below every
    finite score and tied with each other; ``finite=True`` skips that check when the
    caller has already made sure every score is finite.
    """
    better = np.empty(scores.shape[0], dtype=np.int32)
    tied = np.empty(scores.shape[0], dtype=np.int32)
    for start in range(0, scores.shape[0], _RANK_BLOCK):
        block = scores[start : start + _RANK_BLOCK].detach().cpu()
        if not finite and not all_finite(block):
            block = torch.where(torch.isfinite(block), block, torch.full((), float("-inf"), dtype=block.dtype))
        values = block.numpy()
        target_scores = values[np.arange(len(values)), targets[start : start + _RANK_BLOCK].numpy()]
        rows = slice(start, start + len(values))
        if values.shape[1] >= _ROW_BY_ROW_ITEMS:
            # one row's comparison mask stays in the first-level caches: measured 1.3-1.7x
            # faster than one comparison over the block (17k-43k items)
            for row, (scored, target_score) in enumerate(zip(values, target_scores), start):
                better[row], tied[row] = row_counts(scored, target_score)
        else:  # small catalogue: the per-row call would cost more than the comparison
            better[rows], tied[rows] = block_counts(values, target_scores[:, None])
        tied[rows] -= 1  # minus the target itself
    return torch.from_numpy(better), torch.from_numpy(tied)


def row_counts(scored: np.ndarray, target_score: float) -> tuple[int, int]:
    """Items of one row scored above ``target_score`` and exactly as it (the target included)."""
    return int(np.count_nonzero(scored > target_score)), int(np.count_nonzero(scored == target_score))


def block_counts(values: np.ndarray, target_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``values``: items above and equal to the row's ``target_scores`` (a column).

    Bool masks summed as uint8 into int64: about 1.7x faster than ``count_nonzero``
    along an axis.
    """
    better = (values > target_scores).view(np.uint8).sum(1, dtype=np.int64)
    equal = (values == target_scores).view(np.uint8).sum(1, dtype=np.int64)
    return better, equal


def ranks_from_counts(better, tied, tie_mode: str = DEFAULT_TIE_MODE):
    """Ranks (float64) from :func:`rank_counts` under ``tie_mode``; works on tensors and arrays."""
    check_tie_mode(tie_mode)
    if isinstance(better, torch.Tensor):
        better, tied = better.double(), tied.double()
    else:
        better, tied = np.asarray(better, dtype=np.float64), np.asarray(tied, dtype=np.float64)
    if tie_mode == "standard":
        return better + 1.0
    if tie_mode == "conservative":
        return better + tied + 1.0
    return better + tied / 2.0 + 1.0


def ranks_in(scores: np.ndarray, item_indices: np.ndarray, masked: np.ndarray | None = None,
             tie_mode: str = DEFAULT_TIE_MODE) -> np.ndarray:
    """1-based rank (float) of each of ``item_indices`` under one score vector with the evaluator's
    tie modes (default ``median``: 1 + better + tied / 2; the module docstring): the one rank rule of
    the playground, Replay and the explanations, for one session at a time;
    ``masked`` items are ranked as if absent; non-finite scores rank below finite ones."""
    scores = scores.astype(np.float64, copy=True)
    scores[~np.isfinite(scores)] = -np.inf
    if masked is not None and len(masked):
        scores[masked] = -np.inf
    target = scores[item_indices]
    ordered = np.sort(scores)
    not_worse = len(ordered) - np.searchsorted(ordered, target, side="left")
    better = len(ordered) - np.searchsorted(ordered, target, side="right")
    return ranks_from_counts(better, not_worse - better - 1, tie_mode)


def ranks_of_targets(scores: torch.Tensor, targets: torch.Tensor, tie_mode: str = DEFAULT_TIE_MODE) -> torch.Tensor:
    """Rank of ``targets[b]`` in row ``b`` of ``scores`` (``(B, n_items)``), as float64,
    under ``tie_mode`` (module docstring); non-finite scores rank below every finite one."""
    check_tie_mode(tie_mode)
    better, tied = rank_counts(scores, targets)
    return ranks_from_counts(better, tied, tie_mode)


#: the metrics :func:`metrics_from_ranks` reports at every cut-off
METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg", "precision", "map")


def per_event_metric(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Per-event value of ``recall``/``hitrate``, ``mrr``, ``ndcg``, ``precision`` or ``map``
    at cut-off ``k`` (definitions in the module docstring)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks <= k
    if metric in ("recall", "hitrate"):
        return hit.astype(np.float64)
    if metric in ("mrr", "map"):  # one relevant item: average precision is the reciprocal rank
        return np.where(hit, 1.0 / ranks, 0.0)
    if metric == "ndcg":
        return np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0)
    if metric == "precision":
        return hit / float(k)
    raise ValueError(f"unknown metric '{metric}' (choose from recall, hitrate, mrr, ndcg, precision, map)")


def metrics_from_ranks(ranks: np.ndarray, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, float]:
    """``{"recall@k", "mrr@k", "ndcg@k", "precision@k", "map@k"}`` for every ``k``; NaN when
    there are no events."""
    out: dict[str, float] = {}
    for k in ks:
        for metric in METRICS:
            values = per_event_metric(ranks, metric, k)
            out[f"{metric}@{k}"] = float(values.mean()) if len(values) else float("nan")
    return out
