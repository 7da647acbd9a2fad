"""A benchmark process for tests/test_bad_inputs_params.py, in its own small module so a
spawned child imports little more than the runner."""

from __future__ import annotations

import time


def bench_worker(folder: str, root: str, specs, queue, barrier) -> None:
    """Run the benchmark of ``specs`` on ``folder`` into ``root``; runs are slowed down and
    both workers start together, so they overlap. Puts the names of the written records on ``queue``."""
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs import benchmark

    real = benchmark.run_one

    def slow(*args, **kwargs):
        time.sleep(0.4)
        return real(*args, **kwargs)

    benchmark.run_one = slow
    dataset = load_dataset(folder)
    barrier.wait(timeout=120)
    written = benchmark.run_benchmark(dataset, specs, [1], root, progress=False, log=lambda *_: None)
    queue.put([p.name for p in written])
