"""What every user-context model implements, and the encoders they share.

A user-context model answers: how good is item ``i`` for user ``u`` in context ``c``?
It scores (user, item, context) triples in a batch; the evaluator asks for the held-out
item and its sampled negatives in one call::

    model.fit(train)                                     # Interactions
    scores = model.score_pairs(users, items, context)    # (n,) float64, higher is better

Ids are the dataset's own; a user, item or context value the model never saw in training
still gets a score (the model's fallback for it), so the evaluator never has to skip a case.
Encoders are plain data (sorted id arrays, value lists), stored as such in checkpoints.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from sessrec.data.interactions import Interactions


@runtime_checkable
class UserContextModel(Protocol):
    """Structural type of a user-context model (see the module docstring)."""

    name: str

    def fit(self, train: Interactions) -> "UserContextModel": ...

    def score_pairs(self, users: np.ndarray, items: np.ndarray, context: dict[str, np.ndarray]) -> np.ndarray: ...


class ValueEncoder:
    """Context values (strings) -> dense indices in first-seen order; unknown values -> ``-1``."""

    def __init__(self, values: np.ndarray) -> None:
        self.values: list[str] = list(dict.fromkeys(str(v) for v in values))
        self._index = {v: i for i, v in enumerate(self.values)}

    def __len__(self) -> int:
        return len(self.values)

    def encode(self, values: np.ndarray) -> np.ndarray:
        return np.fromiter((self._index.get(str(v), -1) for v in values), dtype=np.int64, count=len(values))
