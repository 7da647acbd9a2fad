"""Print the committed benchmark results as Markdown tables (the README's tables).

    python scripts/results_table.py [--root results] [--k 20] [--group main,modern]
    python scripts/results_table.py --sampled [--k 10]

Mean ± std over seeds of Recall@k and MRR@k per dataset and model, the share of test
events whose target is tied with another item ("tied", mean over seeds; "n/m" = not
measured: runs evaluated before it was recorded), the tie mode, the number of seeds,
mean training seconds (epochs summed, epoch selection included: `tables.training_seconds`)
and evaluation seconds; the best value per dataset in bold.
Only full-ranking runs: runs of the sampled protocol are left out of these tables.

``--sampled``: the sampled-protocol runs instead, one table per dataset and sampling
scheme, with each model's full-ranking Recall@k and MRR@k next to its sampled HitRate@k
and MRR@k from the same run, its rank under both (by Recall/HitRate) and the swaps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sessrec.experiments import protocols  # noqa: E402
from sessrec.experiments.records import (  # noqa: E402
    TIED_SHARE,
    aggregate,
    full_ranking_records,
    load_run_records,
)
from sessrec.experiments.records import metrics_table  # noqa: E402
from sessrec.experiments.tables import training_seconds  # noqa: E402


def print_sampled(records: list, k: int) -> None:
    """Markdown tables of the sampled runs: full ranking and sampled metrics side by side."""
    for dataset in protocols.datasets_with_sampled(records):
        for variant in protocols.variants(records, dataset):
            settings = protocols.variant_settings(records, variant)
            recall = protocols.comparison_table(records, dataset, variant, "recall", k)
            mrr = protocols.comparison_table(records, dataset, variant, "mrr", k).set_index("label")
            pairs = protocols.swapped_pairs(recall)
            print(f"\n**{dataset}**, {settings['negatives']} {settings['sampling']} negatives "
                  f"(seed {', '.join(map(str, settings['seeds']))}), k = {k}; Kendall's tau (Recall vs HitRate) "
                  f"{protocols.kendall_tau(recall):.2f}, {len(pairs)} of {len(recall) * (len(recall) - 1) // 2} "
                  "pairs swapped\n")
            print(f"| model | full Recall@{k} | full MRR@{k} | sampled HitRate@{k} | sampled MRR@{k} | "
                  "rank full | rank sampled |")
            print("|---|---|---|---|---|---|---|")
            for _, row in recall.iterrows():
                move = "" if row["change"] == 0 else (f" (↑{row['change']})" if row["change"] > 0 else f" (↓{-row['change']})")
                print(f"| {row['label']} | {row['full']:.4f} | {mrr.loc[row['label'], 'full']:.4f} | "
                      f"{row['sampled']:.4f} | {mrr.loc[row['label'], 'sampled']:.4f} | {row['full_rank']} | "
                      f"{row['sampled_rank']}{move} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="results")
    parser.add_argument("--k", type=int, help="cut-off (default 20; with --sampled 10)")
    parser.add_argument("--group", default="main,modern",
                        help="run groups, comma-separated (main, modern, losses, factors), or 'all' (default: main,modern)")
    parser.add_argument("--labels", nargs="*", help="only these labels")
    parser.add_argument("--sampled", action="store_true",
                        help="the sampled-protocol runs, full ranking beside sampled (default k 10)")
    args = parser.parse_args()

    if args.sampled:
        print_sampled(load_run_records(args.root), args.k or 10)
        return
    args.k = args.k or 20
    records = [r for r in full_ranking_records(load_run_records(args.root))
               if args.group == "all" or r.get("group", "main") in args.group.split(",")
               or (args.labels and r["label"] in args.labels)]
    if args.labels:
        records = [r for r in records if r["label"] in args.labels]
    if not records:
        sys.exit(f"no run records under {args.root} for group {args.group}")
    table = aggregate(metrics_table(records))
    table = table[table["k"] == args.k]
    timing = pd.DataFrame([{"dataset": r["dataset"], "label": r["label"], "train_s": training_seconds(r),
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
