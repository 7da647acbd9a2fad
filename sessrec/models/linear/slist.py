"""SLIST: a dense item-to-item weight matrix learned in closed form from the session matrices.

SLIST (Choi et al., "Session-aware Linear Item-Item Models for Session-based
Recommendation", WWW 2021) unifies two linear models, each a ridge regression from a
session representation to the items that go with it. This module is written from the
paper and from reading the authors' code (``jin530/SLIST``, ``algorithms/slist/slist.py``);
no code is taken from it.

* **SLIS** (item similarity): one row per training session. The input row holds the
  session's distinct items (binary: a repeated item counts once), normalised per row
  (``normalize``: ``"l1"`` divides by the number of distinct items, ``"l2"`` by its square
  root, ``"none"`` keeps it binary); the target row is the same binary row, not normalised.
* **SLIT** (item transition): one row per position ``t = 0 .. n-2`` of every session of
  ``n`` clicks. ``direction`` chooses the input ("source") and target rows, click
  ``i`` weighted by ``exp(-d / train_weight)`` with ``d`` its distance in clicks:

  - ``"part"``: input the clicks ``0..t`` (``d = t - i``), target the clicks after ``t``
    (``d = i - (t + 1)``: the next click weighs 1);
  - ``"all"``: input every click (``d = |t - i|``), target every click (``d = |t + 1 - i|``);
  - ``"sr"``: input the click ``t`` alone (weight 1), target as for ``"part"``
    (the setting of every published configuration of the authors).

  A repeated item adds up its weights; the input rows are normalised like SLIS's.
  ``train_weight <= 0`` gives every click weight 1.

Every row also carries its session's recency weight ``w = exp(-(t_max - t_s) /
(session_weight * 86400))``: ``t_s`` is the time of the session's last click,
``t_max`` the last click of the whole training split, times in seconds, so
``session_weight`` is in **days** (the authors multiply it by ``24 * 3600``).
``session_weight <= 0``, and splits without times (the SR-GNN-style splits of
``yoochoose1_64``, Diginetica and the RetailRocket train split), give every session weight 1.

With ``A`` the SLIS input rows scaled by ``sqrt(alpha)`` stacked on the SLIT input rows
scaled by ``sqrt(1 - alpha)``, ``T`` the target rows stacked the same way and ``W`` the
diagonal of the row weights, the model is the one ridge regression
``argmin_B ||W^½ (T - A B)||² + reg ||B||²``, solved as the authors' code does::

    P = (AᵀWA + reg·I)⁻¹           # one inverse of the combined Gram matrix
    B = P · AᵀWT                   # alpha < 1: no constraint on the diagonal
    B = P · (AᵀWT - diag(γ))       # alpha == 1 (SLIS alone): diag(B) <= epsilon

For ``alpha == 1``, ``γ_i = (B⁰_ii - epsilon) / P_ii`` where the unconstrained
``B⁰ = P·AᵀWT`` has ``B⁰_ii >= epsilon`` and 0 elsewhere, which sets those diagonal
entries to ``epsilon`` (the paper's relaxed constraint ``diag(B) <= ξ``; the authors'
default ``epsilon`` is 10). With ``epsilon = 0`` and ``normalize = "none"`` this is
EASE's zero-diagonal solution ``B = I - P · diag(1 / diag(P))``. The authors' code
constrains nothing when ``alpha < 1``, and neither does this one.

Scores: with the session's known clicks ``s_0 .. s_{n-1}``, click ``i`` weighs
``exp(-(n - 1 - i) / predict_weight)`` (``predict_weight <= 0``: weight 1; a repeated
item adds up) and ``score(j) = Σ_i w_i B[s_i, j]``. Like every sessrec model it ranks the
whole catalogue, the session's own items included (the authors' code does the same);
an empty session scores 0 everywhere.

Memory and time: ``B`` is dense, ``n_items × n_items`` float32, and the fit holds two such
matrices at once (the Cholesky factor, then its inverse, which becomes ``B`` row block by
row block), besides the sparse Gram matrices. It refuses to start, with a one-line
:class:`ValueError`, when ``2 · n_items² · 4`` bytes plus the sparse matrices exceed the
memory the system reports available (``MemAvailable`` in ``/proc/meminfo``). Diginetica's
43,097 items need 2 × 7.43 GB = 14.9 GB during the fit and 7.43 GB for the fitted
matrix; ``yoochoose1_64``'s 17,376 items 2 × 1.21 GB. Checkpoints store ``B`` as float32
(``n_items² · 4`` bytes on disk: 1.21 GB for ``yoochoose1_64``, 7.43 GB for Diginetica).
The inverse costs about ``n_items³`` floating-point operations (Cholesky, a triangular
solve and a triangular product, with torch's LAPACK/BLAS on the CPU).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError
from sessrec.models.session_knn.base import SeqState, SequenceStateModel
from sessrec.models.validation import check_choice, check_float

DIRECTIONS = ("part", "all", "sr")
NORMALIZATIONS = ("l1", "l2", "none")
SECONDS_PER_DAY = 24 * 3600
#: dense matrices of n_items² float32 alive at once during the fit
DENSE_MATRICES = 2
#: rows of the dense matrices handled per block (bounds the temporaries to block × n_items)
BLOCK_ROWS = 1024


def available_memory() -> int | None:
    """Bytes the system reports available (``MemAvailable``), ``None`` where it does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB"


