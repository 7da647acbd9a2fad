"""Move committed run records from `standard` to `median` ties (issue 8), honestly.

The run records written before issue 8 kept only `standard` ranks (1 + number of items
scored strictly better) in their `.ranks.npz`; the number of items tied with the target
was not stored, so `median` ranks cannot be recomputed from those files. Therefore:

* the baselines (MostPopular, LastItem, Item-KNN; seconds each) are simply re-run with
  the benchmark runner under the new default (see README, "Reproducing the committed
  results");
* the GRU4Rec runs are not retrained (about 1.5 CPU-hours). Their scores are dot products
  of float vectors, so a tie with the target is rare and `median` = `standard` in practice.
  `check` verifies that on a retrained seed: it re-runs one configuration through the
  benchmark runner, compares its `standard` metrics with the committed record and reports
  its tied-target share and the largest difference between `median` and `standard`;
  `relabel` then marks the old GRU4Rec records as `median` with an explicit note,
  `tied_target_share` null (unknown: never measured for those runs) and their ranks
  untouched.

    python scripts/retie_results.py check --dataset data/rsc15_100k --config benchmarks/rsc15_100k.json \\
        --label gru4rec-xe --seed 1
    python scripts/retie_results.py relabel [--root results]
    git archive 3aabc3a results | tar -x -C /tmp/old     # the records as they were before
    python scripts/retie_results.py compare --old /tmp/old/results [--root results]

`compare` prints old vs new Recall@20, MRR@20 and the tied share of every re-run record and
checks that its `standard` ranks, recomputed as median - n_tied / 2, equal the old ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sessrec.evaluation import metrics_from_ranks  # noqa: E402
from sessrec.experiments.records import RANKS_SUFFIX, record_path  # noqa: E402

CHECK_FILE = "gru4rec_tie_check.json"  # top level of the results root: not a run record


def check(args: argparse.Namespace) -> None:
    """Retrain one GRU4Rec configuration and seed; compare tie modes and the committed record."""
    import torch

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.benchmark import load_specs, run_one

    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.dataset)
    (spec,) = [s for s in load_specs(args.config) if s.label == args.label]
    record, arrays = run_one(dataset, spec, args.seed, tie_mode="median", progress=False)
    median = arrays["ranks"].astype(np.float64)
    n_tied = arrays["n_tied"].astype(np.float64)
    standard = median - n_tied / 2.0
    m_median = metrics_from_ranks(median)
    m_standard = metrics_from_ranks(standard)
    committed_path = record_path(args.root, dataset.name, spec.run_id(args.seed))
    committed = json.loads(committed_path.read_text()) if committed_path.is_file() else None
    result: dict[str, Any] = {
        "dataset": dataset.name, "label": spec.label, "seed": args.seed, "n_events": len(median),
        "tied_target_share": float((n_tied > 0).mean()), "max_n_tied": int(n_tied.max()),
        "max_abs_diff_median_vs_standard": max(abs(m_median[k] - m_standard[k]) for k in m_median),
        "metrics_median": {k: m_median[k] for k in ("recall@20", "mrr@20")},
        "train_seconds": record["train_seconds"], "torch_threads": args.threads,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv),
    }
    if committed is not None:
        old = committed["evaluation"]["metrics"]
        if committed["evaluation"].get("tie_mode") == "standard":
            old_ranks = np.load(committed_path.with_name(committed["ranks_file"]), allow_pickle=False)["ranks"]
            result["committed_standard_metrics"] = {k: old[k] for k in ("recall@20", "mrr@20")}
            result["max_abs_diff_retrained_vs_committed"] = max(abs(m_standard[k] - old[k]) for k in m_standard)
            result["identical_ranks_to_committed"] = bool(np.array_equal(standard.astype(np.float32), old_ranks))
    print(json.dumps(result, indent=2))
    out = Path(args.root) / CHECK_FILE
    checks = json.loads(out.read_text()) if out.is_file() else []
    key = (result["dataset"], result["label"], args.seed)
    checks = [c for c in checks if (c["dataset"], c["label"], c["seed"]) != key]
    out.write_text(json.dumps(checks + [result], indent=2) + "\n")
    print(f"wrote {out}")


def relabel(args: argparse.Namespace) -> None:
    """Mark pre-issue-8 GRU4Rec records (standard ranks, no n_tied) as median, with a note."""
    root = Path(args.root)
    checks_path = root / CHECK_FILE
    checks = json.loads(checks_path.read_text()) if checks_path.is_file() else []
    if not checks or any(c["max_abs_diff_median_vs_standard"] != 0.0 for c in checks):
        sys.exit(f"{checks_path}: run `check` first; relabelling needs retrained seeds whose median and standard "
                 "metrics are identical")
    evidence = "; ".join(f"{c['dataset']} {c['label']} seed {c['seed']}: "
                         f"{round(c['tied_target_share'] * c['n_events'])} of {c['n_events']} targets tied, "
                         "median = standard on every metric" for c in checks)
    n = 0
    for path in sorted(root.glob("*/*.json")):
        record = json.loads(path.read_text())
        ev = record.get("evaluation", {})
        if not str(record.get("model", "")).startswith("gru4rec") or ev.get("tie_mode") != "standard":
            continue
        with np.load(path.with_name(record["ranks_file"]), allow_pickle=False) as data:
            if "n_tied" in data.files:
                continue  # evaluated with tie counts: re-run it instead
        record["protocol"]["tie_mode"] = "median"
        ev["tie_mode"] = "median"
        ev["tied_target_share"] = None
        ev["n_tied_events"] = None
        record["tie_mode_note"] = (
            "Evaluated with `standard` ties before issue 8 and re-labelled `median` without retraining: GRU4Rec "
            "scores are continuous (dot products), so a target tied with another item is rare and both modes give "
            "the same metrics. The tied-target share of this run was not measured (null). Verified on retrained "
            f"seeds ({CHECK_FILE}): {evidence}. Metrics and per-event ranks are the original ones."
        )
        path.write_text(json.dumps(record, indent=2) + "\n")
        n += 1
        print(f"relabelled {path}")
    print(f"{n} GRU4Rec records relabelled ({RANKS_SUFFIX} files unchanged)")


def compare(args: argparse.Namespace) -> None:
    """Old (standard) vs new (median) numbers of every re-run record; standard ranks must match."""
    root, old_root = Path(args.root), Path(args.old)
    print("| dataset | run | Recall@20 old → new | MRR@20 old → new | tied | standard ranks reproduced |")
    print("|---|---|---|---|---|---|")
    for path in sorted(root.glob("*/*.json")):
        old_path = old_root / path.relative_to(root)
        if not old_path.is_file():
            continue
        new, old = json.loads(path.read_text()), json.loads(old_path.read_text())
        with np.load(path.with_name(new["ranks_file"]), allow_pickle=False) as data:
            if "n_tied" not in data.files:
                continue
            standard = data["ranks"].astype(np.float64) - data["n_tied"] / 2.0
        old_ranks = np.load(old_path.with_name(old["ranks_file"]), allow_pickle=False)["ranks"].astype(np.float64)
        same = old["evaluation"]["tie_mode"] == "standard" and np.array_equal(standard, old_ranks)
        m_old, m_new = old["evaluation"]["metrics"], new["evaluation"]["metrics"]
        print(f"| {new['dataset']} | {new['run_id']} | {m_old['recall@20']:.4f} → {m_new['recall@20']:.4f} | "
              f"{m_old['mrr@20']:.4f} → {m_new['mrr@20']:.4f} | {new['evaluation']['tied_target_share']:.1%} | "
              f"{'yes' if same else 'NO'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="retrain one GRU4Rec seed and compare tie modes")
    c.add_argument("--dataset", required=True)
    c.add_argument("--config", required=True)
    c.add_argument("--label", required=True)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--root", default="results")
    c.set_defaults(func=check)
    r = sub.add_parser("relabel", help="mark the old GRU4Rec records as median, with a note")
    r.add_argument("--root", default="results")
    r.set_defaults(func=relabel)
    d = sub.add_parser("compare", help="old vs new numbers of the re-run records")
    d.add_argument("--old", required=True, help="results root as it was before (e.g. from git archive)")
    d.add_argument("--root", default="results")
    d.set_defaults(func=compare)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
