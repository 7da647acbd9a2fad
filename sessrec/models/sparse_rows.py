"""Item-to-item tables (transitions, similarities) stored as CSR rows in torch tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from sessrec.errors import CheckpointError


@dataclass(frozen=True)
class SparseRows:
    """CSR matrix ``(n_items, n_items)``: row ``i`` lists the items related to item ``i``."""

    indptr: torch.Tensor  # (n_items + 1,) int64
    indices: torch.Tensor  # (nnz,) int64
    values: torch.Tensor  # (nnz,) float32

    @classmethod
    def from_scipy(cls, matrix: sp.csr_matrix) -> "SparseRows":
        matrix = matrix.tocsr()
        matrix.sort_indices()
        return cls(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
        )

    @classmethod
    def checked(cls, tensors: dict[str, torch.Tensor], n_items: int, what: str) -> "SparseRows":
        """Rows from checkpoint tensors ``indptr``/``indices``/``values``, every invariant checked.

        A table that does not fit ``n_items`` would otherwise load fine and fail (or
        score wrong items) at first use; here it is a :class:`CheckpointError`.
        """
        indptr, indices, values = (_checked_tensor(tensors, k, what) for k in ("indptr", "indices", "values"))
        for name, t in (("indptr", indptr), ("indices", indices)):
            if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
                raise CheckpointError(f"{what}: '{name}' holds {t.dtype}, expected integers")
        if not values.dtype.is_floating_point:
            raise CheckpointError(f"{what}: 'values' holds {values.dtype}, expected floats")
        indptr, indices = indptr.to(torch.int64), indices.to(torch.int64)
        if indptr.numel() != n_items + 1:
            raise CheckpointError(f"{what}: indptr has {indptr.numel()} entries, expected {n_items + 1} (items + 1)")
        if int(indptr[0]) != 0 or bool((indptr[1:] < indptr[:-1]).any()):
            raise CheckpointError(f"{what}: indptr must start at 0 and never decrease")
        nnz = int(indptr[-1])
        if indices.numel() != nnz or values.numel() != nnz:
            raise CheckpointError(
                f"{what}: indptr promises {nnz} entries, indices has {indices.numel()} and values {values.numel()}"
            )
        if nnz and (int(indices.min()) < 0 or int(indices.max()) >= n_items):
            raise CheckpointError(f"{what}: item indices outside [0, {n_items})")
        if not bool(torch.isfinite(values).all()):
            raise CheckpointError(f"{what}: non-finite values")
        return cls(indptr.contiguous(), indices.contiguous(), values.float().contiguous())

    def to_scipy(self, n_items: int) -> sp.csr_matrix:
        return sp.csr_matrix(
            (self.values.numpy(), self.indices.numpy(), self.indptr.numpy()), shape=(n_items, n_items)
        )

    @property
    def nnz(self) -> int:
        return int(self.indices.numel())

    def dense_rows(self, rows: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """``(len(rows), n_items)`` scores: ``base`` everywhere, overwritten by row entries.

        ``rows`` holds item indices; ``-1`` means "no row" and yields ``base`` alone.
        """
        batch = rows.numel()
        out = base.unsqueeze(0).expand(batch, -1).clone()
        valid = rows >= 0
        safe = torch.where(valid, rows, torch.zeros_like(rows))
        starts = self.indptr[safe]
        counts = torch.where(valid, self.indptr[safe + 1] - starts, torch.zeros_like(starts))
        total = int(counts.sum())
        if total == 0:
            return out
        batch_index = torch.repeat_interleave(torch.arange(batch), counts)
        first = torch.cumsum(counts, 0) - counts
        offsets = torch.arange(total) - torch.repeat_interleave(first - starts, counts)
        out[batch_index, self.indices[offsets]] = self.values[offsets]
        return out


def popularity_fallback(popularity: torch.Tensor) -> torch.Tensor:
    """Scores in ``(-1, 0)`` ordered by popularity: below every positive score.

    Models that only score some items (LastItem, Item-KNN) rank the rest by training
    popularity this way, so unscored items are never arbitrarily tied.
    """
    pop = popularity.double()
    return (pop / (pop.max() + 1.0) - 1.0).float()


def keep_top_per_row(matrix: sp.csr_matrix, top_n: int) -> sp.csr_matrix:
    """Keep the ``top_n`` largest entries of every row (ties: lower column index first)."""
    matrix = matrix.tocsr()
    if top_n <= 0:
        return matrix
    coo = matrix.tocoo()
    order = np.lexsort((coo.col, -coo.data, coo.row))
    rows, cols, vals = coo.row[order], coo.col[order], coo.data[order]
    row_start = np.searchsorted(rows, rows, side="left")
    keep = (np.arange(len(rows)) - row_start) < top_n
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=matrix.shape)


def _checked_tensor(tensors: dict[str, torch.Tensor], name: str, what: str) -> torch.Tensor:
    if name not in tensors or not isinstance(tensors[name], torch.Tensor):
        raise CheckpointError(f"{what}: tensor '{name}' is missing")
    t = tensors[name]
    if t.dim() != 1:
        raise CheckpointError(f"{what}: '{name}' has shape {tuple(t.shape)}, expected one dimension")
    return t


def checked_fallback(tensors: dict[str, torch.Tensor], n_items: int) -> torch.Tensor:
    """The ``fallback`` score vector of a checkpoint, checked: float, ``(n_items,)``, finite, in ``[-1, 0)``."""
    t = _checked_tensor(tensors, "fallback", "fallback scores")
    if not t.dtype.is_floating_point or t.numel() != n_items:
        raise CheckpointError(f"fallback scores: {t.dtype} of length {t.numel()}, expected floats of length {n_items}")
    if n_items and not (torch.isfinite(t).all() and (t >= -1).all() and (t < 0).all()):
        raise CheckpointError("fallback scores: values outside [-1, 0) (they must rank below every table score)")
    return t.float()
