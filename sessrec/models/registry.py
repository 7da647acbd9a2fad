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
    scores: str = "scores"  #: what the model's scores are, for captions ("transition counts", ...)
    #: scores below zero are a popularity fallback, not the model's own evidence (count models)
    negative_is_fallback: bool = False


#: family keys in display order, with their display names
FAMILIES: dict[str, str] = {
    "neural": "Neural (RNN, attention, graph)",
    "baseline": "Simple baselines",
    "session_knn": "Session-kNN",
    "rules": "Rules & session popularity",
}

REGISTRY: tuple[ModelSpec, ...] = (
    # -- neural ---------------------------------------------------------------------------
    ModelSpec("gru4rec", "sessrec.models.gru4rec:GRU4Rec", "GRU4Rec", "neural",
              "GRU over the session, session-parallel training with sampled negatives",
              scores="network outputs (logits)"),
    ModelSpec("narm", "sessrec.models.neural:NARM", "NARM", "neural",
              "GRU encoder with attention over the session (global + local), bilinear decoder",
              scores="bilinear session-item scores (logits)"),
    ModelSpec("sasrec", "sessrec.models.neural:SASRec", "SASRec", "neural",
              "causal self-attention over the session's clicks, learned positions",
              scores="dot products with item embeddings (logits)"),
    ModelSpec("srgnn", "sessrec.models.neural:SRGNN", "SR-GNN", "neural",
              "gated graph neural network over the session graph, attention readout",
              scores="dot products with item embeddings (logits)"),
    ModelSpec("embedding_knn", "sessrec.models.embedding_knn:EmbeddingKNN", "Embedding-KNN", "neural",
              "cosine of trained GRU4Rec item embeddings to the session's last item",
              scores="cosine similarities of item embeddings"),
    # -- simple baselines -----------------------------------------------------------------
    ModelSpec("most_popular", "sessrec.models.popular:MostPopular", "MostPopular", "baseline",
              "training click counts; ignores the session", scores="training clicks"),
    ModelSpec("last_item", "sessrec.models.last_item:LastItem", "LastItem", "baseline",
              "first-order transition counts from the session's last item", scores="transition counts",
              negative_is_fallback=True),
    ModelSpec("item_knn", "sessrec.models.item_knn:ItemKNN", "Item-KNN", "baseline",
              "session co-occurrence similarity to the session's last item", scores="similarities",
              negative_is_fallback=True),
    # -- session-kNN (session-rec's kNN family) ---------------------------------------------
    ModelSpec("sknn", "sessrec.models.session_knn:SKNN", "SKNN", "session_knn",
              "items of the k most similar past sessions (set similarity)",
              scores="summed similarities of the neighbour sessions holding the item"),
    ModelSpec("vsknn", "sessrec.models.session_knn:VSKNN", "V-SKNN", "session_knn",
              "SKNN with position-weighted current session, neighbour decay and IDF",
              scores="summed weighted similarities of the neighbours"),
    ModelSpec("stan", "sessrec.models.session_knn:STAN", "STAN", "session_knn",
              "session kNN with position, recency and in-neighbour distance decays",
              scores="summed decayed similarities of the neighbours"),
    ModelSpec("vstan", "sessrec.models.session_knn:VSTAN", "VSTAN", "session_knn",
              "STAN plus V-SKNN's matched-position decay and IDF",
              scores="summed decayed similarities of the neighbours"),
    # -- rules & session popularity ---------------------------------------------------------
    ModelSpec("sr", "sessrec.models.rules:SequentialRules", "SR", "rules",
              "sequential rules a -> b within a few steps, decayed, from the last item",
              scores="decayed rule weights"),
    ModelSpec("spop", "sessrec.models.rules:SessionPop", "S-POP", "rules",
              "clicks in the current session, training popularity breaks ties",
              scores="clicks in this session (+ popularity share as tie-break)"),
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
