"""Hyperparameter sweeps with Optuna (the optimiser the official GRU4Rec uses).

A study lives in an Optuna storage: by default a local SQLite file, or a PostgreSQL URL
(``postgresql://user:pass@host/db``) so that workers on several machines share one
study. Every worker runs the same command; Optuna hands each a different trial. Each
trial trains on ``train_tr`` and is scored on ``valid`` (never on the test set).

A parameter space is JSON: ``{"name": {"type": "int"|"float"|"categorical", "low", "high",
"step"?, "log"?, "choices"?}}``.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from sessrec.data.dataset import Dataset
from sessrec.evaluation import DEFAULT_TIE_MODE, evaluate
from sessrec.experiments.training import train_model


def load_space(path: str | Path) -> dict[str, dict[str, Any]]:
    path = Path(path)
    try:
        space = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read parameter space ({exc})") from exc
    for name, spec in space.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in ("int", "float", "categorical"):
            raise ValueError(f"{path}: parameter '{name}' needs type int, float or categorical")
        if kind == "categorical" and not spec.get("choices"):
            raise ValueError(f"{path}: categorical parameter '{name}' needs choices")
        if kind != "categorical" and not ("low" in spec and "high" in spec):
            raise ValueError(f"{path}: parameter '{name}' needs low and high")
    return space


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, spec in space.items():
        if spec["type"] == "int":
            params[name] = trial.suggest_int(name, spec["low"], spec["high"], step=spec.get("step", 1), log=spec.get("log", False))
        elif spec["type"] == "float":
            params[name] = trial.suggest_float(name, spec["low"], spec["high"], step=spec.get("step"), log=spec.get("log", False))
        else:
            params[name] = trial.suggest_categorical(name, spec["choices"])
    if "layers" in params and isinstance(params["layers"], int):
        params["layers"] = [params["layers"]]
    return params


def open_storage(url: str, attempts: int = 6) -> optuna.storages.BaseStorage:
    """Open (and on first use create) an Optuna RDB storage, tolerating racing workers.

    Workers started at the same moment on an empty PostgreSQL database all try to create
    Optuna's tables; all but one fail with an integrity error. A short retry lets them
    find the tables the winner created. A heartbeat marks trials of crashed workers as
    failed instead of leaving them running forever.
    """
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def run_sweep(
    dataset: Dataset,
    model: str,
    space: dict[str, dict[str, Any]],
    *,
    fixed: dict[str, Any] | None = None,
    n_trials: int = 20,
    storage: str = "sqlite:///results/sweeps.db",
    study_name: str | None = None,
    metric: str = "mrr@20",
    seed: int | None = None,
    progress: bool = False,
    tie_mode: str = DEFAULT_TIE_MODE,
) -> optuna.Study:
    """Run ``n_trials`` trials of a (possibly shared) study maximising ``metric`` on valid
    (ranks under ``tie_mode``; each trial records it and its tied-target share)."""
    if not (dataset.has_split("train_tr") and dataset.has_split("valid")):
        raise ValueError(f"dataset {dataset.name} has no train_tr/valid split to tune on")
    if storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=study_name or f"{dataset.name}-{model}", storage=open_storage(storage), direction="maximize",
        load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed),
    )
    valid = dataset.sessions("valid")

    def objective(trial: optuna.Trial) -> float:
        params = {**(fixed or {}), **suggest(trial, space)}
        started = time.perf_counter()
        fitted, meta = train_model(dataset, model, params=params, split="train_tr", progress=progress)
        result = evaluate(fitted, valid, tie_mode=tie_mode, min_position=dataset.min_position, beyond_accuracy=False)
        trial.set_user_attr("train_seconds", meta["train_seconds"])
        trial.set_user_attr("seconds", time.perf_counter() - started)
        trial.set_user_attr("metrics", {k: v for k, v in result.metrics.items() if k.endswith("@20")})
        trial.set_user_attr("tie_mode", tie_mode)
        trial.set_user_attr("tied_target_share", result.tied_target_share)
        if metric not in result.metrics:
            raise ValueError(f"unknown metric '{metric}' (have {', '.join(result.metrics)})")
        return result.metrics[metric]

    study.optimize(objective, n_trials=n_trials)
    return study
