"""Seconds per training epoch of the neural comparators, extrapolated from a few mini-batches.

    OMP_NUM_THREADS=1 python scripts/neural_epoch_cost.py data/yoochoose1_64 --batches 20 [--models narm srgnn]

Runs each model's own batching and loss (one thread, default hyperparameters) for
``--batches`` mini-batches after 3 warm-up ones and prints CPU and wall time per batch
and per epoch. Report the machine's load (``uptime``) next to the numbers.
"""

from __future__ import annotations

import argparse
import os
import time

import sessrec  # noqa: F401  (first: it asks OpenMP to wait passively before torch loads)
import torch


from sessrec.data.dataset import load_dataset
from sessrec.data.sessions import ItemIndex
from sessrec.models.io import model_class
from sessrec.models.neural.cases import make_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--models", nargs="*", default=["narm", "sasrec", "srgnn"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = load_dataset(args.dataset).train
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name in args.models:
        model = model_class(name)()
        model.item_index = ItemIndex.from_items(train.items)
        cases = model._cases(train, model.item_index.to_index(train.items))
        torch.manual_seed(0)
        model.module = model._build_module(model.n_items)
        model.optimizer = model._make_optimizer()
        model.module.train()
        batches = model._batches(cases)
        for b, index in enumerate(batches[: args.batches + 3]):
            if b == 3:
                wall, cpu = time.perf_counter(), time.process_time()
            loss = model._batch_loss(make_batch(cases, index))
            model.optimizer.zero_grad()
            loss.backward()
            model.optimizer.step()
        n = min(args.batches, len(batches) - 3)
        wall, cpu = (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n
        print(f"{name}: {len(batches)} batches/epoch; CPU {cpu * 1000:.0f} ms/batch -> {cpu * len(batches):.0f} s/epoch; "
              f"wall {wall * 1000:.0f} ms/batch -> {wall * len(batches):.0f} s/epoch")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
