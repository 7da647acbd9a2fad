"""SKNN (session-rec's ``ContextKNN``): items of the most similar past sessions.

For the current session ``s`` (its set of distinct items), every training session ``n``
sharing an item with ``s`` is a candidate; the ``sample_size`` most recent candidates are
kept (``sampling='recent'``), each gets a similarity ``sim(s, n)`` over item sets:

* ``jaccard``: ``|s & n| / |s | n|`` (session-rec's default),
* ``cosine``: ``|s & n| / sqrt(|s| * |n|)``,
* ``tanimoto``: ``|s & n| / (|s| + |n| - |s & n|)`` (equal to jaccard on sets),
* ``binary``: ``2 |s & n| / (2 |s & n| + |s| + |n|)``.

The ``k`` most similar candidates are the neighbours; the score of item ``i`` is the sum
of the similarities of the neighbours containing ``i``. Unscored items get 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sessrec.models.session_knn.base import Contributions, SessionKNNBase
from sessrec.models.session_knn.index import Query, candidates, neighbour_items, top_k
from sessrec.models.validation import check_choice, check_int

SIMILARITIES = ("jaccard", "cosine", "tanimoto", "binary")


def set_similarity(name: str, shared: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    shared, a, b = (np.asarray(x, np.float64) for x in (shared, size_a, size_b))
    if name in ("jaccard", "tanimoto"):
        return shared / (a + b - shared)
    if name == "cosine":
        return shared / np.sqrt(a * b)
    if name == "binary":
        return 2 * shared / (2 * shared + a + b)
    raise ValueError(f"unknown similarity '{name}'")


class SKNN(SessionKNNBase):
    """Session-based kNN over item sets."""

    name = "sknn"
    contribution_rule = "their similarity to the session (each neighbour adds its similarity)"

    def __init__(self, k: int = 100, sample_size: int = 1000, sampling: str = "recent",
                 similarity: str = "jaccard") -> None:
        super().__init__()
        self.k = check_int("k", k, min=1, owner=self.name)
        self.sample_size = check_int("sample_size", sample_size, min=0, owner=self.name)
        self.sampling = check_choice("sampling", sampling, ("recent",), owner=self.name)
        self.similarity = check_choice("similarity", similarity, SIMILARITIES, owner=self.name)

    def hyperparameters(self) -> dict[str, Any]:
        return {"k": self.k, "sample_size": self.sample_size, "sampling": self.sampling,
                "similarity": self.similarity}

    def _contributions(self, query: Query) -> Contributions:
        idx = self.index
        assert idx is not None  # scoring checks that the model is fitted
        cand = candidates(idx, query, None, self.sample_size, last_shared=False, nb_last_shared=False)
        current_size = np.bincount(query.row, minlength=query.n_rows)
        sim = set_similarity(self.similarity, cand.n_shared, current_size[cand.row], idx.sess_size[cand.sess])
        keep = top_k(cand.row, cand.sess, sim, self.k)
        nb_row, nb_sess, nb_sim = cand.row[keep], cand.sess[keep], sim[keep]
        owner, item, _ = neighbour_items(idx, nb_sess, with_pos=False)
        return Contributions(nb_row, nb_sess, nb_sim, owner, nb_row[owner], item, nb_sim[owner])
