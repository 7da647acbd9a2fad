"""Print the committed benchmark results as Markdown tables (the README's tables).

    python scripts/results_table.py [--root results] [--k 20] [--group main,modern]

Mean ± std over seeds of Recall@k and MRR@k per dataset and model, the share of test
events whose target is tied with another item ("tied", mean over seeds; "n/m" = not
measured: runs evaluated before it was recorded), the tie mode, the number of seeds,
mean training seconds and evaluation seconds; the best value per dataset in bold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sessrec.experiments.records import (  # noqa: E402
    TIED_SHARE,
    aggregate,
    load_run_records,
    metrics_table,
    valid_records,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="results")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--group", default="main,modern",
                        help="run groups, comma-separated (main, modern, losses, factors), or 'all' (default: main,modern)")
    parser.add_argument("--labels", nargs="*", help="only these labels")
    args = parser.parse_args()

    records = [r for r in valid_records(load_run_records(args.root))
               if args.group == "all" or r.get("group", "main") in args.group.split(",")
               or (args.labels and r["label"] in args.labels)]
    if args.labels:
        records = [r for r in records if r["label"] in args.labels]
    if not records:
        sys.exit(f"no run records under {args.root} for group {args.group}")
    table = aggregate(metrics_table(records))
    table = table[table["k"] == args.k]
    timing = pd.DataFrame([{"dataset": r["dataset"], "label": r["label"], "train_s": r["train_seconds"],
                            "eval_s": r["evaluation"]["seconds"]} for r in records])
    timing = timing.groupby(["dataset", "label"]).mean()
    tied = aggregate(metrics_table(records))
    tied = tied[tied["metric"] == TIED_SHARE].set_index(["dataset", "label"])["mean"]
    ties = {}
    for r in records:
        ties.setdefault((r["dataset"], r["label"]), set()).add(r["evaluation"].get("tie_mode", "?"))
    for dataset, part in table.groupby("dataset"):
        print(f"\n**{dataset}** (k = {args.k})\n")
        print(f"| model | Recall@{args.k} | MRR@{args.k} | tied | ties | seeds | train s | eval s |")
        print("|---|---|---|---|---|---|---|---|")
        wide = part.pivot_table(index="label", columns="metric", values=["mean", "std", "n"])
        best = {m: wide[("mean", m)].max() for m in ("recall", "mrr")}
        for label in wide.sort_values(("mean", "mrr"), ascending=False).index:
            cells = []
            for m in ("recall", "mrr"):
                mean, std = wide.loc[label, ("mean", m)], wide.loc[label, ("std", m)]
                text = f"{mean:.4f} ± {std:.4f}" if wide.loc[label, ("n", m)] > 1 else f"{mean:.4f}"
                cells.append(f"**{text}**" if mean == best[m] else text)
            t = timing.loc[(dataset, label)]
            share = f"{tied.loc[(dataset, label)]:.1%}" if (dataset, label) in tied.index else "n/m"
            mode = "/".join(sorted(ties[(dataset, label)]))
            print(f"| {label} | {cells[0]} | {cells[1]} | {share} | {mode} | {int(wide.loc[label, ('n', 'mrr')])} | "
                  f"{t['train_s']:.1f} | {t['eval_s']:.1f} |")


if __name__ == "__main__":
    main()
