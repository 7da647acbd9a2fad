"""Run records: one JSON file per (dataset, model configuration, seed), plus its ranks.

Layout under a results root (default ``results/``)::

    results/<dataset>/<run_id>.json        the run record (plain JSON)
    results/<dataset>/<run_id>.ranks.npz   per-event ranks, positions, targets (no pickles)
    results/reference_numbers.csv          published numbers with their sources

A run is complete when its JSON is a valid run record (:func:`record_problem`: the keys
readers need, every metric finite and in [0, 1], every count a non-negative integer) and
its ranks file matches the SHA-256 the record keeps of it and holds as many events as the
record says (:func:`ranks_problem`): the ranks are written first and the JSON last, both
atomically. A file that fails these checks (cut short by a full disk, edited by hand,
copied half-way, its ranks replaced) is never used: every reader gets it back as an
``{"_path", "error"}`` entry and says which file it skipped and why; the benchmark runner
does the run again.

Protocols. A run evaluated with sampled negatives (:mod:`sessrec.evaluation.sampled`)
carries an ``evaluation.sampled`` block beside its full-ranking ``evaluation.metrics``.
In the long tables (:func:`metrics_table`, ``summary.csv``) every row names its
``protocol`` (``full`` or e.g. ``sampled-uniform-99``); a sampled run contributes only its
sampled metrics, under names of their own (``sampled_recall``, ``sampled_mrr``, ...), so
no table that selects ``recall`` or ``mrr`` can pick up a sampled number by mistake.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from dataclasses import MISSING as MISSING_FIELD
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, ClassVar, TypeGuard, cast

import numpy as np
import pandas as pd

RANKS_SUFFIX = ".ranks.npz"
REFERENCES_FILE = "reference_numbers.csv"
FULL = "full"
SAMPLED_PREFIX = "sampled_"
#: the record's SHA-256 of its ranks file (records written before it existed have none)
CHECKSUM_KEY = "ranks_sha256"
#: evaluation fields that are times or rates: finite and non-negative
TIED_SHARE = "tied_target_share"
NON_NEGATIVE_FIELDS = ("seconds", "events_per_second", TIED_SHARE)


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


class _Absent:
    """Marks an optional field a record does not have (as against one it has, set to null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class RunRecord:
    """One run record, typed: what :func:`write_run` writes and :func:`read_run_record` reads.

    The fields every record has come first; the optional ones default to :data:`ABSENT` and are
    left out of :meth:`to_dict` when absent, so a record read and written again is the same JSON
    object. :meth:`from_dict` runs every check of :func:`record_problem` and refuses keys it does
    not know. Readers across the package still take the plain dict (``to_dict``).
    """

    run_id: str
    label: str
    model: str
    group: str
    dataset: str
    dataset_statistics: dict[str, Any]
    protocol: dict[str, Any]
    seed: int | None
    preset: str | None
    hyperparameters: dict[str, Any]
    training_log: list[dict[str, Any]]
    train_seconds: float
    evaluation: dict[str, Any]
    library_versions: dict[str, str]
    machine: dict[str, Any]
    command: str
    created: str
    ranks_file: str = ABSENT  #: set by :func:`write_run`
    ranks_sha256: str = ABSENT  #: set by :func:`write_run`
    data: dict[str, str] = ABSENT  #: :func:`data_identity` (records since 2026-12-07, and migrated ones)
    code_version: str | None = ABSENT  #: :func:`code_version` (records since 2026-12-07)
    train_split: str = ABSENT
    validation: str | float | None = ABSENT
    refit: bool = ABSENT
    selected_epochs: int | None = ABSENT
    selection_log: list[dict[str, Any]] | None = ABSENT
    epochs_selected_by: str = ABSENT
    selection_seconds_epochs: float | None = ABSENT
    train_seconds_epochs: float = ABSENT
    tuning: dict[str, Any] = ABSENT
    tie_mode_note: str = ABSENT

    #: the order of the keys in the JSON file
    ORDER: ClassVar[tuple[str, ...]] = (
        "run_id", "label", "model", "group", "dataset", "data", "dataset_statistics", "protocol", "seed", "preset",
        "hyperparameters", "training_log", "train_split", "validation", "refit", "selected_epochs", "selection_log",
        "epochs_selected_by", "selection_seconds_epochs", "train_seconds", "train_seconds_epochs", "evaluation",
        "tuning", "tie_mode_note", "library_versions", "code_version", "machine", "command", "created", "ranks_file",
        "ranks_sha256")

    @classmethod
    def from_dict(cls, record: dict[str, Any], path: Path | None = None) -> "RunRecord":
        """The typed record of a JSON object, or ``ValueError`` saying what is wrong with it."""
        fields_ = {f.name for f in dataclass_fields(cls)}
        unknown = sorted(set(record) - fields_ - {"_path"})
        if unknown:
            raise ValueError(f"unknown key(s) in a run record: {', '.join(unknown)}")
        problem = record_problem(record, path)
        if problem is not None:
            raise ValueError(problem)
        missing = [f.name for f in dataclass_fields(cls) if f.default is MISSING_FIELD and f.name not in record]
        if missing:
            raise ValueError(f"'{missing[0]}' is missing")
        return cls(**{key: value for key, value in record.items() if key in fields_})

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: every field the record has, in :attr:`ORDER`."""
        values = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        return {key: values[key] for key in self.ORDER if values[key] is not ABSENT}


#: the ``format`` of a user-context run record (:class:`UserRunRecord`)
USER_RECORD_FORMAT = "sessrec-user-context-record"
#: user-context metrics that are shares, in [0, 1]; RMSE and MAE are errors, finite and >= 0
USER_SHARE_METRICS = ("hitrate@10", "ndcg@10", "mrr@10", "auc", "precision@10", "map@10")
USER_ERROR_METRICS = ("rmse", "mae")


@dataclass(frozen=True)
class UserRunRecord:
    """One run of a user-context model (``results/users/<dataset>/<run>_seed<N>.json``), typed.

    The leave-one-out ranks and the per-user average precisions are kept inline (a few thousand
    numbers). :meth:`from_dict` runs every check of :func:`user_record_problem` and refuses keys it
    does not know; :meth:`to_dict` gives the JSON object in :attr:`ORDER`, optional fields only
    when the record has them, so a record read and written again is the same JSON.
    """

    format: str
    dataset: str
    model: str
    label: str
    seed: int | None
    hyperparameters: dict[str, Any]
    fit_seconds: float
    seconds_per_epoch: float | None
    loss_history: list[float]
    negatives: int
    eval_seed: int
    checkpoint: str | None
    metrics: dict[str, float]
    ranks: list[float]
    per_user_ap: list[float]
    n_cases: int
    n_list_users: int
    n_ratings: int | None
    data: dict[str, str] = ABSENT  #: the folder and its train/test fingerprints (records since 2026-12-07)
    code_version: str | None = ABSENT  #: :func:`code_version` (records since 2026-12-07)
    run: str = ABSENT  #: ``<model>-<tag>`` for a named setting (``bmf-tuned``)
    setting_from: dict[str, Any] = ABSENT  #: where a named setting comes from (its study and trial)

    ORDER: ClassVar[tuple[str, ...]] = (
        "format", "dataset", "data", "model", "label", "seed", "hyperparameters", "fit_seconds", "seconds_per_epoch",
        "loss_history", "negatives", "eval_seed", "checkpoint", "code_version", "metrics", "ranks", "per_user_ap",
        "n_cases", "n_list_users", "n_ratings", "run", "setting_from")

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "UserRunRecord":
        """The typed record of a JSON object, or ``ValueError`` saying what is wrong with it."""
        fields_ = {f.name for f in dataclass_fields(cls)}
        unknown = sorted(set(record) - fields_)
        if unknown:
            raise ValueError(f"unknown key(s) in a user-context run record: {', '.join(unknown)}")
        problem = user_record_problem(record)
        if problem is not None:
            raise ValueError(problem)
        return cls(**record)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: every field the record has, in :attr:`ORDER`."""
        values = {f.name: getattr(self, f.name) for f in dataclass_fields(self)}
        return {key: values[key] for key in self.ORDER if values[key] is not ABSENT}


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def user_record_problem(record: Any) -> str | None:
    """What makes ``record`` unusable as a user-context run record, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("format") != USER_RECORD_FORMAT:
        return f"'format' is {record.get('format')!r}, not {USER_RECORD_FORMAT!r}"
    required = [f.name for f in dataclass_fields(UserRunRecord) if f.default is MISSING_FIELD]
    missing = [key for key in required if key not in record]
    if missing:
        return f"'{missing[0]}' is missing"
    for key in ("dataset", "model", "label"):
        if not isinstance(record[key], str) or not record[key]:
            return f"'{key}' is not a non-empty string"
    if record["seed"] is not None and not _count(record["seed"]):
        return f"'seed' = {record['seed']!r} is not a non-negative integer or null"
    for key in ("n_cases", "n_list_users", "eval_seed"):
        if not _count(record[key]):
            return f"'{key}' = {record[key]!r} is not a non-negative integer"
    if not _count(record["negatives"]) or record["negatives"] < 1:
        return f"'negatives' = {record['negatives']!r} is not a positive integer"
    if record["n_ratings"] is not None and not _count(record["n_ratings"]):
        return f"'n_ratings' = {record['n_ratings']!r} is not a non-negative integer or null"
    for key in ("fit_seconds", "seconds_per_epoch"):
        value = record[key]
        if (value is not None or key == "fit_seconds") and not (_is_number(value) and math.isfinite(value)
                                                                  and value >= 0):
            return f"'{key}' = {value!r} is not a finite non-negative number"
    if not isinstance(record["loss_history"], list) or not all(
            _is_number(v) and math.isfinite(v) for v in record["loss_history"]):
        return "'loss_history' is not a list of finite numbers"
    metrics = record["metrics"]
    if not isinstance(metrics, dict):
        return "'metrics' is not an object"
    for name, value in metrics.items():
        if name in USER_SHARE_METRICS:
            if not (_is_number(value) and 0.0 <= value <= 1.0):
                return f"metric '{name}' = {value!r} is not in [0, 1]"
        elif name in USER_ERROR_METRICS:
            if not (_is_number(value) and math.isfinite(value) and value >= 0):
                return f"metric '{name}' = {value!r} is not a finite non-negative number"
        else:
            return f"unknown metric '{name}'"
    absent = [name for name in USER_SHARE_METRICS if name not in metrics]
    if absent:
        return f"metric '{absent[0]}' is missing"
    ranks, aps = record["ranks"], record["per_user_ap"]
    if not isinstance(ranks, list) or len(ranks) != record["n_cases"]:
        return f"'ranks' holds {len(ranks) if isinstance(ranks, list) else 'no list of'} ranks for {record['n_cases']} cases"
    if not all(_is_number(r) and 1 <= r <= record["negatives"] + 1 for r in ranks):
        return f"a rank in 'ranks' is outside 1..{record['negatives'] + 1} (one positive among {record['negatives']} negatives)"
    if not isinstance(aps, list) or len(aps) != record["n_list_users"]:
        return f"'per_user_ap' holds {len(aps) if isinstance(aps, list) else 'no list of'} values for {record['n_list_users']} users"
    if not all(_is_number(v) and 0.0 <= v <= 1.0 for v in aps):
        return "a value in 'per_user_ap' is not in [0, 1]"
    if "run" in record and not (isinstance(record["run"], str) and record["run"].startswith(record["model"] + "-")):
        return f"'run' = {record['run']!r} is not '<model>-<tag>' for model {record['model']!r}"
    return _identity_problem(record)


def record_path(root: str | Path, dataset: str, run_id: str) -> Path:
    return Path(root) / dataset / f"{run_id}.json"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (the checksum a record keeps of its ranks file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_number(value: Any) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _metric_problem(kind: str, key: str, value: Any) -> str | None:
    """Every metric sessrec computes is a share or a mean of shares: finite and in [0, 1]."""
    if value is None:
        return None
    if not _is_number(value):
        return f"{kind}metric '{key}' is not a number ({type(value).__name__})"
    if not math.isfinite(value):
        return f"{kind}metric '{key}' is {value} (not finite)"
    if not 0.0 <= value <= 1.0:
        return f"{kind}metric '{key}' = {value} is outside [0, 1]"
    return None


def _evaluation_problem(evaluation: dict[str, Any]) -> str | None:
    """Counts (``n_*``) are non-negative integers; times, rates and shares finite and non-negative."""
    for key, value in evaluation.items():
        if key.startswith("n_") and value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f"'evaluation.{key}' = {value!r} is not a non-negative integer"
        elif key in NON_NEGATIVE_FIELDS and value is not None:
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                return f"'evaluation.{key}' = {value!r} is not a finite non-negative number"
    share = evaluation.get(TIED_SHARE)
    if _is_number(share) and share > 1:
        return f"'evaluation.{TIED_SHARE}' = {share} is above 1"
    return None


def code_version(folder: str | Path | None = None) -> str | None:
    """The git commit of the code a run used, ``+ local changes`` when the package's files differ
    from it; None outside a git checkout (an installed copy, no git)."""
    import subprocess

    folder = Path(folder) if folder is not None else Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        if head.returncode:
            return None
        changed = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."],
                                 capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + (" + local changes" if changed.stdout.strip() else "")


def data_identity(dataset: Any) -> dict[str, str]:
    """What a run record keeps of its dataset: the folder it was read from and the content
    fingerprints of its train and test splits (:meth:`Sessions.fingerprint`)."""
    return {"path": str(dataset.path), "train_fingerprint": dataset.fingerprint("train"),
            "test_fingerprint": dataset.fingerprint("test")}


def _identity_problem(record: dict[str, Any]) -> str | None:
    """Records since 2026-12-07 carry ``data`` (:func:`data_identity`) and ``code_version``; older ones may not."""
    data = record.get("data")
    if data is not None and not (isinstance(data, dict) and all(
            isinstance(data.get(key), str) and data.get(key) for key in ("train_fingerprint", "test_fingerprint"))):
        return "'data' does not hold the train and test fingerprints"
    version = record.get("code_version")
    if version is not None and not isinstance(version, str):
        return "'code_version' is not a string"
    return None


def record_problem(record: Any, path: Path | None = None) -> str | None:
    """What makes ``record`` not a usable run record (its JSON alone), or ``None`` when it is one.

    Checked: the keys every reader needs and their types; every metric finite and in [0, 1];
    every count a non-negative integer; and, given the record's ``path``, that its run id and
    dataset match the file name. The ranks file is checked by :func:`ranks_problem`.
    """
    if not isinstance(record, dict):
        return f"not a JSON object (a JSON {type(record).__name__})"
    for key in ("run_id", "dataset", "model", "ranks_file"):
        if not isinstance(record.get(key), str) or not record.get(key):
            return f"'{key}' is missing or not a string"
    evaluation = record.get("evaluation")
    if not isinstance(evaluation, dict):
        return "'evaluation' is missing"
    metrics = evaluation.get("metrics")
    if not isinstance(metrics, dict):
        return "'evaluation.metrics' is missing"
    if not metrics:
        return "'evaluation.metrics' is empty"
    blocks = [("", metrics)]
    if "sampled" in evaluation:
        sampled = evaluation["sampled"]
        if not isinstance(sampled, dict) or not isinstance(sampled.get("metrics"), dict):
            return "'evaluation.sampled' has no metrics"
        blocks.append(("sampled ", sampled["metrics"]))
    for kind, block in blocks:
        for key, value in block.items():
            problem = _metric_problem(kind, key, value)
            if problem is not None:
                return problem
    problem = _evaluation_problem(evaluation)
    if problem is not None:
        return problem
    if "sampled" in evaluation:
        problem = _evaluation_problem({k: v for k, v in evaluation["sampled"].items() if k != "metrics"})
        if problem is not None:
            return problem.replace("'evaluation.", "'evaluation.sampled.")
    if not isinstance(evaluation.get("n_events"), int):
        return "'evaluation.n_events' is missing (the number of ranked events)"
    checksum = record.get(CHECKSUM_KEY)
    if checksum is not None and (not isinstance(checksum, str) or len(checksum) != 64):
        return f"'{CHECKSUM_KEY}' is not a SHA-256 hex digest"
    problem = _identity_problem(record)
    if problem is not None:
        return problem
    if path is not None and (record["run_id"] != path.stem or record["dataset"] != path.parent.name):
        return f"run_id/dataset ({record['dataset']}/{record['run_id']}) do not match the file name"
    return None


def _npz_lengths(path: Path) -> dict[str, int]:
    """The first dimension of every array in an ``.npz`` file, read from the array headers only."""
    lengths = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, _ = read_header(member)
            lengths[name.removesuffix(".npy")] = shape[0] if shape else 1
    return lengths


def ranks_problem(record: dict[str, Any], path: Path) -> str | None:
    """What is wrong with the ranks file of a valid ``record`` stored at ``path``, or ``None``.

    The file must exist, match the record's checksum (when it has one; records written before
    checksums existed have none) and hold ``n_events`` ranks (and as many sampled ranks for a
    sampled run)."""
    ranks_path = path.with_name(record["ranks_file"])
    if not ranks_path.is_file():
        return f"its ranks file {record['ranks_file']} is missing"
    checksum = record.get(CHECKSUM_KEY)
    try:
        if checksum is not None and file_sha256(ranks_path) != checksum:
            return f"its ranks file {record['ranks_file']} does not match the record's checksum (changed since written)"
        lengths = _npz_lengths(ranks_path)
    except Exception as exc:  # zipfile, numpy and OS errors alike mean: not usable
        return f"unreadable ranks file ({type(exc).__name__})"
    if "ranks" not in lengths:
        return "unreadable ranks file (KeyError: no 'ranks' array)"
    n_events = record["evaluation"]["n_events"]
    if lengths["ranks"] != n_events:
        return f"ranks file has {lengths['ranks']} events, the record {n_events}"
    if "sampled" in record["evaluation"]:
        if "sampled_ranks" not in lengths:
            return "its ranks file has no sampled ranks (a sampled run needs them)"
        if lengths["sampled_ranks"] != n_events:
            return f"ranks file has {lengths['sampled_ranks']} sampled ranks, the record {n_events} events"
    return None


def read_run_record(path: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a usable run record at ``path``, ``(None, why)`` for one that is not.

    The one check behind every reader (:func:`load_run_records`, :func:`run_problem`): the
    file is UTF-8 JSON without NaN or Infinity, :func:`record_problem` finds nothing, and
    :func:`ranks_problem` finds nothing."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return None, f"cannot be read ({type(exc).__name__})"
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    try:
        record = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at line {exc.lineno} ({exc.msg}; cut short or edited?)"
    except (ValueError, RecursionError) as exc:
        return None, f"invalid JSON ({exc})"
    problem = record_problem(record, path) or ranks_problem(record, path)
    return (None, problem) if problem is not None else (record, None)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def run_problem(root: str | Path, dataset: str, run_id: str) -> str | None:
    """Why the run is not complete (``"missing"`` when never written), or ``None`` when it is."""
    path = record_path(root, dataset, run_id)
    if not path.is_file():
        return "missing"
    return read_run_record(path)[1]


def is_complete(root: str | Path, dataset: str, run_id: str) -> bool:
    """True when the run's record and ranks are both there and valid (see :func:`run_problem`)."""
    return run_problem(root, dataset, run_id) is None


