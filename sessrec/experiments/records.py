"""Run records: one JSON file per (dataset, model configuration, seed), plus its ranks.

Layout under a results root (default ``results/``)::

    results/<dataset>/<run_id>.json        the run record (plain JSON)
    results/<dataset>/<run_id>.ranks.npz   per-event ranks, positions, targets (no pickles)
    results/reference_numbers.csv          published numbers with their sources

A run is complete when its JSON is a valid run record (:func:`record_problem`) and its
ranks file loads with as many events as the record says: the ranks are written first
and the JSON last, both atomically. A file that fails these checks (cut short by a full
disk, edited by hand, copied half-way) is reported and the run is done again.

Protocols. A run evaluated with sampled negatives (:mod:`sessrec.evaluation.sampled`)
carries an ``evaluation.sampled`` block beside its full-ranking ``evaluation.metrics``.
In the long tables (:func:`metrics_table`, ``summary.csv``) every row names its
``protocol`` (``full`` or e.g. ``sampled-uniform-99``); a sampled run contributes only its
sampled metrics, under names of their own (``sampled_recall``, ``sampled_mrr``, ...), so
no table that selects ``recall`` or ``mrr`` can pick up a sampled number by mistake.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RANKS_SUFFIX = ".ranks.npz"
REFERENCES_FILE = "reference_numbers.csv"
FULL = "full"
SAMPLED_PREFIX = "sampled_"


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def record_path(root: str | Path, dataset: str, run_id: str) -> Path:
    return Path(root) / dataset / f"{run_id}.json"


def record_problem(record: Any, path: Path | None = None) -> str | None:
    """What makes ``record`` not a usable run record, or ``None`` when it is one."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for key in ("run_id", "dataset", "model", "ranks_file"):
        if not isinstance(record.get(key), str) or not record.get(key):
            return f"'{key}' is missing or not a string"
    evaluation = record.get("evaluation")
    if not isinstance(evaluation, dict):
        return "'evaluation' is missing"
    metrics = evaluation.get("metrics")
    if not isinstance(metrics, dict):
        return "'evaluation.metrics' is missing"
    blocks = [("", metrics)]
    if "sampled" in evaluation:
        sampled = evaluation["sampled"]
        if not isinstance(sampled, dict) or not isinstance(sampled.get("metrics"), dict):
            return "'evaluation.sampled' has no metrics"
        blocks.append(("sampled ", sampled["metrics"]))
    for kind, block in blocks:
        for key, value in block.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                return f"{kind}metric '{key}' is not a number"
    if path is not None and (record["run_id"] != path.stem or record["dataset"] != path.parent.name):
        return f"run_id/dataset ({record['dataset']}/{record['run_id']}) do not match the file name"
    if path is not None and not path.with_name(record["ranks_file"]).is_file():
        return f"its ranks file {record['ranks_file']} is missing"
    return None


def run_problem(root: str | Path, dataset: str, run_id: str) -> str | None:
    """Why the run is not complete (``"missing"`` when never written), or ``None`` when it is."""
    path = record_path(root, dataset, run_id)
    if not path.is_file():
        return "missing"
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"unreadable record ({type(exc).__name__})"
    problem = record_problem(record, path)
    if problem is not None:
        return problem
    try:
        with np.load(path.with_name(record["ranks_file"]), allow_pickle=False) as data:
            n_ranks = len(data["ranks"])
            if "sampled" in record["evaluation"] and len(data["sampled_ranks"]) != n_ranks:
                return "ranks file has fewer sampled ranks than ranks"
    except Exception as exc:  # zipfile, numpy and OS errors alike mean: not usable
        return f"unreadable ranks file ({type(exc).__name__})"
    n_events = record["evaluation"].get("n_events")
    if isinstance(n_events, int) and n_events != n_ranks:
        return f"ranks file has {n_ranks} events, the record {n_events}"
    return None


def is_complete(root: str | Path, dataset: str, run_id: str) -> bool:
    """True when the run's record and ranks are both there and valid (see :func:`run_problem`)."""
    return run_problem(root, dataset, run_id) is None


