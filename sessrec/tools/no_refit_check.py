"""Test accuracy of a run's best selection epoch, without the refit on all of train.

    OMP_NUM_THREADS=1 python -m sessrec.tools.no_refit_check data/diginetica \
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

Two more differences from the NARM reference's own measurement can be applied:
``--first-clicks 19`` cuts every test prefix longer than 19 clicks to its *first* 19, as
the reference's ``data_process.load_data`` (``maxlen=19``, ``x[:maxlen]``) does to its
training and test sequences; and every line also gives the metrics over all test targets of
the split, counting those outside the model's catalogue as misses (the published test sets
keep targets never seen in training; the benchmark leaves them out).

``--last-weights`` evaluates the checkpoint's last epoch instead of its best one: a refit's
or a later seed's per-epoch checkpoint (``<run>.epochs-N.pt``, which holds the record's
weights after its last epoch until the runner deletes it), so that ``--first-clicks`` can be
measured on the weights a record was scored with.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


from sessrec.data.dataset import load_dataset
from sessrec.errors import CheckpointError
from sessrec.evaluation import DEFAULT_TIE_MODE, evaluate
from sessrec.evaluation.evaluator import EvalResult, prepare_test
from sessrec.evaluation.metrics import metrics_from_ranks, ranks_of_targets
from sessrec.models.io import load_model


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


def last_epoch_model(path: str | Path):
    """The model in a per-epoch training checkpoint, with the weights of its last trained epoch."""
    model = load_model(path)
    state = model.checkpoint_meta.get("training_state") or {}
    if not state.get("epoch"):
        raise CheckpointError(f"{path}: no trained epoch recorded: not a per-epoch training checkpoint")
    model.module.eval()
    return model, state


def first_clicks_ranks(model, test, result: EvalResult, first_clicks: int, block: int = 256) -> np.ndarray:
    """``result``'s ranks with every prefix longer than ``first_clicks`` clicks cut to its first
    ``first_clicks``: the events after that position are ranked from the state after the
    session's first ``first_clicks`` clicks (what the NARM reference's truncation feeds its model)."""
    ranks = result.ranks.copy()
    long_events = np.flatnonzero(result.positions > first_clicks)
    if not len(long_events):
        return ranks
    prepared = prepare_test(test, model.item_index, result.min_position)
    sessions = np.unique(result.session_index[long_events])
    heads = np.stack([prepared.items[prepared.offsets[s]:prepared.offsets[s] + first_clicks] for s in sessions])
    for start in range(0, len(sessions), block):
        chunk = heads[start:start + block]
        state = model.init_state(len(chunk))
        for t in range(first_clicks):
            state = model.step(state, torch.from_numpy(chunk[:, t]))
        scores = model.scores(state)
        events = long_events[np.isin(result.session_index[long_events], sessions[start:start + block])]
        rows = np.searchsorted(sessions[start:start + block], result.session_index[events])
        ranks[events] = ranks_of_targets(scores[torch.from_numpy(rows)], torch.from_numpy(result.targets[events]),
                                         result.tie_mode).numpy()
    return ranks


def _line(label: str, ranks: np.ndarray, n_targets: int) -> str:
    """Recall@20 / MRR@20 over the evaluated events, and over all ``n_targets`` targets of the split."""
    m = metrics_from_ranks(ranks, (20,))
    share = len(ranks) / n_targets
    return (f"  {label:<34} Recall@20 {m['recall@20']:.4f}  MRR@20 {m['mrr@20']:.4f}  ({len(ranks):,} events); "
            f"over all {n_targets:,} targets: {m['recall@20'] * share:.4f} / {m['mrr@20'] * share:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="prepared dataset folder")
    parser.add_argument("checkpoint", help="the run's selection checkpoint (checkpoints/partial/<dataset>/<run>.pt), "
                        "or with --last-weights any per-epoch training checkpoint")
    parser.add_argument("--record", help="the run's record, to print the refit's test accuracy beside")
    parser.add_argument("--first-clicks", type=int, metavar="N",
                        help="also rank with every prefix longer than N clicks cut to its first N (NARM's reference: 19)")
    parser.add_argument("--last-weights", action="store_true",
                        help="evaluate the checkpoint's last epoch, not its best selection epoch")
    parser.add_argument("--progress", action="store_true", help="show the evaluation's progress bar")
    args = parser.parse_args(argv)
    if args.first_clicks is not None and args.first_clicks < 1:
        parser.error("--first-clicks must be at least 1")

    try:
        model, state = (last_epoch_model if args.last_weights else best_epoch_model)(args.checkpoint)
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
    # every position from min_position on is a target in the split, whether or not the model knows its item
    n_targets = int(np.clip(dataset.test.lengths - dataset.min_position, 0, None).sum())
    if args.last_weights:
        weights = "last weights"
        print(f"{model.name} on {dataset.name}: weights after epoch {state['epoch']}, "
              f"{len(model.item_index.item_ids):,} items")
    else:
        weights = "no refit"
        print(f"{model.name} on {dataset.name}: best selection epoch {state.get('best_epoch')} "
              f"(held-out Recall@20 {state.get('best_score') or float('nan'):.4f}), trained without the held-out "
              f"sessions, {len(model.item_index.item_ids):,} items")
    print(_line(f"test, {weights}:", result.ranks, n_targets))
    if args.first_clicks is not None:
        n_long = int((result.positions > args.first_clicks).sum())
        print(_line(f"test, {weights}, first {args.first_clicks} clicks:",
                    first_clicks_ranks(model, dataset.test, result, args.first_clicks), n_targets)
              + f"  [{n_long:,} prefixes longer than {args.first_clicks}]")
    if args.record:
        record = json.loads(Path(args.record).read_text())
        r = record["evaluation"]
        recall, mrr, share = r["metrics"]["recall@20"], r["metrics"]["mrr@20"], r["n_events"] / n_targets
        print(f"  test, refit ({record.get('selected_epochs')} epochs on all of train, the record): "
              f"Recall@20 {recall:.4f}  MRR@20 {mrr:.4f}  ({r['n_events']:,} events); "
              f"over all {n_targets:,} targets: {recall * share:.4f} / {mrr * share:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
