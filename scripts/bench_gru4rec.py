"""Training and evaluation speed (and accuracy) of our GRU4Rec on a shared dataset.

Prints, for every configuration (batch size x hidden layers) and seed: training
events/s per epoch, evaluation events/s, Recall@20 and MRR@20 (standard ties, full
ranking over the training catalogue, every position p >= 1). Figures only, no
assertions: timings depend on the machine and on whatever else runs on it (the load
average is printed with every row; compare runs on a quiet machine).

Examples::

    # the reference setting of the design notes (yoochoose1_64, 2 epochs, 3 seeds)
    python scripts/bench_gru4rec.py --dataset yoochoose1_64 --epochs 2 --seeds 1 2 3
    # rsc15_100k, 5 epochs
    python scripts/bench_gru4rec.py --dataset rsc15_100k --epochs 5 --seeds 1 2 3
    # speed at several batch and layer sizes, one epoch each
    python scripts/bench_gru4rec.py --dataset yoochoose1_64 --configs 32x100 128x100 512x100 32x300 32x100-100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import sessrec  # noqa: F401  (first: it asks OpenMP to wait passively before torch loads)
import torch


from sessrec.data.readers import read_session_table
from sessrec.data.sessions import Sessions
from sessrec.evaluation.evaluator import evaluate
from sessrec.models.gru4rec import GRU4Rec

FILES = {
    "rsc15_100k": ("yoochoose-clicks-100k_train_full.txt.gz", "yoochoose-clicks-100k_test.txt.gz"),
    "yoochoose1_64": ("derived_train_sessions.tsv.gz", "derived_test_sessions.tsv.gz"),
    "diginetica": ("derived_train_sessions.tsv.gz", "derived_test_sessions.tsv.gz"),
    "retailrocket": ("derived_train_sessions.tsv.gz", "derived_test_sessions.tsv.gz"),
}

#: the reference setting (official RSC15 best parameters, cross-entropy, shared embedding)
REFERENCE = dict(
    loss="cross-entropy", layers=[100], batch_size=32, dropout_p_embed=0.1, dropout_p_hidden=0.0,
    learning_rate=0.1, momentum=0.0, n_sample=2048, sample_alpha=0.75, logq=1.0, constrained_embedding=True,
)


def load(dataset: str, root: Path) -> tuple[Sessions, Sessions]:
    train_file, test_file = FILES[dataset]
    folder = root / dataset
    if not folder.is_dir():
        sys.exit(f"{folder}: not found (give --data-root)")
    return (Sessions.from_frame(read_session_table(folder / train_file)),
            Sessions.from_frame(read_session_table(folder / test_file)))


def parse_config(text: str) -> tuple[int, list[int]]:
    """``32x100`` -> batch 32, layers [100]; ``32x100-100`` -> two layers."""
    batch, layers = text.split("x")
    return int(batch), [int(h) for h in layers.split("-")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="yoochoose1_64", choices=sorted(FILES))
    parser.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--configs", nargs="+", default=["32x100"], help="BATCHxH1[-H2...], e.g. 32x100 128x100-100")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--eval-batch", type=int, default=512)
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="override reference parameters (JSON values), e.g. loss='\"bpr-max\"'")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train, test = load(args.dataset, args.data_root)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    print(f"{args.dataset}: {train.n_sessions} training sessions, {train.n_events} events; "
          f"{test.n_sessions} test sessions; torch threads {torch.get_num_threads()}")
    print(f"{'config':>12} {'seed':>5} {'train ev/s (per epoch)':>32} {'eval ev/s':>10} {'eval s':>7} "
          f"{'R@20':>7} {'MRR@20':>7}  load")
    rows = []
    for config in args.configs:
        batch, layers = parse_config(config)
        results = []
        for seed in args.seeds:
            params = {**REFERENCE, "batch_size": batch, "layers": layers, "n_epochs": args.epochs, "seed": seed}
            params.update(overrides)
            load_before = os.getloadavg()[0]
            model = GRU4Rec(**params).fit(train, progress=False)
            speeds = [r["events_per_s"] for r in model.training_log]
            started = time.perf_counter()
            result = evaluate(model, test, ks=(20,), batch_size=args.eval_batch, beyond_accuracy=False)
            eval_seconds = time.perf_counter() - started
            row = {
                "dataset": args.dataset, "config": config, "seed": seed, "epochs": args.epochs,
                "train_events_per_s": speeds, "eval_events": result.n_events, "eval_seconds": eval_seconds,
                "eval_events_per_s": result.n_events / eval_seconds,
                "recall@20": result.metrics["recall@20"], "mrr@20": result.metrics["mrr@20"],
                "unknown_test_items_removed": result.counts["n_unknown_items_removed"],
                "loadavg_1min": load_before, "threads": torch.get_num_threads(),
            }
            rows.append(row)
            results.append(row)
            print(f"{config:>12} {seed:>5} {' '.join(f'{s:,.0f}' for s in speeds):>32} "
                  f"{row['eval_events_per_s']:>10,.0f} {eval_seconds:>7.2f} "
                  f"{row['recall@20']:>7.4f} {row['mrr@20']:>7.4f}"
                  f"  {load_before:.2f}", flush=True)
        if len(results) > 1:
            recall = np.mean([r["recall@20"] for r in results])
            mrr = np.mean([r["mrr@20"] for r in results])
            speed = np.mean([np.mean(r["train_events_per_s"]) for r in results])
            print(f"{config:>12} {'mean':>5} {speed:>32,.0f} {'':>10} {'':>7} {recall:>7.4f} {mrr:>7.4f}")
    print(f"test items unknown to training, removed before evaluation: {rows[0]['unknown_test_items_removed']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
