"""GRU4Rec + kNN (or + SLIST): GRU4Rec's and a neighbour model's scores blended per session.

The question a committee asks of two complementary models (sessrec's re-click analysis finds
GRU4Rec-XE ahead on targets new to the session and the kNN models ahead on re-clicks): is the
pair better than either alone? Both components are trained on the same sessions inside
``fit`` (GRU4Rec with ``gru4rec_params`` and ``seed``, the neighbour model, VSTAN by default,
with ``neighbour_params``), so they share one catalogue. The neighbour model is any of
:func:`neighbour_models`: the kNN family, the rules, the baselines or SLIST (a linear
item-to-item model, whose scores may be negative). Inside a tuning study
(:func:`sessrec.models.reuse.reuse_fits`) each component is fitted once and shared by the
trials, since only the blend varies. Scoring one session:

* each component's score row is normalised over the catalogue (``normalise``):
  ``"minmax"``: ``(s - min) / (max - min)``; ``"zscore"``: ``(s - mean) / std``
  (a constant row, e.g. a kNN model before any neighbour is found, becomes all 0);
  ``"probability"``: both rows become distributions over the catalogue, GRU4Rec's by a
  softmax of its logits (what its cross-entropy training fits), the neighbour model's by
  dividing its positive scores by their sum (no positive score: all 0), so a blend mixes
  two next-item probabilities instead of two ranges (min-max squeezes GRU4Rec's decisive
  top logits together near 1, where a kNN score of any size reorders them);
* ``mode="blend"``: ``score = weight * gru4rec + (1 - weight) * neighbours``;
  (GRU4Rec is seeded by the hybrid's own ``seed``, over any ``seed`` in ``gru4rec_params``);
* ``mode="switch"`` (repeat vs explore): a session that has already clicked one of its items
  again is scored by the neighbour model alone, every other session by the blend.

``weight`` is a hyperparameter: chosen on the validation split by ``sessrec tune`` (train_tr
-> valid, never test) like every other setting. A checkpoint holds both components' tensors
under the prefixes ``gru4rec.`` and ``neighbours.``.
"""

from __future__ import annotations

from typing import Any

import torch

from sessrec.data.sessions import Sessions
from sessrec.errors import CheckpointError, ParameterError
from sessrec.models.base import BaseSessionModel, select_rows
from sessrec.models.reuse import fit_part
from sessrec.models.validation import check_choice, check_float

NORMALISATIONS = ("minmax", "zscore", "probability")
MODES = ("blend", "switch")

#: (GRU4Rec state, neighbour state, per slot: the item indices read so far, whether one repeated)
HybridState = tuple[Any, Any, tuple[frozenset[int], ...], torch.Tensor]


def normalise_rows(scores: torch.Tensor, how: str, logits: bool = False) -> torch.Tensor:
    """Every row of ``scores`` on a common scale (see the module docstring); a new tensor.
    With ``how="probability"``, ``logits`` says the row is a softmax's input (GRU4Rec's)
    rather than non-negative evidence (a kNN model's)."""
    if how == "probability":
        if logits:
            return torch.softmax(scores, dim=1)
        positive = scores.clamp(min=0.0)
        total = positive.sum(dim=1, keepdim=True)
        return torch.where(total > 0, positive / torch.where(total > 0, total, 1.0), 0.0)
    if how == "minmax":
        low = scores.amin(dim=1, keepdim=True)
        span = scores.amax(dim=1, keepdim=True) - low
        return torch.where(span > 0, (scores - low) / torch.where(span > 0, span, 1.0), 0.0)
    mean = scores.mean(dim=1, keepdim=True)
    std = scores.std(dim=1, correction=0, keepdim=True)
    return torch.where(std > 0, (scores - mean) / torch.where(std > 0, std, 1.0), 0.0)