def fit_memory_needed(n_items: int, sparse_bytes: int = 0) -> int:
    """Bytes the fit needs at its peak: two dense ``n_items²`` float32 matrices plus the sparse ones."""
    return DENSE_MATRICES * n_items * n_items * 4 + sparse_bytes


def _check_memory(n_items: int, sparse_bytes: int) -> None:
    need = fit_memory_needed(n_items, sparse_bytes)
    have = available_memory()
    if have is not None and need > have:
        raise ValueError(
            f"slist: {n_items:,} items need about {_gb(need)} of memory for the fit "
            f"({DENSE_MATRICES} dense {n_items:,} x {n_items:,} float32 matrices of "
            f"{_gb(n_items * n_items * 4)} each), but only {_gb(have)} is available"
        )


def _sparse_bytes(*matrices: sp.spmatrix) -> int:
    return int(sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in matrices))


def _normalise_rows(matrix: sp.csr_matrix, how: str) -> sp.csr_matrix:
    """Rows divided by their l1 or l2 norm (empty rows stay empty)."""
    if how == "none":
        return matrix
    values = np.abs(matrix.data) if how == "l1" else matrix.data**2
    norms = np.add.reduceat(values, matrix.indptr[:-1]) if len(values) else np.zeros(matrix.shape[0])
    norms = norms * (np.diff(matrix.indptr) > 0)  # reduceat repeats a value for an empty row
    if how == "l2":
        norms = np.sqrt(norms)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms, dtype=np.float64), where=norms > 0)
    out = matrix.copy()
    out.data = out.data * np.repeat(scale, np.diff(matrix.indptr))
    return out


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row ``r``, the positions ``lo[r] .. hi[r]-1``: (row of each entry, position)."""
    counts = (hi - lo).astype(np.int64)
    rows = np.repeat(np.arange(len(lo)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return rows, np.repeat(lo, counts) + (np.arange(counts.sum()) - starts)


class SLIST(SequenceStateModel):
    """Session-aware linear item similarity/transition model (Choi et al., WWW 2021).

    One closed-form ridge regression from session rows to their items (SLIS) and from
    partial sessions to the clicks after them (SLIT), combined by ``alpha``; see the module
    docstring for the exact rows, weights and solution.
    """

    name = "slist"

    def __init__(
        self,
        alpha: float = 0.5,
        reg: float = 10.0,
        session_weight: float = -1.0,
        train_weight: float = -1.0,
        predict_weight: float = -1.0,
        direction: str = "part",
        normalize: str | None = "l1",
        epsilon: float = 10.0,
    ) -> None:
        super().__init__()
        self.alpha = check_float("alpha", alpha, min=0.0, max=1.0, owner=self.name)
        self.reg = check_float("reg", reg, min=0.0, min_open=True, owner=self.name)
        self.session_weight = check_float("session_weight", session_weight, owner=self.name)
        self.train_weight = check_float("train_weight", train_weight, owner=self.name)
        self.predict_weight = check_float("predict_weight", predict_weight, owner=self.name)
        self.direction = check_choice("direction", direction, DIRECTIONS, owner=self.name)
        self.normalize = "none" if normalize is None else check_choice("normalize", normalize, NORMALIZATIONS,
                                                                     owner=self.name)
        self.epsilon = check_float("epsilon", epsilon, owner=self.name)
        self.weights = torch.zeros(0, 0)  # B, (n_items, n_items) float32

    def hyperparameters(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "reg": self.reg, "session_weight": self.session_weight,
                "train_weight": self.train_weight, "predict_weight": self.predict_weight,
                "direction": self.direction, "normalize": self.normalize, "epsilon": self.epsilon}

    # -- training -------------------------------------------------------------------------
    def session_weights(self, train: Sessions) -> np.ndarray:
        """Recency weight of every training session (1 without times or with ``session_weight <= 0``)."""
        if train.times is None or self.session_weight <= 0 or train.n_sessions == 0:
            return np.ones(train.n_sessions)
        last = np.maximum.reduceat(train.times, train.offsets[:-1]) if train.n_events else np.zeros(0)
        return np.exp((last - train.times.max()) / (self.session_weight * SECONDS_PER_DAY))

    def _click_weight(self, distance: np.ndarray) -> np.ndarray:
        if self.train_weight <= 0:
            return np.ones(len(distance))
        return np.exp(-np.abs(distance) / self.train_weight)

    def slis_rows(self, train: Sessions, idx: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """SLIS: (normalised input rows, binary target rows, row weights), one row per session."""
        n = self.n_items
        rows = np.repeat(np.arange(train.n_sessions), train.lengths)
        target = sp.csr_matrix((np.ones(len(idx)), (rows, idx)), shape=(train.n_sessions, n))
        target.sum_duplicates()
        target.data[:] = 1.0  # a repeated item counts once
        return _normalise_rows(target, self.normalize), target, self.session_weights(train)

    def slit_rows(self, train: Sessions, idx: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """SLIT: (normalised input rows, target rows, row weights), one row per position ``t < n - 1``."""
        n = self.n_items
        lengths = train.lengths
        n_rows = np.maximum(lengths - 1, 0)
        session = np.repeat(np.arange(train.n_sessions), n_rows)
        t = np.arange(n_rows.sum()) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)  # position in its session
        length = lengths[session]
        zero = np.zeros_like(t)
        if self.direction == "part":
            in_lo, in_hi, out_lo, out_hi = zero, t + 1, t + 1, length
        elif self.direction == "all":
            in_lo, in_hi, out_lo, out_hi = zero, length, zero, length
        else:  # "sr"
            in_lo, in_hi, out_lo, out_hi = t, t + 1, t + 1, length
        start = train.offsets[:-1][session]
        matrices = []
        for lo, hi, anchor in ((in_lo, in_hi, t), (out_lo, out_hi, t + 1)):
            row, pos = _ranges(lo, hi)
            values = self._click_weight(pos - anchor[row])
            m = sp.csr_matrix((values, (row, idx[start[row] + pos])), shape=(len(t), n))
            m.sum_duplicates()  # a repeated item adds up its weights
            matrices.append(m)
        return _normalise_rows(matrices[0], self.normalize), matrices[1], self.session_weights(train)[session]

    def gram_matrices(self, train: Sessions) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """``(AᵀWA, AᵀWT)`` of the combined SLIS/SLIT rows, sparse float64."""
        idx = self.item_index.to_index(train.items)
        n = self.n_items
        gram = sp.csr_matrix((n, n))
        cross = sp.csr_matrix((n, n))
        for share, build in ((self.alpha, self.slis_rows), (1.0 - self.alpha, self.slit_rows)):
            if share <= 0:
                continue
            inputs, targets, row_weight = build(train, idx)
            weighted = (sp.diags(row_weight * share) @ inputs).T.tocsr()
            gram = gram + weighted @ inputs
            cross = cross + weighted @ targets
        return gram.tocsr(), cross.tocsr()

    def fit_once(self, train: Sessions) -> "SLIST":
        self.item_index = ItemIndex.from_items(train.items)
        n = self.n_items
        gram, cross = self.gram_matrices(train)
        _check_memory(n, _sparse_bytes(gram, cross))
        self.weights = torch.zeros(0, 0)
        self.weights = solve(gram, cross, self.reg, self.epsilon if self.alpha == 1.0 else None)
        self.clear_live_cache()
        return self

    # -- scoring --------------------------------------------------------------------------
    def _score_sequences(self, sequences: SeqState, out: torch.Tensor) -> None:
        rows: list[int] = []
        items: list[int] = []
        values: list[float] = []
        for r, seq in enumerate(sequences):
            k = len(seq)
            if not k:
                continue
            rows.extend([r] * k)
            items.extend(seq)
            if self.predict_weight > 0:
                values.extend(math.exp(-(k - 1 - i) / self.predict_weight) for i in range(k))
            else:
                values.extend([1.0] * k)
        vector = torch.sparse_coo_tensor(torch.tensor([rows, items], dtype=torch.long).reshape(2, -1),
                                         torch.tensor(values, dtype=torch.float32), (len(sequences), self.n_items),
                                         check_invariants=False)
        out.copy_(torch.sparse.mm(vector.coalesce(), self.weights))

    # -- checkpoints ----------------------------------------------------------------------
    def _tensors(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights}

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, torch.Tensor], item_index: ItemIndex):
        model = cls(**params)
        weights = tensors.get("weights")
        n = item_index.n_items
        if not isinstance(weights, torch.Tensor) or weights.dtype != torch.float32 or tuple(weights.shape) != (n, n):
            shown = "missing" if weights is None else f"{tuple(weights.shape)} {weights.dtype}"
            raise CheckpointError(f"SLIST weights must be a ({n}, {n}) float32 tensor, got {shown}")
        model.item_index = item_index
        model.weights = weights
        return model


def solve(gram: sp.spmatrix, cross: sp.spmatrix, reg: float, epsilon: float | None = None) -> torch.Tensor:
    """``B = (gram + reg·I)⁻¹ · cross`` as a dense float32 tensor; with ``epsilon``, the
    diagonal of ``B`` is capped at ``epsilon`` (see the module docstring).

    Two dense matrices at the peak: the Cholesky factor ``L`` is computed in place, its
    inverse ``L⁻¹`` solved into a second buffer, ``P = L⁻ᵀL⁻¹`` formed in that buffer row
    block by row block, and ``B = P · cross`` overwrites ``P`` the same way (``cross`` sparse).
    """
    n = gram.shape[0]
    gram = sp.coo_matrix(gram)
    matrix = torch.zeros(n, n)
    matrix[torch.from_numpy(gram.row.astype(np.int64)), torch.from_numpy(gram.col.astype(np.int64))] = (
        torch.from_numpy(gram.data.astype(np.float32)))
    matrix.diagonal().add_(float(reg))
    _, info = torch.linalg.cholesky_ex(matrix, out=(matrix, torch.empty(0, dtype=torch.int32)))
    if int(info):
        raise ValueError(f"slist: the regularised Gram matrix is not positive definite (pivot {int(info)}); "
                         "raise reg")
    inverse = torch.eye(n)
    torch.linalg.solve_triangular(matrix, inverse, upper=False, out=inverse)  # L⁻¹, lower triangular
    del matrix
    for r0 in range(0, n, BLOCK_ROWS):  # P = L⁻ᵀ L⁻¹: rows r0..r1 need the rows >= r0 of L⁻¹ only
        r1 = min(n, r0 + BLOCK_ROWS)
        inverse[r0:r1] = inverse[r0:, r0:r1].T @ inverse[r0:]
    # P is symmetric, so B's row block P[rows] · C is (Cᵀ · P[rows]ᵀ)ᵀ with Cᵀ sparse
    cross_t = sp.coo_matrix(sp.csr_matrix(cross.T, dtype=np.float32))  # rows sorted, no duplicates
    c_t = torch.sparse_coo_tensor(torch.from_numpy(np.vstack([cross_t.row, cross_t.col]).astype(np.int64)),
                                  torch.from_numpy(cross_t.data), (n, n), is_coalesced=True,
                                  check_invariants=False)
    gamma = None
    if epsilon is not None:
        c = sp.coo_matrix(cross)
        # diag(P·C)_i = Σ_k P[i, k] C[k, i]
        b0_diag = np.bincount(c.col, weights=inverse[torch.from_numpy(c.col.astype(np.int64)),
                                                     torch.from_numpy(c.row.astype(np.int64))].double().numpy()
                              * c.data, minlength=n)
        p_diag = inverse.diagonal().double().numpy()
        gamma = torch.from_numpy(np.where(b0_diag >= epsilon, (b0_diag - epsilon) / p_diag, 0.0)
                                 .astype(np.float32))
    for r0 in range(0, n, BLOCK_ROWS):
        r1 = min(n, r0 + BLOCK_ROWS)
        block = torch.sparse.mm(c_t, inverse[r0:r1].T.contiguous()).T
        if gamma is not None:
            block -= inverse[r0:r1] * gamma  # P · diag(γ): column i scaled by γ_i
        inverse[r0:r1] = block
    return inverse
