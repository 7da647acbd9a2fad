"""BMF: biased matrix factorisation, ``score(u, i) = p_u · q_i + b_u + b_i + g``.

The classic rating model (Koren et al., 2009) trained here as the other three are: binary
cross-entropy on positives and sampled negatives, the score a logit. It sees no context,
so it is the yardstick for what the context adds (and, well tuned, a strong one: Rendle
et al., RecSys 2020, found it beat NeuMF's MLP on NeuMF's own protocol).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sessrec.models.user_context.neural import NeuralUserContextModel, embedding


class BMFNetwork(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.user = embedding(n_users, dim)
        self.item = embedding(n_items, dim)
        self.user_bias = embedding(n_users, 1)
        self.item_bias = embedding(n_items, 1)
        self.global_bias = nn.Parameter(torch.zeros(1))

    def forward(self, user: Tensor, item: Tensor, context: Tensor) -> Tensor:
        dot = (self.user(user) * self.item(item)).sum(-1)
        return dot + self.user_bias(user).squeeze(-1) + self.item_bias(item).squeeze(-1) + self.global_bias


class BMF(NeuralUserContextModel):
    """Biased matrix factorisation (see the module docstring)."""

    name = "bmf"

    def build_network(self, n_users: int, n_items: int, context_sizes: list[int]) -> nn.Module:
        return BMFNetwork(n_users, n_items, self.embedding_dim)
