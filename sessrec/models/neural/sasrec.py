"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the session.

Item embeddings (scaled by sqrt(d)) plus learned position embeddings go through
``num_blocks`` blocks of [layer norm -> causal multi-head self-attention with the
normalised input as residual -> layer norm -> two-layer point-wise feed-forward with
residual], then a final layer norm; the output at a position, dotted with the item
embeddings (shared with the input), scores every item as the next one. Block layout,
dropout placement, Adam's beta2 = 0.98 and the attention without an output projection
follow the authors' code (kang205/SASRec).

Choices for this protocol, different from the paper:

* **Loss**: full-softmax cross-entropy over the whole catalogue at every position
  (the paper uses binary cross-entropy with one sampled negative per position). A
  session read once with the causal mask gives the outputs of all its prefixes, so
  this trains on exactly the prefix -> next-item cases of NARM and SR-GNN.
  ``n_negatives > 0`` switches to a sampled softmax (the target against that many
  uniformly drawn items, shared by the batch) for large catalogues.
* **Positions** count from the first click of the (last ``max_len`` items of the)
  session, so a prefix read alone and the same prefix inside a longer session get
  the same output; the paper left-pads to ``max_len``, making positions relative to
  the end.
* Defaults: 2 blocks, 1 head, d = 50, dropout 0.5 (the paper's value for its sparse
  datasets; 0.2 was for dense MovieLens-1M), max_len 50 (covers 99.9% of the
  sessions of yoochoose1_64 and all but 5 of Diginetica), batch 128 sessions, lr 0.001.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sessrec.data.sessions import Sessions
from sessrec.errors import ParameterError
from sessrec.models.neural.base import NeuralSessionModel
from sessrec.models.neural.cases import Batch, Cases, SequenceState, last_window, sequence_cases
from sessrec.models.neural.losses import catalogue_cross_entropy
from sessrec.models.validation import check_float, check_int


