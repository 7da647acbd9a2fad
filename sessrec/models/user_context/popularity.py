"""Context popularity: the baseline of the user-context task.

An item's score is its share of the positive training interactions in the case's context
(for each context feature, the item's count among the interactions with that value,
divided by the value's count, summed over the features), plus its overall share as a
tie-break. It knows nothing of the user, so any model that learns from users must beat
it; with no context features it is plain item popularity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sessrec.data.interactions import Interactions
from sessrec.models.contract import TrainsOnce
from sessrec.data.sessions import ItemIndex
from sessrec.models.user_context.base import ValueEncoder
from sessrec.models.validation import check_float


class ContextPopularity(TrainsOnce):
    """Item popularity within each context value (see the module docstring)."""

    name = "context_pop"

    def __init__(self, positive_label: float = 1.0) -> None:
        self.positive_label = check_float("positive_label", positive_label, owner=self.name)
        self.items: ItemIndex | None = None
        self.overall = np.zeros(0)
        self.by_context: dict[str, tuple[ValueEncoder, np.ndarray]] = {}

    def hyperparameters(self) -> dict[str, Any]:
        return {"positive_label": self.positive_label}

    def fit_once(self, train: Interactions) -> "ContextPopularity":
        positive = train.label >= self.positive_label
        if not positive.any():
            raise ValueError(f"{self.name}: no positive interaction (label >= {self.positive_label}) to count")
        self.items = ItemIndex.from_items(train.item[positive])
        item = self.items.to_index(train.item[positive])
        counts = np.bincount(item, minlength=len(self.items)).astype(np.float64)
        self.overall = counts / counts.sum()
        self.by_context = {}
        for feature, values in train.context.items():
            encoder = ValueEncoder(values[positive])
            value = encoder.encode(values[positive])
            table = np.zeros((len(encoder), len(self.items)))
            np.add.at(table, (value, item), 1.0)
            self.by_context[feature] = (encoder, table / table.sum(1, keepdims=True))
        return self

    def score_pairs(self, users: np.ndarray, items: np.ndarray, context: dict[str, np.ndarray]) -> np.ndarray:
        if self.items is None:
            raise RuntimeError(f"{self.name}: call fit() first")
        item = self.items.to_index(items)
        known = item >= 0
        scores = np.zeros(len(item))
        scores[known] = 1e-6 * self.overall[item[known]]
        for feature, (encoder, table) in self.by_context.items():
            if feature not in context:
                raise ValueError(f"{self.name}: the cases lack the context feature '{feature}' it was trained with")
            value = encoder.encode(context[feature])
            both = known & (value >= 0)
            scores[both] += table[value[both], item[both]]
        return scores