def write_run(root: str | Path, record: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` (ranks etc.) then the JSON ``record``; returns the JSON path."""
    path = record_path(root, record["dataset"], record["run_id"])
    ranks_path = path.with_name(record["run_id"] + RANKS_SUFFIX)

    def write_npz(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    _atomic_write_bytes(ranks_path, write_npz)
    record = {**record, "ranks_file": ranks_path.name}
    text = json.dumps(record, indent=2, default=_json_default) + "\n"
    _atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text))
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def load_run_records(root: str | Path = "results") -> list[dict[str, Any]]:
    """Every run record under ``root`` (sorted by dataset, label, seed); bad files skipped
    with an ``"error"`` entry in a record of their own (``{"path", "error"}``)."""
    records = []
    for path in sorted(Path(root).glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
            problem = record_problem(record, path)
            if problem is not None:
                raise ValueError(f"not a valid run record: {problem}")
            record["_path"] = str(path)
            records.append(record)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            records.append({"_path": str(path), "error": str(exc)})
    return records


def write_summary(root: str | Path, records: list[dict[str, Any]] | None = None) -> Path:
    """Write ``<root>/summary.csv`` (mean, std, seeds of every metric) atomically; returns its path."""
    records = load_run_records(root) if records is None else records
    path = Path(root) / "summary.csv"
    table = aggregate(metrics_table(records))
    _atomic_write_bytes(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6f"))
    return path


def valid_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if "error" not in r]


def protocol_of(record: dict[str, Any]) -> str:
    """``full`` for a full-ranking run, else its sampled variant, e.g. ``sampled-uniform-99``."""
    sampled = (record.get("evaluation") or {}).get("sampled")
    if not isinstance(sampled, dict):
        return FULL
    return str(sampled.get("protocol") or f"sampled-{sampled.get('sampling')}-{sampled.get('negatives')}")


def is_sampled(record: dict[str, Any]) -> bool:
    return protocol_of(record) != FULL


def full_ranking_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The valid records of full-ranking runs (what every main table shows)."""
    return [r for r in valid_records(records) if not is_sampled(r)]


def sampled_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The valid records of runs evaluated with sampled negatives (they also hold full-ranking metrics)."""
    return [r for r in valid_records(records) if is_sampled(r)]


def load_ranks(record: dict[str, Any], name: str = "ranks") -> np.ndarray:
    """The per-event array ``name`` (``ranks``, ``positions``, ``targets``, ``target_popularity``,
    and, in runs evaluated since tied targets are counted, ``n_tied``: the number of other
    items tied with the target). ``ranks`` follow the record's ``evaluation.tie_mode``."""
    path = Path(record["_path"]).with_name(record["ranks_file"])
    with np.load(path, allow_pickle=False) as data:
        return data[name]


TIED_SHARE = "tied_target_share"


def metrics_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Long table: dataset, label, model, protocol, seed, metric, k, value (one row per number).

    Besides the metrics, every record that knows it contributes a row ``tied_target_share``
    (k empty): the share of its events whose target tied with another item. A sampled run
    contributes its sampled metrics only, prefixed ``sampled_`` (module docstring); its
    full-ranking metrics stay in its record."""
    rows = []
    for record in valid_records(records):
        protocol = protocol_of(record)
        block = record["evaluation"] if protocol == FULL else record["evaluation"]["sampled"]
        prefix = "" if protocol == FULL else SAMPLED_PREFIX
        entries = list((block.get("metrics") or {}).items())
        if block.get(TIED_SHARE) is not None:
            entries.append((TIED_SHARE, block[TIED_SHARE]))
        for key, value in entries:
            metric, _, k = key.partition("@")
            rows.append({
                "dataset": record["dataset"], "label": record.get("label", record["model"]),
                "model": record["model"], "protocol": protocol, "seed": record.get("seed"), "metric": prefix + metric,
                "k": int(k) if k else None, "value": value,
            })
    return pd.DataFrame(rows, columns=["dataset", "label", "model", "protocol", "seed", "metric", "k", "value"])


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1; 0 for a single seed) and number of seeds per dataset/label/protocol/metric/k."""
    if table.empty:
        return pd.DataFrame(columns=["dataset", "label", "model", "protocol", "metric", "k", "mean", "std", "n"])
    if "protocol" not in table.columns:
        table = table.assign(protocol=FULL)
    grouped = table.groupby(["dataset", "label", "model", "protocol", "metric", "k"], dropna=False)["value"]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def load_references(path: str | Path = Path("results") / REFERENCES_FILE) -> pd.DataFrame:
    """Published numbers: dataset, model, metric, k, value, source, protocol_note."""
    columns = ["dataset", "model", "metric", "k", "value", "source", "protocol_note"]
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    frame = pd.read_csv(path)
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return frame[columns]
