"""Training cost, timed on its own: the CPU seconds of one training run of each configuration.

The "Train s" of a run record is the wall time of a benchmark that shared two cores with other
jobs; it can be off by 2-3x. ``sessrec timing`` trains each configuration of a benchmark config
again, one torch thread, alone in its process, and keeps the process's CPU seconds
(``time.process_time``: what the run cost, little moved by another job on the other core)
in ``results/timings.json``, which the cost-accuracy chart prefers to the records' "Train s".

What is timed: training on all of train, seed 1 for seeded models, with the epochs the
configuration's committed run trained there (its selected epochs for the early-stopped neural
models, whose selection on the validation split comes on top and is not timed). With
``max_epochs``, a model trained in epochs trains that many and the CPU seconds per epoch are
multiplied by its epochs (the entry says so): GRU4Rec's and the neural models' epochs all cost
the same work. Models fitted once are fitted whole. Evaluation is not timed.

Another job can still inflate a process's CPU seconds (shared caches and memory bandwidth:
GRU4Rec-XE on yoochoose1_64 measured 57.7 CPU-s an epoch during a busy spell and 22.5 alone). So
``again=True`` times configurations already held once more and keeps the **fewest** CPU seconds
of all its measurements (a busy machine only ever adds time); the entry counts its measurements
and keeps each one's CPU seconds and load.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sessrec.data.dataset import Dataset
from sessrec.errors import SessrecError, clip
from sessrec.experiments.records import _atomic_write_bytes
from sessrec.experiments.runs.benchmark import RunSpec
from sessrec.experiments.runs.training import machine_description, resolve_params, train_model
from sessrec.models.factory import model_parameters
from sessrec.models.registry import ONCE
from sessrec.models.registry import spec as model_spec
from sessrec.runtime import one_thread

TIMINGS_FILE = "timings.json"


def timings_path(root: str | Path) -> Path:
    """``<root>/timings.json``: beside the dataset folders of run records, not inside one."""
    return Path(root) / TIMINGS_FILE


def load_timings(root: str | Path) -> dict[str, dict[str, dict[str, Any]]]:
    """dataset -> label -> timing entry; empty when there is no (readable) file."""
    try:
        data = json.loads(timings_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    datasets = data.get("datasets") if isinstance(data, dict) else None
    return datasets if isinstance(datasets, dict) else {}


def run_epochs(record: dict[str, Any] | None, params: dict[str, Any]) -> int:
    """The epochs a configuration trained on all of train: its record's selected epochs, else
    its epoch log's length, else its ``n_epochs`` setting."""
    if record:
        if record.get("selected_epochs"):
            return int(record["selected_epochs"])
        if record.get("training_log"):
            return len(record["training_log"])
    return int(params.get("n_epochs", 1))


def settings_key(spec: RunSpec) -> str:
    """The settings an entry was timed with; a changed configuration is timed again."""
    return json.dumps({"model": spec.model, "params": spec.params, "preset": spec.preset}, sort_keys=True, default=str)


def time_one(dataset: Dataset, spec: RunSpec, record: dict[str, Any] | None, *,
             max_epochs: int | None = None) -> dict[str, Any]:
    """Train ``spec`` on all of ``dataset``'s train once and return its timing entry."""
    params = resolve_params(spec.model, spec.params, spec.preset)
    if "seed" in model_parameters(spec.model):
        params["seed"] = 1
    in_epochs = model_spec(spec.model).trains != ONCE
    epochs = run_epochs(record, params) if in_epochs else None
    timed = epochs if epochs is None or max_epochs is None else min(epochs, max_epochs)
    if in_epochs:
        params["n_epochs"] = timed
    load_before = os.getloadavg()[0]
    with one_thread():
        cpu, wall = time.process_time(), time.perf_counter()
        train_model(dataset, spec.model, params=params, progress=False, validation=None)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    scale = epochs / timed if epochs and timed else 1.0
    return {
        "model": spec.model,
        "settings": settings_key(spec),
        "cpu_seconds": cpu * scale,
        "wall_seconds": wall * scale,
        "epochs": epochs,
        "epochs_timed": timed,
        "how": ("fitted once" if not in_epochs else
                f"{epochs} epochs on all of train" if timed == epochs else
                f"{timed} of {epochs} epochs timed, CPU seconds per epoch x {epochs}"),
        "load_before": round(load_before, 2),
        "measured": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_description() | {"torch_threads": 1},
    }


#: the figures of one measurement (an entry shows those of its fastest)
_MEASURED = ("cpu_seconds", "wall_seconds", "load_before", "measured")


def _measurements(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Every measurement an entry holds (an entry from before ``measurements`` holds its own one)."""
    return list(entry.get("measurements") or [{key: entry.get(key) for key in _MEASURED}])


def merge_measurement(held: dict[str, Any] | None, entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` with the measurements of ``held`` (when its settings are the same) added, showing
    the figures of the measurement with the fewest CPU seconds."""
    earlier = _measurements(held) if held and held.get("settings") == entry["settings"] else []
    measurements = earlier + _measurements(entry)
    fastest = min(measurements, key=lambda m: m["cpu_seconds"])
    return {**entry, **fastest, "measurements": measurements, "n_measurements": len(measurements)}


def run_timings(dataset: Dataset, specs: list[RunSpec], root: str | Path, records: dict[str, dict[str, Any]], *,
                max_epochs: int | None = None, again: bool = False, log: Callable[[str], None] = print) -> Path:
    """Time every spec not timed yet with its present settings (with ``again``: every spec, the
    fewest CPU seconds kept), writing ``<root>/timings.json`` after each (an interrupted run loses
    at most the configuration it was timing).
    ``records``: label -> one committed run record of that label (its epochs)."""
    path = timings_path(root)
    for spec in specs:
        timings = load_timings(root)
        held = timings.get(dataset.name, {}).get(spec.label)
        if held and held.get("settings") == settings_key(spec) and not again:
            log(f"skip {dataset.name}/{spec.label}: timed {held.get('measured')}")
            continue
        log(f"time {dataset.name}/{spec.label} ...")
        try:
            entry = time_one(dataset, spec, records.get(spec.label), max_epochs=max_epochs)
        except (SessrecError, ValueError, MemoryError) as exc:  # e.g. SLIST refusing a fit that will not fit
            log(f"  not timed: {clip(str(exc), 300)}")
            continue
        timings = load_timings(root)  # another process may have written meanwhile
        kept = merge_measurement(timings.get(dataset.name, {}).get(spec.label), entry)
        log(f"  {entry['cpu_seconds']:.1f} CPU s ({entry['how']}; load before {entry['load_before']})"
            + (f"; kept {kept['cpu_seconds']:.1f}, the fewest of {kept['n_measurements']} measurements"
               if kept["n_measurements"] > 1 else ""))
        timings.setdefault(dataset.name, {})[spec.label] = kept
        data = {"description": "CPU seconds of one training run per configuration, one torch thread, alone in "
                               "its process (`python -m sessrec timing`, sessrec.experiments.runs.timing)",
                "datasets": {name: dict(sorted(entries.items())) for name, entries in sorted(timings.items())}}
        text = json.dumps(data, indent=1) + "\n"
        _atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path
