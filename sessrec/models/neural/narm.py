"""NARM (Li et al., CIKM 2017): a GRU encoder with global and local session features.

The GRU reads the session's item embeddings. The *global* encoder is its last hidden
state ``h_t``; the *local* encoder is an attention-weighted sum of all hidden states,
``alpha_j ~ v^T sigmoid(A1 h_t + A2 h_j)`` (normalised with a softmax over the clicks,
as the reference code does). The two are concatenated, passed through dropout and
scored against every item embedding with a bilinear map ``B``:
``score(i) = emb(i)^T B [c_local; c_global]``. It is GRU4Rec with attention over the
session, the improvement a thesis on GRU4Rec would propose.

Defaults from the paper and the reference code: embedding 50, hidden 100, batch 512,
Adam lr 0.001, dropout 0.25 on the embeddings and 0.5 before the decoder, 30 epochs (the
reference keeps the epoch with the best validation Recall@20). Differences: the
reference's GRU gates are Theano's hard sigmoid, ``clip(0.2 x + 0.5, 0, 1)``, and it
cuts prefixes to their *first* 19 items; we use the standard GRU (``torch.nn.GRU``) and
read whole sessions. ``gates="hard_sigmoid"`` runs the reference's gates instead (same
weights, a step-by-step loop), to measure what that difference does. The live state
keeps every hidden state of the session, so one click costs one GRU step plus the
attention.
"""

from __future__ import annotations

from typing import Any, Callable, cast

import numpy as np
import torch
from torch import Tensor, nn

from sessrec.data.sessions import Sessions
from sessrec.models.neural.base import NeuralSessionModel
from sessrec.models.neural.cases import Batch, Cases, prefix_cases
from sessrec.models.neural.losses import catalogue_cross_entropy
from sessrec.models.validation import check_choice, check_float, check_int


#: GRU gate functions: the standard logistic sigmoid, or the reference code's hard sigmoid
GATES = ("sigmoid", "hard_sigmoid")


def hard_sigmoid(x: Tensor) -> Tensor:
    """Theano's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (torch's has slope 1/6)."""
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


