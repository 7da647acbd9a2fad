"""Checkpoints as the app sees them: found, described, checked against a dataset, loaded.

Nothing here raises on a bad file: every problem becomes a message on the entry, so one
broken checkpoint is listed with its error instead of taking the app down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sessrec.errors import CheckpointError
from sessrec.models.registry import REGISTRY, label_of  # noqa: F401 - label_of re-exported for pages
from sessrec.ui.paths import display_path

def roles() -> tuple[tuple[str, str], ...]:
    """The models the playground shows, in display order: (model name, label), from the registry."""
    return tuple((spec.name, spec.label) for spec in REGISTRY)


@dataclass
class CheckpointEntry:
    """One ``*.pt`` file under the checkpoints folder."""

    path: str
    mtime: float
    model: str | None = None
    dataset: str | None = None
    n_items: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    training_log: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float | None = None
    item_ids: np.ndarray | None = field(default=None, repr=False)
    dataset_identity: dict[str, Any] | None = None  # name, split, fingerprint of the training data
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def name(self) -> str:
        return display_path(self.path)


def describe_checkpoint(path: str | Path) -> CheckpointEntry:
    """Read one checkpoint's metadata and item ids (no model is built)."""
    from sessrec.models.io import read_checkpoint

    path = Path(path)
    entry = CheckpointEntry(path=str(path), mtime=path.stat().st_mtime if path.exists() else 0.0)
    try:
        payload = read_checkpoint(path)
        meta = payload.get("meta") or {}
        entry.model = str(payload["model"])
        entry.dataset = meta.get("dataset")
        identity = meta.get("dataset_identity")
        entry.dataset_identity = dict(identity) if isinstance(identity, dict) else None
        entry.item_ids = payload["item_ids"].numpy().astype(np.int64)
        entry.n_items = len(entry.item_ids)
        entry.hyperparameters = dict(payload.get("hyperparameters") or {})
        log = meta.get("training_log") or []
        entry.training_log = [dict(row) for row in log if isinstance(row, dict)]
        entry.train_seconds = meta.get("train_seconds")
    except CheckpointError as exc:
        entry.error = short_error(str(exc))
    except Exception as exc:  # noqa: BLE001 - anything odd in a file is the file's problem
        entry.error = short_error(f"{display_path(path)}: cannot be read ({type(exc).__name__}: {exc})")
    return entry


def short_error(message: str, limit: int = 300) -> str:
    """First line of an error, without terminal colour codes, at most ``limit`` characters."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", message).strip().splitlines()[0] if message.strip() else "unknown error"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def find_checkpoint_files(root: str | Path) -> list[Path]:
    """The session-model checkpoints below ``root``: every ``*.pt`` except the user-context models
    (``<root>/<dataset>/users/``, the Known users page's), which no session page can load."""
    from sessrec.data.user_data import USER_MODELS_DIR

    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.pt") if p.is_file()
                  and not (len(p.relative_to(root).parts) >= 3 and p.parent.name == USER_MODELS_DIR))


def is_training_state(path: str | Path) -> bool:
    """Whether ``path`` is where the benchmark runner keeps a run's per-epoch state
    (``<checkpoints>/partial/<dataset>/<run>.pt``, see ``benchmark.PARTIAL_DIR``): weights
    of an unfinished run, which the live pages never offer as a model."""
    return Path(path).parent.parent.name == "partial"


def catalogue_fit(entry: CheckpointEntry, dataset_name: str, dataset_items: np.ndarray,
                  fingerprint_of: Callable[[str], str]) -> str | None:
    """Why the checkpoint does not belong to this dataset, or None when it does.

    A checkpoint belongs to the dataset it was trained on, recognised by name and by the
    fingerprint of its training split (``meta.dataset_identity``), never by overlapping
    item ids: the demo shop's ids all exist in Diginetica too. ``fingerprint_of(split)``
    gives this dataset's fingerprint of a split. Checkpoints written before fingerprints
    existed are matched by name and must know only items of this catalogue.
    """
    if is_training_state(entry.path):
        return "a benchmark run's per-epoch training state, not a finished model (python -m sessrec progress)"
    if entry.dataset != dataset_name:
        return f"trained on dataset '{entry.dataset or 'unknown'}', not '{dataset_name}'"
    identity = entry.dataset_identity
    if identity:
        split = str(identity.get("split") or "train")
        try:
            here = fingerprint_of(split)
        except Exception as exc:  # noqa: BLE001 - the split may be missing or broken
            return f"trained on split '{split}', which this dataset cannot provide ({short_error(str(exc))})"
        if identity.get("fingerprint") != here:
            return (f"trained on another version of '{dataset_name}' (its '{split}' split has changed "
                    "since); retrain it")
        return None
    if entry.item_ids is not None and not np.isin(entry.item_ids, dataset_items).all():
        return f"knows items that are not in '{dataset_name}' (an older checkpoint without a data fingerprint)"
    return None


def load_checkpoint(path: str | Path) -> Any:
    """Build the model in ``path`` with :func:`sessrec.models.io.load_model`, the one loader;
    raises :class:`CheckpointError` with a readable message, also when the model's own module
    cannot be imported (the other models, imported on first use, keep loading)."""
    from sessrec.models import io

    try:
        return io.load_model(path)
    except ImportError as exc:
        name = io.read_checkpoint(path)["model"]
        raise CheckpointError(
            f"{display_path(path)}: model '{name}' cannot be imported in this installation ({exc})") from exc


def default_checkpoint(entries: list[CheckpointEntry], model: str, dataset_name: str,
                       warnings: dict[str, str | None]) -> str | None:
    """The checkpoint to preselect for ``model`` on ``dataset_name``: one that fits, preferring
    ``checkpoints/<dataset>/<model>.pt``, then the newest."""
    fitting = [e for e in entries if e.ok and e.model == model and not warnings.get(e.path)
               and (e.dataset in (None, dataset_name))]
    if not fitting:
        return None
    fitting.sort(key=lambda e: (Path(e.path).parent.name != dataset_name, Path(e.path).stem != model, -e.mtime))
    return fitting[0].path
