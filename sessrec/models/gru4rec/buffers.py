"""Reusable score memory for GRU4Rec's training and streaming scores."""

from __future__ import annotations

import sys
import threading

import numpy as np
import torch
from torch import Tensor


class ScoreBuffers:
    """Memory for large score matrices, reused once every tensor using it is gone.

    A (512, 17k) float32 score matrix is 35 MB, more than malloc keeps on its heap, so
    each fresh one is newly mapped memory that the kernel zeroes page by page: that
    costs as much as the matrix product itself. The buffers here are NumPy arrays lent
    out through ``torch.from_numpy``; a tensor (and every view of it) keeps its array
    alive, so an array that only this pool references is free to lend again.
    """

    MIN_BYTES = 8 << 20  # smaller matrices come cheaply from malloc's heap
    KEEP = 3  # the evaluator still holds the previous matrix while asking for the next

    def __init__(self) -> None:
        self._arrays: list[np.ndarray] = []
        self._lock = threading.Lock()

    def empty(self, rows: int, cols: int) -> Tensor:
        """An uninitialised ``(rows, cols)`` float32 tensor."""
        if rows * cols * 4 < self.MIN_BYTES:
            return torch.empty(rows, cols)
        with self._lock:
            for array in self._arrays:
                # references: the list, the loop variable, getrefcount's argument
                if array.shape == (rows, cols) and sys.getrefcount(array) <= 3:
                    return torch.from_numpy(array)
            raw = np.empty(rows * cols + 16, np.float32)
            skip = (-raw.ctypes.data % 64) // 4  # 64-byte aligned, as torch allocates
            array = raw[skip : skip + rows * cols].reshape(rows, cols)
            if len(self._arrays) >= self.KEEP:
                self._arrays.pop(0)
            self._arrays.append(array)
            return torch.from_numpy(array)
