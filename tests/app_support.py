"""Builders for the app tests: small folders the app reads instead of the repository's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


@dataclass
class AppRoots:
    data: Path
    checkpoints: Path
    results: Path

    def env(self) -> dict[str, str]:
        return {"SESSREC_DATA_ROOT": str(self.data), "SESSREC_CHECKPOINT_ROOT": str(self.checkpoints),
                "SESSREC_RESULTS_ROOT": str(self.results)}


def build_app_roots(base: Path) -> AppRoots:
    from sessrec.data.dataset import load_dataset
    from sessrec.models import io
    from sessrec.models.item_knn import ItemKNN
    from sessrec.models.last_item import LastItem
    from sessrec.models.popular import MostPopular

    roots = AppRoots(base / "data", base / "checkpoints", base / "results")
    roots.data.mkdir()
    os.symlink(DEMO, roots.data / "demo")
    roots.results.mkdir()
    dataset = load_dataset(roots.data / "demo")
    train = dataset.train
    for cls in (MostPopular, LastItem, ItemKNN):
        io.save_model(cls().fit(train), roots.checkpoints / "demo" / f"{cls.name}.pt", {"dataset": "demo"})
    foreign = MostPopular().fit(_sessions([[1, 2, 3], [2, 3]]))
    io.save_model(foreign, roots.checkpoints / "other" / "most_popular.pt", {"dataset": "other"})
    (roots.checkpoints / "broken").mkdir()
    (roots.checkpoints / "broken" / "gru4rec.pt").write_bytes(b"not a checkpoint")
    return roots


def _sessions(lists):
    from sessrec.data.sessions import Sessions

    rows = [(s, item, pos) for s, items in enumerate(lists) for pos, item in enumerate(items)]
    return Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"]))


def write_fake_results(root: Path, dataset: str = "demo", n_events: int = 400, seeds=(1, 2)) -> None:
    """Run records in the runner's format (records.write_run) with made-up ranks."""
    from sessrec.evaluation import metrics_from_ranks
    from sessrec.experiments.records import write_run

    rng = np.random.default_rng(0)

    def run(label, model, seed, quality, log):
        ranks = np.minimum(rng.geometric(quality, n_events), 2000).astype(float)
        record = {"run_id": label if seed is None else f"{label}-seed{seed}", "label": label, "model": model,
                  "dataset": dataset, "seed": seed, "hyperparameters": {"layers": [96]} if model == "gru4rec" else {},
                  "training_log": log, "train_seconds": 10.0,
                  "evaluation": {"metrics": metrics_from_ranks(ranks), "tie_mode": "standard", "min_position": 1,
                                 "seconds": 1.0, "n_events": n_events},
                  "library_versions": {}, "machine": {}, "command": "test", "created": "2026-01-01T00:00:00"}
        write_run(root, record, {"ranks": ranks})

    for seed in seeds:
        log = [{"epoch": e, "loss": 5.0 / e + 0.01 * seed, "seconds": 2.0, "events_per_second": 20000.0}
               for e in range(1, 6)]
        run("gru4rec", "gru4rec", seed, 0.15, log)
    for label, q in (("most_popular", 0.01), ("last_item", 0.05), ("item_knn", 0.08)):
        run(label, label, None, q, [])
    pd.DataFrame([
        {"dataset": dataset, "model": "gru4rec", "metric": "recall", "k": 20, "value": 0.6,
         "source": "a paper", "protocol_note": "sampled evaluation in the paper"},
    ]).to_csv(root / "reference_numbers.csv", index=False)