class CausalSelfAttention(nn.Module):
    """Multi-head attention of every position over itself and earlier ones (no output projection)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, queries: Tensor, keys: Tensor) -> tuple[Tensor, Tensor]:
        B, L, D = queries.shape
        split = lambda x: x.view(B, L, self.heads, D // self.heads).transpose(1, 2)  # (B, h, L, D/h)
        q, k, v = split(self.q(queries)), split(self.k(keys)), split(self.v(keys))
        logits = q @ k.transpose(2, 3) / math.sqrt(D // self.heads)
        future = torch.triu(torch.ones(L, L, dtype=torch.bool, device=queries.device), diagonal=1)
        weights = torch.softmax(logits.masked_fill(future, float("-inf")), dim=-1)
        out = (self.drop(weights) @ v).transpose(1, 2).reshape(B, L, D)
        return out + queries, weights


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim, eps=1e-8)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.norm_ff = nn.LayerNorm(dim, eps=1e-8)
        self.ff1 = nn.Linear(dim, dim)
        self.ff2 = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        x, weights = self.attn(self.norm_attn(x), x)
        h = self.norm_ff(x)
        x = h + self.drop(self.ff2(self.drop(F.relu(self.ff1(h)))))
        return x * mask, weights


class SASRecModule(nn.Module):
    def __init__(self, n_items: int, dim: int, blocks: int, heads: int, dropout: float, max_len: int) -> None:
        super().__init__()
        self.dim = dim
        self.item_emb = nn.Embedding(n_items, dim)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim, eps=1e-8)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def encode(self, items: Tensor, lengths: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Outputs (B, L, dim) at every position of right-padded sessions, and each block's attention."""
        L = items.shape[1]
        mask = (torch.arange(L, device=items.device)[None, :] < lengths[:, None]).unsqueeze(2).float()
        x = self.item_emb(items) * math.sqrt(self.dim) + self.pos_emb.weight[:L][None]
        x = self.drop(x) * mask
        attention = []
        for block in self.blocks:
            x, w = block(x, mask)
            attention.append(w)
        return self.norm(x), attention

    def last_output(self, items: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.encode(items, lengths)
        return out[torch.arange(items.shape[0], device=items.device), lengths - 1]


class SASRec(SequenceState, NeuralSessionModel):
    """SASRec as a :class:`SessionModel`; the state is the session's items so far."""

    name = "sasrec"
    adam_betas = (0.9, 0.98)  # the reference code's
    _counts_positions = True
    module: SASRecModule | None  # the base class's module, as _build_module makes it

    def __init__(
        self,
        hidden_units: int = 50,
        num_blocks: int = 2,
        num_heads: int = 1,
        dropout_rate: float = 0.5,
        max_len: int = 50,
        n_negatives: int = 0,
        batch_size: int = 128,
        learning_rate: float = 0.001,
        l2: float = 0.0,
        n_epochs: int = 30,
        patience: int = 10,
        seed: int = 42,
        device: str = "cpu",
        n_threads: int | None = None,
        bucket_batches: int = 64,
    ) -> None:
        """SASRec with the paper's names and defaults (see the module docstring).
        ``n_negatives=0`` is the full softmax; ``batch_size`` counts sessions."""
        super().__init__()
        self.hidden_units = check_int("hidden_units", hidden_units, min=1, max=4096, owner=self.name)
        self.num_blocks = check_int("num_blocks", num_blocks, min=1, max=64, owner=self.name)
        self.num_heads = check_int("num_heads", num_heads, min=1, max=64, owner=self.name)
        if self.hidden_units % self.num_heads:
            raise ParameterError(f"num_heads={num_heads!r} is not allowed with hidden_units={hidden_units}: "
                                 "hidden_units must be divisible by num_heads")
        self.dropout_rate = check_float("dropout_rate", dropout_rate, min=0.0, max=1.0, max_open=True, owner=self.name)
        self.max_len = check_int("max_len", max_len, min=1, max=10_000, owner=self.name)
        self.n_negatives = check_int("n_negatives", n_negatives, min=0, max=10_000_000, owner=self.name)
        self._init_training(n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate, l2=l2,
                            patience=patience, seed=seed, device=device, n_threads=n_threads,
                            bucket_batches=bucket_batches)

    def hyperparameters(self) -> dict[str, Any]:
        return {"hidden_units": self.hidden_units, "num_blocks": self.num_blocks, "num_heads": self.num_heads,
                "dropout_rate": self.dropout_rate, "max_len": self.max_len, "n_negatives": self.n_negatives,
                **self._training_hyperparameters()}

    # -- training -------------------------------------------------------------------------
    def _build_module(self, n_items: int) -> SASRecModule:
        return SASRecModule(n_items, self.hidden_units, self.num_blocks, self.num_heads, self.dropout_rate, self.max_len)

    def _cases(self, train: Sessions, flat: np.ndarray) -> Cases:
        return sequence_cases(train, flat, self.max_len)

    def _batch_loss(self, batch: Batch) -> Tensor:
        assert self.module is not None  # fit builds the module before the first batch
        out, _ = self.module.encode(batch.items, batch.lengths)
        mask = batch.mask
        h, target = out[mask], batch.next_items[mask]  # only real positions reach the output layer
        emb = self.module.item_emb.weight
        if self.n_negatives == 0 or self.n_negatives >= emb.shape[0]:
            return catalogue_cross_entropy(h @ emb.t(), target)
        negatives = torch.randint(0, emb.shape[0], (self.n_negatives,), device=h.device)
        pos = (h * emb[target]).sum(1, keepdim=True)
        neg = h @ emb[negatives].t()
        neg = neg.masked_fill(negatives[None, :] == target[:, None], float("-inf"))  # accidental hits
        return F.cross_entropy(torch.cat([pos, neg], 1), torch.zeros(len(target), dtype=torch.long, device=h.device))

    # -- streaming interface --------------------------------------------------------------
    def scores(self, state: tuple[Tensor, Tensor]) -> Tensor:
        seq, lengths = state
        items, kept = last_window(seq, lengths, self.max_len)
        assert self.module is not None  # a state comes from init_state, which checks that the model is fitted
        with torch.no_grad():
            out = (self.module.last_output(items, kept.clamp(min=1)) @ self.module.item_emb.weight.t()).float()
        return torch.where(kept[:, None] > 0, out, torch.zeros_like(out)).cpu()

    def attention(self, session_items: list[int] | np.ndarray) -> np.ndarray:
        """Last block's attention of the newest click over the session's clicks (mean over heads), oldest first."""
        items = self._check_items(session_items)[:, -self.max_len :]
        assert self.module is not None  # _check_items needs the module's device
        with torch.no_grad():
            _, weights = self.module.encode(items, torch.tensor([items.shape[1]], device=items.device))
        return weights[-1][0, :, -1, :].mean(0).cpu().numpy()

