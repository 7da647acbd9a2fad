"""VSTAN (Ludewig et al. 2021; session-rec's ``VSKNN_STAN``): STAN plus V-SKNN's extras.

Everything of :class:`~sessrec.models.session_knn.stan.STAN` (position-weighted cosine with
``lambda_spw``, neighbour recency ``lambda_snh`` in days, in-neighbour distance
``lambda_inh``), and two more factors on each neighbour's contribution to item ``i``:

* ``lambda_ipw``: ``exp((p* - L) / lambda_ipw)`` with ``p*`` the 1-based position of the
  latest click of the current session (``L`` clicks) whose item the neighbour contains
  (V-SKNN's ``weighting_score`` idea with STAN's exponential decay);
* ``lambda_idf``: ``1 + lambda_idf * idf(i)``, ``idf(i) = log(n_train_sessions / clicks of i)``.

``score(i) = sum_n sim(s, n) * exp(-|q_i - q*| / lambda_inh) * (1 + lambda_idf * idf(i))
* exp((p* - L) / lambda_ipw)``. session-rec's ``similarity`` option is not read by its
VSTAN (it always uses the cosine), so it is not a parameter here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sessrec.models.session_knn.base import Contributions
from sessrec.models.session_knn.index import Query, top_k
from sessrec.models.validation import check_float
from sessrec.models.session_knn.stan import STAN, stan_similarity


class VSTAN(STAN):
    """STAN with V-SKNN's position decay of the matched item and IDF weighting."""

    name = "vstan"
    _idf_cache: np.ndarray  # set in _contributions with lambda_idf
    contribution_rule = (STAN.contribution_rule + ", times 1 + lambda_idf * idf of the item, times "
                         "exp(-(clicks since the latest shared click) / lambda_ipw)")

    def __init__(self, k: int = 100, sample_size: int = 5000, sampling: str = "recent", remind: bool = True,
                 lambda_spw: float | None = 1.02, lambda_snh: float | None = 5.0,
                 lambda_inh: float | None = 2.05, lambda_ipw: float | None = 1.02,
                 lambda_idf: float | None = 5.0) -> None:
        super().__init__(k, sample_size, sampling, remind, lambda_spw, lambda_snh, lambda_inh)
        self.lambda_ipw = check_float("lambda_ipw", lambda_ipw, min=0.0, min_open=True, allow_none=True, owner=self.name)
        self.lambda_idf = check_float("lambda_idf", lambda_idf, min=0.0, allow_none=True, owner=self.name)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "lambda_ipw": self.lambda_ipw, "lambda_idf": self.lambda_idf}

    def _contributions(self, query: Query) -> Contributions:
        assert self.index is not None  # scoring checks that the model is fitted
        cand, sim = stan_similarity(self.index, query, self.lambda_spw, self.lambda_snh, self.sample_size,
                                    last_shared=self.lambda_ipw is not None)
        keep = top_k(cand.row, cand.sess, sim, self.k)
        row, item, value, owner = self._neighbour_values(query, cand, keep, sim)
        if self.lambda_idf is not None:
            if getattr(self, "_idf_cache", None) is None or len(self._idf_cache) != self.n_items:
                self._idf_cache = self.index.idf()
            value = value * (1.0 + self.lambda_idf * self._idf_cache[item])
        if self.lambda_ipw is not None:
            assert cand.last_shared is not None  # asked of stan_similarity when lambda_ipw is set
            lengths = query.lengths[cand.row[keep]]
            ipw = np.exp((cand.last_shared[keep] - lengths) / self.lambda_ipw)
            value = value * ipw[owner]
        return Contributions(cand.row[keep], cand.sess[keep], sim[keep], owner, row, item, value)
