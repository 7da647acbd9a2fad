"""Performance record of the current code on this machine (prints figures; not a test).

    python scripts/perf_record.py                       # every section, default datasets
    python scripts/perf_record.py --sections eval memory --eval-datasets data/diginetica

Sections (``--sections``, default all):

* ``train``   GRU4Rec at the reference setting (cross-entropy, 100 units, n_sample 2048,
              the official RSC15 parameters), one epoch at batch 32 and at batch 128.
* ``busy``    the same training on the first ``--busy-sessions`` sessions, quiet and with
              one other CPU-bound process (a busy loop) on the machine, interleaved
              quiet / busy / quiet / busy; prints busy as a share of quiet.
* ``eval``    the ``evaluate`` command's work for every model on each ``--eval-datasets``:
              accuracy metrics only, then with every metric (coverage, popularity,
              intra-list diversity), the overhead of the latter, and for GRU4Rec the
              compute floor (its score matrix products alone for the same events).
* ``sampled`` the sampled-negatives protocol against full ranking for each ``--sampled-models``
              on each ``--eval-datasets`` (every metric, 99 negatives): full ranking, then
              sampler 2 (default) uniform and popularity, then sampler 1 (the older exponential
              keys) uniform, twice in turn; prints each time and its ratio to full ranking.
* ``memory``  peak RSS of GRU4Rec training and of evaluating it, each in a fresh process,
              on ``--memory-dataset``, next to the size a full (events x items) score
              matrix would have.
* ``latency`` per-click ``recommend(k=20)`` latency p50/p95 of every model on
              ``--latency-dataset``, ``--sessions`` test sessions replayed click by click.

Every section prints the load average when it starts: compare figures only within one
run on a quiet machine. Datasets are prepared folders (``python -m sessrec prepare
shared``); the demo stands in where one is missing. Same-run ratios against the official
GRU4Rec code: ``scripts/compare_official.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sessrec  # noqa: F401  (first: it asks OpenMP to wait passively before torch loads)
import torch

ROOT = Path(__file__).resolve().parents[1]

from sessrec.data.dataset import load_dataset
from sessrec.data.sessions import Sessions
from sessrec.evaluation import evaluate
from sessrec.evaluation.evaluator import SCORE_BLOCK_ROWS, prepare_test, session_cosine
from sessrec.evaluation.ranking import warm_up
from sessrec.models.factory import make_model
from sessrec.models.registry import REGISTRY
from sessrec.data.sessions import ItemIndex
from sessrec.runtime import available_cpus, peak_rss_mb

#: official RSC15 best parameters (cross-entropy, shared embedding)
REFERENCE = dict(loss="cross-entropy", layers=[100], dropout_p_embed=0.1, dropout_p_hidden=0.0,
                 learning_rate=0.1, momentum=0.0, n_sample=2048, sample_alpha=0.75, logq=1.0,
                 constrained_embedding=True, n_epochs=1, seed=1)
SECTIONS = ("train", "busy", "eval", "sampled", "memory", "latency")
NON_NEURAL = [spec.name for spec in REGISTRY if spec.family != "neural"]


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def pick(path: str) -> Path:
    return Path(path) if (Path(path) / "dataset.json").is_file() else ROOT / "data" / "demo"


def gru4rec(batch_size: int):
    return make_model("gru4rec", {**REFERENCE, "batch_size": batch_size})


def train_events_per_s(train: Sessions, batch_size: int, n_threads: int | None = None) -> float:
    return float(train_log(train, batch_size, n_threads)["events_per_s"])


def train_log(train: Sessions, batch_size: int, n_threads: int | None = None) -> dict:
    """The last epoch's log record of one GRU4Rec training at the reference setting."""
    model = make_model("gru4rec", {**REFERENCE, "batch_size": batch_size, "n_threads": n_threads})
    return model.fit(train, progress=False).training_log[-1]


