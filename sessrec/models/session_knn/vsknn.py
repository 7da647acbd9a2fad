"""V-SKNN (session-rec's ``VMContextKNN``): SKNN with a position-weighted current session.

Each distinct item of the current session (length ``L`` clicks) gets the weight
``w(i) = f(p_i, L)`` of its last click position ``p_i`` (``weighting``, see
:mod:`~sessrec.models.session_knn.decay`; default ``div``: ``p_i / L``). Candidates are the
``sample_size`` most recent training sessions sharing an item; similarity to a candidate
``n`` (``similarity``):

* ``vec`` (default): ``sum_{i in s & n} w(i) / |s|``,
* ``cosine``: ``sum_{i in s & n} w(i) / (sqrt(sum_{i in s} w(i)^2) * sqrt(|n|))``.

Only candidates with a positive similarity count; the ``k`` most similar are the
neighbours. A neighbour's contribution is decayed by how far back in the current session
its most recent shared item lies: ``g(step)`` (``weighting_score``, default ``div``:
``1/step``, step 1 = the last click). Item score::

    score(i) = sum_{n in N, i in n} sim(s, n) * g(step_n) * (1 + idf_weighting * idf(i))

with ``idf(i) = log(n_train_sessions / training clicks of i)`` (``idf_weighting=0`` turns it
off). ``remind=False`` gives the items of the current session no score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sessrec.models.session_knn.base import Contributions, SessionKNNBase
from sessrec.models.session_knn.decay import POSITION_WEIGHTS, STEP_DECAYS, position_weight, step_decay
from sessrec.models.session_knn.index import Query, candidates, neighbour_items, top_k
from sessrec.models.validation import check_bool, check_choice, check_float, check_int


class VSKNN(SessionKNNBase):
    """Vector-multiplication session kNN."""

    name = "vsknn"
    _idf_cache: np.ndarray  # set by _idf()
    contribution_rule = ("their similarity times a decay of how far back the session's latest click they share "
                         "lies (times 1 + idf weight of the item, when IDF weighting is on)")

    def __init__(self, k: int = 100, sample_size: int = 1000, sampling: str = "recent", similarity: str = "vec",
                 weighting: str = "div", weighting_score: str = "div", idf_weighting: float = 0.0,
                 remind: bool = True) -> None:
        super().__init__()
        self.k = check_int("k", k, min=1, owner=self.name)
        self.sample_size = check_int("sample_size", sample_size, min=0, owner=self.name)
        self.sampling = check_choice("sampling", sampling, ("recent",), owner=self.name)
        self.similarity = check_choice("similarity", similarity, ("vec", "cosine"), owner=self.name)
        self.weighting = check_choice("weighting", weighting, POSITION_WEIGHTS, owner=self.name)
        self.weighting_score = check_choice("weighting_score", weighting_score, STEP_DECAYS, owner=self.name)
        self.idf_weighting = check_float("idf_weighting", 0.0 if idf_weighting is False else idf_weighting, min=0.0, owner=self.name)
        self.remind = check_bool("remind", remind, owner=self.name)

    def hyperparameters(self) -> dict[str, Any]:
        return {"k": self.k, "sample_size": self.sample_size, "sampling": self.sampling,
                "similarity": self.similarity, "weighting": self.weighting,
                "weighting_score": self.weighting_score, "idf_weighting": self.idf_weighting,
                "remind": self.remind}

    def _contributions(self, query: Query) -> Contributions:
        idx = self.index
        assert idx is not None  # scoring checks that the model is fitted
        w = position_weight(self.weighting, query.last, query.lengths[query.row])
        cand = candidates(idx, query, w, self.sample_size, nb_last_shared=False)
        assert cand.weight_sum is not None and cand.last_shared is not None  # asked of candidates() above
        if self.similarity == "vec":
            n_distinct = np.bincount(query.row, minlength=query.n_rows).astype(np.float64)
            sim = cand.weight_sum / n_distinct[cand.row]
        else:
            norm = np.sqrt(np.bincount(query.row, weights=w * w, minlength=query.n_rows))
            denom = norm[cand.row] * idx.sess_size_sqrt[cand.sess]
            sim = np.divide(cand.weight_sum, denom, out=np.zeros(len(denom)), where=denom > 0)
        keep = top_k(cand.row, cand.sess, sim, self.k)
        step = query.lengths[cand.row[keep]] - cand.last_shared[keep] + 1
        nb_row, nb_sess = cand.row[keep], cand.sess[keep]
        nb_weight = sim[keep] * step_decay(self.weighting_score, step)
        owner, item, _ = neighbour_items(idx, nb_sess, with_pos=False)
        value = nb_weight[owner]
        if self.idf_weighting:
            value = value * (1.0 + self.idf_weighting * self._idf()[item])
        if not self.remind:
            value = np.where(query.contains(nb_row[owner], item, self.n_items), 0.0, value)
        return Contributions(nb_row, nb_sess, sim[keep], owner, nb_row[owner], item, value)

    def _idf(self) -> np.ndarray:
        assert self.index is not None  # scoring checks that the model is fitted
        if getattr(self, "_idf_cache", None) is None or len(self._idf_cache) != self.n_items:
            self._idf_cache = self.index.idf()
        return self._idf_cache
