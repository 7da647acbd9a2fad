"""Item-KNN, the baseline of the GRU4Rec paper: items similar to the session's last item.

Two items are similar when they occur in the same sessions. With ``supp(i)`` the
number of training sessions containing ``i`` and ``co(i, j)`` the number containing
both, the similarity is a regularised cosine::

    sim(i, j) = co(i, j) / (supp(i) ** alpha * supp(j) ** (1 - alpha) + lambda_)

``alpha = 0.5`` is the plain cosine; ``lambda_`` (default 20) shrinks similarities
backed by few sessions. The next-item score of ``j`` is ``sim(last, j)``; each item
keeps its ``n_neighbors`` most similar items (0 keeps all). Items outside the
neighbourhood are ranked by popularity below every neighbour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sessrec.data.cooccurrence import regularised_cosine
from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.base import BaseSessionModel
from sessrec.models.evidence import Evidence, last_item_evidence
from sessrec.models.last_item import LastItemState
from sessrec.models.popular import item_popularity
from sessrec.models.sparse_rows import SparseRows, checked_fallback, keep_top_per_row, popularity_fallback
from sessrec.models.validation import check_float, check_int


class ItemKNN(LastItemState, BaseSessionModel):
    """Session co-occurrence cosine similarity to the last item."""

    name = "item_knn"

    def __init__(self, lambda_: float = 20.0, alpha: float = 0.5, n_neighbors: int = 200) -> None:
        super().__init__()
        self.lambda_ = check_float("lambda_", lambda_, min=0.0, owner=self.name)
        self.alpha = check_float("alpha", alpha, min=0.0, max=1.0, owner=self.name)
        self.n_neighbors = check_int("n_neighbors", n_neighbors, min=0, owner=self.name)
        self.similarities: SparseRows | None = None
        self.fallback = torch.zeros(0)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lambda_": self.lambda_, "alpha": self.alpha, "n_neighbors": self.n_neighbors}

    def fit_once(self, train: Sessions) -> "ItemKNN":
        self.item_index = ItemIndex.from_items(train.items)
        sims = regularised_cosine(train, self.item_index, self.alpha, self.lambda_)
        sims = keep_top_per_row(sims, self.n_neighbors)
        self.similarities = SparseRows.from_scipy(sims)
        self.fallback = popularity_fallback(item_popularity(train, self.item_index))
        self.clear_live_cache()
        return self

    def scores(self, state: torch.Tensor) -> torch.Tensor:
        assert self.similarities is not None  # set by fit or a checkpoint
        return self.similarities.dense_rows(state, self.fallback)

    def evidence(self, session_items: list[int] | np.ndarray, item_id: int) -> Evidence:
        """The similarity of ``item_id`` to each click; the last click's is the score.

        The co-occurrence counts behind the similarities are not kept after training (a
        checkpoint holds the similarity table only), so they are not part of the evidence.
        """
        found = last_item_evidence(self, self.similarities, self.fallback, session_items, item_id, "similarities",
                                   "Similarity", "the item's co-occurrence similarity to that click (regularised cosine "
                                   f"over training sessions, alpha {self.alpha:g}, lambda {self.lambda_:g}, "
                                   f"{self.n_neighbors or 'all'} neighbours kept per item)")
        found.note += " A missing similarity means the two items never shared a session or fell outside the kept neighbours."
        return found

    def _tensors(self) -> dict[str, torch.Tensor]:
        s = self.similarities
        assert s is not None  # saved models are fitted or loaded
        return {"indptr": s.indptr, "indices": s.indices, "values": s.values, "fallback": self.fallback}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        model.similarities = SparseRows.checked(tensors, item_index.n_items, "similarity table")
        model.fallback = checked_fallback(tensors, item_index.n_items)
        return model
