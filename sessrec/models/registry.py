"""The model registry: every model the CLI, the benchmark runner and the app know.

A new model is one module (or package) under ``sessrec/models/`` plus one
:class:`ModelSpec` line below, in its family's block. Nothing else in the code names
models one by one: the CLI, the benchmark runner, the evaluator, the playground and
Replay all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """What the rest of sessrec needs to know about a model without importing it."""

    name: str  #: registry key, stored in checkpoints and run records
    target: str  #: ``"module:Class"``, imported on first use
    label: str  #: display name in tables and in the app
    family: str  #: grouping in the app and the docs
    summary: str  #: one line for tooltips and help texts


#: family keys in display order, with their display names
FAMILIES: dict[str, str] = {
    "neural": "Neural (RNN, attention, graph)",
    "baseline": "Simple baselines",
}

REGISTRY: tuple[ModelSpec, ...] = (
    # -- neural ---------------------------------------------------------------------------
    ModelSpec("gru4rec", "sessrec.models.gru4rec:GRU4Rec", "GRU4Rec", "neural",
              "GRU over the session, session-parallel training with sampled negatives"),
    ModelSpec("narm", "sessrec.models.neural:NARM", "NARM", "neural",
              "GRU encoder with attention over the session (global + local), bilinear decoder"),
    ModelSpec("sasrec", "sessrec.models.neural:SASRec", "SASRec", "neural",
              "causal self-attention over the session's clicks, learned positions"),
    ModelSpec("srgnn", "sessrec.models.neural:SRGNN", "SR-GNN", "neural",
              "gated graph neural network over the session graph, attention readout"),
    # -- simple baselines -----------------------------------------------------------------
    ModelSpec("most_popular", "sessrec.models.popular:MostPopular", "MostPopular", "baseline",
              "training click counts; ignores the session"),
    ModelSpec("last_item", "sessrec.models.last_item:LastItem", "LastItem", "baseline",
              "first-order transition counts from the session's last item"),
    ModelSpec("item_knn", "sessrec.models.item_knn:ItemKNN", "Item-KNN", "baseline",
              "session co-occurrence similarity to the session's last item"),
)

SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in REGISTRY}


def spec(name: str) -> ModelSpec:
    """The spec of model ``name`` (ValueError naming the known models otherwise)."""
    if name not in SPECS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(SPECS))})")
    return SPECS[name]


def label_of(name: str) -> str:
    """Display name of a model, or the name itself for one not in the registry."""
    return SPECS[name].label if name in SPECS else name
