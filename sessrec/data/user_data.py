"""Prepared user-context datasets: known users, items with attributes, interactions in a context.

A folder holds

* ``interactions.csv.gz``: ``UserId, ItemId, Time`` (Unix seconds), ``Action`` (``view``,
  ``cart``, ``purchase`` or ``rating``), ``Rating`` (1-5 or empty), ``Label`` (1 for a
  positive interaction: a cart or a purchase, or a rating >= 4; else 0) and one column
  per context feature;
* ``items.csv``: ``ItemId, Name, Category, Brand, Price, Discount`` (attributes may be empty);
* ``users.csv``: ``UserId`` and the user's attributes;
* ``user_dataset.json``: name, description, the context features, statistics, provenance,
  the split rule and, optionally, ``models``: where its trained models live under the
  checkpoint root (default ``<name>/users``). (Not ``dataset.json``, so the session
  surfaces never list it.)

The split is part of the format so that every model, the online path and the database see
the same one: each user's last ``test_share`` of interactions by time (at least one
positive) is the test part, see :func:`split_by_user`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.data.interactions import Interactions
from sessrec.errors import DataFormatError

INFO_FILE = "user_dataset.json"
ACTIONS = ("view", "cart", "purchase", "rating")
POSITIVE_RATING = 4.0
DEFAULT_TEST_SHARE = 0.2
ITEM_COLUMNS = ("ItemId", "Name", "Category", "Brand", "Price", "Discount")

#: the folder under ``<checkpoints>/<dataset>/`` that holds a dataset's user-context models
USER_MODELS_DIR = "users"


def label_of(action: pd.Series, rating: pd.Series) -> pd.Series:
    """1.0 for a cart or purchase, or a rating >= 4 where there is one; else 0.0."""
    positive = action.isin(["cart", "purchase"]) | (rating >= POSITIVE_RATING)
    return positive.astype(np.float32)


@dataclass
class CleaningReport:
    """What :func:`clean_interactions` removed, to print."""

    rows_in: int
    missing: int
    unknown_action: int
    duplicates: int
    rows_out: int

    def lines(self) -> list[str]:
        return [f"clean: {self.rows_in:,} rows read",
                f"clean: {self.missing:,} rows with a missing user, item or time dropped",
                f"clean: {self.unknown_action:,} rows with an unknown action dropped",
                f"clean: {self.duplicates:,} duplicate rows (same user, item, time, action) dropped",
                f"clean: {self.rows_out:,} rows kept"]


def clean_interactions(frame: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Drop rows missing a user, item or time, rows with an unknown action, and exact duplicates."""
    rows_in = len(frame)
    keep = frame[["UserId", "ItemId", "Time"]].notna().all(axis=1)
    frame = frame[keep]
    missing = rows_in - len(frame)
    known = frame["Action"].isin(ACTIONS)
    unknown = int((~known).sum())
    frame = frame[known]
    before = len(frame)
    frame = frame.drop_duplicates(subset=["UserId", "ItemId", "Time", "Action"])
    frame = frame.astype({"UserId": np.int64, "ItemId": np.int64, "Time": np.int64})
    report = CleaningReport(rows_in, missing, unknown, before - len(frame), len(frame))
    return frame.sort_values(["Time", "UserId", "ItemId"], kind="stable").reset_index(drop=True), report


