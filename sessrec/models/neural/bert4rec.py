"""BERT4Rec (Sun et al., CIKM 2019): a bidirectional transformer trained to fill in masked clicks.

Training (the Cloze task): each training session (its last ``max_len`` clicks, longer sessions
in chunks as for SASRec) has every click replaced by a ``[MASK]`` token with probability
``mask_prob`` (a session that draws none gets its last click masked); the transformer reads
the whole sequence in both directions and is trained with cross-entropy over the whole
catalogue to name the clicks behind the masks. Next-item prediction, as in the paper: the
session's clicks followed by one ``[MASK]``; the output at that position scores every item.

The network follows the paper: item plus learned position embeddings, layer norm and
dropout, ``num_blocks`` post-norm transformer layers (multi-head self-attention, GELU
feed-forward of width ``4 · hidden_units``), then a projection (dense, GELU, layer norm)
whose output is dotted with the (shared) item embeddings plus an output bias.

Settings: the paper's architecture (``hidden_units`` 64, 2 blocks, 2 heads, dropout 0.1,
``mask_prob`` 0.2, its value for the densest dataset; 0.4-0.6 were for its sparse ones,
whose sequences are far longer than a session), batch 256 sessions. The learning rate
is 0.001 (the paper: 1e-4 with linear decay over 400,000 steps on a GPU, not affordable
here) with early stopping on a validation split like SASRec, NARM and SR-GNN. Petrov &
Macdonald (RecSys 2022) found that BERT4Rec reaches its published numbers only after far
longer training than most re-implementations give it; each run's record says how many epochs
and seconds this one trained.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sessrec.data.sessions import Sessions
from sessrec.errors import ParameterError
from sessrec.models.neural.base import NeuralSessionModel
from sessrec.models.neural.cases import Batch, Cases, SequenceState, last_window, sequence_cases
from sessrec.models.neural.losses import catalogue_cross_entropy
from sessrec.models.validation import check_float, check_int


class BERT4RecModule(nn.Module):
    """The network; item row ``n_items`` of the embedding table is the ``[MASK]`` token."""

    def __init__(self, n_items: int, dim: int, blocks: int, heads: int, dropout: float, max_len: int) -> None:
        super().__init__()
        self.n_items = n_items
        self.item_emb = nn.Embedding(n_items + 1, dim)
        self.pos_emb = nn.Embedding(max_len, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=dropout, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.out_bias = nn.Parameter(torch.zeros(n_items))
        for p in self.parameters():  # the paper's truncated normal, standard deviation 0.02
            if p.dim() > 1:
                nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)

    @property
    def mask_token(self) -> int:
        return self.n_items

    def encode(self, items: Tensor, lengths: Tensor) -> Tensor:
        """Outputs (B, L, dim) of right-padded sequences (padding is never attended to)."""
        L = items.shape[1]
        padding = torch.arange(L, device=items.device)[None, :] >= lengths[:, None]
        x = self.drop(self.norm(self.item_emb(items) + self.pos_emb.weight[:L][None]))
        return self.encoder(x, src_key_padding_mask=padding)

    def logits(self, h: Tensor) -> Tensor:
        """Scores of every catalogue item (the mask token excluded) for outputs ``h`` (N, dim)."""
        return self.head(h) @ self.item_emb.weight[: self.n_items].t() + self.out_bias


class BERT4Rec(SequenceState, NeuralSessionModel):
    """BERT4Rec as a :class:`SessionModel`; the state is the session's items so far."""

    name = "bert4rec"
    _counts_positions = True
    module: BERT4RecModule | None  # the base class's module, as _build_module makes it

    def __init__(
        self,
        hidden_units: int = 64,
        num_blocks: int = 2,
        num_heads: int = 2,
        dropout_rate: float = 0.1,
        mask_prob: float = 0.2,
        max_len: int = 50,
        batch_size: int = 256,
        learning_rate: float = 0.001,
        l2: float = 0.0,
        n_epochs: int = 30,
        patience: int = 10,
        seed: int = 42,
        device: str = "cpu",
        n_threads: int | None = None,
        bucket_batches: int = 64,
    ) -> None:
        """BERT4Rec with the paper's names (see the module docstring); ``max_len`` counts the
        ``[MASK]`` appended at prediction, ``batch_size`` counts sessions."""
        super().__init__()
        self.hidden_units = check_int("hidden_units", hidden_units, min=1, max=4096, owner=self.name)
        self.num_blocks = check_int("num_blocks", num_blocks, min=1, max=64, owner=self.name)
        self.num_heads = check_int("num_heads", num_heads, min=1, max=64, owner=self.name)
        if self.hidden_units % self.num_heads:
            raise ParameterError(f"{self.name}: num_heads = {num_heads!r} is not allowed with hidden_units = "
                                 f"{hidden_units} (hidden_units must be divisible by num_heads)")
        self.dropout_rate = check_float("dropout_rate", dropout_rate, min=0.0, max=1.0, max_open=True, owner=self.name)
        self.mask_prob = check_float("mask_prob", mask_prob, min=0.0, max=1.0, min_open=True, owner=self.name)
        self.max_len = check_int("max_len", max_len, min=2, max=10_000, owner=self.name)
        self._init_training(n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate, l2=l2,
                            patience=patience, seed=seed, device=device, n_threads=n_threads,
                            bucket_batches=bucket_batches)

    def hyperparameters(self) -> dict[str, Any]:
        return {"hidden_units": self.hidden_units, "num_blocks": self.num_blocks, "num_heads": self.num_heads,
                "dropout_rate": self.dropout_rate, "mask_prob": self.mask_prob, "max_len": self.max_len,
                **self._training_hyperparameters()}

    def item_embeddings(self) -> Tensor | None:
        """The item table without the ``[MASK]`` row (the item map draws it)."""
        return None if self.module is None else self.module.item_emb.weight[: self.n_items].detach()

    # -- training -------------------------------------------------------------------------
    def _build_module(self, n_items: int) -> BERT4RecModule:
        return BERT4RecModule(n_items, self.hidden_units, self.num_blocks, self.num_heads, self.dropout_rate,
                              self.max_len)

    def _cases(self, train: Sessions, flat: np.ndarray) -> Cases:
        return sequence_cases(train, flat, self.max_len - 1)  # a case and its last target fill max_len

    def _batch_loss(self, batch: Batch) -> Tensor:
        assert self.module is not None  # fit builds the module before the first batch
        sequences, lengths = whole_sequences(batch)
        masked = cloze_mask(lengths, sequences.shape[1], self.mask_prob, sequences.device)
        inputs = torch.where(masked, torch.full_like(sequences, self.module.mask_token), sequences)
        out = self.module.encode(inputs, lengths)
        return catalogue_cross_entropy(self.module.logits(out[masked]), sequences[masked])

    # -- streaming interface --------------------------------------------------------------
    def scores(self, state: tuple[Tensor, Tensor]) -> Tensor:
        seq, lengths = state
        items, kept = last_window(seq, lengths, self.max_len - 1)
        assert self.module is not None  # a state comes from init_state, which checks that the model is fitted
        rows = torch.arange(items.shape[0], device=items.device)
        inputs = torch.cat([items, torch.zeros_like(items[:, :1])], 1)
        inputs[rows, kept] = self.module.mask_token
        with torch.no_grad():
            out = self.module.encode(inputs, kept + 1)
            return self.module.logits(out[rows, kept]).float().cpu()


def whole_sequences(batch: Batch) -> tuple[Tensor, Tensor]:
    """The clicks of each case with its last target appended, right-padded with 0, and their lengths."""
    first = batch.items[:, :1]
    following = torch.where(batch.mask, batch.next_items, torch.zeros_like(batch.next_items))
    return torch.cat([first, following], 1), batch.lengths + 1


def cloze_mask(lengths: Tensor, width: int, prob: float, device: torch.device) -> Tensor:
    """(B, width) positions to mask: each real position with probability ``prob``, and the last
    one of a sequence that drew none (every sequence has a target)."""
    real = torch.arange(width, device=device)[None, :] < lengths[:, None]
    masked = (torch.rand(len(lengths), width, device=device) < prob) & real
    none = ~masked.any(1)
    masked[none.nonzero(as_tuple=True)[0], lengths[none] - 1] = True
    return masked
