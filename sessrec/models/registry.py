"""The model registry: every model the CLI, the benchmark runner and the app know.

A new model is one module (or package) under ``sessrec/models/`` plus one
:class:`ModelSpec` line below, in its family's block. Nothing else in the code names
models one by one: the CLI, the benchmark runner, the tuner, the evaluator, the
playground, Replay and the charts all read this table, including what a model *can do*
(:attr:`ModelSpec.trains`, :attr:`ModelSpec.device`), which are declared here rather than
guessed from the names of its ``fit`` arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: how a model trains (:attr:`ModelSpec.trains`); every model takes the same ``fit`` options
#: (:mod:`sessrec.models.contract`), and this says which of them it uses
ONCE = "once"  #: one pass over the training data (counts, indexes, a closed-form solve)
#: epochs with a per-epoch ``callback(record)``; ``training_state()`` and ``fit(..., resume=state)``
#: continue an interrupted training (GRU4Rec, the user-context models)
EPOCHS = "epochs"
#: the same, plus early stopping on ``validate(model)`` and its own per-epoch ``checkpoint``
#: file (the neural comparators)
EARLY_STOPPING = "early_stopping"
TRAINING_STYLES = (ONCE, EPOCHS, EARLY_STOPPING)

#: what a model is asked (:attr:`ModelSpec.task`)
SESSION = "session"  #: the next item of an anonymous session (:class:`~sessrec.models.base.SessionModel`)
#: items for a known user in a context (:class:`~sessrec.models.user_context.base.UserContextModel`)
USER_CONTEXT = "user_context"
TASKS = (SESSION, USER_CONTEXT)


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
    #: how it trains: :data:`ONCE`, :data:`EPOCHS` or :data:`EARLY_STOPPING`
    trains: str = ONCE
    #: its task: :data:`SESSION` (the playground, Replay, the session evaluator) or :data:`USER_CONTEXT`
    task: str = SESSION
    #: takes a ``device`` parameter (trains and scores with torch on "cpu" or "cuda")
    device: bool = False
    #: its colour in every chart and list of the app (distinct across the registry)
    colour: str = "#868e96"
    #: shown by default in the playground, at this place (1 = first); ``None``: not by default
    featured: int | None = None
    #: in the committed demo: its checkpoint's settings (``{}`` = the model's defaults;
    #: ``"{checkpoints}"`` in a value is the demo checkpoint folder); ``None``: not in the demo
    demo: dict[str, Any] | None = field(default_factory=dict)
    #: the model the workbench is about: RQ1's verdicts and RQ5 compare every other model with it
    subject: bool = False
    #: has named published settings (``--preset``, :mod:`sessrec.models.presets`)
    presets: bool = False
    #: the app counts it from the dataset's train split when no checkpoint is chosen (the fallback model)
    counted_from_data: bool = False
    #: a modern comparator of RQ5: its name in ``results/reference_numbers.csv``
    published_as: str | None = None
    #: RQ5's reproduction bar: the largest difference (%) from the paper that counts as reproducing it
    reproduction_bar: float | None = None

    @property
    def trains_in_epochs(self) -> bool:
        return self.trains != ONCE


#: family keys in display order, with their display names
FAMILIES: dict[str, str] = {
    "neural": "Neural (RNN, attention, graph)",
    "baseline": "Simple baselines",
    "session_knn": "Session-kNN",
    "rules": "Rules & session popularity",
    "linear": "Linear item-item (closed form)",
    "hybrid": "Hybrids (GRU4Rec + kNN)",
    "user_context": "User-context (known users, no session)",
}

#: GRU4Rec on the demo (also the GRU4Rec inside the demo's hybrid)
GRU4REC_DEMO: dict[str, Any] = {
    "loss": "cross-entropy", "layers": [96], "batch_size": 64, "n_epochs": 8, "learning_rate": 0.08, "momentum": 0.0,
    "n_sample": 512, "sample_alpha": 0.5, "logq": 1.0, "dropout_p_embed": 0.0, "dropout_p_hidden": 0.2,
    "constrained_embedding": True, "seed": 7}

#: the neural comparators on the demo: the papers' architectures, a few epochs, one thread
NEURAL_DEMO: dict[str, Any] = {"n_epochs": 4, "n_threads": 1, "seed": 7}

#: the four neural user-context models on the demo users (16 dimensions: with 32 they overfit
#: the 1,000 users; 20 epochs, Adam at 0.001)
USER_CONTEXT_DEMO: dict[str, Any] = {"embedding_dim": 16, "n_epochs": 20, "seed": 1}

#: every registered session model, in display order (a list: :func:`register` adds to it in place)
REGISTRY: list[ModelSpec] = [
    # -- neural ---------------------------------------------------------------------------
    ModelSpec("gru4rec", "sessrec.models.gru4rec:GRU4Rec", "GRU4Rec", "neural",
              "GRU over the session, session-parallel training with sampled negatives",
              scores="network outputs (logits)", trains=EPOCHS, device=True, colour="#be0032", featured=1,
              subject=True, presets=True,
              demo=GRU4REC_DEMO),
    ModelSpec("gru4rec_repeat", "sessrec.models.gru4rec.repeat:RepeatGRU4Rec", "GRU4Rec-R", "neural",
              "GRU4Rec plus a learned gate that pushes the session's own recent items up or down (repeat vs explore)",
              scores="network outputs (logits) + the learned gate of each recent click on its item", trains=EPOCHS,
              device=True, colour="#e4572e", demo={**GRU4REC_DEMO, "repeat_window": 10}),
    ModelSpec("narm", "sessrec.models.neural:NARM", "NARM", "neural",
              "GRU encoder with attention over the session (global + local), bilinear decoder",
              scores="bilinear session-item scores (logits)", trains=EARLY_STOPPING, device=True, colour="#f38400",
              demo=NEURAL_DEMO, published_as="narm", reproduction_bar=3.0),
    ModelSpec("sasrec", "sessrec.models.neural:SASRec", "SASRec", "neural",
              "causal self-attention over the session's clicks, learned positions",
              scores="dot products with item embeddings (logits)", trains=EARLY_STOPPING, device=True,
              colour="#604e97", demo=NEURAL_DEMO, published_as="sasrec"),
    ModelSpec("srgnn", "sessrec.models.neural:SRGNN", "SR-GNN", "neural",
              "gated graph neural network over the session graph, attention readout",
              scores="dot products with item embeddings (logits)", trains=EARLY_STOPPING, device=True,
              colour="#0067a5", featured=2, demo=NEURAL_DEMO, published_as="sr_gnn", reproduction_bar=2.0),
    ModelSpec("bert4rec", "sessrec.models.neural:BERT4Rec", "BERT4Rec", "neural",
              "bidirectional transformer trained to fill in masked clicks; predicts a [MASK] after the session",
              scores="logits of the [MASK] after the session", trains=EARLY_STOPPING, device=True,
              colour="#9c27b0", demo=NEURAL_DEMO, published_as="bert4rec"),
    ModelSpec("embedding_knn", "sessrec.models.embedding_knn:EmbeddingKNN", "Embedding-KNN", "neural",
              "cosine of trained GRU4Rec item embeddings to the session's last item",
              scores="cosine similarities of item embeddings", colour="#e68fac",
              demo={"gru4rec_checkpoint": "{checkpoints}/gru4rec.pt"}),
    # -- simple baselines -----------------------------------------------------------------
    ModelSpec("most_popular", "sessrec.models.popular:MostPopular", "MostPopular", "baseline",
              "training click counts; ignores the session", scores="training clicks", colour="#848482",
              counted_from_data=True),
    ModelSpec("last_item", "sessrec.models.last_item:LastItem", "LastItem", "baseline",
              "first-order transition counts from the session's last item", scores="transition counts",
              negative_is_fallback=True, colour="#a1caf1", featured=4),
    ModelSpec("item_knn", "sessrec.models.item_knn:ItemKNN", "Item-KNN", "baseline",
              "session co-occurrence similarity to the session's last item", scores="similarities",
              negative_is_fallback=True, colour="#008856"),
    # -- session-kNN (session-rec's kNN family) ---------------------------------------------
    ModelSpec("sknn", "sessrec.models.session_knn:SKNN", "SKNN", "session_knn",
              "items of the k most similar past sessions (set similarity)",
              scores="summed similarities of the neighbour sessions holding the item", colour="#8db600"),
    ModelSpec("vsknn", "sessrec.models.session_knn:VSKNN", "V-SKNN", "session_knn",
              "SKNN with position-weighted current session, neighbour decay and IDF",
              scores="summed weighted similarities of the neighbours", colour="#2b3d26"),
    ModelSpec("stan", "sessrec.models.session_knn:STAN", "STAN", "session_knn",
              "session kNN with position, recency and in-neighbour distance decays",
              scores="summed decayed similarities of the neighbours", colour="#f3c300"),
    ModelSpec("vstan", "sessrec.models.session_knn:VSTAN", "VSTAN", "session_knn",
              "STAN plus V-SKNN's matched-position decay and IDF",
              scores="summed decayed similarities of the neighbours", colour="#cf1c90", featured=3),
    # -- rules & session popularity ---------------------------------------------------------
    ModelSpec("sr", "sessrec.models.rules:SequentialRules", "SR", "rules",
              "sequential rules a -> b within a few steps, decayed, from the last item",
              scores="decayed rule weights", colour="#882d17"),
    ModelSpec("spop", "sessrec.models.rules:SessionPop", "S-POP", "rules",
              "clicks in the current session, training popularity breaks ties",
              scores="clicks in this session (+ popularity share as tie-break)", colour="#c2b280"),
    # -- linear item-item (closed form) -----------------------------------------------------
    ModelSpec("slist", "sessrec.models.linear:SLIST", "SLIST", "linear",
              "dense item-item weights in closed form from whole and partial sessions (SLIS + SLIT)",
              scores="recency-weighted sums of the clicks' item-item weights", colour="#00a6a6", demo=None,
              published_as="slist"),
    # -- hybrids ----------------------------------------------------------------------------
    ModelSpec("hybrid", "sessrec.models.hybrid:Hybrid", "GRU4Rec+kNN", "hybrid",
              "GRU4Rec's and a session-kNN model's scores, normalised per session and blended (or switched "
              "to the kNN model once the session repeats an item)",
              scores="weight x normalised GRU4Rec + (1 - weight) x normalised kNN scores", colour="#3f3fd0",
              demo={"gru4rec_params": {k: v for k, v in GRU4REC_DEMO.items() if k != "seed"}, "seed": 7,
                    "neighbours": "vstan", "weight": 0.5}),
]

#: the models of the user-context task, in display order (the session surfaces never see them)
USER_CONTEXT_REGISTRY: list[ModelSpec] = [
    ModelSpec("context_pop", "sessrec.models.user_context.popularity:ContextPopularity", "ContextPop",
              "user_context", "item popularity within each context value; ignores the user",
              scores="shares of the context's positive interactions", task=USER_CONTEXT, colour="#adb5bd",
              demo=None),
    ModelSpec("bmf", "sessrec.models.user_context.bmf:BMF", "BMF", "user_context",
              "biased matrix factorisation: user · item + user, item and global biases; no context",
              scores="logits (BCE on positives vs sampled negatives)", trains=EPOCHS, device=True,
              task=USER_CONTEXT, colour="#1864ab", demo=USER_CONTEXT_DEMO),
    ModelSpec("neumf", "sessrec.models.user_context.neumf:NeuMF", "NeuMF", "user_context",
              "GMF and MLP branches over user and item embeddings, fused (He et al., 2017); no context",
              scores="logits (BCE on positives vs sampled negatives)", trains=EPOCHS, device=True,
              task=USER_CONTEXT, colour="#e8590c", demo=USER_CONTEXT_DEMO),
    ModelSpec("encm", "sessrec.models.user_context.encm:ENCM", "ENCM", "user_context",
              "user, item and context-feature embeddings concatenated, then an MLP",
              scores="logits (BCE on positives vs sampled negatives)", trains=EPOCHS, device=True,
              task=USER_CONTEXT, colour="#2b8a3e", demo=USER_CONTEXT_DEMO),
    ModelSpec("lncm", "sessrec.models.user_context.lncm:LNCM", "LNCM", "user_context",
              "a blend: α · matrix-factorisation dot product + (1 - α) · MLP over the same embeddings; no context",
              scores="logits (BCE on positives vs sampled negatives)", trains=EPOCHS, device=True,
              task=USER_CONTEXT, colour="#5f3dc4", demo=USER_CONTEXT_DEMO),
]

#: every model of every task by name (checkpoints, the factory)
SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in REGISTRY + USER_CONTEXT_REGISTRY}


def models_of(task: str) -> list[ModelSpec]:
    """The registered models of ``task``, in display order (the list itself: :func:`register` adds to it)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    return REGISTRY if task == SESSION else USER_CONTEXT_REGISTRY


