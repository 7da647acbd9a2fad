"""Speed of sessrec's session-kNN / rules models against session-rec's, in one run.

Usage::

    python -m sessrec.reference.session_rec_speed /path/to/session-rec --dataset data/diginetica \
        [--models vsknn stan sr] [--session-rec-events 1000] [--json out.json]

Ours: fit, then the full score vector after every prefix of every test session (the whole
test set, blocks of 512 sessions in parallel), each model in a fresh subprocess so its
peak RSS (dataset included) is its own; ``--with-evaluator`` also times our evaluator
(scores + ranking + metrics) over the test set. session-rec's ``predict_next`` likewise
returns the full score vector and no ranking, so scoring against scoring is the fair pair.
session-rec: its fit, then ``predict_next`` over the catalogue for the first
``--session-rec-events`` prediction events, the way its evaluation loop calls it (its
per-event pure-Python cost is flat, so events/s over a prefix extrapolates). Settings: the
published ones in ``session_rec.PARITY_MODELS``. Prints events/s of both, the ratio, and
the 1-minute load average before and after (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch


from sessrec.reference.session_rec import PARITY_MODELS, import_session_rec, make_session_rec, test_events, train_frame

from sessrec.data.dataset import load_dataset


def score_all(model, test, batch_size: int = 512) -> tuple[int, float]:
    """Score the whole catalogue after every prefix of every test session, no ranking.

    Sessions go in blocks of ``batch_size`` slots; each step scores only the slots whose
    session still has a target. Returns (events scored, seconds).
    """
    from sessrec.evaluation.evaluator import prepare_test

    prepared = prepare_test(test, model.item_index, 1)
    offsets, items = prepared.offsets, prepared.items
    n_events, started = 0, time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, prepared.n_sessions, batch_size):
            sessions = range(lo, min(lo + batch_size, prepared.n_sessions))
            lengths = np.array([offsets[s + 1] - offsets[s] for s in sessions])
            state = model.init_state(len(lengths))
            for p in range(int(lengths.max()) - 1):
                step_items = torch.tensor([items[offsets[s] + p] if p < n else -1 for s, n in zip(sessions, lengths)])
                state = model.step(state, step_items)
                active = np.flatnonzero(lengths > p + 1)
                sub = tuple(state[i] for i in active) if isinstance(state, tuple) else state[torch.from_numpy(active)]
                model.scores(sub)
                n_events += len(active)
    return n_events, time.perf_counter() - started


def ours(dataset_path: str, name: str, with_evaluator: bool) -> dict:
    """Fit + score (and optionally evaluate) one of our models (a subprocess of :func:`main`)."""
    from sessrec.evaluation import evaluate
    from sessrec.models.factory import make_model

    torch.set_num_threads(1)
    dataset = load_dataset(dataset_path)
    params = PARITY_MODELS[dataset.name][name][2]
    started = time.perf_counter()
    model = make_model(name, params).fit(dataset.train)
    fit_s = time.perf_counter() - started
    n_events, seconds = score_all(model, dataset.test)
    out = {"fit_seconds": fit_s, "events": n_events, "score_seconds": seconds,
           "events_per_second": n_events / seconds}
    if with_evaluator:
        result = evaluate(model, dataset.test, tie_mode="median", min_position=dataset.min_position,
                          train=dataset.train, progress=False)
        out.update({"eval_seconds": result.seconds, "eval_events_per_second": result.n_events / result.seconds,
                    "recall@20": result.metrics["recall@20"], "mrr@20": result.metrics["mrr@20"]})
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def theirs(dataset_path: str, name: str, max_events: int) -> dict:
    dataset = load_dataset(dataset_path)
    target, params, _ = PARITY_MODELS[dataset.name][name]
    model = make_session_rec(target, params)
    frame = train_frame(dataset)
    started = time.perf_counter()
    model.fit(frame)
    fit_s = time.perf_counter() - started
    item_ids = dataset.train.unique_items()
    n, spent = 0, 0.0
    for s, items, times in test_events(dataset, item_ids, max_events):
        for p in range(len(items) - 1):
            kwargs = {"timestamp": float(times[p])} if name != "sr" else {}
            started = time.perf_counter()
            model.predict_next(s, items[p], item_ids, skip=p + 1 < dataset.min_position, **kwargs)
            spent += time.perf_counter() - started
            n += p + 1 >= dataset.min_position
    return {"fit_seconds": fit_s, "events": n, "seconds": spent, "events_per_second": n / spent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("session_rec", nargs="?", help="path of a session-rec checkout")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--models", nargs="+", default=["vsknn", "stan", "sr"])
    parser.add_argument("--session-rec-events", type=int, default=1000)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--with-evaluator", action="store_true",
                        help="also time our full evaluator (ranking, metrics) over the test set")
    parser.add_argument("--ours-only", help=argparse.SUPPRESS)  # subprocess mode
    args = parser.parse_args()
    if args.ours_only:
        print(json.dumps(ours(args.dataset, args.ours_only, args.with_evaluator)))
        return
    if not args.session_rec:
        parser.error("the path of a session-rec checkout is required")
    import_session_rec(args.session_rec)
    torch.set_num_threads(1)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    for name in args.models:
        load_before = os.getloadavg()[0]
        command = [sys.executable, "-m", "sessrec.reference.session_rec_speed", "--dataset", args.dataset, "--ours-only", name]
        out = subprocess.run(command + (["--with-evaluator"] if args.with_evaluator else []),
                             check=True, capture_output=True, text=True, env=env)
        mine = json.loads(out.stdout.strip().splitlines()[-1])
        other = theirs(args.dataset, name, args.session_rec_events)
        row = {"model": name, "dataset": args.dataset, "ours": mine, "session_rec": other,
               "speedup": mine["events_per_second"] / other["events_per_second"],
               "load_1min": [load_before, os.getloadavg()[0]], "cpu_count": os.cpu_count()}
        rows.append(row)
        evaluator = (f" (with our evaluator: {mine['eval_seconds']:.1f} s = {mine['eval_events_per_second']:.0f} ev/s)"
                     if "eval_seconds" in mine else "")
        print(f"{name:6s} ours: fit {mine['fit_seconds']:.1f} s, {mine['events']} events scored in "
              f"{mine['score_seconds']:.1f} s = {mine['events_per_second']:.0f} ev/s{evaluator}, "
              f"peak RSS {mine['peak_rss_mb']:.0f} MB | session-rec: fit "
              f"{other['fit_seconds']:.1f} s, {other['events']} events = {other['events_per_second']:.1f} ev/s | "
              f"x{row['speedup']:.0f} | load {row['load_1min'][0]:.2f} -> {row['load_1min'][1]:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
