"""ENCM, embedding-based neural context model: the one of the four that sees the context.

User, item and one embedding per context feature (time of day, season, device...) are
concatenated and go through an MLP (``hidden`` widths, ReLU, dropout) to one logit, so
the network can learn interactions such as "this category on mobile in the evening"
that a user-item factorisation cannot express.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sessrec.models.user_context.neural import NeuralUserContextModel, embedding, mlp
from sessrec.models.validation import check_float, check_int


class ENCMNetwork(nn.Module):
    def __init__(self, n_users: int, n_items: int, context_sizes: list[int], dim: int, hidden: list[int],
                 dropout: float) -> None:
        super().__init__()
        self.user, self.item = embedding(n_users, dim), embedding(n_items, dim)
        self.context = nn.ModuleList(embedding(size, dim) for size in context_sizes)
        self.tower = mlp([dim * (2 + len(context_sizes)), *hidden], dropout)
        self.out = nn.Linear(hidden[-1], 1)

    def forward(self, user: Tensor, item: Tensor, context: Tensor) -> Tensor:
        parts = [self.user(user), self.item(item)] + [table(context[:, f]) for f, table in enumerate(self.context)]
        return self.out(self.tower(torch.cat(parts, dim=-1))).squeeze(-1)


class ENCM(NeuralUserContextModel):
    """Embedding-based neural context model (see the module docstring)."""

    name = "encm"
    uses_context = True

    def __init__(self, hidden: list[int] | tuple[int, ...] = (64, 32), dropout: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(hidden, (list, tuple)) or not hidden:
            raise ValueError(f"{self.name}: hidden = {hidden!r} is not allowed (allowed: a list of layer widths)")
        self.hidden = [check_int("hidden", w, min=1, owner=self.name) for w in hidden]
        self.dropout = check_float("dropout", dropout, min=0.0, max=1.0, max_open=True, owner=self.name)

    def extra_hyperparameters(self) -> dict[str, Any]:
        return {"hidden": list(self.hidden), "dropout": self.dropout}

    def build_network(self, n_users: int, n_items: int, context_sizes: list[int]) -> nn.Module:
        return ENCMNetwork(n_users, n_items, context_sizes, self.embedding_dim, self.hidden, self.dropout)