def write_run(root: str | Path, record: RunRecord | dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` (ranks etc.) then the JSON ``record`` with the ranks file's checksum;
    returns the JSON path. A :class:`RunRecord` is checked whole (:meth:`RunRecord.from_dict`)
    before its JSON is written: an invalid record never reaches the results folder."""
    typed = isinstance(record, RunRecord)
    if isinstance(record, RunRecord):
        record = record.to_dict()
    path = record_path(root, record["dataset"], record["run_id"])
    ranks_path = path.with_name(record["run_id"] + RANKS_SUFFIX)
    checksum: list[str] = []

    def write_npz(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            # Any: savez_compressed types its **arrays like its allow_pickle flag, and these are arrays
            np.savez_compressed(handle, **cast(dict[str, Any], arrays))
        checksum.append(file_sha256(tmp))

    _atomic_write_bytes(ranks_path, write_npz)
    record = {**record, "ranks_file": ranks_path.name, CHECKSUM_KEY: checksum[0]}
    if typed:
        record = RunRecord.from_dict(json.loads(json.dumps(record, default=_json_default))).to_dict()
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
    """Every run record under ``root``, sorted by path; a file that is not a usable record
    (:func:`read_run_record`) becomes an entry ``{"_path", "error"}`` of its own, so every
    reader can say which file it skipped and why (:func:`skipped_records`)."""
    records = []
    for path in sorted(Path(root).glob("*/*.json")):
        record, problem = read_run_record(path)
        if record is None:
            records.append({"_path": str(path), "error": problem})
        else:
            record["_path"] = str(path)
            records.append(record)
    return records


def skipped_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``{"_path", "error"}`` entries of :func:`load_run_records`: files no table uses."""
    return [r for r in records if "error" in r]


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
    """Published numbers: dataset, model, metric, k, value, source, protocol_note.

    A missing file is an empty table; a file that cannot be used (not UTF-8 CSV, a column
    missing, a value that is not a finite number in [0, 1], a cut-off that is not a positive
    integer) raises :class:`ValueError` naming the file, the row and the problem."""
    columns = ["dataset", "model", "metric", "k", "value", "source", "protocol_note"]
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    try:
        frame = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: not a readable CSV table ({str(exc).strip()})") from exc
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    values = pd.to_numeric(frame["value"], errors="coerce")
    ks = pd.to_numeric(frame["k"], errors="coerce")
    for row, (value, k, raw_value, raw_k) in enumerate(zip(values, ks, frame["value"], frame["k"]), start=2):
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"{path}: line {row}: value {raw_value!r} is not a number in [0, 1]")
        if not (math.isfinite(k) and k >= 1 and k == int(k)):
            raise ValueError(f"{path}: line {row}: k {raw_k!r} is not a positive integer")
    for key in ("dataset", "model", "metric"):
        blank = frame[key].isna() | (frame[key].astype(str).str.strip() == "")
        if blank.any():
            raise ValueError(f"{path}: line {int(blank.to_numpy().argmax()) + 2}: '{key}' is empty")
    return frame[columns].assign(value=values.astype(float), k=ks.astype(int))
