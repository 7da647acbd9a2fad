"""Fit a model on a prepared dataset and describe the run in plain metadata."""

from __future__ import annotations

import inspect
import platform
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sessrec.data.dataset import Dataset
from sessrec.data.sessions import Sessions
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


#: seed of the random validation hold-out (fixed: every model and seed validates on the same sessions)
VALIDATION_SEED = 0


def validation_data(dataset: Dataset, split: str, validation: str | float | None) -> tuple[Sessions, Sessions | None]:
    """Training sessions and held-out validation sessions for early stopping.

    ``validation``: ``None`` (no validation, train on ``split``), ``"valid"`` (train on
    ``train_tr``, validate on ``valid``; the dataset must have them) or a fraction in
    (0, 1): that fraction of ``split``'s sessions, drawn at random with a fixed seed (the
    same for every model and run), is held out, as the NARM reference code does with its
    training cases. A random draw rather than the latest sessions keeps the most recent
    days, the closest to the test day, in training.
    """
    if validation is None:
        return dataset.sessions(split), None
    if validation == "valid":
        return dataset.sessions("train_tr"), dataset.sessions("valid")
    fraction = float(validation)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation={validation!r}: expected 'valid' or a fraction in (0, 1)")
    train = dataset.sessions(split)
    n_held = int(round(train.n_sessions * fraction))
    held_out = np.zeros(train.n_sessions, dtype=bool)
    held_out[np.random.default_rng(VALIDATION_SEED).choice(train.n_sessions, n_held, replace=False)] = True
    return train.select(~held_out), train.select(held_out)


def recall_callback(valid: Sessions, k: int = 20, min_position: int = 1) -> Callable[[Any], float]:
    """A validation callback for neural models: Recall@k on ``valid`` (full ranking)."""
    from sessrec.evaluation import evaluate

    def score(model: Any) -> float:
        result = evaluate(model, valid, ks=(k,), min_position=min_position, beyond_accuracy=False, progress=False)
        return float(result.metrics[f"recall@{k}"])

    return score


def train_model(
    dataset: Dataset,
    name: str,
    params: dict[str, Any] | None = None,
    preset: str | None = None,
    split: str = "train",
    progress: bool = True,
    *,
    validation: str | float | None = None,
    checkpoint_path: str | Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit model ``name`` on ``dataset``'s ``split``; returns ``(model, checkpoint meta)``.

    Models whose ``fit`` takes a ``valid_callback`` (the neural comparators) early-stop
    on ``validation`` (see :func:`validation_data`) and, with ``checkpoint_path``, save
    their training state there after every epoch and resume from it when it exists.
    """
    params = resolve_params(name, params, preset)
    model = make_model(name, params)
    fit_params = inspect.signature(model.fit).parameters
    train, valid = validation_data(dataset, split, validation) if "valid_callback" in fit_params else (dataset.sessions(split), None)
    started = time.perf_counter()
    if "valid_callback" in fit_params:
        model.fit(train, valid_callback=recall_callback(valid, min_position=dataset.min_position) if valid is not None else None, progress=progress,
                  checkpoint_path=checkpoint_path, resume=checkpoint_path is not None)
    elif name == "gru4rec":
        model.fit(train, progress=progress)
    else:
        model.fit(train)
    seconds = time.perf_counter() - started
    meta = {
        "dataset": dataset.name,
        "dataset_path": str(dataset.path),
        "dataset_statistics": dataset.info.get("splits", {}),
        "train_split": split if valid is None else ("train_tr" if validation == "valid" else f"{split} minus a random {validation} of sessions"),
        "validation": validation if valid is not None else None,
        "preset": preset,
        "train_seconds": seconds,
        # with resumed runs the wall time above covers the last session only; this sums every epoch
        "train_seconds_epochs": float(sum(r.get("seconds", 0.0) for r in getattr(model, "training_log", []))),
        "training_log": list(getattr(model, "training_log", [])),
        "machine": machine_description(),
    }
    if hasattr(model, "training_meta"):  # neural models: epoch, early-stopping state, Adam settings
        meta.update({k: v for k, v in model.training_meta().items() if k != "training_log"})
    return model, meta
