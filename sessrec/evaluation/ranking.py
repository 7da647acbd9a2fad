"""Ranks and top-k lists of score blocks: the evaluator's one pass over the scores.

The evaluator needs, for every event, the rank of the true item (items scored above it,
items tied with it), the top-k list for the beyond-accuracy metrics, and the assurance
that every score is finite. All three come from one compiled loop per row
(:mod:`sessrec.evaluation.kernels`) while the row is in cache, instead of a NumPy or
torch pass over the whole block for each.

Every result is equal, bit for bit, to :func:`~sessrec.evaluation.metrics.rank_counts`
and ``torch.topk`` over the whole block (tests compare them on tie-heavy scores): a list
whose ``k + 1`` best scores tie somewhere is taken from ``torch.topk`` over its row, so
ties are ordered exactly as before. The evaluator goes through :class:`BlockRanker`, which
stops looking for lists in the loop when most of them tie (count-based models).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from sessrec.evaluation.parallel import run_by_rows

#: items per chunk of the compiled top-k loop (re-exported for the tests' layouts)
CHUNK = 64


class RankedBlock(NamedTuple):
    """What one pass over a score block gives."""

    better: np.ndarray  # (rows,) items scored strictly above the target
    tied: np.ndarray  # (rows,) other items scored exactly as the target
    top: np.ndarray | None  # (rows, top_k) best items, best first; None without lists
    finite: bool  # every score of the block is finite (if not, the rest means nothing)
    n_unsettled: int  # lists whose top_k + 1 best scores tie (taken from torch.topk)


def rank_block(
    scores: torch.Tensor, targets: np.ndarray, top_k: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(better, tied, top)`` for the rows of a finite score block.

    ``better[b]``: items scored strictly above ``targets[b]``; ``tied[b]``: other items
    scored exactly as it; ``top``: the ``top_k`` best item indices per row, best first, as
    ``torch.topk`` orders them (``None`` when ``top_k`` is 0).

    Raises:
        ValueError: a score is NaN or infinite.
    """
    ranked = rank_scores(scores, targets, top_k)
    if not ranked.finite:
        raise ValueError("the score block holds NaN or infinite scores")
    return ranked.better, ranked.tied, ranked.top


def rank_scores(scores: torch.Tensor, targets: np.ndarray, top_k: int, lists_in_loop: bool = True,
                threads: int | None = None) -> RankedBlock:
    """One pass over ``scores`` (``(rows, items)``): counts, finiteness and (``top_k > 0``) lists.

    ``lists_in_loop=False`` takes every list from ``torch.topk`` instead of the loop
    (faster when most lists tie); the results are the same. Rows are split between
    ``threads`` (default: torch's thread count); the results do not depend on it.
    """
    from sessrec.evaluation.kernels import rank_rows  # compiled on first use: keeps numba out of imports

    block = scores.detach().cpu()
    if block.dtype not in (torch.float32, torch.float64):
        block = block.float()
    values = np.ascontiguousarray(block.numpy())
    n_rows = len(values)
    better = np.empty(n_rows, dtype=np.int64)
    tied = np.empty(n_rows, dtype=np.int64)
    loop_k = top_k if lists_in_loop else 0
    top = np.empty((n_rows, loop_k), dtype=np.int64)
    unsettled = np.zeros(n_rows, dtype=np.bool_)
    targets = np.ascontiguousarray(targets, dtype=np.int64)

    def rank_range(start: int, stop: int) -> int:
        part = slice(start, stop)
        return rank_rows(values[part], targets[part], loop_k, better[part], tied[part], top[part], unsettled[part])

    n_bad = sum(run_by_rows(rank_range, n_rows, threads))
    if n_bad:
        return RankedBlock(better, tied, None, False, 0)
    if not top_k:
        return RankedBlock(better, tied, None, True, 0)
    if not lists_in_loop:
        return RankedBlock(better, tied, torch.topk(block, top_k, dim=1).indices.numpy(), True, n_rows)
    rows = np.flatnonzero(unsettled)
    if len(rows):
        top[rows] = torch.topk(block.index_select(0, torch.from_numpy(rows)), top_k, dim=1).indices.numpy()
    return RankedBlock(better, tied, top, True, len(rows))


def warm_up() -> float:
    """Load (or, the first time after an install, compile) the compiled loops; returns the seconds.

    Once per process, on the first evaluation anyway; benchmarks call it first so that this
    one-time cost is reported on its own instead of inside the first evaluation's time.
    """
    import time

    started = time.perf_counter()
    scores = torch.arange(2 * 3 * CHUNK, dtype=torch.float32).reshape(2, -1)
    rank_scores(scores, np.zeros(2, dtype=np.int64), 2, threads=1)
    from sessrec.evaluation.pairs import PairTable
    from sessrec.models.sparse_rows import SparseRows

    table = SparseRows(torch.tensor([0, 1, 2]), torch.tensor([1, 0]), torch.tensor([0.5, 0.5]))
    PairTable(table, 2).running_sums(np.array([[0, 1]]), np.array([0]), np.array([1]), np.array([1]))
    return time.perf_counter() - started


class BlockRanker:
    """:func:`rank_scores`, block after block of one evaluation, with a memory.

    Count-based models (LastItem, the kNN family) fill most of their lists up with tied
    zero scores; every such list is taken again from ``torch.topk`` over its row. So once
    more than half of the first ``PROBE_ROWS`` lists tied, the rest of the evaluation
    takes every list from ``torch.topk`` directly (results are the same either way).
    """

    PROBE_ROWS = 1024

    def __init__(self, top_k: int):
        self.top_k = top_k
        self.use_pool = top_k > 0  # lists from the compiled loop (False: from torch.topk)
        self.rows = self.tied_lists = 0

    def __call__(self, scores: torch.Tensor, targets: np.ndarray) -> RankedBlock:
        ranked = rank_scores(scores, targets, self.top_k, self.use_pool)
        if self.use_pool and self.rows < self.PROBE_ROWS:
            self.rows += len(targets)
            self.tied_lists += ranked.n_unsettled
            if self.rows >= self.PROBE_ROWS and 2 * self.tied_lists > self.rows:
                self.use_pool = False
        return ranked
