"""Test accuracy of a run's best selection epoch, without the refit on all of train.

    OMP_NUM_THREADS=1 python scripts/no_refit_check.py data/diginetica \
        checkpoints/partial/diginetica/narm-seed1.pt [--record results/diginetica/narm-seed1.json]

A neural benchmark run first trains on the training sessions minus a held-out share, keeps
the weights of the epoch with the best held-out Recall@20, and then refits that number of
epochs on all of train; the record is the refit's. The NARM reference code stops at the
first step: it reports the test accuracy of its best validation epoch's weights, trained on
a random 90 % of the training sessions. (The SR-GNN reference code trains on all of train
and reports the best test numbers over its epochs.) This script evaluates those weights,
kept in the run's selection checkpoint (``checkpoints/partial/<dataset>/<run>.pt``, until
the record is written), on the test split with the benchmark's protocol, and prints them
beside the record's refit. It measures what the refit adds; it writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sessrec.data.dataset import load_dataset  # noqa: E402
from sessrec.errors import CheckpointError  # noqa: E402
from sessrec.evaluation import DEFAULT_TIE_MODE, evaluate  # noqa: E402
from sessrec.models.io import load_model  # noqa: E402


def best_epoch_model(path: str | Path):
    """The model in a selection checkpoint, with its best epoch's weights in place of the last."""
    model = load_model(path)
    state = model.checkpoint_meta.get("training_state") or {}
    best = model.best_epoch_weights
    if not best:
        raise CheckpointError(f"{path}: no best-epoch weights: not a selection checkpoint (a refit's, "
                              "'<run>.refit-N.pt', has none), or no epoch was scored yet")
    model.module.load_state_dict(best, strict=True)
    model.module.eval()
    return model, state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="prepared dataset folder")
    parser.add_argument("checkpoint", help="the run's selection checkpoint (checkpoints/partial/<dataset>/<run>.pt)")
    parser.add_argument("--record", help="the run's record, to print the refit's test accuracy beside")
    parser.add_argument("--progress", action="store_true", help="show the evaluation's progress bar")
    args = parser.parse_args(argv)

    try:
        model, state = best_epoch_model(args.checkpoint)
    except CheckpointError as exc:
        parser.error(str(exc))
    dataset = load_dataset(args.dataset)
    # the selection trained on a subset of train, so its catalogue is a subset of train's items
    foreign = ~np.isin(model.item_index.item_ids, np.unique(dataset.train.items))
    if foreign.any():
        parser.error(f"{args.checkpoint}: {int(foreign.sum()):,} of its {len(foreign):,} items are not in "
                     f"{dataset.name}'s training split; was it trained on another dataset?")
    result = evaluate(model, dataset.test, tie_mode=DEFAULT_TIE_MODE, min_position=dataset.min_position,
                      beyond_accuracy=False, progress=args.progress)
    m = result.metrics
    print(f"{model.name} on {dataset.name}: best selection epoch {state.get('best_epoch')} "
          f"(held-out Recall@20 {state.get('best_score') or float('nan'):.4f}), trained without the held-out sessions, "
          f"{len(model.item_index.item_ids):,} items")
    print(f"  test, no refit:    Recall@20 {m['recall@20']:.4f}  MRR@20 {m['mrr@20']:.4f}  ({result.n_events:,} events)")
    if args.record:
        record = json.loads(Path(args.record).read_text())
        r = record["evaluation"]
        print(f"  test, refit ({record.get('selected_epochs')} epochs on all of train, the record): "
              f"Recall@20 {r['metrics']['recall@20']:.4f}  MRR@20 {r['metrics']['mrr@20']:.4f}  ({r['n_events']:,} events)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
