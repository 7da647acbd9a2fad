"""Prepared datasets: a folder with its splits, statistics, provenance and catalogue.

Layout of ``data/<name>/``::

    dataset.json     name, description, provenance, evaluation protocol, statistics
    train.tsv.gz     SessionId, ItemId, Time (or Pos where the data has no times)
    test.tsv.gz
    train_tr.tsv.gz  optional validation split of train (train_tr / valid)
    valid.tsv.gz
    items.csv        optional catalogue: ItemId, Name, Category

The app lists every folder under ``data/`` holding a ``dataset.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sessrec.data.preprocess import split_statistics
from sessrec.data.readers import read_session_table
from sessrec.data.sessions import Sessions
from sessrec.errors import DataFormatError

SPLITS = ("train", "test", "train_tr", "valid")
INFO_FILE = "dataset.json"
CATALOGUE_FILE = "items.csv"


def _split_path(folder: Path, split: str) -> Path:
    return folder / f"{split}.tsv.gz"


def write_dataset(
    folder: str | Path,
    splits: dict[str, pd.DataFrame],
    *,
    name: str,
    description: str = "",
    provenance: dict[str, Any] | None = None,
    min_position: int = 1,
    catalogue: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write a prepared dataset; returns the info dict stored in ``dataset.json``."""
    folder = Path(folder)
    for required in ("train", "test"):
        if required not in splits:
            raise ValueError(f"a dataset needs a '{required}' split")
        if splits[required].empty:
            raise DataFormatError(f"dataset {name}: the {required} split is empty")
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split name(s) {sorted(unknown)} (allowed: {SPLITS})")
    folder.mkdir(parents=True, exist_ok=True)
    stats = {}
    for split, frame in splits.items():
        columns = ["SessionId", "ItemId", "Time" if "Time" in frame.columns else "Pos"]
        # mtime=0 keeps the gzip bytes identical for identical content (reproducible demo)
        frame[columns].to_csv(
            _split_path(folder, split), sep="\t", index=False, compression={"method": "gzip", "mtime": 0}
        )
        stats[split] = split_statistics(frame)
    if catalogue is not None:
        catalogue[["ItemId", "Name", "Category"]].to_csv(folder / CATALOGUE_FILE, index=False)
    info = {
        "name": name,
        "description": description,
        "provenance": provenance or {},
        "protocol": {"min_position": int(min_position)},
        "splits": stats,
        "has_catalogue": catalogue is not None,
    }
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info


@dataclass
class Dataset:
    """A prepared dataset folder; splits are read on first use."""

    path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.get("name", self.path.name)

    @property
    def min_position(self) -> int:
        return int(self.info.get("protocol", {}).get("min_position", 1))

    def has_split(self, split: str) -> bool:
        return _split_path(self.path, split).is_file()

    def frame(self, split: str) -> pd.DataFrame:
        path = _split_path(self.path, split)
        if not path.is_file():
            raise DataFormatError(f"{self.path}: dataset has no '{split}' split ({path.name} missing)")
        return read_session_table(path)

    def sessions(self, split: str) -> Sessions:
        return Sessions.from_frame(self.frame(split))

    @cached_property
    def train(self) -> Sessions:
        return self.sessions("train")

    @cached_property
    def test(self) -> Sessions:
        return self.sessions("test")

    def fingerprint(self, split: str = "train") -> str:
        """Content hash of one split (see :meth:`Sessions.fingerprint`); cached per split."""
        cache = self.__dict__.setdefault("_fingerprints", {})
        if split not in cache:
            sessions = self.train if split == "train" else self.sessions(split)
            cache[split] = sessions.fingerprint()
        return cache[split]

    def identity(self, split: str = "train") -> dict[str, str]:
        """What a checkpoint records of the data it was trained on: name, split, fingerprint."""
        return {"name": self.name, "split": split, "fingerprint": self.fingerprint(split)}

    @cached_property
    def catalogue(self) -> pd.DataFrame:
        """ItemId, Name, Category, Named for every training item (generated names where absent)."""
        path = self.path / CATALOGUE_FILE
        items = pd.DataFrame({"ItemId": self.train.unique_items()})
        if path.is_file():
            given = pd.read_csv(path)
            missing = {"ItemId", "Name", "Category"} - set(given.columns)
            if missing:
                raise DataFormatError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            items = items.merge(given, on="ItemId", how="left")
        else:
            items["Name"] = pd.NA
            items["Category"] = pd.NA
        items["Named"] = items["Name"].notna().to_numpy(bool)  # False: the data has no name for it
        items["Name"] = items["Name"].fillna("item " + items["ItemId"].astype(str))
        items["Category"] = items["Category"].fillna("(no category)")
        return items


def load_dataset(folder: str | Path) -> Dataset:
    """Open a prepared dataset folder (reads only ``dataset.json`` now)."""
    folder = Path(folder)
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise DataFormatError(f"{folder}: not a prepared dataset (no {INFO_FILE}); see `python -m sessrec prepare --help`")
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{info_path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(info, dict):
        raise DataFormatError(f"{info_path}: expected a JSON object")
    for split in ("train", "test"):
        if not _split_path(folder, split).is_file():
            raise DataFormatError(f"{folder}: the '{split}' split is missing ({split}.tsv.gz)")
    return Dataset(folder, info)


def find_datasets(root: str | Path = "data") -> list[tuple[Path, Dataset | None, str | None]]:
    """Every folder under ``root`` with a ``dataset.json``: ``(path, dataset or None, error)``."""
    root = Path(root)
    found = []
    for info in sorted(root.glob(f"*/{INFO_FILE}")):
        try:
            found.append((info.parent, load_dataset(info.parent), None))
        except DataFormatError as exc:
            found.append((info.parent, None, str(exc)))
    return found
