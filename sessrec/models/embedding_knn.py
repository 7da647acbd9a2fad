"""Embedding-KNN: items whose GRU4Rec item embeddings are closest to the session's last item.

``score(j | session) = cos(e_last, e_j)``, the cosine similarity of trained GRU4Rec item
vectors: the input embedding ``E`` when the GRU4Rec has a separate one, otherwise the
output weights ``Wy`` (which are also the input embedding of a constrained-embedding
GRU4Rec). The recurrent state is not used at all: this asks how much of GRU4Rec's
accuracy its item vectors alone carry. (Some GRU4Rec demos call this "last item"; it is
unrelated to sessrec's LastItem, which counts first-order transitions.) The last item
itself scores 1, the maximum. An empty session scores 0 everywhere.

Where the GRU4Rec comes from: ``gru4rec_checkpoint`` (a sessrec GRU4Rec checkpoint whose
catalogue must equal the training data's), or else a GRU4Rec trained inside ``fit`` with
``gru4rec_params`` and ``seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError, ParameterError
from sessrec.models.base import BaseSessionModel
from sessrec.models.last_item import LastItemState


class EmbeddingKNN(LastItemState, BaseSessionModel):
    """Cosine of GRU4Rec item embeddings to the last item."""

    name = "embedding_knn"

    def __init__(self, gru4rec_checkpoint: str | None = None, gru4rec_params: dict[str, Any] | None = None,
                 seed: int = 42) -> None:
        super().__init__()
        if gru4rec_checkpoint is not None and not isinstance(gru4rec_checkpoint, str):
            raise ParameterError(f"gru4rec_checkpoint={gru4rec_checkpoint!r} is not allowed (allowed: a path or null)")
        if gru4rec_params is not None and not isinstance(gru4rec_params, dict):
            raise ParameterError(f"gru4rec_params={gru4rec_params!r} is not allowed (allowed: a dict of GRU4Rec parameters)")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ParameterError(f"seed={seed!r} is not allowed (allowed: an integer)")
        self.gru4rec_checkpoint = gru4rec_checkpoint
        self.gru4rec_params = dict(gru4rec_params or {})
        self.seed = int(seed)
        self.embeddings = torch.zeros(0, 0)
        self.training_log: list[dict[str, Any]] = []

    def hyperparameters(self) -> dict[str, Any]:
        return {"gru4rec_checkpoint": self.gru4rec_checkpoint, "gru4rec_params": self.gru4rec_params,
                "seed": self.seed}

    def fit_once(self, train: Sessions) -> "EmbeddingKNN":
        from sessrec.models.gru4rec import GRU4Rec
        from sessrec.models.io import load_model

        catalogue = ItemIndex.from_items(train.items)
        if self.gru4rec_checkpoint is not None:
            gru = load_model(self.gru4rec_checkpoint)
            if gru.name != "gru4rec":
                raise CheckpointError(f"{self.gru4rec_checkpoint}: a '{gru.name}' checkpoint, Embedding-KNN needs gru4rec")
            if not np.array_equal(gru.item_index.item_ids, catalogue.item_ids):
                raise CheckpointError(f"{self.gru4rec_checkpoint}: its catalogue differs from the training data's")
        else:
            gru = GRU4Rec(**{"seed": self.seed, **self.gru4rec_params}).fit(train, progress=False)
            self.training_log = list(getattr(gru, "training_log", []))
        self.item_index = gru.item_index
        vectors = gru.E if gru.E is not None else gru.Wy
        # (a GRU4Rec trained on a GPU holds its weights there; this model scores on the CPU)
        self.embeddings = torch.nn.functional.normalize(vectors.detach().float().cpu(), dim=1).contiguous()
        self.clear_live_cache()
        return self

    def scores(self, state: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        valid = state >= 0
        query = self.embeddings[torch.where(valid, state, torch.zeros_like(state))]
        return (query @ self.embeddings.T) * valid.unsqueeze(1)

    def item_embeddings(self) -> torch.Tensor | None:
        """The normalised GRU4Rec item vectors it compares (the item map draws them)."""
        return self.embeddings if self.is_fitted else None

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {"embeddings": self.embeddings}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        emb = tensors.get("embeddings")
        if emb is None or emb.ndim != 2 or emb.shape[0] != item_index.n_items or not bool(torch.isfinite(emb).all()):
            raise CheckpointError(f"embedding_knn: 'embeddings' must be a finite ({item_index.n_items}, d) matrix")
        model.item_index = item_index
        model.embeddings = emb.float()
        return model
