"""Optuna building blocks shared by ``tune`` and ``sweep``: parameter spaces, their checks, the
suggestions a trial draws, and the study storage (Optuna is the optimiser the official GRU4Rec uses).

Both commands run one objective (:func:`sessrec.experiments.runs.tuning.make_objective`):
``tune`` under the equal-budget rule of ``sweeps/budget.json``, ``sweep``
(:func:`~sessrec.experiments.runs.tuning.run_sweep`) free, for any model and space. A study
lives in an Optuna storage: by default a local SQLite file, or a PostgreSQL URL
(``postgresql://user:pass@host/db``) so that workers on several machines share one study. Every worker runs the same command; Optuna hands each a different trial. Each
trial trains on ``train_tr`` and is scored on ``valid`` (never on the test set).

A parameter space is JSON: ``{"name": {"type": "int"|"float"|"categorical", "low", "high",
"step"?, "log"?, "choices"?}}``.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from sessrec.errors import ParameterError
from sessrec.evaluation.metrics import DEFAULT_KS

#: metrics a sweep can maximise (computed on the validation split at every cut-off of DEFAULT_KS)
SWEEP_METRICS = ("recall", "mrr", "ndcg")
#: SQLAlchemy URL schemes Optuna's RDB storage works with (a driver may follow a '+')
STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql")


def load_space(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read and check a parameter space file (:class:`ParameterError` for any malformed entry)."""
    path = Path(path)
    try:
        space = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read parameter space ({exc})") from exc
    return check_space(space, str(path))


def _number(where: str, key: str, value: Any, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"{where}: '{key}' = {value!r} is not a finite number")
    if integer and value != int(value):
        raise ParameterError(f"{where}: '{key}' = {value!r} is not an integer (the parameter has type int)")
    return value


def check_space(space: Any, where: str = "parameter space") -> dict[str, dict[str, Any]]:
    """Check the structure and ranges of a space: an object of ``{"type", "low", "high", ...}`` entries."""
    if not isinstance(space, dict) or not space:
        raise ParameterError(
            f"{where}: a parameter space is a non-empty JSON object "
            f'{{"name": {{"type": "int"|"float"|"categorical", ...}}}}, got {type(space).__name__}'
        )
    for name, spec in space.items():
        at = f"{where}: parameter '{name}'"
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in ("int", "float", "categorical"):
            raise ParameterError(f"{at} needs type int, float or categorical")
        unknown = set(spec) - {"type", "low", "high", "step", "log", "choices"}
        if unknown:
            raise ParameterError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ParameterError(f"{at}: categorical parameters need a non-empty list of choices")
            continue
        if not ("low" in spec and "high" in spec):
            raise ParameterError(f"{at} needs low and high")
        low = _number(at, "low", spec["low"], kind == "int")
        high = _number(at, "high", spec["high"], kind == "int")
        if low > high:
            raise ParameterError(f"{at}: low = {low} is above high = {high} (an inverted range)")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ParameterError(f"{at}: log must be true or false")
        if log and low <= 0:
            raise ParameterError(f"{at}: a log range needs low > 0, got {low}")
        if spec.get("step") is not None:
            step = _number(at, "step", spec["step"], kind == "int")
            if step <= 0:
                raise ParameterError(f"{at}: step must be > 0, got {step}")
            if log:
                raise ParameterError(f"{at}: step and log cannot be combined (Optuna refuses it)")
    return space


def _space_corners(space: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Settings at the ends of every range and at every choice (to build each once before a trial)."""
    corners: list[dict[str, Any]] = []
    for name, spec in space.items():
        values = spec["choices"] if spec["type"] == "categorical" else [spec["low"], spec["high"]]
        for value in values:
            if name == "layers" and isinstance(value, int):
                value = [value]
            corners.append({name: value})
    return corners


def check_sweep(model: str, space: dict[str, dict[str, Any]], fixed: dict[str, Any], metric: str, storage: str) -> None:
    """Everything a sweep can get wrong before its first trial: names, ranges, metric, storage URL."""
    from sessrec.models.factory import make_model, model_parameters

    check_space(space)
    from sessrec.experiments.runs.training import check_session_model

    check_session_model(model)
    accepted = set(model_parameters(model))
    unknown = sorted((set(space) | set(fixed)) - accepted)
    if unknown:
        raise ParameterError(
            f"model '{model}' has no parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(accepted)) or 'none'})"
        )
    both = sorted(set(space) & set(fixed))
    if both:
        raise ParameterError(f"parameter(s) {', '.join(both)} are both swept and fixed")
    base = {name: spec["choices"][0] if spec["type"] == "categorical" else spec["low"] for name, spec in space.items()}
    if "layers" in base and isinstance(base["layers"], int):
        base["layers"] = [base["layers"]]
    corner: dict[str, Any]
    for corner in [{}] + _space_corners(space):  # every end of every range must build a model
        make_model(model, {**fixed, **base, **corner})
    if "device" in fixed:  # a device this machine lacks fails here, not inside the first trial
        from sessrec.models.validation import torch_device

        torch_device(fixed["device"])
    name, _, k = metric.partition("@")
    if name not in SWEEP_METRICS or not k.isdigit() or int(k) not in DEFAULT_KS:
        raise ParameterError(
            f"unknown metric '{metric}' (allowed: {', '.join(f'{m}@{k}' for m in SWEEP_METRICS for k in DEFAULT_KS)})"
        )
    scheme = storage.split("://", 1)[0] if "://" in storage else ""
    if scheme.split("+", 1)[0] not in STORAGE_SCHEMES:
        raise ParameterError(
            f"storage '{storage[:80]}': unknown URL scheme '{scheme}' "
            "(allowed: sqlite:///file.db, postgresql://user:pass@host/db, mysql://...)"
        )
    if scheme == "sqlite" and not storage.startswith("sqlite:///"):
        raise ParameterError(f"storage '{storage[:80]}': a SQLite URL is sqlite:///path/to/file.db")


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
