"""GRU4Rec and the neural comparators on a GPU: one epoch each, events/s and accuracy (prints figures).

Prepared for a machine with CUDA (on the CPU it runs the same steps with ``--device cpu``):

    python scripts/gpu_check.py --dataset data/yoochoose1_64            # about 5 minutes on one GPU
    python scripts/gpu_check.py --dataset data/rsc15_100k --device cpu  # the same steps on the CPU

1. **Same results as the CPU path.** GRU4Rec trains one epoch on the first ``--parity-sessions``
   training sessions on the CPU and on the device from the same seed; the script prints the
   largest weight difference and both models' Recall@20 / MRR@20 on the test split (equal up to
   float rounding: the device's kernels sum in another order).
2. **Speed and accuracy.** Each of ``--models`` (labels of ``benchmarks/<dataset>.json``, at their
   published settings) trains one epoch on the whole training split on the device and is
   evaluated with every metric; the line gives training events/s and its ratio to the first
   epoch of the committed CPU record (``results/<dataset>/<label>-seed1.json``, 2 cores), the
   evaluation time, and Recall@20 / MRR@20 after this one epoch beside the record's (after all
   of its epochs, so not the same training).

Nothing is written. The load, the device name and the torch version are printed first.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import sessrec  # noqa: F401  (first: it asks OpenMP to wait passively before torch loads)
import torch

from sessrec.data.dataset import load_dataset
from sessrec.evaluation import evaluate
from sessrec.experiments.runs.benchmark import load_specs
from sessrec.experiments.runs.training import resolve_params
from sessrec.models.factory import make_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["gru4rec-xe", "narm", "sasrec", "srgnn"]


def one_epoch(name: str, params: dict, device: str):
    """A model of ``name`` with ``params``, set to train one epoch on ``device`` without early stopping."""
    settings = {**params, "n_epochs": 1, "device": device}
    settings.pop("patience", None)
    settings.pop("n_threads", None)
    return make_model(name, settings)


def accuracy(model, dataset, train=None) -> tuple[float, float, float]:
    """Recall@20, MRR@20 and seconds of an evaluation with every metric (``train``: the model's sessions)."""
    train = dataset.train if train is None else train
    result = evaluate(model, dataset.test, min_position=dataset.min_position, train=train)
    return result.metrics["recall@20"], result.metrics["mrr@20"], result.seconds


def parity(dataset, params: dict, device: str, n_sessions: int) -> None:
    """GRU4Rec on the CPU and on ``device``: one epoch on the first sessions, same seed."""
    train = dataset.train.select(np.arange(dataset.train.n_sessions) < n_sessions)
    models = {}
    for where in ("cpu", device):
        model = one_epoch("gru4rec", {**params, "seed": 1}, where)
        model.fit(train, progress=False)
        models[where] = model
    # the tensors a checkpoint saves (weights only), each moved to the CPU to compare
    weights = {where: {k: v.detach().cpu() for k, v in m._tensors().items()} for where, m in models.items()}
    largest = max(float((weights["cpu"][k] - weights[device][k]).abs().max()) for k in weights["cpu"])
    lines = []
    for where, model in models.items():
        recall, mrr, _ = accuracy(model, dataset, train)
        lines.append(f"{where} {recall:.4f} / {mrr:.4f}")
    print(f"[parity] GRU4Rec, one epoch on {train.n_sessions:,} sessions: largest weight difference "
          f"{largest:.2e}; Recall@20 / MRR@20 {'; '.join(lines)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="data/yoochoose1_64")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--parity-sessions", type=int, default=20_000)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run with --device cpu, or on a machine with a GPU")
    dataset = load_dataset(args.dataset)
    specs = {spec.label: spec for spec in load_specs(ROOT / "benchmarks" / f"{dataset.name}.json")}
    unknown = [label for label in args.models if label not in specs]
    if unknown:
        raise SystemExit(f"not in benchmarks/{dataset.name}.json: {', '.join(unknown)} (choose from {', '.join(specs)})")
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; device {args.device} ({name}); torch {torch.__version__}; "
          f"{os.cpu_count()} CPU cores; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; dataset {dataset.name} "
          f"({dataset.train.n_events:,} training events)", flush=True)
    gru4rec = specs.get("gru4rec-xe")
    if gru4rec is not None:
        parity(dataset, resolve_params(gru4rec.model, gru4rec.params, gru4rec.preset), args.device,
               args.parity_sessions)
    for label in args.models:
        spec = specs[label]
        model = one_epoch(spec.model, resolve_params(spec.model, spec.params, spec.preset), args.device)
        started = time.perf_counter()
        model.fit(dataset.train, progress=False)
        seconds = time.perf_counter() - started
        recall, mrr, eval_s = accuracy(model, dataset)
        rate = dataset.train.n_events / seconds
        line = (f"[{label}] one epoch {seconds:7.1f} s, {rate:9,.0f} events/s; evaluation {eval_s:5.1f} s; "
                f"Recall@20 / MRR@20 after one epoch {recall:.4f} / {mrr:.4f}")
        record_path = ROOT / "results" / dataset.name / f"{label}-seed1.json"
        if record_path.exists():
            record = json.loads(record_path.read_text())
            first = (record.get("training_log") or [{}])[0]
            cpu_rate = first.get("events_per_s")
            cpu = record["evaluation"]["metrics"]
            if cpu_rate:
                line += f" | CPU record: {cpu_rate:,.0f} events/s ({rate / cpu_rate:.1f}x here)"
            line += (f", {cpu['recall@20']:.4f} / {cpu['mrr@20']:.4f} after "
                     f"{len(record.get('training_log') or [])} epochs")
        print(line, flush=True)


if __name__ == "__main__":
    main()