def section_train(dataset_path: Path) -> None:
    dataset = load_dataset(dataset_path)
    print(f"\n[train] {dataset.name}, {dataset.train.n_events} events, GRU4Rec reference setting, 1 epoch; {load()}")
    for batch_size in (32, 128):
        started = time.perf_counter()
        rate = train_events_per_s(dataset.train, batch_size)
        print(f"  batch {batch_size:>3d}: {rate:9.0f} events/s ({time.perf_counter() - started:.1f} s with set-up)")


def section_busy(dataset_path: Path, n_sessions: int) -> None:
    dataset = load_dataset(dataset_path)
    keep = np.zeros(dataset.train.n_sessions, dtype=bool)
    keep[:n_sessions] = True
    train = dataset.train.select(keep)
    threads = torch.get_num_threads()
    print(f"\n[busy] {dataset.name}, first {keep.sum()} sessions ({train.n_events} events), batch 32, "
          f"{threads} torch threads for {available_cpus()} usable CPUs; {load()}")
    # the default (the count adapts, the result is that of one thread) and a fixed count
    for label, n_threads in ((f"adaptive 1-{threads} threads (default)", None), (f"fixed {threads} threads", threads)):
        rates: dict[str, list[float]] = {"quiet": [], "busy": []}
        for condition in ("quiet", "busy", "quiet", "busy"):
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if condition == "busy" else None
            try:
                time.sleep(0.5 if hog else 0.0)
                record = train_log(train, 32, n_threads)
            finally:
                if hog:
                    hog.kill()
                    hog.wait()
            rates[condition].append(record["events_per_s"])
            windows = record["thread_windows"]
            shown = ("; timing windows per thread count " + ", ".join(f"{k}: {v}" for k, v in windows.items())) if windows else ""
            print(f"  {label}, {condition:5s}: {rates[condition][-1]:9.0f} events/s{shown}")
        share = np.mean(rates["busy"]) / np.mean(rates["quiet"])
        print(f"  {label}: with one busy-loop process beside it, training keeps {share:.0%} of its quiet throughput")


def score_floor_seconds(model, n_events: int) -> float:
    """Time of GRU4Rec's score products alone for ``n_events`` rows, in the evaluator's blocks."""
    state = tuple(torch.randn(SCORE_BLOCK_ROWS, h) for h in model.layers)
    n_blocks = math.ceil(n_events / SCORE_BLOCK_ROWS)
    with torch.inference_mode():
        model.scores(state)
        started = time.perf_counter()
        for _ in range(n_blocks):
            model.scores(state)
    return time.perf_counter() - started


def section_eval(dataset_path: Path, models: list[str], repeats: int = 1) -> None:
    dataset = load_dataset(dataset_path)
    train, test = dataset.train, dataset.test
    print(f"\n[eval] {dataset.name}: {train.unique_items().size} items; every model evaluated on the test split, "
          f"first with accuracy metrics only, then with every metric"
          f"{f', {repeats} rounds in turn (fastest shown, all listed)' if repeats > 1 else ''}; {load()}")
    print(f"  compiled ranking loops loaded in {warm_up():.2f} s (once per process; not in the times below)")
    started = time.perf_counter()
    session_cosine(train, ItemIndex.from_items(train.items))  # what diversity@k reads; kept for later evaluations
    print(f"  cosine table for diversity@k built in {time.perf_counter() - started:.2f} s (once per training set, "
          "shared by every model evaluated on it; not in the times below)")
    for name in models:
        model = gru4rec(128) if name == "gru4rec" else make_model(name, {})
        started = time.perf_counter()
        model.fit(train, progress=False) if name == "gru4rec" else model.fit(train)
        fit_s = time.perf_counter() - started
        times: dict[str, list[float]] = {"accuracy": [], "full": [], "floor": []}
        for _ in range(repeats):  # in turn, so that a slow spell of the machine touches each about alike
            accuracy = evaluate(model, test, min_position=dataset.min_position, beyond_accuracy=False)
            full = evaluate(model, test, min_position=dataset.min_position, train=train)
            times["accuracy"].append(accuracy.seconds)
            times["full"].append(full.seconds)
            if name == "gru4rec":
                times["floor"].append(score_floor_seconds(model, accuracy.n_events))
        best = {key: min(values) for key, values in times.items() if values}
        line = (f"  {name:>13s}: fit {fit_s:6.1f} s | eval {best['accuracy']:6.2f} s accuracy only, "
                f"{best['full']:6.2f} s every metric ({best['full'] / best['accuracy'] - 1:+.0%}), "
                f"{full.n_events / best['full']:8.0f} events/s | Recall@20 {full.metrics['recall@20']:.4f}")
        if "floor" in best:
            line += (f" | floor (score products alone) {best['floor']:.2f} s; to the floor: accuracy only "
                     f"{best['accuracy'] / best['floor']:.2f}x, every metric {best['full'] / best['floor']:.2f}x")
        print(line, flush=True)
        if repeats > 1:
            print("      every round: " + "; ".join(f"{key} " + " ".join(f"{v:.2f}" for v in values)
                                                for key, values in times.items() if values), flush=True)


