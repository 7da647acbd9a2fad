"""LastItem: the items that most often came right after the session's last item.

Definition: ``score(j | session) = count(last -> j)``, the number of times item ``j``
directly followed the session's last item in the training sessions (first-order
transitions, consecutive events of one session). Items that never followed it, and
every item when the session is empty or its last item has no successor, are ranked by
training popularity below all transition scores (see ``popularity_fallback``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.base import BaseSessionModel
from sessrec.models.evidence import Evidence, last_item_evidence
from sessrec.models.popular import item_popularity
from sessrec.models.sparse_rows import SparseRows, checked_fallback, popularity_fallback


class LastItemState:
    """Streaming state of models that score by the session's last item only (LastItem,
    Item-KNN, SR, Embedding-KNN): one item index per slot, -1 for an empty session."""

    def init_state(self, batch_size: int) -> torch.Tensor:
        return torch.full((batch_size,), -1, dtype=torch.long)

    def reset(self, state: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, torch.full_like(state, -1), state)

    def step(self, state: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return items.to(torch.long).clone()


class LastItem(LastItemState, BaseSessionModel):
    """First-order transition counts from the last item, popularity fallback."""

    name = "last_item"

    def __init__(self) -> None:
        super().__init__()
        self.transitions: SparseRows | None = None
        self.fallback = torch.zeros(0)

    def fit_once(self, train: Sessions) -> "LastItem":
        self.item_index = ItemIndex.from_items(train.items)
        idx = self.item_index.to_index(train.items)
        same_session = np.ones(len(idx), dtype=bool)
        same_session[train.offsets[:-1]] = False  # first event of a session has no predecessor
        nxt = np.flatnonzero(same_session)
        n = self.n_items
        counts = sp.csr_matrix(
            (np.ones(len(nxt), np.float32), (idx[nxt - 1], idx[nxt])), shape=(n, n)
        )
        counts.sum_duplicates()
        self.transitions = SparseRows.from_scipy(counts)
        self.fallback = popularity_fallback(item_popularity(train, self.item_index))
        self.clear_live_cache()
        return self

    def scores(self, state: torch.Tensor) -> torch.Tensor:
        assert self.transitions is not None  # set by fit or a checkpoint
        return self.transitions.dense_rows(state, self.fallback)

    def evidence(self, session_items: list[int] | np.ndarray, item_id: int) -> Evidence:
        """The transition count ``last click -> item_id`` behind the item's score (and each
        earlier click's count to it, which LastItem does not use)."""
        return last_item_evidence(self, self.transitions, self.fallback, session_items, item_id, "transitions",
                                  "Transitions", "the number of times the item directly followed that click in training")

    def _tensors(self) -> dict[str, torch.Tensor]:
        t = self.transitions
        assert t is not None  # saved models are fitted or loaded
        return {"indptr": t.indptr, "indices": t.indices, "values": t.values, "fallback": self.fallback}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        model.transitions = SparseRows.checked(tensors, item_index.n_items, "transition table")
        model.fallback = checked_fallback(tensors, item_index.n_items)
        return model
