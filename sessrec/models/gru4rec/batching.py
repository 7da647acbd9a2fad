"""Session-parallel minibatches and popularity-based negative sampling.

Session-parallel minibatches (GRU4Rec's training scheme): ``batch_size`` slots each
read one session, one event per minibatch; the input is a slot's current item, the
target its next item. When a session runs out, its slot's hidden state is reset and
the next session (in start-time order) takes the slot. When no sessions are left, the
finished slots are dropped, so the last minibatches of an epoch are narrower.

The whole schedule only depends on session lengths and the batch size, so it is
computed once, in NumPy, before training; an epoch then walks flat index arrays.

Everything here is created on the CPU on purpose, whatever the training device: the
item indices feed the NumPy index bookkeeping of each minibatch, and the trainer moves
what its arithmetic touches (``carry``, ``keep``) to its device once per epoch.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class Schedule:
    """Every minibatch of one epoch, as flat arrays (minibatch ``k`` is ``[bounds[k], bounds[k+1])``).

    Within a minibatch the rows are the active slots in slot order. ``keep[k]``, for
    the minibatches where the batch shrinks, lists which rows of the previous
    minibatch carry on (their hidden states must be kept, the others dropped).
    """

    inputs: Tensor  # (n_events,) dense item index of the input
    targets: Tensor  # (n_events,) dense item index of the next item
    carry: Tensor  # (n_events,) float: 0.0 where the row starts a new session, else 1.0
    bounds: np.ndarray  # (n_batches + 1,)
    keep: dict[int, Tensor]
    n_slots: int

    @property
    def n_batches(self) -> int:
        return len(self.bounds) - 1

    @property
    def n_events(self) -> int:
        return int(self.bounds[-1])


def session_parallel_schedule(offsets: np.ndarray, items: np.ndarray, batch_size: int, min_width: int = 1) -> Schedule:
    """Lay out sessions (``items[offsets[s]:offsets[s+1]]``, dense indices) into slots.

    Sessions go to slots in order; a freed slot takes the next session at once, and
    slots freed at the same minibatch are refilled in slot order, as in the official
    implementation. Sessions with a single event have nothing to predict and are
    skipped. The epoch stops before the first minibatch narrower than ``min_width``.
    """
    lengths = np.diff(offsets)
    sessions = np.flatnonzero(lengths >= 2)
    n_pairs = lengths[sessions] - 1
    n_slots = min(batch_size, len(sessions))
    start_step = np.zeros(len(sessions), np.int64)
    slot = np.zeros(len(sessions), np.int64)
    # (step at which the slot frees up, slot): the heap pops ties in slot order
    free_at = [(0, s) for s in range(n_slots)]
    for i in range(len(sessions)):
        step, s = heapq.heappop(free_at)
        start_step[i], slot[i] = step, s
        heapq.heappush(free_at, (step + int(n_pairs[i]), s))
    n_steps = int((start_step + n_pairs).max()) if len(sessions) else 0

    # one grid cell per (minibatch, slot): the position of the input event in `items`
    grid = np.full((n_steps, max(n_slots, 1)), -1, np.int64)
    pair_session = np.repeat(np.arange(len(sessions)), n_pairs)
    pair_offset = np.arange(int(n_pairs.sum())) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    grid[start_step[pair_session] + pair_offset, slot[pair_session]] = offsets[sessions][pair_session] + pair_offset
    active = grid >= 0
    widths = active.sum(1)
    if min_width > 1 and (widths < min_width).any():
        n_steps = int(np.argmax(widths < min_width))
        grid, active, widths = grid[:n_steps], active[:n_steps], widths[:n_steps]
    position = grid[active]  # step-major, slot order within a step
    first_of_session = np.zeros_like(grid, dtype=bool)
    # sessions that would only start after the cut (min_width) are not in the grid
    started = start_step < n_steps
    first_of_session[start_step[started], slot[started]] = True

    keep: dict[int, Tensor] = {}
    for k in np.flatnonzero(widths[1:] < widths[:-1]) + 1:
        before, now = np.flatnonzero(active[k - 1]), np.flatnonzero(active[k])
        keep[int(k)] = torch.from_numpy(np.searchsorted(before, now))
    return Schedule(
        inputs=torch.from_numpy(items[position]),
        targets=torch.from_numpy(items[position + 1]),
        carry=torch.from_numpy((~first_of_session[active]).astype(np.float32)),
        bounds=np.r_[0, np.cumsum(widths)].astype(np.int64),
        keep=keep,
        n_slots=n_slots,
    )


class NegativeSampler:
    """Draws negatives with probability proportional to ``weights``, from a pre-drawn buffer.

    One ``next()`` returns the ``n_sample`` negatives of one minibatch. Draws come from
    a buffer of ``cache_size`` items (refilled when used up), drawn in one go with
    Walker's alias method: O(1) per draw, no binary search over the catalogue.
    """

    def __init__(self, weights: np.ndarray, n_sample: int, cache_size: int, generator: torch.Generator) -> None:
        self.n_sample = n_sample
        self.n_rows = max(1, cache_size // max(n_sample, 1))
        self.generator = generator
        self.accept, self.alias = alias_table(np.asarray(weights, np.float64))
        self.buffer = np.empty((0, n_sample), np.int64)
        self.pointer = 0
        self.refill_state: Tensor | None = None  # generator state the current buffer was drawn from

    def refill(self) -> None:
        """Draw a new buffer (remembering the generator state it was drawn from, for resuming)."""
        self.refill_state = self.generator.get_state()
        n = len(self.accept)
        shape = (self.n_rows, self.n_sample)
        column = torch.randint(0, n, shape, generator=self.generator)
        coin = torch.rand(shape, generator=self.generator)
        self.buffer = torch.where(coin < self.accept[column], column, self.alias[column]).numpy()
        self.pointer = 0

    def next(self) -> np.ndarray:
        if self.pointer >= self.buffer.shape[0]:
            self.refill()
        row = self.buffer[self.pointer]
        self.pointer += 1
        return row


def alias_table(weights: np.ndarray) -> tuple[Tensor, Tensor]:
    """Walker/Vose alias table: draw column ``i`` uniformly, keep it with ``accept[i]``, else take ``alias[i]``."""
    n = len(weights)
    prob = weights * (n / weights.sum())
    accept = np.ones(n, np.float64)
    alias = np.arange(n, dtype=np.int64)
    small = [i for i in range(n) if prob[i] < 1.0]
    large = [i for i in range(n) if prob[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = prob[s], g
        prob[g] -= 1.0 - prob[s]
        (small if prob[g] < 1.0 else large).append(g)
    # what is left has probability 1 up to rounding
    return torch.from_numpy(accept.astype(np.float32)), torch.from_numpy(alias)
