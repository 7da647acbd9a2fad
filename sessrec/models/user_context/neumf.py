"""NeuMF (He et al., WWW 2017): a GMF branch and an MLP branch, fused by one output layer.

* GMF: the element-wise product of a user and an item embedding;
* MLP: a second pair of embeddings, concatenated, through a tower of ReLU layers halving
  in width (``mlp_layers``, the paper's 3-layer tower by default);
* fusion: the GMF vector and the last MLP layer concatenated, one linear unit, a logit.

Trained from scratch (the paper's optional pre-training of the two branches is not done;
its own ablation found it worth about 1-2 % of HR@10). Sees no context.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sessrec.models.user_context.neural import NeuralUserContextModel, embedding, mlp
from sessrec.models.validation import check_int


class NeuMFNetwork(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, layers: list[int]) -> None:
        super().__init__()
        self.gmf_user, self.gmf_item = embedding(n_users, dim), embedding(n_items, dim)
        half = layers[0] // 2
        self.mlp_user, self.mlp_item = embedding(n_users, half), embedding(n_items, half)
        self.tower = mlp([2 * half, *layers[1:]])
        self.out = nn.Linear(dim + layers[-1], 1)

    def forward(self, user: Tensor, item: Tensor, context: Tensor) -> Tensor:
        gmf = self.gmf_user(user) * self.gmf_item(item)
        deep = self.tower(torch.cat([self.mlp_user(user), self.mlp_item(item)], dim=-1))
        return self.out(torch.cat([gmf, deep], dim=-1)).squeeze(-1)


class NeuMF(NeuralUserContextModel):
    """Neural matrix factorisation (see the module docstring)."""

    name = "neumf"

    def __init__(self, mlp_layers: list[int] | tuple[int, ...] = (64, 32, 16), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        layers = list(mlp_layers) if isinstance(mlp_layers, (list, tuple)) else mlp_layers
        if not isinstance(layers, list) or len(layers) < 2:
            raise ValueError(f"{self.name}: mlp_layers = {mlp_layers!r} is not allowed "
                             "(allowed: a list of at least two layer widths, e.g. [64, 32, 16])")
        self.mlp_layers = [check_int("mlp_layers", w, min=2, owner=self.name) for w in layers]

    def extra_hyperparameters(self) -> dict[str, Any]:
        return {"mlp_layers": list(self.mlp_layers)}

    def build_network(self, n_users: int, n_items: int, context_sizes: list[int]) -> nn.Module:
        return NeuMFNetwork(n_users, n_items, self.embedding_dim, self.mlp_layers)