def section_sampled(dataset_path: Path, models: list[str], rounds: int = 2) -> None:
    dataset = load_dataset(dataset_path)
    train, test = dataset.train, dataset.test
    print(f"\n[sampled] {dataset.name}: {train.unique_items().size} items; full ranking against 99 sampled "
          f"negatives (every metric), {rounds} rounds in turn; {load()}")
    variants = {"full ranking": {}, "sampler 2 uniform": dict(protocol="sampled", sampling="uniform"),
                "sampler 2 popularity": dict(protocol="sampled", sampling="popularity"),
                "sampler 1 uniform": dict(protocol="sampled", sampling="uniform", sampler=1)}
    for name in models:
        model = gru4rec(128) if name == "gru4rec" else make_model(name, {})
        model.fit(train, progress=False) if name == "gru4rec" else model.fit(train)
        seconds: dict[str, list[float]] = {label: [] for label in variants}
        for _ in range(rounds):
            for label, options in variants.items():
                result = evaluate(model, test, min_position=dataset.min_position, train=train, **options)
                seconds[label].append(result.seconds)
        full = min(seconds["full ranking"])
        print(f"  {name}: " + " | ".join(
            f"{label} {min(s):.2f}-{max(s):.2f} s ({min(s) / full:.2f}x)" for label, s in seconds.items()), flush=True)


