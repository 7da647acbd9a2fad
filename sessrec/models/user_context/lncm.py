"""LNCM, linear-neural combination: ``α · (p_u · q_i) + (1 - α) · MLP([p_u; q_i])``.

One pair of user and item embeddings feeds both parts: the matrix-factorisation dot
product (linear in each side) and an MLP over their concatenation (``hidden`` widths).
``alpha`` is a number in [0, 1], or ``"learned"``: a trained scalar through a sigmoid,
starting at 0.5. Sees no context.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sessrec.models.user_context.neural import NeuralUserContextModel, embedding, mlp
from sessrec.models.validation import check_float, check_int


class LNCMNetwork(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, hidden: list[int], alpha: float | None) -> None:
        super().__init__()
        self.user, self.item = embedding(n_users, dim), embedding(n_items, dim)
        self.tower = mlp([2 * dim, *hidden])
        self.out = nn.Linear(hidden[-1], 1)
        # learned: a logit trained with the rest (starting at α = 0.5); fixed: a buffer, so that α = 0
        # and α = 1 are exactly the neural or the linear part, and checkpoints carry α either way
        self.learned = alpha is None
        if alpha is None:
            self.alpha_logit = nn.Parameter(torch.zeros(1))
        else:
            self.register_buffer("fixed_alpha", torch.tensor([float(alpha)]))

    def alpha(self) -> Tensor:
        if self.learned:
            return torch.sigmoid(self.alpha_logit)
        fixed = self.fixed_alpha
        assert isinstance(fixed, Tensor)
        return fixed

    def forward(self, user: Tensor, item: Tensor, context: Tensor) -> Tensor:
        p, q = self.user(user), self.item(item)
        linear = (p * q).sum(-1)
        neural = self.out(self.tower(torch.cat([p, q], dim=-1))).squeeze(-1)
        a = self.alpha()
        return a * linear + (1 - a) * neural


class LNCM(NeuralUserContextModel):
    """Linear-neural combination model (see the module docstring)."""

    name = "lncm"

    def __init__(self, alpha: float | str = "learned", hidden: list[int] | tuple[int, ...] = (64, 32),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if alpha == "learned":
            self.alpha: float | str = "learned"
        else:
            self.alpha = check_float("alpha", alpha, min=0.0, max=1.0, owner=self.name)
        if not isinstance(hidden, (list, tuple)) or not hidden:
            raise ValueError(f"{self.name}: hidden = {hidden!r} is not allowed (allowed: a list of layer widths)")
        self.hidden = [check_int("hidden", w, min=1, owner=self.name) for w in hidden]

    def extra_hyperparameters(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "hidden": list(self.hidden)}

    def learned_alpha(self) -> float:
        """The mix the network uses (the fixed ``alpha``, or the learned one)."""
        assert isinstance(self.network, LNCMNetwork), "call fit() first"
        return float(self.network.alpha().detach())

    def build_network(self, n_users: int, n_items: int, context_sizes: list[int]) -> nn.Module:
        return LNCMNetwork(n_users, n_items, self.embedding_dim, self.hidden,
                           None if self.alpha == "learned" else float(self.alpha))
