"""Ranks and top-k lists of a score block, read from a small candidate set where that is exact.

The evaluator needs, for every event, the rank of the true item (items scored above it,
items tied with it) and, for the beyond-accuracy metrics, the top-k list. Both are
decided by the few best-scored items, so most events need no comparison over the whole
catalogue:

1. one pass takes the maximum of every chunk of ``CHUNK`` consecutive items;
2. the ``CANDIDATE_CHUNKS`` chunks with the highest maxima (plus the short tail chunk)
   are the candidates; every other item scores at most ``outside``, the next-highest
   chunk maximum;
3. a target scored strictly above ``outside`` has every item that beats or ties it among
   the candidates, so its counts are taken there; other targets (those ranked far down)
   get the full pass;
4. the top k of the k + 1 best chunks and the tail is the top k of the row when its
   k + 1 best scores are all distinct (proof in the code); a row with a tie among them is
   recomputed with ``torch.topk`` over the whole row, so ties are ordered exactly as
   before.

Every result is equal, bit for bit, to :func:`~sessrec.evaluation.metrics.rank_counts`
and ``torch.topk`` over the whole block (tests compare them on tie-heavy scores). The
evaluator goes through :class:`BlockRanker`, which uses the pool only where it pays:
with top-k lists (accuracy-only evaluation counts whole rows, which is faster without
them), and not for models whose lists mostly tie.
"""

from __future__ import annotations

import numpy as np
import torch

from sessrec.evaluation.metrics import block_counts, rank_counts, row_counts

#: items per chunk (one vectorised maximum per chunk)
CHUNK = 64
#: chunks kept as candidates; a catalogue with fewer chunks is ranked by the full pass
CANDIDATE_CHUNKS = 24


def rank_block(
    scores: torch.Tensor, targets: np.ndarray, top_k: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(better, tied, top)`` for the rows of a finite score block (module docstring).

    ``better[b]``: items scored strictly above ``targets[b]``; ``tied[b]``: other items
    scored exactly as it; ``top``: the ``top_k`` best item indices per row, best first, as
    ``torch.topk`` orders them (``None`` when ``top_k`` is 0). The caller has checked
    that every score is finite.
    """
    return _ranked(scores.detach().cpu(), targets, top_k, use_pool=True)[:3]


class BlockRanker:
    """:func:`rank_block`, block after block of one evaluation, with a memory.

    Count-based models (LastItem, the kNN family) fill most of their lists up with tied
    zero scores; every such list falls back to the whole row, after the pool's work. So
    once more than half of the first ``PROBE_ROWS`` lists tied, the rest of the
    evaluation skips the pool (results are the same either way).
    """

    PROBE_ROWS = 1024

    def __init__(self, top_k: int):
        self.top_k = top_k
        self.use_pool = top_k > 0  # without lists, the row-by-row counts are the fastest
        self.rows = self.tied_lists = 0

    def __call__(self, scores: torch.Tensor, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        better, tied, top, n_tied_lists = _ranked(scores.detach().cpu(), targets, self.top_k, self.use_pool)
        if self.use_pool and self.rows < self.PROBE_ROWS:
            self.rows += len(targets)
            self.tied_lists += n_tied_lists
            if self.rows >= self.PROBE_ROWS and 2 * self.tied_lists > self.rows:
                self.use_pool = False
        return better, tied, top


def _ranked(
    scores: torch.Tensor, targets: np.ndarray, top_k: int, use_pool: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """``rank_block``'s results and the number of lists whose top k + 1 scores tie."""
    n_rows, n_items = scores.shape
    n_chunks = n_items // CHUNK
    n_pool_chunks = top_k + 1  # chunks searched for the top k (see below)
    n_candidate_chunks = max(CANDIDATE_CHUNKS, n_pool_chunks)
    if not use_pool or n_chunks <= n_candidate_chunks:  # the whole rows
        row_better, row_tied = rank_counts(scores, torch.from_numpy(targets), finite=True)
        top = torch.topk(scores, top_k, dim=1).indices.numpy() if top_k else None
        return row_better.numpy(), row_tied.numpy(), top, 0

    body_length = n_chunks * CHUNK
    body = scores[:, :body_length].reshape(n_rows, n_chunks, CHUNK)  # a view of a contiguous block
    best_chunks = torch.topk(body.amax(2), n_candidate_chunks + 1, dim=1)  # best first
    chunk_ids = best_chunks.indices[:, :-1]
    outside = best_chunks.values[:, -1].numpy()  # no item outside the candidates scores above it
    # NumPy's fancy indexing copies whole chunks (measured faster than torch's gather here)
    near = torch.from_numpy(body.numpy()[np.arange(n_rows)[:, None], chunk_ids.numpy()].reshape(n_rows, -1))
    tail = scores[:, body_length:]  # the last, shorter chunk: always a candidate

    values = scores.numpy()
    target_scores = values[np.arange(n_rows), targets][:, None]
    near_values, tail_values = near.numpy(), tail.numpy()
    better, tied = block_counts(near_values, target_scores)
    tail_better, tail_tied = block_counts(tail_values, target_scores)
    better += tail_better
    tied += tail_tied
    for row in np.flatnonzero(target_scores[:, 0] <= outside):  # items outside may beat or tie these
        better[row], tied[row] = row_counts(values[row], target_scores[row, 0])  # a row view: no copy
    tied -= 1  # minus the target itself
    if not top_k:
        return better, tied, None, 0

    # The pool: the k + 1 best chunks and the tail. When its k + 1 best scores are
    # distinct, no item outside it can score as much as the k-th: that item's chunk
    # maximum would be at least the k-th score, and so would the maxima of the k + 1 pool
    # chunks, putting k + 1 pool scores at or above it. So the pool's top k is the row's,
    # in the only possible order. (k + 1 chunks also put the pool above the 64 * k values
    # from which torch's top-k uses its faster partial sort.)
    head_length = n_pool_chunks * CHUNK
    pool = torch.cat([near[:, :head_length], tail], dim=1)
    best = torch.topk(pool, top_k + 1, dim=1)
    position = best.indices[:, :top_k]
    in_head = position < head_length
    chunk = chunk_ids.gather(1, torch.where(in_head, position // CHUNK, 0))
    top = torch.where(in_head, chunk * CHUNK + position % CHUNK, body_length + position - head_length).numpy()
    best_values = best.values.numpy()
    unsettled = np.flatnonzero((best_values[:, :-1] <= best_values[:, 1:]).any(1))  # ties: the whole row
    if len(unsettled):
        top[unsettled] = torch.topk(scores.index_select(0, torch.from_numpy(unsettled)), top_k, dim=1).indices.numpy()
    return better, tied, top, len(unsettled)

