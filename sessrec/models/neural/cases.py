"""Training cases and padded batches of the neural comparators, and their padded sequence state.

A case is a window of the flat (dense-index) item array of the training sessions: every
prefix of every session for NARM and SR-GNN (:func:`prefix_cases`), whole sessions in chunks
for SASRec (:func:`sequence_cases`). :func:`make_batch` pads a set of cases into a
:class:`Batch`. SASRec and SR-GNN read the whole session when they score, so their streaming
state is the padded item sequence (:class:`SequenceState`, :func:`append_items`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from sessrec.data.sessions import Sessions


@dataclass(frozen=True)
class Cases:
    """Training cases as windows of the flat (dense-index) item array.

    Case ``c`` reads ``flat[start[c] : start[c] + length[c]]``; the item after every
    position is its next-item target (``flat[start[c] + length[c]]`` for the last one).
    """

    flat: np.ndarray  # (n_events,) dense item indices of all training sessions
    start: np.ndarray  # (n_cases,)
    length: np.ndarray  # (n_cases,)

    def __len__(self) -> int:
        return len(self.start)

    @property
    def n_targets(self) -> int:
        return int(self.length.sum())


def prefix_cases(train: Sessions, flat: np.ndarray, max_len: int | None = None) -> Cases:
    """Every prefix of every session -> its next item; prefixes keep their last ``max_len`` items."""
    lengths = train.lengths
    n_cases = np.maximum(lengths - 1, 0)
    session = np.repeat(np.arange(train.n_sessions), n_cases)
    # end = number of items in the prefix, 1..n-1 within each session
    first = np.cumsum(n_cases) - n_cases
    end = np.arange(len(session)) - np.repeat(first, n_cases) + 1
    length = end if max_len is None else np.minimum(end, max_len)
    start = train.offsets[session] + end - length
    return Cases(flat, start.astype(np.int64), length.astype(np.int64))


def sequence_cases(train: Sessions, flat: np.ndarray, max_len: int) -> Cases:
    """Each session's inputs (all items but the last) in chunks of at most ``max_len``, from the end.

    Every position of every chunk is one prefix case; sessions longer than ``max_len + 1``
    give several chunks, so every target is trained on exactly once.
    """
    starts, lens = [], []
    n_inputs = np.maximum(train.lengths - 1, 0)
    remaining = n_inputs.copy()
    while (remaining > 0).any():
        take = np.minimum(remaining, max_len)
        has = take > 0
        starts.append((train.offsets[:-1] + remaining - take)[has])
        lens.append(take[has])
        remaining = remaining - take
    if not starts:
        return Cases(flat, np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Cases(flat, np.concatenate(starts).astype(np.int64), np.concatenate(lens).astype(np.int64))


@dataclass
class Batch:
    """A padded mini-batch: ``items`` (B, L) right-padded with 0, ``lengths`` (B,),
    ``next_items`` (B, L) the target after each position (-100 at padding), ``targets`` (B,)."""

    items: Tensor
    lengths: Tensor
    next_items: Tensor
    targets: Tensor

    @property
    def mask(self) -> Tensor:
        return torch.arange(self.items.shape[1], device=self.items.device)[None, :] < self.lengths[:, None]


def make_batch(cases: Cases, index: np.ndarray, device: str = "cpu") -> Batch:
    """Gather cases ``index`` into a padded :class:`Batch` (vectorised, no Python loop)."""
    start, length = cases.start[index], cases.length[index]
    width = int(length.max())
    pos = np.arange(width)[None, :]
    valid = pos < length[:, None]
    where = np.where(valid, start[:, None] + pos, 0)
    items = np.where(valid, cases.flat[where], 0)
    nxt = np.where(valid, cases.flat[np.where(valid, where + 1, 0)], -100)
    targets = cases.flat[start + length]
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)
    return Batch(as_t(items), as_t(length), as_t(nxt), as_t(targets))


# -- padded sequence state (SASRec, SR-GNN) ---------------------------------------------------

def append_items(state: tuple[Tensor, Tensor], items: Tensor) -> tuple[Tensor, Tensor]:
    """Sequence state ``(items (B, L), lengths (B,))`` with ``items`` appended; input unchanged."""
    seq, lengths = state
    need = int(lengths.max()) + 1 if len(lengths) else 1
    width = max(need, seq.shape[1])
    new = torch.zeros(seq.shape[0], width, dtype=torch.long, device=seq.device)
    new[:, : seq.shape[1]] = seq
    new[torch.arange(seq.shape[0], device=seq.device), lengths] = items.to(seq.device, torch.long)
    return new, lengths + 1


def last_window(seq: Tensor, lengths: Tensor, max_len: int | None) -> tuple[Tensor, Tensor]:
    """Each row's last ``max_len`` items, right-padded with 0, and their counts."""
    kept = lengths if max_len is None else lengths.clamp(max=max_len)
    width = max(int(kept.max()) if len(kept) else 1, 1)
    pos = torch.arange(width, device=seq.device)[None, :]
    valid = pos < kept[:, None]
    where = (lengths - kept)[:, None] + pos
    out = torch.where(valid, seq.gather(1, where.clamp(max=seq.shape[1] - 1)), torch.zeros_like(where))
    return out, kept


class SequenceState:
    """Streaming state of models that read the whole session at scoring time (SASRec,
    SR-GNN): the padded item sequence and each slot's length; a click appends an item."""

    if TYPE_CHECKING:  # provided by the model class this is mixed into (NeuralSessionModel)
        def _check_fitted(self) -> None: ...
        def _dev(self) -> torch.device: ...

    def init_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        self._check_fitted()
        dev = self._dev()
        return (torch.zeros(batch_size, 1, dtype=torch.long, device=dev),
                torch.zeros(batch_size, dtype=torch.long, device=dev))

    def reset(self, state: tuple[Tensor, Tensor], mask: Tensor) -> tuple[Tensor, Tensor]:
        seq, lengths = state
        return seq, torch.where(mask.to(lengths.device, torch.bool), torch.zeros_like(lengths), lengths)

    def step(self, state: tuple[Tensor, Tensor], items: Tensor) -> tuple[Tensor, Tensor]:
        return append_items(state, items)
