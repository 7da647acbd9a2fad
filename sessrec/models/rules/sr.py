"""SR, sequential rules (session-rec's ``SequentialRules``), scored by the session's last item.

Training: for every click ``b`` of a session and each of the up to ``steps`` clicks ``a``
before it (``d`` = 1 for the click right before), the rule ``a -> b`` gains ``f(d)``
(``weighting``, default ``div``: ``1/d``; see :mod:`~sessrec.models.session_knn.decay`).
Repeated items count like any other (``a -> a`` rules exist). ``pruning`` keeps the
``pruning`` strongest rules of every ``a`` (a value in ``(0, 1)`` drops that share of them
instead; 0 keeps all); equally strong rules are kept in the order they were first seen,
as in session-rec. Score of ``b`` after a session whose last item is ``a``: the weight
of ``a -> b``; items without a rule get 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError
from sessrec.models.base import BaseSessionModel
from sessrec.models.evidence import Evidence, last_item_evidence
from sessrec.models.last_item import LastItemState
from sessrec.models.session_knn.decay import STEP_DECAYS, step_decay
from sessrec.models.validation import check_choice, check_float, check_int
from sessrec.models.sparse_rows import SparseRows


def prune_rules(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, first_seen: np.ndarray,
                n_items: int, pruning: float) -> sp.csr_matrix:
    """Keep the strongest rules per antecedent (session-rec's ``prune``).

    Ties are broken as session-rec's ``Counter.most_common`` does: the rule first seen in
    the training data comes first.
    """
    if pruning > 0:
        counts = np.bincount(rows, minlength=n_items)
        keep_n = np.full(n_items, int(pruning)) if pruning >= 1 else counts - (counts * pruning).astype(np.int64)
        order = np.lexsort((first_seen, -vals, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
        keep = rank < keep_n[rows]
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    return sp.csr_matrix((vals, (rows, cols)), shape=(n_items, n_items))


class SequentialRules(LastItemState, BaseSessionModel):
    """Decayed "b follows a within ``steps`` clicks" rules from the last item."""

    name = "sr"

    def __init__(self, steps: int = 10, weighting: str = "div", pruning: float = 20) -> None:
        super().__init__()
        self.steps = check_int("steps", steps, min=1, owner=self.name)
        self.weighting = check_choice("weighting", weighting, STEP_DECAYS, owner=self.name)
        self.pruning = check_float("pruning", pruning, min=0.0, owner=self.name)
        self.rules: SparseRows | None = None

    def hyperparameters(self) -> dict[str, Any]:
        return {"steps": self.steps, "weighting": self.weighting, "pruning": self.pruning}

    def fit_once(self, train: Sessions) -> "SequentialRules":
        self.item_index = ItemIndex.from_items(train.items)
        n = self.n_items
        idx = self.item_index.to_index(train.items)
        session_start = np.repeat(train.offsets[:-1], train.lengths)
        pos = np.arange(len(idx))
        rows, cols, vals, seen = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)], [np.zeros(0, np.int64)]
        for d in range(1, self.steps + 1):
            later = pos[pos - d >= session_start]  # clicks with a click d steps before them
            if len(later) == 0:
                break
            rows.append(idx[later - d])
            cols.append(idx[later])
            vals.append(np.full(len(later), step_decay(self.weighting, d)))
            # session-rec adds a rule when it reads click ``later``, nearest antecedent first
            seen.append(later * (self.steps + 1) + d)
        r, c, v, t = (np.concatenate(a) for a in (rows, cols, vals, seen))
        # one entry per rule: summed weight, first time seen
        key = r * n + c
        order = np.lexsort((t, key))
        key, v, t = key[order], v[order], t[order]
        start = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        group = np.cumsum(start) - 1
        weight = np.bincount(group, weights=v) if len(key) else np.zeros(0)
        ukey = key[start]
        self.rules = SparseRows.from_scipy(
            prune_rules(ukey // n, ukey % n, weight, t[start], n, self.pruning)
        )
        self.clear_live_cache()
        return self

    def scores(self, state: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        assert self.rules is not None  # set by fit or a checkpoint
        return self.rules.dense_rows(state, torch.zeros(self.n_items))

    def evidence(self, session_items: list[int] | np.ndarray, item_id: int) -> Evidence:
        """The weight of the rule ``click -> item_id`` from every click; the last click's is the score."""
        return last_item_evidence(self, self.rules, None, session_items, item_id, "rules", "Rule weight",
                                  f"the weight of the rule click -> item (item within {self.steps} clicks after "
                                  f"the click in training, each occurrence weighted by '{self.weighting}' decay "
                                  "of the distance)")

    def _tensors(self) -> dict[str, torch.Tensor]:
        r = self.rules
        assert r is not None  # saved models are fitted or loaded
        return {"indptr": r.indptr, "indices": r.indices, "values": r.values}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        model.item_index = item_index
        n = item_index.n_items
        try:
            indptr, indices, values = (tensors[k] for k in ("indptr", "indices", "values"))
        except KeyError as exc:
            raise CheckpointError(f"sr: missing tensor {exc}") from exc
        ok = (indptr.ndim == 1 and indptr.numel() == n + 1 and int(indptr[0]) == 0
              and bool((indptr[1:] >= indptr[:-1]).all()) and int(indptr[-1]) == indices.numel() == values.numel()
              and (indices.numel() == 0 or (int(indices.min()) >= 0 and int(indices.max()) < n)))
        if not ok:
            raise CheckpointError(f"sr: rule table does not fit a catalogue of {n} items")
        model.rules = SparseRows(indptr.long(), indices.long(), values.float())
        return model
