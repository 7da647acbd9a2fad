"""STAN (Garg et al., SIGIR 2019; session-rec's ``STAN``): sequence- and time-aware neighbours.

Three decays on top of SKNN (each ``lambda_*`` may be ``None`` to switch it off):

1. position in the current session (``lambda_spw``): the item whose last click is at
   1-based position ``p`` of a session of ``L`` clicks weighs ``exp((p - L) / lambda_spw)``;
   the similarity to a candidate ``n`` is the weighted cosine
   ``sum_{i in s & n} w(i) / (sqrt(sum_{i in s} w(i)^2) * sqrt(|n|))``;
2. recency of the neighbour (``lambda_snh``, in days): the similarity is multiplied by
   ``exp(-(t_now - t_n) / (lambda_snh * 86400))``, ``t_n`` the neighbour's last click. Only
   differences between neighbours matter for the ranking, so ``t_now`` is the newest
   training time. Data without timestamps (the SR-GNN-style splits) use the session's
   order in the file as its time, in seconds, which makes this decay almost inert there;
3. distance inside the neighbour (``lambda_inh``): with ``q*`` the neighbour's latest
   position holding an item of the current session and ``q_i`` the last position of
   candidate item ``i`` in the neighbour, the contribution is weighted by
   ``exp(-|q_i - q*| / lambda_inh)``.

The ``sample_size`` most recent candidates are kept, the ``k`` most similar are the
neighbours, ``score(i) = sum_n sim(s, n) * exp(-|q_i - q*| / lambda_inh)``. ``remind=False``
gives the items of the current session no score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sessrec.models.session_knn.base import Contributions, SessionKNNBase
from sessrec.models.session_knn.index import (
    Candidates, Query, SessionIndex, candidates, neighbour_items, top_k,
)
from sessrec.models.validation import check_bool, check_choice, check_float, check_int

SECONDS_PER_DAY = 24 * 3600


def stan_similarity(index: SessionIndex, query: Query, lambda_spw: float | None, lambda_snh: float | None,
                    sample_size: int, last_shared: bool = False) -> tuple[Candidates, np.ndarray]:
    """Candidates and their position-weighted, time-decayed cosine similarity.

    The candidates carry ``nb_last_shared``, and ``last_shared`` too if asked.
    """
    if lambda_spw is not None:
        w = np.exp((query.last - query.lengths[query.row]) / lambda_spw)
    else:
        w = np.ones(len(query.item))
    cand = candidates(index, query, w, sample_size, last_shared=last_shared)
    assert cand.weight_sum is not None  # candidates() sums the weights it is given
    norm = np.sqrt(np.bincount(query.row, weights=w * w, minlength=query.n_rows))
    denom = norm[cand.row] * index.sess_size_sqrt[cand.sess]
    sim = np.divide(cand.weight_sum, denom, out=np.zeros(len(denom)), where=denom > 0)
    if lambda_snh is not None and index.n_sessions:
        sim = sim * recency_decay(index, lambda_snh)[cand.sess]
    return cand, sim


def recency_decay(index: SessionIndex, lambda_snh: float) -> np.ndarray:
    """``exp(-(t_now - t_n) / (lambda_snh days))`` of every training session, cached on the index.

    The same element-wise expression as on the candidates alone (so the same values), but
    computed once per fit instead of once per candidate.
    """
    def make() -> np.ndarray:
        return np.exp(-(index.sess_time[-1] - index.sess_time) / (lambda_snh * SECONDS_PER_DAY))

    return index.cached("recency_decay", lambda_snh, make)


class STAN(SessionKNNBase):
    """Sequence and Time Aware Neighbourhood."""

    name = "stan"
    contribution_rule = ("their similarity (position-weighted cosine times a recency decay) times "
                         "exp(-distance in the neighbour between the item and the latest shared click / lambda_inh)")

    def __init__(self, k: int = 100, sample_size: int = 5000, sampling: str = "recent", remind: bool = True,
                 lambda_spw: float | None = 1.02, lambda_snh: float | None = 5.0,
                 lambda_inh: float | None = 2.05) -> None:
        super().__init__()
        self.k = check_int("k", k, min=1, owner=self.name)
        self.sample_size = check_int("sample_size", sample_size, min=0, owner=self.name)
        self.sampling = check_choice("sampling", sampling, ("recent",), owner=self.name)
        self.remind = check_bool("remind", remind, owner=self.name)
        self.lambda_spw = check_float("lambda_spw", lambda_spw, min=0.0, min_open=True, allow_none=True, owner=self.name)
        self.lambda_snh = check_float("lambda_snh", lambda_snh, min=0.0, min_open=True, allow_none=True, owner=self.name)
        self.lambda_inh = check_float("lambda_inh", lambda_inh, min=0.0, min_open=True, allow_none=True, owner=self.name)

    def hyperparameters(self) -> dict[str, Any]:
        return {"k": self.k, "sample_size": self.sample_size, "sampling": self.sampling, "remind": self.remind,
                "lambda_spw": self.lambda_spw, "lambda_snh": self.lambda_snh, "lambda_inh": self.lambda_inh}

    def _neighbour_values(self, query: Query, cand: Candidates, keep: np.ndarray, sim: np.ndarray):
        """(row, item, value) of every (neighbour, item) pair before the model's extra factors."""
        nb_row, nb_sess, nb_sim = cand.row[keep], cand.sess[keep], sim[keep]
        assert self.index is not None  # scoring checks that the model is fitted
        owner, item, pos = neighbour_items(self.index, nb_sess, with_pos=self.lambda_inh is not None)
        value = nb_sim[owner]
        if self.lambda_inh is not None:
            assert cand.nb_last_shared is not None  # stan_similarity asks candidates() for it
            distance = np.abs(pos - cand.nb_last_shared[keep][owner])
            value = value * self._inh_decay()[distance]
        row = nb_row[owner]
        if not self.remind:
            value = np.where(query.contains(row, item, self.n_items), 0.0, value)
        return row, item, value, owner

    def _inh_decay(self) -> np.ndarray:
        """``exp(-d / lambda_inh)`` for every distance ``d`` inside a training session, cached.

        Distances are small integers (positions run from 1 to the longest session), so a
        table lookup replaces one ``exp`` per (neighbour, item) pair with the same values.
        """
        index, lambda_inh = self.index, self.lambda_inh
        assert index is not None and lambda_inh is not None  # only used when fitted, with lambda_inh set

        def make() -> np.ndarray:
            return np.exp(-np.arange(int(index.sess_pos.max(initial=0)) + 1) / lambda_inh)

        return index.cached("inh_decay", lambda_inh, make)

    def _contributions(self, query: Query) -> Contributions:
        assert self.index is not None  # scoring checks that the model is fitted
        cand, sim = stan_similarity(self.index, query, self.lambda_spw, self.lambda_snh, self.sample_size)
        keep = top_k(cand.row, cand.sess, sim, self.k)
        row, item, value, owner = self._neighbour_values(query, cand, keep, sim)
        return Contributions(cand.row[keep], cand.sess[keep], sim[keep], owner, row, item, value)
