"""S-POP, session popularity (session-rec's ``SessionPop``).

Score of item ``i`` = how often ``i`` was clicked in the current session, plus, for the
``top_n`` most popular training items, ``c_i / (c_i + 1)`` (``c_i`` = training clicks),
a value below 1 that breaks ties by popularity. Other items get 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError
from sessrec.models.evidence import CONTRIBUTION, Evidence, dense_index, known_clicks
from sessrec.models.popular import item_popularity
from sessrec.models.session_knn.base import SequenceStateModel
from sessrec.models.session_knn.index import add_scores
from sessrec.models.validation import check_int


class SessionPop(SequenceStateModel):
    """In-session click counts, training popularity as tie-breaker."""

    name = "spop"
    chunk_rows = 512
    empty_scores_zero = False

    def __init__(self, top_n: int = 100) -> None:
        super().__init__()
        self.top_n = check_int("top_n", top_n, min=0, owner=self.name)
        self.base = torch.zeros(0)

    def hyperparameters(self) -> dict[str, Any]:
        return {"top_n": self.top_n}

    def fit_once(self, train: Sessions) -> "SessionPop":
        self.item_index = ItemIndex.from_items(train.items)
        counts = item_popularity(train, self.item_index).double()
        top = torch.argsort(-counts, stable=True)[: self.top_n]  # ties: lower index first
        base = torch.zeros(self.n_items, dtype=torch.float64)
        base[top] = counts[top] / (counts[top] + 1.0)
        self.base = base.float()
        self.clear_live_cache()
        return self

    def _score_sequences(self, sequences, out: torch.Tensor) -> None:
        lengths = np.fromiter((len(s) for s in sequences), np.int64, len(sequences))
        flat = np.fromiter((i for s in sequences for i in s), np.int64, int(lengths.sum()))
        rows = np.repeat(np.arange(len(sequences)), lengths)
        add_scores(out, rows, flat, np.ones(len(flat)), self._scratch(out.numel()))
        out += self.base

    def evidence(self, session_items: list[int] | np.ndarray, item_id: int) -> Evidence:
        """The session's clicks on ``item_id`` (1 each) plus its popularity tie-break."""
        import pandas as pd

        target = dense_index(self, item_id)
        positions, ids, idx = known_clicks(self, session_items)
        hits = [p for p, i in zip(positions, idx) if int(i) == target]
        table = pd.DataFrame({"Position": hits, "Clicked": [int(item_id)] * len(hits), CONTRIBUTION: [1.0] * len(hits)})
        base = float(self.base[target])
        score = float(np.float32(len(hits)) + np.float32(base))
        note = ("S-POP counts the session's clicks on the item (1 each); " +
                (f"as one of the {self.top_n} most popular training items it adds c / (c + 1) = {base:.4f} "
                 "(c = its training clicks) to break ties." if base else
                 f"it is not among the {self.top_n} most popular training items, so nothing is added."))
        return Evidence("clicks", table, score, base, note)

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {"base": self.base}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        base = tensors.get("base")
        if base is None or base.shape != (item_index.n_items,) or bool((base < 0).any()) or bool((base >= 1).any()):
            raise CheckpointError(f"spop: 'base' must be {item_index.n_items} values in [0, 1)")
        model.base = base.float()
        return model
