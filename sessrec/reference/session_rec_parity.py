"""Parity: session-rec's own V-SKNN, STAN and SR against sessrec's, same data and settings.

Usage::

    python -m sessrec.reference.session_rec_parity /path/to/session-rec --dataset data/rsc15_100k \
        [--models vsknn stan sr] [--events 2000] [--json out.json]

For the first test sessions (at least ``--events`` prediction events; unknown items
removed, positions from the dataset's ``min_position`` on, as sessrec's evaluator does)
both implementations score the whole catalogue after every prefix. Both top-20 lists are
cut with the same rule (score descending, ties by lower item index), so a difference in
the lists is a difference in the scores. Reported per model: share of identical top-20
lists (in order), of identical top-20 sets, of identical top-1, and HitRate@20 / MRR@20
of both on these events (ranks read off those lists: the optimistic ``standard`` reading).
Not needed by the tests; session-rec is never imported by sessrec itself.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


from sessrec.reference.session_rec import (
    PARITY_MODELS, import_session_rec, make_session_rec, test_events, top_n, train_frame,
)

from sessrec.data.dataset import load_dataset
from sessrec.models.factory import make_model


def hit_and_rr(top: np.ndarray, target: int) -> tuple[float, float]:
    where = np.flatnonzero(top == target)
    return (1.0, 1.0 / (where[0] + 1)) if len(where) else (0.0, 0.0)


def compare(checkout: str, dataset_path: str, name: str, max_events: int) -> dict:
    dataset = load_dataset(dataset_path)
    target, sr_params, our_params = PARITY_MODELS[dataset.name][name]
    ours = make_model(name, our_params).fit(dataset.train)
    theirs = make_session_rec(target, sr_params)
    theirs.fit(train_frame(dataset))
    item_ids = ours.item_index.item_ids  # sorted ids: session-rec's series index below uses the same order
    stats = {"same_list": 0, "same_set": 0, "same_top1": 0, "events": 0}
    metrics = {"ours": np.zeros(2), "session_rec": np.zeros(2)}
    seconds = {"ours": 0.0, "session_rec": 0.0}
    for s, items, times in test_events(dataset, item_ids, max_events):
        idx = ours.item_index.to_index(items)
        state = ours.init_state(1)
        for p in range(len(items) - 1):
            started = time.perf_counter()
            with torch.inference_mode():
                state = ours.step(state, torch.tensor([idx[p]]))
                ours_scores = ours.scores(state)[0].numpy() if p + 1 >= dataset.min_position else None
            seconds["ours"] += time.perf_counter() - started
            started = time.perf_counter()
            skip = p + 1 < dataset.min_position
            kwargs = {"timestamp": float(times[p])} if name != "sr" else {}
            series = theirs.predict_next(s, items[p], item_ids, skip=skip, **kwargs)
            seconds["session_rec"] += time.perf_counter() - started
            if skip:
                continue
            assert ours_scores is not None  # scored whenever the event is not skipped
            their_scores = np.nan_to_num(series.to_numpy(np.float64), nan=0.0)
            a, b = top_n(ours_scores.astype(np.float64)), top_n(their_scores)
            stats["events"] += 1
            stats["same_list"] += bool(np.array_equal(a, b))
            stats["same_set"] += bool(np.array_equal(np.sort(a), np.sort(b)))
            stats["same_top1"] += bool(a[0] == b[0])
            metrics["ours"] += hit_and_rr(a, idx[p + 1])
            metrics["session_rec"] += hit_and_rr(b, idx[p + 1])
    n = stats["events"]
    return {
        "dataset": dataset.name, "model": name, "events": n,
        "params": our_params, "session_rec_class": target,
        "identical_top20_lists": stats["same_list"] / n,
        "identical_top20_sets": stats["same_set"] / n,
        "identical_top1": stats["same_top1"] / n,
        "recall@20": {k: v[0] / n for k, v in metrics.items()},
        "mrr@20": {k: v[1] / n for k, v in metrics.items()},
        "events_per_second_batch1": {k: n / v for k, v in seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session_rec", help="path of a session-rec checkout")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", nargs="+", default=["vsknn", "stan", "sr"])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    import_session_rec(args.session_rec)
    results = []
    for name in args.models:
        r = compare(args.session_rec, args.dataset, name, args.events)
        results.append(r)
        print(f"{r['dataset']:12s} {name:6s} events {r['events']}  identical lists {r['identical_top20_lists']:.3f}  "
              f"sets {r['identical_top20_sets']:.3f}  top1 {r['identical_top1']:.3f}  "
              f"R@20 ours {r['recall@20']['ours']:.4f} s-r {r['recall@20']['session_rec']:.4f}  "
              f"MRR@20 ours {r['mrr@20']['ours']:.4f} s-r {r['mrr@20']['session_rec']:.4f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
