"""Item-to-item tables (transitions, similarities) stored as CSR rows in torch tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


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