def split_by_user(frame: pd.DataFrame, test_share: float = DEFAULT_TEST_SHARE) -> np.ndarray:
    """A boolean test mask: each user's last ``test_share`` of interactions by time.

    The test part of a user always starts at a positive interaction, so it holds at least one
    (it is moved back to the user's last positive if the share would hold none); users with
    fewer than two positives stay wholly in train (nothing would be left to learn them from).
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share = {test_share!r} is not allowed (allowed: a number between 0 and 1)")
    order = np.lexsort((np.arange(len(frame)), frame["Time"].to_numpy(), frame["UserId"].to_numpy()))
    users = frame["UserId"].to_numpy()[order]
    labels = frame["Label"].to_numpy()[order]
    test = np.zeros(len(frame), dtype=bool)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    for start, end in zip(starts.tolist(), ends.tolist()):
        positives = start + np.flatnonzero(labels[start:end] >= 1.0)
        if len(positives) < 2:
            continue
        cut = end - max(1, int(round(test_share * (end - start))))
        later = positives[positives >= cut]
        first_test = later[0] if len(later) else positives[-1]
        first_test = max(first_test, positives[1])  # keep a positive in train
        test[order[first_test:end]] = True
    return test


@dataclass
class UserDataset:
    """A prepared user-context dataset folder (see the module docstring)."""

    path: Path
    info: dict[str, Any]
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def context_features(self) -> tuple[str, ...]:
        return tuple(self.info["context"])

    @property
    def models_folder(self) -> str:
        """Its trained models' folder, relative to the checkpoint root."""
        return str(self.info.get("models") or f"{self.name}/{USER_MODELS_DIR}")

    @property
    def has_ratings(self) -> bool:
        return bool(self.interactions["Rating"].notna().any())

    def test_mask(self) -> np.ndarray:
        return split_by_user(self.interactions, float(self.info.get("split", {}).get("test_share", DEFAULT_TEST_SHARE)))

    def split(self) -> tuple[Interactions, Interactions]:
        """``(train, test)`` as :class:`Interactions` with the dataset's context features."""
        test = self.test_mask()
        frame = self.interactions
        return (Interactions.from_frame(frame[~test], self.context_features),
                Interactions.from_frame(frame[test], self.context_features))

    def ratings(self, test: bool) -> tuple[Interactions, np.ndarray]:
        """The rated interactions of the train (``test=False``) or test part and their ratings."""
        mask = self.test_mask() == test
        rated = self.interactions[mask & self.interactions["Rating"].notna().to_numpy()]
        return Interactions.from_frame(rated, self.context_features), rated["Rating"].to_numpy(np.float64)


def write_user_dataset(folder: str | Path, interactions: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame,
                       info: dict[str, Any]) -> Path:
    """Write a prepared folder; statistics are computed here, the rest of ``info`` is kept."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    interactions = interactions.copy()
    interactions["Label"] = label_of(interactions["Action"], interactions["Rating"])
    test = split_by_user(interactions, float(info.get("split", {}).get("test_share", DEFAULT_TEST_SHARE)))
    info = {**info, "stats": dataset_stats(interactions, test)}
    interactions.to_csv(folder / "interactions.csv.gz", index=False, float_format="%.6g",
                        compression={"method": "gzip", "mtime": 0})
    items.to_csv(folder / "items.csv", index=False, float_format="%.6g")
    users.to_csv(folder / "users.csv", index=False)
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return folder


def dataset_stats(interactions: pd.DataFrame, test: np.ndarray) -> dict[str, Any]:
    """Counts of users, items, interactions, positives and actions, overall and per split."""
    def part(frame: pd.DataFrame) -> dict[str, Any]:
        return {"interactions": int(len(frame)), "users": int(frame["UserId"].nunique()),
                "items": int(frame["ItemId"].nunique()), "positives": int((frame["Label"] >= 1).sum()),
                "ratings": int(frame["Rating"].notna().sum())}
    return {**part(interactions), "actions": {a: int(n) for a, n in interactions["Action"].value_counts().items()},
            "train": part(interactions[~test]), "test": part(interactions[test])}


def load_user_dataset(folder: str | Path) -> UserDataset:
    """Open a prepared user-context folder; a missing or malformed part is a :class:`DataFormatError`."""
    folder = Path(folder)
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        raise DataFormatError(f"{folder}: not a prepared user-context dataset (no {INFO_FILE}); "
                              "see `python -m sessrec users prepare --help`")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{info_path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(info, dict) or not isinstance(info.get("name"), str) or not isinstance(info.get("context"), list):
        raise DataFormatError(f"{info_path}: expected an object with 'name' (text) and 'context' (a list)")
    tables = {}
    for name in ("interactions.csv.gz", "items.csv", "users.csv"):
        try:
            tables[name] = pd.read_csv(folder / name)
        except FileNotFoundError as exc:
            raise DataFormatError(f"{folder}: {name} is missing") from exc
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataFormatError(f"{folder / name}: cannot be read ({type(exc).__name__}: {exc})") from exc
    frame = tables["interactions.csv.gz"]
    needed = ["UserId", "ItemId", "Time", "Action", "Rating", "Label", *info["context"]]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataFormatError(f"{folder}/interactions.csv.gz: missing column(s) {', '.join(missing)}")
    for column in info["context"]:
        frame[column] = frame[column].astype(str)
    items = tables["items.csv"]
    if "ItemId" not in items.columns:
        raise DataFormatError(f"{folder}/items.csv: the ItemId column is missing")
    return UserDataset(folder, info, frame, items, tables["users.csv"])


def find_user_datasets(root: str | Path = "data") -> list[Path]:
    """Folders under ``root`` holding a prepared user-context dataset, by name."""
    return sorted(p.parent for p in Path(root).glob(f"*/{INFO_FILE}"))
