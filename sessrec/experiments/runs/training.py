"""Fit a model on a prepared dataset and describe the run in plain metadata."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sessrec.data.dataset import Dataset
from sessrec.data.sessions import Sessions
from sessrec.errors import ParameterError
from sessrec.models.factory import make_model, model_names, model_parameters
from sessrec.models.registry import EARLY_STOPPING, REGISTRY, SESSION, SPECS
from sessrec.models.registry import spec as model_spec


def check_session_model(name: str) -> None:
    """A ParameterError unless ``name`` is a registered model of the session task (the task
    this module trains for; user-context models go through :mod:`sessrec.evaluation.user_context`)."""
    if name not in SPECS:
        raise ParameterError(f"unknown model '{name}' (known: {', '.join(model_names())})")
    if model_spec(name).task != SESSION:
        raise ParameterError(f"{name} is a {model_spec(name).task.replace('_', '-')} model, not a session model: "
                             f"it scores items for a known user, not the next click of a session "
                             f"(session models: {', '.join(model_names())})")


def resolve_params(name: str, params: dict[str, Any] | None = None, preset: str | None = None) -> dict[str, Any]:
    """Preset values (GRU4Rec only) overridden by explicit ``params``, for session model ``name``."""
    check_session_model(name)
    merged: dict[str, Any] = {}
    if preset:
        if not model_spec(name).presets:
            raise ValueError(f"{name} has no presets (models with presets: "
                             f"{', '.join(s.name for s in REGISTRY if s.presets)})")
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
    callback: Callable[[Any, dict[str, Any]], bool | None] | None = None,
    *,
    validation: str | float | None = None,
    checkpoint_path: str | Path | None = None,
    refit: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Fit model ``name`` on ``dataset``'s ``split``; returns ``(model, checkpoint meta)``.

    ``callback(model, epoch_record)`` runs after every epoch of a model that trains in
    epochs (GRU4Rec and the neural comparators), e.g. to save a resumable checkpoint
    (weights + ``model.training_state()``) or report progress; returning True stops. Models declared
    :data:`~sessrec.models.registry.EARLY_STOPPING` (the neural comparators) early-stop on ``validation`` (see :func:`validation_data`) and,
    with ``checkpoint_path``, save their training state there after every epoch and
    resume from it when it exists.

    ``refit`` (default): after early stopping has chosen the number of epochs on the
    held-out sessions, a fresh model (same seed) is trained for that many epochs on the
    whole ``split``. Every model is then trained on the same sessions and knows the same
    catalogue, so all of them are evaluated on the same test events; without the refit a
    neural model would lose the held-out (for ``"valid"``: the most recent) sessions and
    the test events whose items occur only there.
    """
    params = resolve_params(name, params, preset)
    model = make_model(name, params)
    trains = model_spec(name).trains
    early_stopping = trains == EARLY_STOPPING
    train, valid = validation_data(dataset, split, validation) if early_stopping else (dataset.sessions(split), None)
    started = time.perf_counter()
    # the one training contract (sessrec.models.contract): what a model does not use, it ignores
    options: dict[str, Any] = {"progress": progress}
    if callback is not None:
        options["callback"] = lambda record: callback(model, record)
    if early_stopping:
        options.update(validate=recall_callback(valid, min_position=dataset.min_position) if valid is not None
                       else None, checkpoint=checkpoint_path)
    model.fit(train, **options)
    held_out_part = "train_tr" if validation == "valid" else f"{split} minus a random {validation} of sessions"
    selection: dict[str, Any] = {}
    if valid is not None and refit:
        state = model.training_meta()["training_state"]
        best_epoch = int(state.get("best_epoch") or len(model.training_log))
        selection = {"epochs_selected_on": f"{held_out_part} -> {'valid' if validation == 'valid' else 'held-out sessions'}",
                     "selected_epochs": best_epoch, "selection_log": list(model.training_log),
                     "selection_seconds_epochs": float(sum(r.get("seconds", 0.0) for r in model.training_log))}
        model = make_model(name, {**params, "n_epochs": best_epoch})
        # named by the epoch count, so a partial refit is only ever resumed for the same selection
        refit_path = None if checkpoint_path is None else Path(checkpoint_path).with_suffix(f".refit-{best_epoch}.pt")
        model.fit(dataset.sessions(split), **{**options, "validate": None, "checkpoint": refit_path})
    seconds = time.perf_counter() - started
    refitted = bool(selection)
    epochs_seconds = float(sum(r.get("seconds", 0.0) for r in getattr(model, "training_log", [])))
    meta = {
        "dataset": dataset.name,
        "dataset_identity": dataset.identity(split),
        "dataset_path": str(dataset.path),
        "dataset_statistics": dataset.info.get("splits", {}),
        "train_split": split if valid is None or refitted else held_out_part,
        "validation": validation if valid is not None else None,
        "refit": refitted,
        "preset": preset,
        "train_seconds": seconds,
        # with resumed runs the wall time above covers the last session only; this sums every
        # epoch (of the epoch selection too, when the model was refitted)
        "train_seconds_epochs": epochs_seconds + selection.get("selection_seconds_epochs", 0.0),
        "training_log": list(getattr(model, "training_log", [])),
        "machine": machine_description(),
        **selection,
    }
    if hasattr(model, "training_meta"):  # neural models: epoch, early-stopping state, Adam settings
        meta.update({k: v for k, v in model.training_meta().items() if k != "training_log"})
    return model, meta


@dataclass(frozen=True)
class Settings:
    """How ``train --all`` trains one model on one dataset, and where that choice came from."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    source: str = "model defaults"
    validation: str | float | None = None  #: early-stopping data of the neural models, as benchmarked


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
        if "seed" in model_parameters(name):
            params.setdefault("seed", 1)
        out.append(Settings(name, params, entry.get("preset"), f"{path} '{entry.get('label', name)}'",
                            entry.get("validation")))
    return out
