"""Re-clicks: how much of each model's Recall@k comes from items already in the session.

    python -m sessrec.tools.reclicks data/retailrocket [--results results] [--k 20]

Every test event the benchmark ranks is a re-click when its true item occurs earlier in
the same session, new otherwise. For every run of the dataset's main comparison (the RQ1
models, mean over seeds) this prints Recall@k on re-clicks and on new items, over all
events and over the rarest fifth of targets by training clicks (the first popularity
bucket of the RQ4 breakdown). ``python -m sessrec results --breakdown reclick`` and the
Benchmarks page's RQ4 give the first two columns for any metric. The events are rebuilt
from the prepared dataset and checked against each run's ranks file (same count, same
targets), so a run evaluated on other events is reported and left out rather than misread.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd


from sessrec.data.dataset import load_dataset
from sessrec.evaluation.metrics import per_event_metric
from sessrec.experiments.analysis.breakdowns import BenchmarkEvents, benchmark_events, popularity_edges
from sessrec.experiments.analysis.questions import records_for
from sessrec.experiments.records import load_ranks, load_run_records
from sessrec.experiments.analysis.tables import pretty_label, to_markdown


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``values[mask]``; NaN (shown as "-") when no event is in ``mask``."""
    return float(values[mask].mean()) if mask.any() else float("nan")


def reclick_table(records: list[dict], events: BenchmarkEvents, k: int = 20) -> tuple[pd.DataFrame, dict]:
    """Recall@k per model (mean over seeds) on re-clicks and new items, overall and in the
    rarest fifth; and the event counts behind the columns. Runs on other events are skipped."""
    rows, skipped, rare, reclick = [], [], None, events.reclick
    for record in records:
        if not events.matches(record):
            skipped.append(record["run_id"])
            continue
        ranks = load_ranks(record, "ranks")
        if rare is None:  # one split for all models, from the training clicks of the targets
            popularity = load_ranks(record, "target_popularity")
            rare = popularity < popularity_edges(popularity)[1]
        hit = per_event_metric(ranks, "recall", k)
        rows.append({"Model": pretty_label(record["label"]),
                     "re-clicks": _mean(hit, reclick), "new": _mean(hit, ~reclick),
                     "rarest fifth: re-clicks": _mean(hit, rare & reclick), "rarest fifth: new": _mean(hit, rare & ~reclick)})
    if not rows:
        return pd.DataFrame(), {"skipped": skipped}
    assert rare is not None  # set with the first row
    table = pd.DataFrame(rows).groupby("Model").mean().sort_values("new", ascending=False)
    counts = {"events": len(reclick), "reclicks": int(reclick.sum()), "rare": int(rare.sum()),
              "rare_reclicks": int((rare & reclick).sum()), "skipped": skipped}
    return table, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="prepared dataset folder (data/<name>)")
    parser.add_argument("--results", default="results", help="results root (default: results)")
    parser.add_argument("--k", type=int, default=20, help="cut-off of Recall@k (default: 20)")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    dataset = load_dataset(args.dataset)
    records = records_for(load_run_records(args.results), "rq1", dataset.name)
    if not records:
        parser.error(f"no run of {dataset.name} under {args.results}")
    table, counts = reclick_table(records, benchmark_events(dataset), args.k)
    for run_id in counts["skipped"]:
        print(f"{run_id}: evaluated on other test events than the dataset's; left out", file=sys.stderr)
    if table.empty:
        parser.error(f"no run of {dataset.name} was evaluated on its current test events")
    n, r = counts["events"], counts["reclicks"]
    print(f"**{dataset.name}: Recall@{args.k}; {n:,} test events, {r:,} re-clicks ({r / n:.1%}); rarest fifth of "
          f"targets: {counts['rare']:,} events, {counts['rare_reclicks']:,} re-clicks "
          f"({counts['rare_reclicks'] / max(counts['rare'], 1):.1%})**\n")
    print(to_markdown(table.apply(lambda column: [f"{v:.4f}" if v == v else "-" for v in column])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
