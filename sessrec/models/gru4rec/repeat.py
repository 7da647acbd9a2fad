"""A repeat-aware GRU4Rec (our own, in the spirit of RepeatNet): GRU4Rec plus a learned gate
between repeating an item of this session and exploring the catalogue.

Scores: ``score(j) = [h, 1] · [Wy_j, By_j] + Σ_a g_a(h) · [the click of age a is j]`` over the
session's last ``repeat_window`` clicks (the newest click has age 0), with one gate per age,
``g(h) = h · Wg + bg``: the network decides, click by click, how much to push up (or down) the
item it saw ``a`` clicks ago, e.g. the item before the last one in a session that alternates two
items. Trained exactly as GRU4Rec is (the same session-parallel mini-batches, sampled negatives
and loss, cross-entropy by default); the gate's gradient is written by hand beside GRU4Rec's
(``trainer.py``; a test checks it against finite differences). ``Wg`` and ``bg`` start at 0,
so training starts from GRU4Rec itself.

Every GRU4Rec setting applies; the state carries the last clicks beside the hidden states.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from sessrec.models.gru4rec.model import GRU4Rec
from sessrec.models.validation import check_int


class RepeatGRU4Rec(GRU4Rec):
    """GRU4Rec with a learned repeat gate (see the module docstring)."""

    name = "gru4rec_repeat"

    def __init__(self, *args: Any, repeat_window: int = 10, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repeat_window = check_int("repeat_window", repeat_window, min=1, max=1000, owner=self.name)
        self.gate_w = torch.zeros(self.layers[-1], self.repeat_window)
        self.gate_b = torch.zeros(self.repeat_window)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "repeat_window": self.repeat_window}

    # -- weights ---------------------------------------------------------------------------
    def _initial_weights(self, n_items: int, generator: torch.Generator) -> dict[str, Tensor]:
        return {**super()._initial_weights(n_items, generator),
                "gate.w": torch.zeros(self.layers[-1], self.repeat_window), "gate.b": torch.zeros(self.repeat_window)}

    def _set_weights(self, weights: dict[str, Tensor]) -> None:
        super()._set_weights(weights)
        self.gate_w = weights["gate.w"].float().contiguous().clone()
        self.gate_b = weights["gate.b"].float().contiguous().clone()

    def _tensors(self) -> dict[str, Tensor]:
        return {**super()._tensors(), "gate.w": self.gate_w, "gate.b": self.gate_b}

    # -- streaming: (hidden states ..., last clicks) ------------------------------------------
    def init_state(self, batch_size: int) -> tuple[Tensor, ...]:
        hidden = super().init_state(batch_size)
        return (*hidden, torch.full((batch_size, self.repeat_window), -1, dtype=torch.long,
                                    device=hidden[0].device))

    def reset(self, state: tuple[Tensor, ...], mask: Tensor) -> tuple[Tensor, ...]:
        clicks = state[-1]
        gone = mask.to(clicks.device, torch.bool).unsqueeze(1)
        return (*super().reset(state[:-1], mask), clicks.masked_fill(gone, -1))

    def step(self, state: tuple[Tensor, ...], items: Tensor) -> tuple[Tensor, ...]:
        clicks = state[-1]
        newest = items.to(clicks.device, torch.long).unsqueeze(1)
        return (*super().step(state[:-1], items), torch.cat([clicks[:, 1:], newest], 1))

    def scores(self, state: tuple[Tensor, ...]) -> Tensor:
        clicks, h = state[-1], state[-2]
        scores = super().scores(state[:-1])
        gate = self.gates(h).to(scores.device)  # (B, W)
        # each click's gate scattered onto its item (never a (B, W, n_items) tensor); no click: 0
        clicks = clicks.to(scores.device)
        return scores.scatter_add_(1, clicks.clamp(min=0), gate * (clicks >= 0))

    def gates(self, h: Tensor) -> Tensor:
        """``g(h)``, ``(B, repeat_window)``: the bonus for the item clicked at each window position
        (oldest first, the newest click last)."""
        return torch.addmm(self.gate_b.to(h.device), h, self.gate_w.to(h.device))

    def repeat_gate(self, session_items: list[int]) -> list[float]:
        """The gates after ``session_items`` (original ids), newest click first: how much the
        item clicked 0, 1, 2, ... clicks ago is pushed up (positive) or down (negative) next."""
        known = self.item_index.to_index(np.asarray(session_items, dtype=np.int64))
        state = self.session_state(tuple(int(i) for i in known if i >= 0))
        return [float(g) for g in self.gates(state[-2])[0].flip(0)]
