"""What the session-kNN models share: the item-sequence state, chunked scoring, checkpoints."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.base import BaseSessionModel
from sessrec.models.evidence import CONTRIBUTION, Evidence, dense_index, known_clicks
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
    return tuple([s + (v,) if v >= 0 else s for s, v in zip(state, values)])  # a list is built faster than a generator


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


@dataclass
class Contributions:
    """The neighbours of a batch of sessions and what each adds to each of its items."""

    nb_row: np.ndarray  # (n,) current session (row) of each neighbour
    nb_sess: np.ndarray  # (n,) the neighbour: a training session, numbered by recency
    nb_sim: np.ndarray  # (n,) its similarity to the current session
    owner: np.ndarray  # (m,) neighbour of each (neighbour, item) pair, an index into the arrays above
    row: np.ndarray  # (m,) current session of each pair (``nb_row[owner]``)
    item: np.ndarray  # (m,) item of each pair
    value: np.ndarray  # (m,) what the pair adds to the item's score


class SessionKNNBase(SequenceStateModel):
    """Fit = build the :class:`SessionIndex`; scoring = the subclass's neighbour rule."""

    #: how a neighbour's contribution to an item is made, in words, for :meth:`evidence`
    contribution_rule: str = "its similarity"

    def __init__(self) -> None:
        super().__init__()
        self.index: SessionIndex | None = None

    def fit_once(self, train: Sessions) -> "SessionKNNBase":
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
        found = self._contributions(query)
        return found.row, found.item, found.value

    def _contributions(self, query: Query) -> Contributions:
        """The neighbours of every row and their per-item contributions (the subclass's rule)."""
        raise NotImplementedError

    def evidence(self, session_items: list[int] | np.ndarray, item_id: int) -> Evidence:
        """The neighbour sessions behind ``item_id``'s score: one row per neighbour (training
        session numbered by recency, 0 = oldest), its similarity, whether it holds the item,
        its exact contribution to the score, and its items in the order of their last click."""
        target = dense_index(self, item_id)
        _, _, idx = known_clicks(self, session_items)
        score = float(self.score_session(session_items)[0][target])
        columns = ["Neighbour", "Similarity", "Has item", CONTRIBUTION, "Items"]
        note = (f"The score sums, over the neighbour sessions that hold the item, {self.contribution_rule}. "
                "Neighbours are the most similar of the most recent training sessions sharing a click with "
                "this session.")
        if not len(idx):
            return Evidence("neighbours", pd.DataFrame(columns=columns), score, 0.0, note + " The session is empty.")
        found = self._contributions(Query.from_sequences((tuple(int(i) for i in idx),), self.n_items))
        hit = found.item == target
        contribution = np.bincount(found.owner[hit], weights=found.value[hit], minlength=len(found.nb_sess))
        holds = np.bincount(found.owner[hit], minlength=len(found.nb_sess)) > 0
        table = pd.DataFrame({"Neighbour": found.nb_sess.astype(np.int64), "Similarity": found.nb_sim,
                              "Has item": holds, CONTRIBUTION: contribution,
                              "Items": [self._session_items(int(s)) for s in found.nb_sess]}, columns=columns)
        table = table.sort_values([CONTRIBUTION, "Similarity", "Neighbour"], ascending=False, kind="stable")
        return Evidence("neighbours", table.reset_index(drop=True), score, 0.0, note)

    def _session_items(self, sess: int) -> list[int]:
        """Original ids of a training session's distinct items, by their last click."""
        assert self.index is not None  # evidence comes from a fitted model
        start, end = self.index.sess_indptr[sess], self.index.sess_indptr[sess + 1]
        order = np.argsort(self.index.sess_pos[start:end], kind="stable")
        return [int(i) for i in self.item_index.to_ids(self.index.sess_items[start:end][order])]

    def _tensors(self) -> dict[str, torch.Tensor]:
        assert self.index is not None  # saved models are fitted or loaded
        return self.index.tensors()

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        model.index = SessionIndex.from_tensors(tensors, item_index.n_items)
        return model
