"""Accuracy of the authors' SR-GNN code on a prepared split, epoch by epoch (prints figures; not a test).

Trains the reference PyTorch code (CRIPAC-DIG/SR-GNN ``pytorch_code``, kept outside this
checkout, never committed) exactly as ``sessrec/reference/srgnn.py`` does, on
every training prefix with the paper's settings, and after *every* epoch scores the test
split with our evaluator (Recall@20 / MRR@20, every test prefix, whole catalogue,
``median`` ties). The reference's own ``main.py`` reports the best test value over its
epochs (each metric's maximum on its own); that line is printed too, beside each epoch's
numbers, so its published figure can be set against what its code reaches on our split::

    python -m sessrec.reference.srgnn_accuracy --reference ../scratch/SR-GNN/pytorch_code \\
        --dataset data/diginetica --epochs 5 --threads 1 --state ../scratch/srgnn_ref_dig.pt

The run is long (a reference epoch on Diginetica takes about half an hour on two cores),
so after each epoch the training state (network, Adam, scheduler) and the epoch results
go to ``--state`` (plain tensors and numbers, read back with ``weights_only=True``); the
same command continues from there. The reference shuffles its training cases with NumPy's
global generator: a resumed run re-seeds it and replays the finished epochs' shuffles
(cheap), so it trains on the same batches as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


from sessrec.reference import srgnn as compare


def run_settings(ref: Any, args: argparse.Namespace) -> dict[str, Any]:
    """What a saved state must match to be resumed: the dataset, the seed and the case count."""
    return {"dataset": str(Path(args.dataset).resolve()), "seed": args.seed, "n_cases": ref.n_cases}


def load_state(path: Path, ref: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Restore a saved run into ``ref`` (after replaying its shuffles); the finished epochs' results."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    expected = run_settings(ref, args)
    saved = json.loads(state["settings"])
    if saved != expected:
        sys.exit(f"{path}: saved for {saved}, not {expected}; use another --state")
    epochs = json.loads(state["epochs"])
    for _ in epochs:  # the same NumPy draws as the finished epochs made, so the next shuffle is the same
        ref.train_data.generate_batch(ref.net.batch_size)
    ref.net.load_state_dict(state["network"])
    ref.net.optimizer.load_state_dict(state["optimizer"])
    ref.net.scheduler.load_state_dict(state["scheduler"])
    return epochs


def save_state(path: Path, ref: Any, args: argparse.Namespace, epochs: list[dict[str, Any]]) -> None:
    """Write the training state and the results so far atomically."""
    import torch

    settings = run_settings(ref, args)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"network": ref.net.state_dict(), "optimizer": ref.net.optimizer.state_dict(),
                "scheduler": ref.net.scheduler.state_dict(), "settings": json.dumps(settings),
                "epochs": json.dumps(epochs)}, tmp)
    os.replace(tmp, path)


def print_table(epochs: list[dict[str, Any]], published: tuple[float, float] | None) -> None:
    """Each epoch's numbers, then the best of each metric over the epochs (the reference's own
    report) and, given ``published``, its relative difference from the paper."""
    print(f"\n{'epoch':>5} {'lr':>7} {'loss':>7} {'train s':>8} {'eval s':>7} | {'Recall@20':>9} {'MRR@20':>7}")
    for e, row in enumerate(epochs, 1):
        print(f"{e:>5} {row['lr']:7.0e} {row['loss']:7.4f} {row['wall_s']:8.0f} {row['eval_s']:7.0f} | "
              f"{row['recall']:9.4f} {row['mrr']:7.4f}")
    recall = max(epochs, key=lambda r: r["recall"])
    mrr = max(epochs, key=lambda r: r["mrr"])
    line = (f"best over {len(epochs)} epoch(s), each metric on its own as the reference's main.py reports: "
            f"Recall@20 {recall['recall']:.4f} (epoch {epochs.index(recall) + 1}), "
            f"MRR@20 {mrr['mrr']:.4f} (epoch {epochs.index(mrr) + 1})")
    if published:
        line += (f"; against the published {published[0]:.4f} / {published[1]:.4f}: "
                 f"{recall['recall'] / published[0] - 1:+.2%} / {mrr['mrr'] / published[1] - 1:+.2%}")
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="folder holding the reference model.py and utils.py")
    parser.add_argument("--dataset", required=True, help="prepared dataset folder")
    parser.add_argument("--epochs", type=int, default=5, help="epochs to train in all (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    parser.add_argument("--state", required=True, help="file for the training state (resumed from if it exists)")
    parser.add_argument("--published", type=float, nargs=2, metavar=("RECALL", "MRR"),
                        help="published Recall@20 and MRR@20 (fractions) to compare the best epoch with")
    parser.add_argument("--max-batches", type=int, default=0,
                        help="cut every epoch after this many mini-batches (smoke test; default 0: whole epochs)")
    args = parser.parse_args()
    if args.epochs < 1 or args.threads < 1 or args.seed < 0 or args.max_batches < 0:
        parser.error("--epochs and --threads must be >= 1, --seed and --max-batches >= 0")
    missing = [f for f in ("model.py", "utils.py") if not (Path(args.reference) / f).is_file()]
    if missing:
        sys.exit(f"{args.reference}: no {' or '.join(missing)} (the reference's pytorch_code folder goes there)")
    state = Path(args.state)
    if not state.parent.is_dir():
        sys.exit(f"--state {state}: folder {state.parent} does not exist")

    ref = compare.reference_setup(args)
    epochs = load_state(state, ref, args) if state.exists() else []
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, no GPU; {args.dataset}; "
          f"{ref.n_cases} training cases; {args.threads} thread(s); seed {args.seed}; "
          f"{len(epochs)} epoch(s) done, {max(args.epochs - len(epochs), 0)} to go; load "
          f"{compare.load()}", flush=True)
    while len(epochs) < args.epochs:
        row = compare.reference_epoch(ref, args.max_batches, progress=True)
        row.update(compare.reference_accuracy(ref))
        epochs.append(row)
        save_state(state, ref, args, epochs)
        print(f"epoch {len(epochs)}: lr {row['lr']:.0e} loss {row['loss']:.4f} {row['wall_s']:.0f} s; "
              f"Recall@20 {row['recall']:.4f} MRR@20 {row['mrr']:.4f} ({row['test_events']} test events, "
              f"eval {row['eval_s']:.0f} s); load {compare.load()}", flush=True)
    print_table(epochs, tuple(args.published) if args.published else None)


if __name__ == "__main__":
    main()
