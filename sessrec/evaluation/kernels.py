"""The evaluator's compiled inner loop: rank counts, a finiteness check and a top-k list per row.

One score block from the model, then, row by row while the row is in the processor's
cache: a first loop over every item counts the items scored above and exactly as the
target and the non-finite scores (LLVM vectorises it: three comparisons per item, no
branch); a second loop keeps the ``k + 1`` best items, skipping every chunk of
``CHUNK`` items with nothing above the current ``(k + 1)``-th best score (one vectorised
comparison per item; the insertions are rare after the first chunks).

Equal to the plain computation, bit for bit: the comparisons are exact, and a row whose
``k + 1`` best scores are not all distinct is reported as *unsettled*, for the caller to
take its list from ``torch.topk`` over the row, so tied items are ordered as torch orders
them. When the ``k + 1`` best are distinct, the first ``k`` of them are the top k in the
only possible order: every item left out scored at most the ``(k + 1)``-th.

Compiled with numba on first use (cached on disk beside this file; ``numba`` is imported
only here, so importing sessrec stays light).
"""

from __future__ import annotations

import numba
import numpy as np

#: items per chunk of the top-k loop's skip test (a constant trip count, so LLVM unrolls it)
CHUNK = 64
#: every how many items the sample that sets the top-k loop's first bar takes one
SAMPLE_STRIDE = 8


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _row_counts(row, target_score):  # pragma: no cover - compiled; tested through rank_rows
    better = 0
    equal = 0
    bad = 0
    infinity = np.inf
    for i in range(row.shape[0]):
        value = row[i]
        better += np.int64(value > target_score)
        equal += np.int64(value == target_score)
        bad += np.int64(not (np.abs(value) < infinity))  # NaN and +-inf
    return better, equal, bad


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _sample_bound(row, rank):  # pragma: no cover - compiled
    """The ``rank``-th best score of every ``SAMPLE_STRIDE``-th item: a guess of a score
    that slightly more than ``rank * SAMPLE_STRIDE`` items of the row reach."""
    best = np.full(rank, -np.inf)
    for i in range(0, row.shape[0], SAMPLE_STRIDE):
        value = row[i]
        if value > best[rank - 1]:
            position = rank - 1
            while position > 0 and best[position - 1] < value:
                best[position] = best[position - 1]
                position -= 1
            best[position] = value
    return best[rank - 1]


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _offer(value, index, lower, best_values, best_indices, filled):  # pragma: no cover - compiled
    """Put one item into the descending buffers if it belongs there; returns the new fill."""
    capacity = best_values.shape[0]
    if filled < capacity:
        if value < lower:
            return filled
    elif not value > best_values[capacity - 1]:
        return filled
    position = filled if filled < capacity else capacity - 1
    while position > 0 and best_values[position - 1] < value:
        best_values[position] = best_values[position - 1]
        best_indices[position] = best_indices[position - 1]
        position -= 1
    best_values[position] = value
    best_indices[position] = index
    return min(filled + 1, capacity)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _top(row, lower, best_values, best_indices):  # pragma: no cover - compiled
    """Fill the descending buffers with the row's best items among those scored at least
    ``lower``; returns how many it holds (fewer than its size: too few reach ``lower``).

    Chunks with nothing at or above the bar (``lower``, then the buffer's last score once
    it is full) are skipped after one vectorised test. Equal scores keep the earlier
    item first."""
    capacity = best_values.shape[0]
    n_items = row.shape[0]
    body = n_items // CHUNK * CHUNK
    filled = 0
    bar = lower
    for start in range(0, body, CHUNK):
        above = 0
        for i in range(CHUNK):
            above += np.int64(row[start + i] >= bar)
        if above:
            for i in range(start, start + CHUNK):
                filled = _offer(row[i], i, lower, best_values, best_indices, filled)
            if filled == capacity:
                bar = best_values[capacity - 1]
    for i in range(body, n_items):
        filled = _offer(row[i], i, lower, best_values, best_indices, filled)
    return filled


