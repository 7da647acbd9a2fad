"""Prepared datasets: a folder with its splits, statistics, provenance and catalogue.

Layout of ``data/<name>/``::

    dataset.json     name, description, provenance, evaluation protocol, statistics
    train.tsv.gz     SessionId, ItemId, Time (or Pos where the data has no times)
    test.tsv.gz
    train_tr.tsv.gz  optional validation split of train (train_tr / valid)
    valid.tsv.gz
    items.csv        optional catalogue: ItemId, Name, Category

The app lists every folder under ``data/`` holding a ``dataset.json``. The dataset's
``name`` decides where results and checkpoints go (``results/<name>/``,
``checkpoints/<name>/``), so it must be a safe name: see :func:`check_dataset_name`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.data.preprocess import split_statistics
from sessrec.data.readers import _as_int64, read_csv_checked, read_session_table
from sessrec.data.sessions import Sessions
from sessrec.errors import DataFormatError, OutputPathError, ParameterError, SessrecError, quote

SPLITS = ("train", "test", "train_tr", "valid")
INFO_FILE = "dataset.json"
CATALOGUE_FILE = "items.csv"
#: a dataset name becomes a folder name: letters, digits, ``.``, ``_``, ``-``; starts with a letter or digit
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_dataset_name(name: object) -> bool:
    """True for a name that is safe as one folder name (no ``/``, ``..``, absolute path, spaces)."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def check_dataset_name(name: object, where: str, error: type[SessrecError] = DataFormatError) -> str:
    """``name`` if it is a safe dataset name, else ``error`` saying where it came from and the rule.

    Output folders (``results/<name>``, ``checkpoints/<name>``) are built from it, so a name
    such as ``../../x`` or ``/tmp/x`` must never get through.
    """
    if not isinstance(name, str):
        raise error(f"{where}: the dataset name must be a string, got {type(name).__name__} {quote(name)}")
    if not is_dataset_name(name):
        raise error(f"{where}: dataset name {quote(name)} is not allowed ({NAME_RULE})")
    return name


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
    """Write a prepared dataset; returns the info dict stored in ``dataset.json``.

    Everything is checked before the first byte is written: the name (a safe folder name,
    :class:`ParameterError`), the folder (not an existing file, :class:`OutputPathError`),
    the splits (train and test present and non-empty, finite times, some test item known
    to training: :class:`DataFormatError`).
    """
    folder = Path(folder)
    check_dataset_name(name, "dataset name", ParameterError)
    check_output_folder(folder)
    for required in ("train", "test"):
        if required not in splits:
            raise ValueError(f"a dataset needs a '{required}' split")
        if splits[required].empty:
            raise DataFormatError(f"dataset {name}: the {required} split is empty")
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split name(s) {sorted(unknown)} (allowed: {SPLITS})")
    for split, frame in splits.items():
        if "Time" in frame.columns and not np.isfinite(frame["Time"].to_numpy(np.float64)).all():
            raise DataFormatError(f"dataset {name}: the {split} split has non-finite times (inf or nan)")
    for fit, target in (("train", "test"), ("train_tr", "valid")):
        if fit in splits and target in splits:
            check_known_items(splits[target]["ItemId"].to_numpy(), splits[fit]["ItemId"].to_numpy(),
                              f"dataset {name}: {target} split", fit)
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
    try:
        text = json.dumps(info, indent=2, allow_nan=False)  # NaN/Infinity are not JSON
    except ValueError as exc:
        raise DataFormatError(f"dataset {name}: statistics hold a non-finite number ({exc})") from exc
    (folder / INFO_FILE).write_text(text + "\n", encoding="utf-8")
    return info


