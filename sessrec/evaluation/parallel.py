"""Row-parallel calls of the evaluator's compiled loops.

The loops of :mod:`sessrec.evaluation.kernels` release the GIL, so plain Python threads
run them side by side on contiguous row ranges of a block, within the thread budget the
score products use (torch's thread count).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
import torch

#: rows below which a block is not split between threads
_MIN_ROWS_PER_THREAD = 8
_pool: ThreadPoolExecutor | None = None


def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """One process-wide pool for the compiled loops (they release the GIL), grown on demand."""
    global _pool
    if _pool is None or _pool._max_workers < threads:  # noqa: SLF001  (no public size)
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sessrec-rank")
    return _pool


def run_by_rows(kernel: Callable[..., Any], n_rows: int, row_arrays: tuple[np.ndarray, ...],
                shared: tuple[Any, ...], threads: int | None = None) -> list[Any]:
    """Call ``kernel(*row_slices, *shared)`` on contiguous row ranges, one per thread.

    ``row_arrays`` are split along their first axis (inputs and outputs alike: every row is
    computed on its own, so the result does not depend on the split); ``threads`` defaults
    to torch's thread count, the budget the score products use. Returns each call's result.
    """
    threads = torch.get_num_threads() if threads is None else threads
    parts = max(1, min(threads, n_rows // _MIN_ROWS_PER_THREAD))
    if parts == 1:
        return [kernel(*row_arrays, *shared)]
    bounds = np.linspace(0, n_rows, parts + 1).astype(int)
    calls = [[array[start:stop] for array in row_arrays] for start, stop in zip(bounds[:-1], bounds[1:])]
    pool = _thread_pool(parts)
    return list(pool.map(lambda sliced: kernel(*sliced, *shared), calls))
