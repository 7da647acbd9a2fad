"""SR-GNN (Wu et al., AAAI 2019): a gated graph neural network over the session graph.

Each session is a directed graph: one node per distinct item, an edge ``u -> v`` when
``v`` was clicked right after ``u`` (edges are binary; a node's incoming and outgoing
messages are averaged over its in- and out-neighbours). ``step`` rounds of a GRU-style
update mix every node with its neighbours. The session vector is a soft-attention sum
of the node states along the click sequence (sigmoid gates, not a softmax, as in the
paper) concatenated with the last click's node state, mapped back to the embedding
size and scored against every item embedding.

Graphs of a mini-batch are built in torch without Python loops: node slots are the
sequence positions, a repeated item maps to the slot of its first occurrence, and the
adjacency is a dense (B, L, L) matrix. That is the same computation as the reference
code's per-session ``np.unique`` graphs (message passing does not depend on the order
of the nodes) at a fraction of the cost.

Defaults follow the paper and its reference code: hidden size 100, batch 100, Adam
with lr 0.001 and L2 1e-5, lr x0.1 every 3 epochs (the reference steps its scheduler
before each epoch, so the first decay comes after epoch 2; we do the same), one
propagation step, 30 epochs, patience 10, uniform(-1/sqrt(h), 1/sqrt(h)) initialisation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sessrec.data.sessions import Sessions
from sessrec.models.neural.base import NeuralSessionModel
from sessrec.models.neural.cases import Batch, Cases, SequenceState, last_window, prefix_cases
from sessrec.models.neural.losses import catalogue_cross_entropy
from sessrec.models.validation import check_float, check_int


def session_graphs(items: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Node assignment and normalised adjacency of right-padded sessions.

    Returns ``alias`` (B, L): the node slot of each position (the first position holding
    the same item), and ``adj`` (B, L, 2L): ``[A_in | A_out]`` where ``A_in[v, u]`` is
    ``1 / indegree(v)`` for an edge ``u -> v`` and ``A_out[u, v]`` is ``1 / outdegree(u)``.
    """
    B, L = items.shape
    pos = torch.arange(L, device=items.device)
    valid = pos[None, :] < lengths[:, None]
    same = (items[:, :, None] == items[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    alias = torch.where(valid, same.to(torch.uint8).argmax(dim=2), pos[None, :].expand(B, L))
    edges = torch.zeros(B, L, L, device=items.device)
    if L > 1:
        has_edge = valid[:, 1:]
        rows = torch.arange(B, device=items.device)[:, None].expand(B, L - 1)
        src, dst = alias[:, :-1], alias[:, 1:]
        edges[rows[has_edge], src[has_edge], dst[has_edge]] = 1.0  # binary, as in the reference
    indeg = edges.sum(1).clamp(min=1.0)  # (B, L): column sums
    outdeg = edges.sum(2).clamp(min=1.0)
    a_in = edges.transpose(1, 2) / indeg[:, :, None]
    a_out = edges / outdeg[:, :, None]
    return alias, torch.cat([a_in, a_out], dim=2)


class GatedGraphLayer(nn.Module):
    """``steps`` rounds of the SR-GNN node update (a GRU cell fed by in/out messages)."""

    def __init__(self, hidden: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.edge_in = nn.Linear(hidden, hidden)
        self.edge_out = nn.Linear(hidden, hidden)
        self.b_in = nn.Parameter(torch.zeros(hidden))
        self.b_out = nn.Parameter(torch.zeros(hidden))
        self.w_ih = nn.Parameter(torch.zeros(3 * hidden, 2 * hidden))
        self.w_hh = nn.Parameter(torch.zeros(3 * hidden, hidden))
        self.b_ih = nn.Parameter(torch.zeros(3 * hidden))
        self.b_hh = nn.Parameter(torch.zeros(3 * hidden))

    def forward(self, adj: Tensor, h: Tensor) -> Tensor:
        n = h.shape[1]
        for _ in range(self.steps):
            msg_in = torch.bmm(adj[:, :, :n], self.edge_in(h)) + self.b_in
            msg_out = torch.bmm(adj[:, :, n:], self.edge_out(h)) + self.b_out
            gi = F.linear(torch.cat([msg_in, msg_out], 2), self.w_ih, self.b_ih)
            gh = F.linear(h, self.w_hh, self.b_hh)
            i_r, i_z, i_n = gi.chunk(3, 2)
            h_r, h_z, h_n = gh.chunk(3, 2)
            reset = torch.sigmoid(i_r + h_r)
            update = torch.sigmoid(i_z + h_z)
            cand = torch.tanh(i_n + reset * h_n)
            h = cand + update * (h - cand)
        return h


class SRGNNModule(nn.Module):
    """Embeddings, gated graph layer, attention readout and the item scorer."""

    def __init__(self, n_items: int, hidden: int, steps: int, nonhybrid: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_items, hidden)
        self.gnn = GatedGraphLayer(hidden, steps)
        self.w_last = nn.Linear(hidden, hidden)
        self.w_seq = nn.Linear(hidden, hidden)
        self.w_alpha = nn.Linear(hidden, 1, bias=False)
        self.nonhybrid = nonhybrid
        self.transform = nn.Linear(2 * hidden, hidden)
        bound = 1.0 / math.sqrt(hidden)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def session_vectors(self, items: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Session representations (B, hidden) and attention weights (B, L) of right-padded sessions."""
        alias, adj = session_graphs(items, lengths)
        nodes = self.gnn(adj, self.embedding(items))  # node slot j starts as the embedding of items[:, j]
        seq_h = nodes.gather(1, alias[:, :, None].expand(-1, -1, nodes.shape[2]))
        mask = (torch.arange(items.shape[1], device=items.device)[None, :] < lengths[:, None]).float()
        last = seq_h[torch.arange(items.shape[0], device=items.device), lengths - 1]
        alpha = self.w_alpha(torch.sigmoid(self.w_last(last)[:, None, :] + self.w_seq(seq_h))).squeeze(2) * mask
        s = (alpha[:, :, None] * seq_h).sum(1)
        if not self.nonhybrid:
            s = self.transform(torch.cat([s, last], 1))
        return s, alpha

    def forward(self, items: Tensor, lengths: Tensor) -> Tensor:
        s, _ = self.session_vectors(items, lengths)
        return s @ self.embedding.weight.t()


class SRGNN(SequenceState, NeuralSessionModel):
    """SR-GNN as a :class:`SessionModel`; the state is the session's items so far."""

    name = "srgnn"
    module: SRGNNModule | None  # the base class's module, as _build_module makes it

    def __init__(
        self,
        hidden_size: int = 100,
        step: int = 1,
        nonhybrid: bool = False,
        batch_size: int = 100,
        learning_rate: float = 0.001,
        lr_dc: float = 0.1,
        lr_dc_step: int = 3,
        l2: float = 1e-5,
        n_epochs: int = 30,
        patience: int = 10,
        max_len: int | None = None,
        seed: int = 42,
        device: str = "cpu",
        n_threads: int | None = None,
        bucket_batches: int = 64,
    ) -> None:
        """SR-GNN with the paper's names and defaults (``step`` = propagation steps,
        ``lr_dc`` / ``lr_dc_step`` = decay factor / every how many epochs, ``max_len``:
        keep only the last ``max_len`` clicks of a session, ``None`` keeps all)."""
        super().__init__()
        self.hidden_size = check_int("hidden_size", hidden_size, min=1, max=4096, owner=self.name)
        self.step_count = check_int("step", step, min=1, max=16, owner=self.name)
        self.nonhybrid = bool(nonhybrid)
        self.lr_dc = check_float("lr_dc", lr_dc, min=0.0, max=1.0, min_open=True, owner=self.name)
        self.lr_dc_step = check_int("lr_dc_step", lr_dc_step, min=1, max=10_000, owner=self.name)
        self.max_len = None if max_len is None else check_int("max_len", max_len, min=1, max=10_000, owner=self.name)
        self._init_training(n_epochs=n_epochs, batch_size=batch_size, learning_rate=learning_rate, l2=l2,
                            patience=patience, seed=seed, device=device, n_threads=n_threads,
                            bucket_batches=bucket_batches)

    def hyperparameters(self) -> dict[str, Any]:
        return {"hidden_size": self.hidden_size, "step": self.step_count, "nonhybrid": self.nonhybrid,
                "lr_dc": self.lr_dc, "lr_dc_step": self.lr_dc_step, "max_len": self.max_len,
                **self._training_hyperparameters()}

    # -- training -------------------------------------------------------------------------
    def _build_module(self, n_items: int) -> SRGNNModule:
        return SRGNNModule(n_items, self.hidden_size, self.step_count, self.nonhybrid)

    def _cases(self, train: Sessions, flat: np.ndarray) -> Cases:
        return prefix_cases(train, flat, self.max_len)

    def _batch_loss(self, batch: Batch) -> Tensor:
        assert self.module is not None  # fit builds the module before the first batch
        return catalogue_cross_entropy(self.module(batch.items, batch.lengths), batch.targets)

    def _epoch_lr(self, epoch: int) -> float:
        # the reference calls StepLR.step() before each epoch: epoch e (1-based) runs at lr * dc ** (e // step)
        return self.learning_rate * self.lr_dc ** (epoch // self.lr_dc_step)

    # -- streaming interface --------------------------------------------------------------
    def scores(self, state: tuple[Tensor, Tensor]) -> Tensor:
        seq, lengths = state
        items, kept = last_window(seq, lengths, self.max_len)
        assert self.module is not None  # a state comes from init_state, which checks that the model is fitted
        with torch.no_grad():
            out = self.module(items, kept.clamp(min=1)).float()
        return torch.where(kept[:, None] > 0, out, torch.zeros_like(out)).cpu()

    def attention(self, session_items: list[int] | np.ndarray) -> np.ndarray:
        """Readout weights of each (known) click of a session, oldest first (sigmoid gates, unnormalised)."""
        items = self._check_items(session_items)
        if self.max_len is not None:
            items = items[:, -self.max_len :]
        assert self.module is not None  # _check_items needs the module's device
        with torch.no_grad():
            _, alpha = self.module.session_vectors(items, torch.tensor([items.shape[1]], device=items.device))
        return alpha[0].cpu().numpy()
