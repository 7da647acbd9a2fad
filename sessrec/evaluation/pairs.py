"""A hash table of item-pair values, for looking up millions of pairs at once in NumPy.

The diversity metric needs the cosine of every item pair in every top-k list (190 pairs
per top-20 list, about ten million per test set). A binary search in the sorted CSR keys
costs some twenty dependent memory reads per pair; this open-addressing table (linear
probing, load at most one half) finds a pair in one or two.

Built in two vectorised steps without an insertion loop: keys are sorted by their home
slot, and key ``i`` of that order lands at ``i + max(home[j] - j for j <= i)``, the slot
linear probing gives it when keys are inserted in that order. The table is not wrapped
around: it is as long as the last occupied slot plus one empty slot, so every probe
sequence ends at an empty slot.

Where every key fits in 32 bits (catalogues of at most 65,535 items) and the values are
float32, a slot is one 64-bit word, key above value: the table is a third smaller and a
probe reads one cache line instead of two (the diversity sums measured about a quarter
faster on yoochoose1_64 and Diginetica). Other tables keep separate key and value arrays.
"""

from __future__ import annotations

import numpy as np

from sessrec.models.sparse_rows import SparseRows

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: 2**64 / golden ratio, odd
_EMPTY = -1
#: an empty slot of the packed layout: all ones, above every key it can hold (at most 65535**2 - 1)
_PACKED_EMPTY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
#: the largest catalogue whose pair keys fit the packed layout's 32 bits
PACKED_MAX_ITEMS = 65_535


class PairTable:
    """Values of unordered item pairs ``{a, b}`` (``a != b``) of a symmetric item table."""

    def __init__(self, table: SparseRows, n_items: int):
        indptr = table.indptr.numpy()
        rows = np.repeat(np.arange(n_items, dtype=np.int64), np.diff(indptr))
        columns = table.indices.numpy()
        upper = rows < columns  # the table is symmetric: each pair once
        keys = rows[upper] * n_items + columns[upper]
        self.n_items = n_items
        self.bits = max(int(np.ceil(np.log2(max(2 * len(keys), 16)))), 4)
        home = self._home(keys)
        order = np.argsort(home, kind="stable")
        home = home[order]
        ranks = np.arange(len(keys), dtype=np.int64)
        slots = ranks + np.maximum.accumulate(home - ranks) if len(keys) else ranks
        length = max(1 << self.bits, int(slots[-1]) + 1 if len(keys) else 0) + 1
        values = table.values.numpy()[upper][order]
        #: the packed layout (one uint64 per slot), or empty when the table uses keys and values
        self.packed = np.empty(0, dtype=np.uint64)
        self.keys = np.empty(0, dtype=np.int64)
        self.values = np.empty(0, dtype=values.dtype)
        if n_items <= PACKED_MAX_ITEMS and values.dtype == np.float32:
            self.packed = np.full(length, _PACKED_EMPTY, dtype=np.uint64)
            self.packed[slots] = (keys[order].astype(np.uint64) << np.uint64(32)) | values.view(np.uint32)
        else:
            self.keys = np.full(length, _EMPTY, dtype=np.int64)
            self.values = np.zeros(length, dtype=values.dtype)
            self.keys[slots] = keys[order]
            self.values[slots] = values

    def slot_keys(self) -> np.ndarray:
        """The key held by every slot (-1 where empty), whatever the layout."""
        return self._read(slice(None))[0]

    def _read(self, slots: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)`` held by ``slots`` (key -1 where empty)."""
        if not len(self.packed):
            return self.keys[slots], self.values[slots]
        words = self.packed[slots]
        keys = np.where(words == _PACKED_EMPTY, _EMPTY, (words >> np.uint64(32)).astype(np.int64))
        return keys, (words & np.uint64(0xFFFF_FFFF)).astype(np.uint32).view(np.float32)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        """Home slot of each (non-negative int64) key (the keys are left unchanged)."""
        hashed = keys.view(np.uint64) * _MULTIPLIER  # wraps modulo 2**64, as intended
        hashed >>= np.uint64(64 - self.bits)
        return hashed.view(np.int64)

    def lookup(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Value of each pair ``(first[i], second[i])`` (any order; 0 where the table has none), float64."""
        shape = np.shape(first)
        low = np.minimum(first, second).astype(np.int64, copy=False).ravel()
        keys = np.maximum(first, second).astype(np.int64).ravel()
        keys += low * self.n_items
        slots = self._home(keys)
        found, values = self._read(slots)
        out = np.where(found == keys, values, 0).astype(np.float64)  # most pairs: one probe
        pending = np.flatnonzero((found != keys) & (found != _EMPTY))  # slot taken by another pair
        slots = slots[pending] + 1
        while len(pending):
            found, values = self._read(slots)
            hit = found == keys[pending]
            out[pending[hit]] = values[hit]
            more = ~hit & (found != _EMPTY)
            pending, slots = pending[more], slots[more] + 1
        return out.reshape(shape)

    def running_sums(self, top: np.ndarray, pair_a: np.ndarray, pair_b: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """``(lists, len(ends))`` float64: for each list ``top[r]``, the sum of the values of its
        pairs ``(top[r, pair_a[p]], top[r, pair_b[p]])`` over ``p < ends[j]``. Equal, bit for bit,
        to ``lookup(top[:, pair_a], top[:, pair_b]).cumsum(1)[:, ends - 1]`` (0 where ``ends``
        is 0), in one compiled pass with no pair arrays."""
        from sessrec.evaluation.kernels import pair_running_sums  # compiled on first use
        from sessrec.evaluation.parallel import run_by_rows

        out = np.empty((len(top), len(ends)), dtype=np.float64)
        lists = np.ascontiguousarray(top, dtype=np.int64)
        pair_a, pair_b, ends = (np.ascontiguousarray(x, dtype=np.int64) for x in (pair_a, pair_b, ends))

        def rows(start: int, stop: int) -> None:
            pair_running_sums(lists[start:stop], pair_a, pair_b, ends, self.packed, self.keys, self.values,
                              self.bits, self.n_items, out[start:stop])

        run_by_rows(rows, len(top))
        return out