def check_output_folder(folder: Path, flag: str = "output folder") -> None:
    """An output folder must be a folder or creatable as one (no file in its place or above it)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{flag} {folder}: exists and is not a folder")
    for parent in folder.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(f"{flag} {folder}: {parent} is a file, not a folder")
            break


def check_known_items(items: np.ndarray, known: np.ndarray, what: str, fit: str = "train") -> None:
    """Refuse an evaluation set none of whose items the ``fit`` split has seen (metrics would be NaN)."""
    if len(items) and not np.isin(items, known).any():
        raise DataFormatError(
            f"{what}: none of its {len(np.unique(items)):,} items occurs in the {fit} split, "
            "so no event can be evaluated (are the two files from the same dataset, with the same item ids?)"
        )


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
            given = read_csv_checked(path, dtype=str, keep_default_na=False)
            missing = {"ItemId", "Name", "Category"} - set(given.columns)
            if missing:
                raise DataFormatError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            given = pd.DataFrame({"ItemId": _as_int64(given["ItemId"], "ItemId", path),
                                  "Name": given["Name"].replace("", pd.NA),
                                  "Category": given["Category"].replace("", pd.NA)})
            duplicated = given["ItemId"].duplicated()
            if duplicated.any():
                row = int(np.flatnonzero(duplicated.to_numpy())[0])
                raise DataFormatError(f"{path}: line {row + 2}: item {given['ItemId'].iloc[row]} is listed twice")
            items = items.merge(given, on="ItemId", how="left")
        else:
            items["Name"] = pd.NA
            items["Category"] = pd.NA
        items["Named"] = items["Name"].notna().to_numpy(bool)  # False: the data has no name for it
        items["Name"] = items["Name"].fillna("item " + items["ItemId"].astype(str))
        items["Category"] = items["Category"].fillna("(no category)")
        return items


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number in JSON")


def read_info(info_path: Path) -> dict[str, Any]:
    """Read and validate ``dataset.json``; any problem is a :class:`DataFormatError` naming it."""
    try:
        data = info_path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"{info_path}: cannot be read ({type(exc).__name__}: {exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{info_path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        info = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{info_path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    except ValueError as exc:  # NaN / Infinity
        raise DataFormatError(f"{info_path}: invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise DataFormatError(f"{info_path}: invalid JSON (nested too deeply)") from exc
    validate_info(info, info_path)
    return info


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def validate_info(info: Any, where: Path | str) -> None:
    """Check the shape of a ``dataset.json``: the fields sessrec reads, with their types."""
    if not isinstance(info, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {_kind(info)}")
    if "name" not in info:
        raise DataFormatError(f"{where}: 'name' is missing (expected the dataset name, {NAME_RULE})")
    check_dataset_name(info["name"], f"{where}: 'name'")
    for key, kind in (("description", str), ("provenance", dict), ("protocol", dict), ("has_catalogue", bool)):
        if key in info and not isinstance(info[key], kind):
            raise DataFormatError(f"{where}: '{key}' must be {_kind(kind())}, got {_kind(info[key])}")
    min_position = info.get("protocol", {}).get("min_position", 1)
    if type(min_position) is not int or min_position < 1:
        raise DataFormatError(f"{where}: 'protocol.min_position' must be an integer >= 1, got {quote(min_position)}")
    splits = info.get("splits")
    if not isinstance(splits, dict):
        raise DataFormatError(f"{where}: 'splits' must be an object of per-split statistics, got {_kind(splits)}")
    for split, stats in splits.items():
        if split not in SPLITS:
            raise DataFormatError(f"{where}: 'splits' has unknown split {quote(split)} (allowed: {', '.join(SPLITS)})")
        if not isinstance(stats, dict):
            raise DataFormatError(f"{where}: 'splits.{split}' must be an object, got {_kind(stats)}")
        for key, value in stats.items():
            ok = value is None or (type(value) in (int, float) and math.isfinite(value))
            if not ok:
                raise DataFormatError(f"{where}: 'splits.{split}.{key}' must be a number, got {quote(value)}")
            if value is not None and value < 0:  # counts, days and lengths alike
                raise DataFormatError(f"{where}: 'splits.{split}.{key}' = {quote(value)} is negative "
                                      "(a count, a number of days or a length)")


def load_dataset(folder: str | Path) -> Dataset:
    """Open a prepared dataset folder (reads and validates only ``dataset.json`` now)."""
    folder = Path(folder)
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise DataFormatError(f"{folder}: not a prepared dataset (no {INFO_FILE}); see `python -m sessrec prepare --help`")
    info = read_info(info_path)
    for split in ("train", "test"):
        if not _split_path(folder, split).is_file():
            raise DataFormatError(f"{folder}: the '{split}' split is missing ({split}.tsv.gz)")
    return Dataset(folder, info)


def find_datasets(root: str | Path = "data") -> list[tuple[Path, Dataset | None, str | None]]:
    """Every folder under ``root`` with a ``dataset.json``: ``(path, dataset or None, error)``.

    A folder that cannot be opened is listed with its error; it never stops the others.
    """
    root = Path(root)
    found: list[tuple[Path, Dataset | None, str | None]] = []
    for info in sorted(root.glob(f"*/{INFO_FILE}")):
        try:
            found.append((info.parent, load_dataset(info.parent), None))
        except SessrecError as exc:
            found.append((info.parent, None, str(exc)))
        except OSError as exc:
            found.append((info.parent, None, f"{info.parent}: cannot be read ({type(exc).__name__}: {exc})"))
    return found
