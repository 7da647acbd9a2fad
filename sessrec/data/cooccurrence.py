"""Item co-occurrence over training sessions: the statistic behind Item-KNN's similarities
and the evaluator's intra-list diversity (both read it from here, neither from the other)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sessrec.data.sessions import ItemIndex, Sessions


def regularised_cosine(train: Sessions, item_index: ItemIndex, alpha: float = 0.5,
                       lambda_: float = 0.0) -> sp.csr_matrix:
    """``sim(i, j) = co(i, j) / (supp(i) ** alpha * supp(j) ** (1 - alpha) + lambda_)`` for i != j.

    ``supp(i)``: training sessions containing ``i``; ``co(i, j)``: sessions containing both
    (a session counts once however often an item was clicked in it). Sparse (float32): only
    pairs that share a session have an entry. ``alpha = 0.5, lambda_ = 0`` is the plain cosine.
    """
    n = len(item_index.item_ids)
    idx = item_index.to_index(train.items)
    session_of_event = np.repeat(np.arange(train.n_sessions), train.lengths)
    incidence = sp.csr_matrix((np.ones(len(idx), np.float32), (session_of_event, idx)), shape=(train.n_sessions, n))
    incidence.sum_duplicates()
    incidence.data[:] = 1.0
    support = np.asarray(incidence.sum(axis=0)).ravel().astype(np.float64)
    co = (incidence.T @ incidence).tocoo()
    off_diagonal = co.row != co.col
    rows, cols, co_counts = co.row[off_diagonal], co.col[off_diagonal], co.data[off_diagonal]
    denominator = support[rows] ** alpha * support[cols] ** (1.0 - alpha) + lambda_
    return sp.csr_matrix(((co_counts / denominator).astype(np.float32), (rows, cols)), shape=(n, n))
