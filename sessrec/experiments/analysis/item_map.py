"""The item map: a model's item vectors projected to two dimensions, with popularity and clusters.

A model that has item vectors offers them through the optional method ``item_embeddings()``
(an ``(n_items, d)`` tensor in its catalogue order; GRU4Rec's output embeddings, the neural
models' item tables, Embedding-KNN's vectors), found with ``hasattr`` like ``attention``.
:func:`item_map` centres the vectors, projects them on their first two principal components
(an SVD: deterministic, no extra dependency) and clusters them with k-means
(``scipy.cluster.vq.kmeans2``, seeded) in the full space, not in the projection. Neighbours in
the map are items the model places near each other; two axes keep only part of the variance,
which the result reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def has_item_vectors(model: Any) -> bool:
    """Whether ``model`` offers item vectors (``item_embeddings()`` returning a matrix)."""
    return callable(getattr(model, "item_embeddings", None)) and model.item_embeddings() is not None


@dataclass(frozen=True)
class ItemMap:
    """Every catalogue item of a model as a point: ``frame`` has ItemId, x, y, Cluster."""

    frame: pd.DataFrame
    explained: float  #: share of the vectors' variance the two axes keep
    n_clusters: int


def project(vectors: np.ndarray) -> tuple[np.ndarray, float]:
    """``(n, 2)`` coordinates on the first two principal components, and the variance share kept."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    points = centred @ axes.T
    if points.shape[1] < 2:  # one-dimensional vectors: a flat second axis
        points = np.hstack([points, np.zeros((len(points), 2 - points.shape[1]))])
    total = float((singular ** 2).sum())
    return points, float((singular[:2] ** 2).sum() / total) if total > 0 else 1.0


def clusters(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means labels (``scipy.cluster.vq.kmeans2``, k-means++ start, seeded) of the rows."""
    from scipy.cluster.vq import kmeans2

    k = max(1, min(int(k), len(vectors)))
    _, labels = kmeans2(vectors.astype(np.float64), k, minit="++", seed=seed)
    return labels.astype(np.int64)


def item_map(model: Any, n_clusters: int = 8, seed: int = 0) -> ItemMap:
    """The map of ``model``'s catalogue (:class:`ValueError` when it has no item vectors)."""
    if not has_item_vectors(model):
        raise ValueError(f"{getattr(model, 'name', 'this model')} has no item vectors to draw")
    vectors = model.item_embeddings().detach().cpu().double().numpy()
    if vectors.ndim != 2 or len(vectors) != model.n_items or not np.isfinite(vectors).all():
        raise ValueError(f"{model.name}: item_embeddings() must be a finite ({model.n_items}, d) matrix")
    points, explained = project(vectors)
    labels = clusters(vectors, n_clusters, seed)
    frame = pd.DataFrame({"ItemId": model.item_index.item_ids.astype(np.int64), "x": points[:, 0],
                          "y": points[:, 1], "Cluster": labels})
    return ItemMap(frame, explained, int(labels.max()) + 1 if len(labels) else 0)
