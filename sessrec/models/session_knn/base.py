"""What the session-kNN models share: the item-sequence state, chunked scoring, checkpoints."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.base import BaseSessionModel
from sessrec.models.session_knn.index import Query, SessionIndex

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

    def init_state(self, batch_size: int) -> SeqState:
        return seq_init(batch_size)

    def step(self, state: SeqState, items: torch.Tensor) -> SeqState:
        return seq_step(state, items)

    def reset(self, state: SeqState, mask: torch.Tensor) -> SeqState:
        return seq_reset(state, mask)

    def scores(self, state: SeqState) -> torch.Tensor:
        self._check_fitted()
        out = np.zeros((len(state), self.n_items), np.float32)
        for start in range(0, len(state), self.chunk_rows):
            chunk = state[start : start + self.chunk_rows]
            if any(chunk) or not self.empty_scores_zero:
                out[start : start + len(chunk)] = self._score_sequences(chunk)
        return torch.from_numpy(out)

    def _score_sequences(self, sequences: SeqState) -> np.ndarray:
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

    def _score_sequences(self, sequences: SeqState) -> np.ndarray:
        query = Query.from_sequences(sequences, self.n_items)
        return self._score_query(query)

    def _score_query(self, query: Query) -> np.ndarray:
        raise NotImplementedError

    def _tensors(self) -> dict[str, torch.Tensor]:
        return self.index.tensors()

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        model.index = SessionIndex.from_tensors(tensors, item_index.n_items)
        return model
