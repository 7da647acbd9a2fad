"""`evaluate`: checkpoints and freshly fitted models on a dataset's test split."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from sessrec.cli.common import (EXIT_OK, TIE_MODE_HELP, add_protocol_options, check_min_position, check_output_file,
                                int_at_least, sampled_settings)
from sessrec.errors import ParameterError, SessrecError


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import check_known_items, load_dataset
    from sessrec.evaluation import evaluate, paired_test
    from sessrec.experiments.runs.training import train_model
    from sessrec.models.io import load_model

    from sessrec.cli.user_context import evaluate_user_folder, is_user_context_folder

    if is_user_context_folder(args.dataset):
        return evaluate_user_folder(args)
    if args.out:
        check_output_file(args.out, "--out")
    if args.ranks:
        check_output_file(args.ranks, "--ranks", (".npz",))
    if not args.checkpoint and not args.model:
        raise ParameterError("nothing to evaluate: give --checkpoint FILE and/or --model NAME")
    dataset = load_dataset(args.dataset)
    test_split = "valid" if args.split == "valid" else "test"
    train_split = "train_tr" if args.split == "valid" else "train"
    test = dataset.sessions(test_split)
    train = dataset.sessions(train_split)
    check_known_items(test.items, train.items, f"{dataset.path}: {test_split} split", train_split)
    min_position = dataset.min_position if args.min_position is None else args.min_position
    check_min_position(min_position, test, test_split)
    # checked on the training catalogue before any work, and again per model below
    sampled = sampled_settings(args, len(train.unique_items()), f"the {dataset.name}/{train_split} catalogue")
    models = []
    for path in args.checkpoint or []:
        models.append((Path(path).stem, load_model(path)))
    for name in args.model or []:
        model, _ = train_model(dataset, name, split=train_split, progress=not args.quiet)
        models.append((name, model))
    results = []
    for label, model in models:
        if not np.isin(model.item_index.item_ids, train.unique_items()).all():
            print(f"warning: {label} was trained on items that are not in {dataset.name}/{train_split}", file=sys.stderr)
        protocol = {}
        if sampled is not None:
            sampled_settings(args, model.n_items, f"the catalogue of {label}")
            protocol = sampled.evaluate_options()
        res = evaluate(model, test, ks=tuple(args.ks), tie_mode=args.tie_mode, min_position=min_position,
                       train=train, progress=not args.quiet, **protocol)
        if res.n_events == 0:  # metrics would be 0/0
            raise SessrecError(
                f"{label}: no event of {dataset.path}/{test_split} can be evaluated: every test session has fewer "
                f"than {min_position + 1} items known to the model ({res.counts})"
            )
        results.append((label, res))
        m = res.metrics
        print(f"{label:>24s}  Recall@20 {m.get('recall@20', float('nan')):.4f}  MRR@20 {m.get('mrr@20', float('nan')):.4f}"
              f"  tied targets {res.tied_target_share:.1%} ({args.tie_mode} ties)"
              f"  ({res.n_events} events, {res.seconds:.2f} s)")
        if res.sampled is not None:
            s = res.sampled.metrics
            k = 10 if 10 in args.ks else max(args.ks)
            print(f"{'':>24s}  sampled, {sampled.describe()}: HitRate@{k} {s[f'recall@{k}']:.4f}  "
                  f"MRR@{k} {s[f'mrr@{k}']:.4f}  Precision@{k} {s[f'precision@{k}']:.4f}")
    record = {
        "dataset": dataset.name, "split": test_split, "tie_mode": args.tie_mode, "min_position": min_position,
        "protocol": "full" if sampled is None else "sampled",
        **({} if sampled is None else {"sampled": sampled.record()}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv),
        "results": [{"label": label, **res.summary()} for label, res in results],
    }
    if len(results) > 1:
        base_label, base = results[0]
        record["significance"] = [
            {"a": base_label, "b": label, **paired_test(base.ranks, res.ranks, "mrr", 20).to_dict()}
            for label, res in results[1:]
        ]
    print(_metrics_table(results, args.ks))
    if sampled is not None:
        print(f"sampled protocol ({sampled.describe()}; rank among the target and its negatives):")
        print(_metrics_table([(label, res.sampled) for label, res in results], args.ks))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            rows = [{"label": label, "model": r.model, **r.metrics,
                     **({f"sampled_{key}": v for key, v in r.sampled.metrics.items()} if r.sampled else {})}
                    for label, r in results]
            pd.DataFrame(rows).to_csv(out, index=False)
        else:
            out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}")
    if args.ranks:
        Path(args.ranks).parent.mkdir(parents=True, exist_ok=True)
        arrays = {label: res.ranks for label, res in results}
        arrays.update({f"sampled_{label}": res.sampled.ranks for label, res in results if res.sampled is not None})
        # Any: savez_compressed types its **arrays like its allow_pickle flag, and these are arrays
        np.savez_compressed(args.ranks, **cast(dict[str, Any], arrays))
        print(f"wrote per-event ranks to {args.ranks}")
    if not args.out and not args.ranks:
        print("(results not saved: add --out results.json or .csv, and --ranks ranks.npz for significance tests)")
    return EXIT_OK


def _metrics_table(results: list, ks: list[int]) -> str:
    """Recall, MRR and NDCG at every cut-off, one row per model, as printed by ``evaluate``
    (``results``: ``(label, object with .metrics)`` pairs)."""
    rows = {}
    for label, res in results:
        rows[label] = {f"{name}@{k}": res.metrics.get(f"{key}@{k}", float("nan"))
                       for key, name in (("recall", "Recall"), ("mrr", "MRR"), ("ndcg", "NDCG")) for k in ks}
    return pd.DataFrame(rows).T.to_string(float_format=lambda v: f"{v:.4f}")


def add_commands(sub: Any, subject: str) -> None:
    """Add this group's subcommands to the ``sub`` parsers (``subject``: the subject model's name)."""
    ev = sub.add_parser("evaluate", help="evaluate checkpoints and/or freshly fitted baselines")
    ev.add_argument("--dataset", required=True, help="prepared dataset folder, or a user-context folder "
                    "(data/shop_users: leave-one-out with 99 negatives, P@10/MAP@10, RMSE/MAE)")
    ev.add_argument("--checkpoint", nargs="*", help="checkpoint files")
    ev.add_argument("--model", nargs="*", help="models to fit on the train split first (baselines)")
    ev.add_argument("--split", default="test", choices=["test", "valid"],
                    help="test: train -> test (default); valid: train_tr -> valid (tuning split)")
    ev.add_argument("--tie-mode", default="median", choices=["median", "standard", "conservative"],
                    help=TIE_MODE_HELP)
    ev.add_argument("--min-position", type=int_at_least(1), help="default: the dataset's protocol")
    ev.add_argument("--ks", type=int_at_least(1), nargs="+", default=[1, 5, 10, 20],
                    help="cut-offs k of the metrics (default: 1 5 10 20)")
    ev.add_argument("--out", help="results file (.json or .csv)")
    ev.add_argument("--ranks", help="also write per-event ranks (.npz) for significance tests (sampled protocol: "
                    "also sampled_<label>)")
    add_protocol_options(ev)
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=cmd_evaluate)