@numba.njit(cache=True, nogil=True, boundscheck=False)
def rank_rows(values, targets, top_k, better, tied, top, unsettled):  # pragma: no cover
    """Fill ``better``, ``tied``, ``top`` and ``unsettled`` for every row of ``values``.

    ``values``: a C-contiguous float32/float64 ``(rows, items)`` block; ``targets``: one
    item per row. ``better[r]``: items above the target; ``tied[r]``: other items scored as
    it; with ``top_k > 0``, ``top[r]``: the ``top_k`` best items, best first, valid where
    ``unsettled[r]`` is False. Returns the number of non-finite scores in the block; when it
    is not 0 the other outputs mean nothing (the caller refuses the block).
    """
    n_rows, n_items = values.shape
    capacity = top_k + 1
    best_values = np.empty(capacity, dtype=values.dtype)
    best_indices = np.empty(capacity, dtype=np.int64)
    sample_rank = capacity // SAMPLE_STRIDE + 2
    n_bad = 0
    for r in range(n_rows):
        row = values[r]
        row_better, row_equal, row_bad = _row_counts(row, row[targets[r]])
        better[r] = row_better
        tied[r] = row_equal - 1  # minus the target itself
        n_bad += row_bad
        if top_k == 0 or row_bad:
            continue
        # a bar from a sample first: few chunks reach it; if fewer than k + 1 items do, no bar
        filled = 0
        if n_items >= capacity * SAMPLE_STRIDE * 4:
            filled = _top(row, _sample_bound(row, sample_rank), best_values, best_indices)
        if filled < capacity:
            filled = _top(row, -np.inf, best_values, best_indices)
        settled = True
        for j in range(min(top_k, filled - 1)):
            if best_values[j] <= best_values[j + 1]:
                settled = False
        unsettled[r] = not settled
        for j in range(min(top_k, filled)):
            top[r, j] = best_indices[j]
    return n_bad


@numba.njit(cache=True, nogil=True, boundscheck=False)
def pair_running_sums(top, pair_a, pair_b, ends, packed, keys, values, bits, n_items, out):  # pragma: no cover
    """Running sums of the pair values of every list, read at ``ends``.

    For list ``r`` (``top[r]``), ``out[r, j]`` is the float64 sum, in pair order, of the table
    values of the pairs ``(top[r, pair_a[p]], top[r, pair_b[p]])`` for ``p < ends[j]``: the
    same additions, in the same order, as ``cumsum`` over :meth:`PairTable.lookup`'s values,
    so the result is equal bit for bit. ``packed`` (when not empty) or ``keys``/``values``:
    the open-addressing table of :class:`~sessrec.evaluation.pairs.PairTable` (Fibonacci
    hashing, linear probing; an empty packed slot is all ones, an empty key -1).
    """
    multiplier = np.uint64(0x9E3779B97F4A7C15)
    shift = np.uint64(64 - bits)
    use_packed = packed.shape[0] > 0
    empty_word = np.uint64(0xFFFFFFFFFFFFFFFF)
    low_bits = np.uint64(0xFFFFFFFF)
    n_pairs = pair_a.shape[0]
    for r in range(top.shape[0]):
        total = 0.0
        j = 0
        for p in range(n_pairs):
            while j < ends.shape[0] and ends[j] == p:
                out[r, j] = total
                j += 1
            a = top[r, pair_a[p]]
            b = top[r, pair_b[p]]
            key = np.int64(max(a, b)) + np.int64(min(a, b)) * n_items
            slot = np.int64((np.uint64(key) * multiplier) >> shift)
            value = 0.0
            if use_packed:
                wanted = np.uint64(key)
                while True:
                    word = packed[slot]
                    if word >> np.uint64(32) == wanted:  # an empty word's key (2**32 - 1) is no key
                        value = np.float64(np.uint32(word & low_bits).view(np.float32))
                        break
                    if word == empty_word:
                        break
                    slot += 1
            else:
                while True:
                    found = keys[slot]
                    if found == key:
                        value = np.float64(values[slot])
                        break
                    if found == -1:
                        break
                    slot += 1
            total += value
        while j < ends.shape[0]:
            out[r, j] = total
            j += 1
