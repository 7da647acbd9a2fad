"""What the session-kNN models share: the item-sequence state, chunked scoring, checkpoints."""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.base import BaseSessionModel
from sessrec.models.session_knn.index import Query, SessionIndex, add_scores

class GrowingScoreBuffers:
    """Score memory lent as a *prefix* of a larger free array (cf. gru4rec's :class:`ScoreBuffers`).

    Callers ask for a different number of rows at nearly every step (only the sessions
    still running are scored). Exact-shape reuse would then map fresh memory almost
    every time, and the kernel zeroing it page by page costs as much as the scoring.
    Each pooled array owns its memory, so every view lent out holds a reference to it
    (NumPy points a view's ``base`` at the owner): an array only the pool references is free.
    """

    MIN_BYTES = 8 << 20  # smaller matrices come cheaply from malloc's heap
    KEEP = 3  # the evaluator still holds the previous matrix while asking for the next

    def __init__(self) -> None:
        self._arrays: list[np.ndarray] = []
        self._lock = threading.Lock()

    def empty(self, rows: int, cols: int) -> torch.Tensor:
        """An uninitialised, contiguous ``(rows, cols)`` float32 tensor."""
        size = rows * cols
        if size * 4 < self.MIN_BYTES:
            return torch.empty(rows, cols)
        with self._lock:
            for array in self._arrays:
                # references: the list, the loop variable, getrefcount's argument
                if array.size >= size and sys.getrefcount(array) <= 3:
                    return torch.from_numpy(array[:size].reshape(rows, cols))
            array = np.empty(size, np.float32)  # large: mmapped, so page aligned
            if len(self._arrays) >= self.KEEP:
                self._arrays.pop(0)
            self._arrays.append(array)
            return torch.from_numpy(array.reshape(rows, cols))


#: a state is one tuple of dense item indices per slot (immutable, cheap to extend)
SeqState = tuple[tuple[int, ...], ...]


def seq_init(batch_size: int) -> SeqState:
    return ((),) * batch_size


def seq_step(state: SeqState, items: torch.Tensor) -> SeqState:
    """Append one item to every slot; negative items (unknown) are skipped."""
    values = items.tolist()
    return tuple(s + (v,) if v >= 0 else s for s, v in zip(state, values))


def seq_reset(state: SeqState, mask: torch.Tensor) -> SeqState:
    return tuple(() if m else s for s, m in zip(state, mask.tolist()))


class SequenceStateModel(BaseSessionModel):
    """A model whose state is the session's item sequence and whose scores come in row chunks."""

    #: rows scored at once (bounds the size of the intermediate arrays)
    chunk_rows: int = 64
    #: whether an empty session scores 0 everywhere (skips the work)
    empty_scores_zero: bool = True

    @property
    def _buffers(self) -> GrowingScoreBuffers:
        if "_score_buffers" not in self.__dict__:
            self._score_buffers = GrowingScoreBuffers()
        return self._score_buffers

    def init_state(self, batch_size: int) -> SeqState:
        return seq_init(batch_size)

    def step(self, state: SeqState, items: torch.Tensor) -> SeqState:
        return seq_step(state, items)

    def reset(self, state: SeqState, mask: torch.Tensor) -> SeqState:
        return seq_reset(state, mask)

    def scores(self, state: SeqState) -> torch.Tensor:
        self._check_fitted()
        out = self._buffers.empty(len(state), self.n_items)
        for start in range(0, len(state), self.chunk_rows):
            chunk = state[start : start + self.chunk_rows]
            if any(chunk) or not self.empty_scores_zero:
                self._score_sequences(chunk, out[start : start + len(chunk)])
            else:
                out[start : start + len(chunk)].zero_()
        return out

    def _scratch(self, n: int) -> torch.Tensor:
        """Reusable float64 zeros for summing scores (one per thread: the app is threaded)."""
        local = self.__dict__.setdefault("_scratch_local", threading.local())
        buf = getattr(local, "buf", None)
        if buf is None or buf.numel() < n:
            buf = local.buf = torch.zeros(n, dtype=torch.float64)
        return buf

    def _score_sequences(self, sequences: SeqState, out: torch.Tensor) -> None:
        """Write the scores of ``sequences`` into ``out`` (``(len(sequences), n_items)``, uninitialised)."""
        raise NotImplementedError


class SessionKNNBase(SequenceStateModel):
    """Fit = build the :class:`SessionIndex`; scoring = the subclass's neighbour rule."""

    def __init__(self) -> None:
        super().__init__()
        self.index: SessionIndex | None = None

    def fit(self, train: Sessions) -> "SessionKNNBase":
        self.item_index = ItemIndex.from_items(train.items)
        self.index = SessionIndex.build(train, self.item_index)
        self.clear_live_cache()
        return self

    def _score_sequences(self, sequences: SeqState, out: torch.Tensor) -> None:
        query = Query.from_sequences(sequences, self.n_items)
        row, item, value = self._score_query(query)
        add_scores(out, row, item, value, self._scratch(out.numel()))

    def _score_query(self, query: Query) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, item, value) contributions; duplicates are summed."""
        raise NotImplementedError

    def _tensors(self) -> dict[str, torch.Tensor]:
        return self.index.tensors()

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        model.index = SessionIndex.from_tensors(tensors, item_index.n_items)
        return model