class NARMModule(nn.Module):
    """Embedding, GRU encoder, attention and the bilinear decoder."""

    def __init__(self, n_items: int, embedding_dim: int, hidden: int, dropout_embed: float, dropout_context: float,
                 hard_gates: bool = False) -> None:
        super().__init__()
        self.hard_gates = hard_gates
        self.embedding = nn.Embedding(n_items, embedding_dim)
        self.drop_embed = nn.Dropout(dropout_embed)
        self.gru = nn.GRU(embedding_dim, hidden, batch_first=True)
        self.a1 = nn.Linear(hidden, hidden, bias=False)  # applied to the last hidden state
        self.a2 = nn.Linear(hidden, hidden, bias=False)  # applied to every hidden state
        self.v = nn.Linear(hidden, 1, bias=False)
        self.drop_context = nn.Dropout(dropout_context)
        self.bilinear = nn.Linear(2 * hidden, embedding_dim, bias=False)
        self._reset_parameters(n_items, embedding_dim, hidden)

    def _reset_parameters(self, n_items: int, embedding_dim: int, hidden: int) -> None:
        """The reference initialisation: N(0, 2 / fan_in) per matrix (so item embeddings start
        near zero and the first scores are flat), orthogonal recurrent weights, zero biases."""
        normal = lambda w, fan_in: nn.init.normal_(w, 0.0, (2.0 / fan_in) ** 0.5)
        normal(self.embedding.weight, n_items)
        normal(self.gru.weight_ih_l0, embedding_dim)
        for gate in cast(Tensor, self.gru.weight_hh_l0).chunk(3, 0):
            nn.init.orthogonal_(gate)
        nn.init.zeros_(cast(Tensor, self.gru.bias_ih_l0))
        nn.init.zeros_(cast(Tensor, self.gru.bias_hh_l0))
        normal(self.a1.weight, hidden)
        normal(self.a2.weight, hidden)
        normal(self.v.weight, 1)
        normal(self.bilinear.weight, embedding_dim)

    def encode(self, items: Tensor) -> Tensor:
        """All hidden states (B, L, hidden) of right-padded sessions (padding comes last,
        so it never changes the states of real clicks)."""
        x = self.drop_embed(self.embedding(items))
        if self.hard_gates:
            states, h = [], x.new_zeros(x.shape[0], self.gru.hidden_size)
            for t in range(x.shape[1]):
                h = self.gru_cell(x[:, t], h, hard_sigmoid)
                states.append(h)
            return torch.stack(states, 1)
        out, _ = self.gru(x)
        return out

    def gru_step(self, items: Tensor, h: Tensor) -> Tensor:
        """One GRU step from hidden ``h`` (B, hidden) after clicking ``items`` (B,)."""
        x = self.drop_embed(self.embedding(items))
        if self.hard_gates:
            return self.gru_cell(x, h, hard_sigmoid)
        _, h_new = self.gru(x[:, None, :], h[None])
        return h_new[0]

    def gru_cell(self, x: Tensor, h: Tensor, gate: Callable[[Tensor], Tensor]) -> Tensor:
        """``torch.nn.GRU``'s step on its own weights, with ``gate`` squashing the reset and
        update gates (``torch.sigmoid`` gives ``nn.GRU`` itself)."""
        g = self.gru
        # nn.GRU registers its weights by name, so their type is only Tensor | Module
        w_ih, b_ih = cast(Tensor, g.weight_ih_l0), cast(Tensor, g.bias_ih_l0)
        w_hh, b_hh = cast(Tensor, g.weight_hh_l0), cast(Tensor, g.bias_hh_l0)
        r_i, z_i, n_i = (x @ w_ih.t() + b_ih).chunk(3, 1)
        r_h, z_h, n_h = (h @ w_hh.t() + b_hh).chunk(3, 1)
        r, z = gate(r_i + r_h), gate(z_i + z_h)
        n = torch.tanh(n_i + r * n_h)
        return (1 - z) * n + z * h

    def attend(self, states: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Session context ``[c_local; c_global]`` (B, 2*hidden) and attention weights (B, L)."""
        mask = torch.arange(states.shape[1], device=states.device)[None, :] < lengths[:, None]
        last = states[torch.arange(states.shape[0], device=states.device), lengths - 1]
        energy = self.v(torch.sigmoid(self.a1(last)[:, None, :] + self.a2(states))).squeeze(2)
        alpha = torch.softmax(energy.masked_fill(~mask, float("-inf")), dim=1)
        local = (alpha[:, :, None] * states).sum(1)
        return torch.cat([local, last], 1), alpha

    def decode(self, context: Tensor) -> Tensor:
        return self.bilinear(self.drop_context(context)) @ self.embedding.weight.t()

    def forward(self, items: Tensor, lengths: Tensor) -> Tensor:
        context, _ = self.attend(self.encode(items), lengths)
        return self.decode(context)


class NARM(NeuralSessionModel):
    """NARM as a :class:`SessionModel`; the state holds every hidden state so far."""

    name = "narm"
    module: NARMModule | None  # the base class's module, as _build_module makes it

    def __init__(
        self,
        hidden_size: int = 100,
        embedding_dim: int = 50,
        dropout_embed: float = 0.25,
        dropout_context: float = 0.5,
        gates: str = "sigmoid",
        batch_size: int = 512,
        learning_rate: float = 0.001,
        l2: float = 0.0,
        n_epochs: int = 30,
        patience: int = 10,
        seed: int = 42,
        device: str = "cpu",
        n_threads: int | None = None,
        bucket_batches: int = 64,
    ) -> None:
        """NARM with the paper's names and defaults (see the module docstring)."""
        super().__init__()
        self.hidden_size = check_int("hidden_size", hidden_size, min=1, max=4096, owner=self.name)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, min=1, max=4096, owner=self.name)
        self.dropout_embed = check_float("dropout_embed", dropout_embed, min=0.0, max=1.0, max_open=True, owner=self.name)
        self.dropout_context = check_float("dropout_context", dropout_context, min=0.0, max=1.0, max_open=True, owner=self.name)
        self.gates = check_choice("gates", gates, GATES, owner=self.name)
        self._init_training(n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate, l2=l2,
                            patience=patience, seed=seed, device=device, n_threads=n_threads,
                            bucket_batches=bucket_batches)

    def hyperparameters(self) -> dict[str, Any]:
        return {"hidden_size": self.hidden_size, "embedding_dim": self.embedding_dim,
                "dropout_embed": self.dropout_embed, "dropout_context": self.dropout_context, "gates": self.gates,
                **self._training_hyperparameters()}

    # -- training -------------------------------------------------------------------------
    def _build_module(self, n_items: int) -> NARMModule:
        return NARMModule(n_items, self.embedding_dim, self.hidden_size, self.dropout_embed, self.dropout_context,
                          hard_gates=self.gates == "hard_sigmoid")

    def _cases(self, train: Sessions, flat: np.ndarray) -> Cases:
        return prefix_cases(train, flat)

    def _batch_loss(self, batch: Batch) -> Tensor:
        assert self.module is not None  # fit builds the module before the first batch
        return catalogue_cross_entropy(self.module(batch.items, batch.lengths), batch.targets)

    # -- streaming interface: state = (hidden states (B, T, H), lengths (B,)) ------------------
    def init_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        self._check_fitted()
        dev = self._dev()
        return (torch.zeros(batch_size, 0, self.hidden_size, device=dev),
                torch.zeros(batch_size, dtype=torch.long, device=dev))

    def reset(self, state: tuple[Tensor, Tensor], mask: Tensor) -> tuple[Tensor, Tensor]:
        states, lengths = state
        lengths = torch.where(mask.to(lengths.device, torch.bool), torch.zeros_like(lengths), lengths)
        width = int(lengths.max()) if len(lengths) else 0
        return states[:, :width], lengths  # slicing shares memory but nothing writes into it

    def step(self, state: tuple[Tensor, Tensor], items: Tensor) -> tuple[Tensor, Tensor]:
        states, lengths = state
        B, T, H = states.shape
        rows = torch.arange(B, device=states.device)
        prev = states[rows, (lengths - 1).clamp(min=0)] if T > 0 else torch.zeros(B, H, device=states.device)
        prev = torch.where(lengths[:, None] > 0, prev, torch.zeros_like(prev))
        assert self.module is not None  # a state comes from init_state, which checks that the model is fitted
        with torch.no_grad():
            h = self.module.gru_step(items.to(states.device, torch.long), prev)
        width = max(T, int(lengths.max()) + 1)
        new = torch.zeros(B, width, H, device=states.device)
        new[:, :T] = states
        new[rows, lengths] = h
        return new, lengths + 1

    def scores(self, state: tuple[Tensor, Tensor]) -> Tensor:
        states, lengths = state
        if states.shape[1] == 0:
            return torch.zeros(len(lengths), self.n_items)
        assert self.module is not None  # a state comes from init_state, which checks that the model is fitted
        with torch.no_grad():
            context, _ = self.module.attend(states, lengths.clamp(min=1))
            out = self.module.decode(context).float()
        return torch.where(lengths[:, None] > 0, out, torch.zeros_like(out)).cpu()

    def attention(self, session_items: list[int] | np.ndarray) -> np.ndarray:
        """Attention weight of each (known) click of a session on the local encoder, oldest first (sums to 1)."""
        items = self._check_items(session_items)
        assert self.module is not None  # _check_items needs the module's device
        with torch.no_grad():
            n = torch.tensor([items.shape[1]], device=items.device)
            _, alpha = self.module.attend(self.module.encode(items), n)
        return alpha[0].cpu().numpy()
