"""Fit a model on a prepared dataset and describe the run in plain metadata."""

from __future__ import annotations

import platform
import time
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
    epochs (GRU4Rec), e.g. to save a resumable checkpoint; returning True stops.
    """
    params = resolve_params(name, params, preset)
    model = make_model(name, params)
    train = dataset.sessions(split)
    started = time.perf_counter()
    if name == "gru4rec":
        model.fit(train, progress=progress, callback=(lambda record: callback(model, record)) if callback else None)
    else:
        model.fit(train)
    seconds = time.perf_counter() - started
    meta = {
        "dataset": dataset.name,
        "dataset_path": str(dataset.path),
        "dataset_statistics": dataset.info.get("splits", {}),
        "train_split": split,
        "preset": preset,
        "train_seconds": seconds,
        "training_log": list(getattr(model, "training_log", [])),
        "machine": machine_description(),
    }
    return model, meta