def section_memory(dataset_path: Path) -> None:
    dataset = load_dataset(dataset_path)
    n_items = dataset.train.unique_items().size
    n_events = prepare_test(dataset.test, ItemIndex.from_items(dataset.train.items), dataset.min_position).n_eval_events
    print(f"\n[memory] {dataset.name}: peak RSS of a fresh process; a full (events x items) float32 score "
          f"matrix would take {n_events * n_items * 4 / 2**30:.1f} GiB; {load()}")
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "gru4rec.pt"
        for phase in ("train", "evaluate"):
            done = subprocess.run([sys.executable, __file__, "--memory-worker", phase, str(dataset_path), str(checkpoint)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"memory worker ({phase}) failed:\n{done.stderr[-2000:]}")
            print(f"  {phase:>8s} GRU4Rec (batch 128): peak RSS {json.loads(done.stdout.splitlines()[-1])['peak_mb']:7.0f} MB")


def memory_worker(phase: str, dataset_path: str, checkpoint: str) -> None:
    from sessrec.models.io import load_model, save_model

    dataset = load_dataset(dataset_path)
    if phase == "train":
        save_model(gru4rec(128).fit(dataset.train, progress=False), checkpoint)
    else:
        evaluate(load_model(checkpoint), dataset.test, min_position=dataset.min_position, train=dataset.train)
    print(json.dumps({"peak_mb": peak_rss_mb()}))


def catalogue_sessions(train: Sessions) -> Sessions:
    """Short sessions that together contain every training item once: one cheap epoch gives
    a neural model the full catalogue (and so the full output layer) for a latency figure,
    which does not depend on the weights."""
    import pandas as pd

    items = np.sort(train.unique_items())
    items = items[: len(items) // 2 * 2]
    return Sessions.from_frame(pd.DataFrame({"SessionId": np.arange(len(items)) // 2, "ItemId": items,
                                             "Time": np.arange(len(items))}))


def latency_model(name: str, train: Sessions):
    if name == "gru4rec":
        return gru4rec(128).fit(train, progress=False)
    if name == "embedding_knn":  # its GRU4Rec, one epoch over the catalogue
        return make_model(name, {"gru4rec_params": {**REFERENCE, "batch_size": 128}}).fit(catalogue_sessions(train))
    spec = next(spec for spec in REGISTRY if spec.name == name)
    if spec.family == "neural":  # one epoch over the catalogue: weights of the right shape, untrained
        return make_model(name, {"n_epochs": 1}).fit(catalogue_sessions(train), progress=False)
    return make_model(name, {}).fit(train)


def section_latency(dataset_path: Path, n_sessions: int, models: list[str]) -> None:
    dataset = load_dataset(dataset_path)
    test = dataset.test
    chosen = np.random.default_rng(0).choice(test.n_sessions, size=min(n_sessions, test.n_sessions), replace=False)
    print(f"\n[latency] {dataset.name}: per-click recommend(k=20), {dataset.train.unique_items().size} items, "
          f"{len(chosen)} test sessions replayed click by click (neural models other than GRU4Rec: untrained "
          f"weights of the full catalogue's shape); {load()}")
    for name in models:
        model = latency_model(name, dataset.train)
        times = []
        for s in chosen:
            items = test.session(int(s))
            for p in range(1, len(items) + 1):
                started = time.perf_counter()
                model.recommend(items[:p], k=20)
                times.append(time.perf_counter() - started)
        ms = np.array(times) * 1000
        print(f"  {name:>13s}: p50 {np.percentile(ms, 50):7.2f} ms  p95 {np.percentile(ms, 95):7.2f} ms  ({len(ms)} clicks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--train-dataset", default="data/yoochoose1_64", help="train and busy sections")
    parser.add_argument("--busy-sessions", type=int, default=20000, help="training sessions in the busy section")
    parser.add_argument("--eval-datasets", nargs="+", default=["data/yoochoose1_64", "data/diginetica"])
    parser.add_argument("--eval-repeats", type=int, default=1,
                        help="rounds of the eval section's timings, in turn; the fastest of each is shown")
    parser.add_argument("--eval-models", nargs="+", default=NON_NEURAL + ["gru4rec"],
                        help="models of the eval section (default: every non-neural one and GRU4Rec)")
    parser.add_argument("--latency-models", nargs="+", default=[spec.name for spec in REGISTRY],
                        help="models of the latency section (default: every registered model)")
    parser.add_argument("--sampled-models", nargs="+", default=["last_item", "gru4rec"],
                        help="sampled section: models timed under both protocols")
    parser.add_argument("--memory-dataset", default="data/diginetica")
    parser.add_argument("--latency-dataset", default="data/diginetica")
    parser.add_argument("--sessions", type=int, default=150, help="test sessions replayed in the latency section")
    parser.add_argument("--threads", type=int, help="torch threads for every section (default: torch's own "
                        "count); 1 compares like with like on a machine shared with another job")
    parser.add_argument("--memory-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        return memory_worker(*args.memory_worker)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads {args.threads}: at least 1")
        torch.set_num_threads(args.threads)
        os.environ["SESSREC_THREADS"] = str(args.threads)  # the models' own thread choice follows it

    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores "
          f"({available_cpus()} usable), torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, no GPU; {load()}")
    if "train" in args.sections:
        section_train(pick(args.train_dataset))
    if "busy" in args.sections:
        section_busy(pick(args.train_dataset), args.busy_sessions)
    if "eval" in args.sections:
        for path in args.eval_datasets:
            section_eval(pick(path), args.eval_models, args.eval_repeats)
    if "sampled" in args.sections:
        for path in args.eval_datasets:
            section_sampled(pick(path), args.sampled_models)
    if "memory" in args.sections:
        section_memory(pick(args.memory_dataset))
    if "latency" in args.sections:
        section_latency(pick(args.latency_dataset), args.sessions, args.latency_models)


if __name__ == "__main__":
    main()