class Hybrid(BaseSessionModel):
    """GRU4Rec and a session-kNN model, scores normalised and blended (or switched) per session."""

    name = "hybrid"

    def __init__(self, gru4rec_params: dict[str, Any] | None = None, seed: int = 42, neighbours: str = "vstan",
                 neighbour_params: dict[str, Any] | None = None, weight: float = 0.5, normalise: str = "minmax",
                 mode: str = "blend") -> None:
        super().__init__()
        for key, value in (("gru4rec_params", gru4rec_params), ("neighbour_params", neighbour_params)):
            if value is not None and not isinstance(value, dict):
                raise ParameterError(f"{self.name}: {key} = {value!r} is not allowed (allowed: a dict of settings)")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ParameterError(f"{self.name}: seed = {seed!r} is not allowed (allowed: an integer)")
        self.neighbours = check_choice("neighbours", neighbours, neighbour_models(), owner=self.name)
        self.gru4rec_params = dict(gru4rec_params or {})
        self.neighbour_params = dict(neighbour_params or {})
        self.seed = seed
        self.weight = check_float("weight", weight, min=0.0, max=1.0, owner=self.name)
        self.normalise = check_choice("normalise", normalise, NORMALISATIONS, owner=self.name)
        self.mode = check_choice("mode", mode, MODES, owner=self.name)
        self.gru4rec: Any = None
        self.knn: Any = None
        self.training_log: list[dict[str, Any]] = []

    def hyperparameters(self) -> dict[str, Any]:
        return {"gru4rec_params": self.gru4rec_params, "seed": self.seed, "neighbours": self.neighbours,
                "neighbour_params": self.neighbour_params, "weight": self.weight, "normalise": self.normalise,
                "mode": self.mode}

    # -- training -------------------------------------------------------------------------
    def fit_once(self, train: Sessions) -> "Hybrid":
        from sessrec.models.gru4rec import GRU4Rec
        from sessrec.models.io import model_class

        gru_params = {**self.gru4rec_params, "seed": self.seed}
        self.gru4rec = fit_part("hybrid.gru4rec", "gru4rec", gru_params, train,
                                lambda: GRU4Rec(**gru_params).fit(train, progress=False))
        self.knn = fit_part("hybrid.neighbours", self.neighbours, self.neighbour_params, train,
                            lambda: model_class(self.neighbours)(**self.neighbour_params).fit(train, progress=False))
        self.training_log = list(getattr(self.gru4rec, "training_log", []))
        self._adopt_catalogue()
        self.clear_live_cache()
        return self

    def _adopt_catalogue(self) -> None:
        gru_ids, knn_ids = self.gru4rec.item_index.item_ids, self.knn.item_index.item_ids
        if len(gru_ids) != len(knn_ids) or not bool((gru_ids == knn_ids).all()):
            raise CheckpointError(f"{self.name}: GRU4Rec and {self.neighbours} know different catalogues")
        self.item_index = self.gru4rec.item_index

    # -- scoring --------------------------------------------------------------------------
    def init_state(self, batch_size: int) -> HybridState:
        self._check_fitted()
        return (self.gru4rec.init_state(batch_size), self.knn.init_state(batch_size),
                (frozenset(),) * batch_size, torch.zeros(batch_size, dtype=torch.bool))

    def reset(self, state: HybridState, mask: torch.Tensor) -> HybridState:
        gru, knn, seen, repeated = state
        flags = mask.tolist()
        return (self.gru4rec.reset(gru, mask), self.knn.reset(knn, mask),
                tuple(frozenset() if m else s for s, m in zip(seen, flags)), repeated & ~mask.to(torch.bool))

    def step(self, state: HybridState, items: torch.Tensor) -> HybridState:
        gru, knn, seen, repeated = state
        values = items.tolist()
        again = torch.tensor([v >= 0 and v in s for s, v in zip(seen, values)], dtype=torch.bool)
        return (self.gru4rec.step(gru, items), self.knn.step(knn, items),
                tuple(s | {v} if v >= 0 else s for s, v in zip(seen, values)), repeated | again)

    def select(self, state: HybridState, rows: torch.Tensor) -> HybridState:
        gru, knn, seen, repeated = state
        return (self.gru4rec.select(gru, rows), self.knn.select(knn, rows), select_rows(seen, rows),
                repeated.index_select(0, rows))

    def scores(self, state: HybridState) -> torch.Tensor:
        gru, knn, _, repeated = state
        neighbours = normalise_rows(self.knn.scores(knn), self.normalise)
        blended = normalise_rows(self.gru4rec.scores(gru), self.normalise, logits=True).mul_(self.weight)
        blended.add_(neighbours, alpha=1.0 - self.weight)
        if self.mode == "switch" and bool(repeated.any()):
            blended[repeated] = neighbours[repeated]
        return blended

    def item_embeddings(self) -> torch.Tensor | None:
        """GRU4Rec's item vectors (the item map draws them)."""
        return None if self.gru4rec is None else self.gru4rec.item_embeddings()

    # -- checkpoints ----------------------------------------------------------------------
    def _tensors(self) -> dict[str, torch.Tensor]:
        return {**{f"gru4rec.{k}": v for k, v in self.gru4rec._tensors().items()},
                **{f"neighbours.{k}": v for k, v in self.knn._tensors().items()}}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index) -> "Hybrid":
        from sessrec.models.gru4rec import GRU4Rec
        from sessrec.models.io import model_class

        model = cls(**params)
        parts: dict[str, dict[str, torch.Tensor]] = {"gru4rec": {}, "neighbours": {}}
        for key, value in tensors.items():
            prefix, _, rest = key.partition(".")
            if prefix not in parts or not rest:
                raise CheckpointError(f"{cls.name}: unexpected tensor '{key}' (expected gru4rec.* and neighbours.*)")
            parts[prefix][rest] = value
        model.gru4rec = GRU4Rec._from_tensors({**model.gru4rec_params, "seed": model.seed}, parts["gru4rec"],
                                              item_index)
        model.knn = model_class(model.neighbours)._from_tensors(model.neighbour_params, parts["neighbours"],
                                                                 item_index)
        model.item_index = item_index
        return model


def neighbour_models() -> tuple[str, ...]:
    """The registered session models a hybrid can pair with GRU4Rec: the kNN family, the rules,
    the baselines and the linear models (SLIST)."""
    from sessrec.models.registry import REGISTRY

    return tuple(spec.name for spec in REGISTRY if spec.family in ("session_knn", "rules", "baseline", "linear"))