def register(new: ModelSpec) -> ModelSpec:
    """Add a model at run time (a plug-in, a test's toy model): every surface that reads the
    registry (CLI, benchmark runner, tuner, playground, Replay, Train page, Benchmarks) sees it."""
    if new.name in SPECS:
        raise ValueError(f"a model named '{new.name}' is already registered")
    if new.trains not in TRAINING_STYLES:
        raise ValueError(f"{new.name}: trains = {new.trains!r} (known: {', '.join(TRAINING_STYLES)})")
    models_of(new.task).append(new)
    SPECS[new.name] = new
    return new


def unregister(name: str) -> None:
    """Remove a model added by :func:`register`."""
    removed = SPECS.pop(name)
    models_of(removed.task).remove(removed)


def is_subject(name: object) -> bool:
    """Whether registry model ``name`` is the workbench's subject (GRU4Rec)."""
    return name in SPECS and SPECS[str(name)].subject


def featured() -> list[str]:
    """The models the playground shows by default, in their declared order."""
    return [s.name for s in sorted(REGISTRY, key=lambda s: s.featured or 0) if s.featured is not None]


def demo_models() -> list[str]:
    """The models with a committed demo checkpoint, in the order they are built."""
    return [s.name for s in REGISTRY if s.demo is not None]


def colour_of(label: str) -> str | None:
    """The registry colour of a model by its display label (or name), ``None`` for others."""
    for s in REGISTRY:
        if label in (s.label, s.name):
            return s.colour
    return None


def published_models() -> dict[str, str]:
    """RQ5's modern comparators: model name -> its name among the published numbers."""
    return {s.name: s.published_as for s in REGISTRY if s.published_as}


def reproduction_bars() -> dict[str, float]:
    """Model name -> RQ5 reproduction bar (%), for the models that have one."""
    return {s.name: s.reproduction_bar for s in REGISTRY if s.reproduction_bar is not None}


def spec(name: str) -> ModelSpec:
    """The spec of model ``name`` (ValueError naming the known models otherwise)."""
    if name not in SPECS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(SPECS))})")
    return SPECS[name]


def label_of(name: str) -> str:
    """Display name of a model, or the name itself for one not in the registry."""
    return SPECS[name].label if name in SPECS else name
