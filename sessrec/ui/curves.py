"""Training curves: the per-epoch log of every run record and every checkpoint."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sessrec.experiments.analysis.tables import training_seconds
from sessrec.ui.models import CheckpointEntry, label_of
from sessrec.ui.paths import display_path

LOG_COLUMNS = ("loss", "seconds", "events_per_second")


def collect_runs(records: list[dict[str, Any]], entries: list[CheckpointEntry]) -> pd.DataFrame:
    """Long table: Run, Source, Dataset, Model, epoch, loss, seconds, events_per_second, ..."""
    rows = []
    for record in records:
        log = record.get("training_log") or []
        name = f"{record.get('dataset')} · {record.get('run_id', record.get('label'))}"
        config = f"{record.get('dataset')} · {record.get('label', record.get('run_id'))}"
        for entry in log:
            rows.append({"Run": name, "Config": config, "Source": "run record", "Dataset": record.get("dataset"),
                         "Model": label_of(str(record.get("model"))),
                         "Loss function": loss_name(record.get("hyperparameters"), record.get("model")),
                         **_epoch_row(entry)})
    for entry in entries:
        if not entry.ok or not entry.training_log:
            continue
        name = f"{entry.dataset} · {display_path(entry.path)}"
        for row in entry.training_log:
            rows.append({"Run": name, "Config": name, "Source": "checkpoint", "Dataset": entry.dataset,
                         "Model": label_of(str(entry.model)),
                         "Loss function": loss_name(entry.hyperparameters, entry.model), **_epoch_row(row)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["Run", "Config", "Source", "Dataset", "Model", "Loss function", "epoch", *LOG_COLUMNS])
    return frame


def loss_name(params: dict[str, Any] | None, model: object) -> str:
    """The run's loss function: its ``loss`` setting (GRU4Rec), else the model's own loss."""
    loss = (params or {}).get("loss")
    return str(loss) if loss else f"{label_of(str(model))}'s own"


def _epoch_row(entry: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if isinstance(v, (int, float, str, bool)) or v is None}
    if "events_per_second" not in out and "events_per_s" in out:  # the trainer's name for it
        out["events_per_second"] = out.pop("events_per_s")
    if "epoch" not in out:
        out["epoch"] = None
    return out


def smooth(frame: pd.DataFrame, column: str, weight: float) -> pd.Series:
    """Exponential moving average per run (``weight`` 0 = raw values, 0.9 = very smooth)."""
    if weight <= 0:
        return frame[column]
    return frame.groupby("Run", sort=False)[column].transform(lambda s: s.ewm(alpha=1 - weight, adjust=True).mean())


def aggregate_seeds(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per configuration and epoch: mean, std (0 for one seed), lower/upper band and seed count.

    Seeds of one configuration otherwise draw near-identical lines that read as one line
    with a long legend; the mean with a ±1 std band shows both the curve and its spread.
    """
    grouped = frame.dropna(subset=[column]).groupby(["Config", "epoch"], sort=False)[column]
    out = grouped.agg(mean="mean", std="std", seeds="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    out["lower"] = out["mean"] - out["std"]
    out["upper"] = out["mean"] + out["std"]
    return out


def hyperparameter_tables(records: list[dict[str, Any]], entries: list[CheckpointEntry],
                          runs: list[str]) -> dict[str, pd.DataFrame]:
    """Model -> a table of its runs in ``runs`` x the settings any of them has (values as text:
    lists as "100, 100", nested settings as "key=value; ..."); one table per model, so no
    column of another model's settings stands empty."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        name = f"{record.get('dataset')} · {record.get('run_id', record.get('label'))}"
        if name in runs:
            rows.setdefault(label_of(str(record.get("model"))), []).append(
                {"Run": name, "train seconds": _round(training_seconds(record)),
                 **_plain(record.get("hyperparameters") or {})})
    for entry in entries:
        name = f"{entry.dataset} · {display_path(entry.path)}"
        if entry.ok and name in runs:
            rows.setdefault(label_of(str(entry.model)), []).append(
                {"Run": name, "train seconds": _round(entry.train_seconds), **_plain(entry.hyperparameters)})
    return {model: pd.DataFrame(part).set_index("Run").dropna(axis=1, how="all") for model, part in rows.items()}


def _round(value: Any, digits: int = 1) -> Any:
    return round(float(value), digits) if isinstance(value, (int, float)) else value


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Settings as table cells: scalars kept, lists and nested settings as readable text."""
    return {k: v if isinstance(v, (int, float, str, bool)) or v is None else _text(v) for k, v in params.items()}


def epoch_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run: epochs, final loss, mean seconds per epoch, mean events/s."""
    agg: dict[str, Any] = {"epochs": ("epoch", "count")}
    if "loss" in frame:
        agg["final loss"] = ("loss", "last")
    if "seconds" in frame:
        agg["s / epoch"] = ("seconds", "mean")
    if "events_per_second" in frame:
        agg["events / s"] = ("events_per_second", "mean")
    return frame.groupby("Run", sort=False).agg(**agg)
