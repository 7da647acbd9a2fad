"""Performance record of the current code on this machine (prints figures; not a test).

    python scripts/perf_record.py [--dataset data/yoochoose1_64] [--latency-dataset data/diginetica]
                                  [--epochs 1] [--sessions 200]

Prints: GRU4Rec training events/s at the benchmark settings (cross-entropy, 100 units,
batch 32, n_sample 2048), evaluation time and events/s of every model, and per-click
recommend() latency p50/p95 of every model on the largest catalogue. Datasets are
prepared folders (``python -m sessrec prepare shared``); the demo is used where absent.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sessrec.data.dataset import load_dataset  # noqa: E402
from sessrec.evaluation import evaluate  # noqa: E402
from sessrec.models.factory import make_model  # noqa: E402

BENCH_GRU4REC = {
    "loss": "cross-entropy", "layers": [100], "batch_size": 32, "dropout_p_embed": 0.1, "dropout_p_hidden": 0.0,
    "learning_rate": 0.1, "momentum": 0.0, "n_sample": 2048, "sample_alpha": 0.75, "logq": 1.0,
    "constrained_embedding": True,
}


def pick(path: str) -> Path:
    return Path(path) if (Path(path) / "dataset.json").is_file() else Path("data/demo")


def fit_all(dataset, epochs: int) -> dict:
    models = {}
    for name in ("most_popular", "last_item", "item_knn", "gru4rec"):
        params = {**BENCH_GRU4REC, "n_epochs": epochs, "seed": 1} if name == "gru4rec" else {}
        model = make_model(name, params)
        started = time.perf_counter()
        model.fit(dataset.train, progress=False) if name == "gru4rec" else model.fit(dataset.train)
        seconds = time.perf_counter() - started
        models[name] = model
        if name == "gru4rec":
            eps = [e["events_per_s"] for e in model.training_log]
            print(f"  train {name:>12s}: {seconds:7.1f} s, {np.mean(eps):9.0f} events/s (mean over {len(eps)} epoch(s))")
        else:
            print(f"  fit   {name:>12s}: {seconds:7.2f} s")
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/yoochoose1_64")
    parser.add_argument("--latency-dataset", default="data/diginetica")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=200, help="test sessions replayed click by click")
    args = parser.parse_args()

    print(f"date {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), no GPU used")
    dataset = load_dataset(pick(args.dataset))
    print(f"\n[{dataset.name}] training ({dataset.train.n_events} events) and evaluation:")
    models = fit_all(dataset, args.epochs)
    for name, model in models.items():
        result = evaluate(model, dataset.test, min_position=dataset.min_position, beyond_accuracy=False)
        print(f"  eval  {name:>12s}: {result.seconds:6.2f} s for {result.n_events} events "
              f"({result.n_events / result.seconds:9.0f} events/s)  Recall@20 {result.metrics['recall@20']:.4f}")

    latency_data = load_dataset(pick(args.latency_dataset))
    print(f"\n[{latency_data.name}] per-click recommend(k=20) latency, {latency_data.train.unique_items().size} items, "
          f"{args.sessions} test sessions replayed click by click:")
    models = models if latency_data.path == dataset.path else fit_all(latency_data, args.epochs)
    test = latency_data.test
    rng = np.random.default_rng(0)
    chosen = rng.choice(test.n_sessions, size=min(args.sessions, test.n_sessions), replace=False)
    for name, model in models.items():
        model.clear_live_cache()
        times = []
        for s in chosen:
            items = test.session(int(s))
            for p in range(1, len(items) + 1):
                started = time.perf_counter()
                model.recommend(items[:p], k=20)
                times.append(time.perf_counter() - started)
        ms = np.array(times) * 1000
        print(f"  {name:>12s}: p50 {np.percentile(ms, 50):6.2f} ms  p95 {np.percentile(ms, 95):6.2f} ms  ({len(ms)} clicks)")


if __name__ == "__main__":
    main()
