"""MostPopular: every session gets the items clicked most often in training."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError
from sessrec.models.base import BaseSessionModel
from sessrec.models.evidence import CONTRIBUTION, Evidence, dense_index


def item_popularity(train: Sessions, item_index: ItemIndex) -> torch.Tensor:
    """Number of training events of every catalogue item, as float32 ``(n_items,)``."""
    counts = np.bincount(item_index.to_index(train.items), minlength=item_index.n_items)
    return torch.from_numpy(counts.astype(np.float32))


class MostPopular(BaseSessionModel):
    """Scores are training click counts; the session is ignored."""

    name = "most_popular"

    def __init__(self) -> None:
        super().__init__()
        self.popularity = torch.zeros(0)

    def fit_once(self, train: Sessions) -> "MostPopular":
        self.item_index = ItemIndex.from_items(train.items)
        self.popularity = item_popularity(train, self.item_index)
        self.clear_live_cache()
        return self

    def init_state(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, dtype=torch.long)

    def reset(self, state: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return state

    def step(self, state: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return state

    def scores(self, state: torch.Tensor) -> torch.Tensor:
        return self.popularity.unsqueeze(0).expand(state.shape[0], -1)

    def evidence(self, session_items: list[int] | np.ndarray, item_id: int) -> Evidence:
        """The item's training clicks: its whole score, whatever the session."""
        import pandas as pd

        clicks = float(self.popularity[dense_index(self, item_id)])
        table = pd.DataFrame({"Evidence": ["training clicks of the item"], CONTRIBUTION: [clicks]})
        return Evidence("popularity", table, clicks, 0.0,
                        "MostPopular ignores the session: the score is the item's number of training clicks.")

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {"popularity": self.popularity}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        popularity = tensors["popularity"]
        real = not (popularity.dtype.is_complex or popularity.dtype == torch.bool)
        if not real or tuple(popularity.shape) != (item_index.n_items,):
            raise CheckpointError(
                f"popularity: {popularity.dtype} of shape {tuple(popularity.shape)}, "
                f"expected real numbers of shape ({item_index.n_items},)"
            )
        if (popularity < 0).any():
            raise CheckpointError("popularity: negative click counts")
        model.popularity = popularity.float()
        return model
