"""Row-parallel calls of the evaluator's compiled loops.

The loops of :mod:`sessrec.evaluation.kernels` release the GIL, so plain Python threads
run them side by side on contiguous row ranges of a block, within the thread budget the
score products use (torch's thread count).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import torch

#: rows below which a block is not split between threads
_MIN_ROWS_PER_THREAD = 8
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """One process-wide pool for the compiled loops (they release the GIL), grown on demand."""
    global _pool, _pool_size
    if _pool is None or _pool_size < threads:
        _pool, _pool_size = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sessrec-rank"), threads
    return _pool


def run_by_rows(work: Callable[[int, int], Any], n_rows: int, threads: int | None = None) -> list[Any]:
    """Call ``work(start, stop)`` on contiguous row ranges covering ``0..n_rows``, one per thread.

    Every row is computed on its own, so the result does not depend on the split; ``threads``
    defaults to torch's thread count, the budget the score products use. Returns each call's
    result, in row order.
    """
    threads = torch.get_num_threads() if threads is None else threads
    parts = max(1, min(threads, n_rows // _MIN_ROWS_PER_THREAD))
    if parts == 1:
        return [work(0, n_rows)]
    bounds = [n_rows * part // parts for part in range(parts + 1)]  # plain integers: called twice per block
    return list(_thread_pool(parts).map(work, bounds[:-1], bounds[1:]))
