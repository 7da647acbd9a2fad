"""Fit a model on a prepared dataset and describe the run in plain metadata."""

from __future__ import annotations

import inspect
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sessrec.data.dataset import Dataset
from sessrec.models.factory import make_model


def resolve_params(name: str, params: dict[str, Any] | None = None, preset: str | None = None) -> dict[str, Any]:
    """Preset values (GRU4Rec only) overridden by explicit ``params``."""
    merged: dict[str, Any] = {}
    if preset:
        if name != "gru4rec":
            raise ValueError("presets exist for gru4rec only")
        from sessrec.models.presets import PRESETS

        if preset not in PRESETS:
            raise ValueError(f"unknown preset '{preset}' (known: {', '.join(sorted(PRESETS))})")
        merged.update(PRESETS[preset])
    merged.update(params or {})
    return merged


def machine_description() -> dict[str, Any]:
    import os

    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def train_model(
    dataset: Dataset,
    name: str,
    params: dict[str, Any] | None = None,
    preset: str | None = None,
    split: str = "train",
    progress: bool = True,
    callback: Callable[[Any, dict[str, Any]], bool | None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit model ``name`` on ``dataset``'s ``split``; returns ``(model, checkpoint meta)``.

    ``callback(model, epoch_record)`` runs after every epoch of a model trained by
    epochs (GRU4Rec, the neural models), e.g. to save a resumable checkpoint or report
    progress; returning True stops.
    """
    params = resolve_params(name, params, preset)
    model = make_model(name, params)
    train = dataset.sessions(split)
    started = time.perf_counter()
    accepted = inspect.signature(model.fit).parameters
    options: dict[str, Any] = {}
    if "progress" in accepted:
        options["progress"] = progress
    if callback is not None and "callback" in accepted:
        options["callback"] = lambda record: callback(model, record)
    model.fit(train, **options)
    seconds = time.perf_counter() - started
    meta = {
        "dataset": dataset.name,
        "dataset_identity": dataset.identity(split),
        "dataset_path": str(dataset.path),
        "dataset_statistics": dataset.info.get("splits", {}),
        "train_split": split,
        "preset": preset,
        "train_seconds": seconds,
        "training_log": list(getattr(model, "training_log", [])),
        "machine": machine_description(),
    }
    return model, meta


@dataclass(frozen=True)
class Settings:
    """How ``train --all`` trains one model on one dataset, and where that choice came from."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    source: str = "model defaults"


def benchmark_settings(dataset_name: str, models: list[str], config_dir: str | Path = "benchmarks") -> list[Settings]:
    """Each model's settings as benchmarked on ``dataset_name``.

    Reads ``<config_dir>/<dataset_name>.json`` (the RQ1 benchmark config) and takes, per
    model, its first configuration there (seeded models get the benchmark's first seed,
    1, so the checkpoint is the benchmarked one). Models the config does not list, or
    datasets without a config, use the model's defaults.
    """
    path = Path(config_dir) / f"{dataset_name}.json"
    entries: list[dict[str, Any]] = []
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            entries = [m for m in data.get("models", []) if isinstance(m, dict)]
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: not a benchmark config ({exc})") from exc
    out = []
    for name in models:
        entry = next((m for m in entries if m.get("model") == name), None)
        if entry is None:
            out.append(Settings(name))
            continue
        params = dict(entry.get("params") or {})
        if "seed" in _constructor_parameters(name):
            params.setdefault("seed", 1)
        out.append(Settings(name, params, entry.get("preset"), f"{path} '{entry.get('label', name)}'"))
    return out


def _constructor_parameters(name: str) -> set[str]:
    from sessrec.models.io import model_class

    return set(inspect.signature(model_class(name).__init__).parameters)
