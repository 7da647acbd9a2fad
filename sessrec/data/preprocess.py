"""Preprocessing of raw click logs, following the official GRU4Rec experiments.

1. drop consecutive repeats of the same item inside a session;
2. filter iteratively until nothing changes: items with fewer than
   ``min_item_support`` events and sessions shorter than ``min_session_length`` go;
3. split by time: sessions that end in the last ``test_days`` days form the test set,
   the rest the training set; test events on items unseen in training are removed and
   too-short test sessions dropped; the same split inside the training set gives
   train_tr / valid for tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from typing import Any

import pandas as pd

from sessrec.errors import DataFormatError

DAY = 86400.0


@dataclass(frozen=True)
class PreprocessConfig:
    min_item_support: int = 5
    min_session_length: int = 2
    test_days: float = 1.0
    valid_days: float = 1.0


def drop_consecutive_repeats(events: pd.DataFrame) -> pd.DataFrame:
    """Remove an event when the previous event of the same session has the same item."""
    ordered = events.sort_values(["SessionId", "Time"], kind="stable")
    same_session = ordered["SessionId"].to_numpy()[1:] == ordered["SessionId"].to_numpy()[:-1]
    same_item = ordered["ItemId"].to_numpy()[1:] == ordered["ItemId"].to_numpy()[:-1]
    keep = np.r_[True, ~(same_session & same_item)]
    return ordered[keep].reset_index(drop=True)


def filter_until_stable(events: pd.DataFrame, min_item_support: int, min_session_length: int) -> pd.DataFrame:
    """Apply the item-support and session-length filters until both hold."""
    while True:
        before = len(events)
        support = events.groupby("ItemId")["ItemId"].transform("size")
        events = events[support >= min_item_support]
        length = events.groupby("SessionId")["SessionId"].transform("size")
        events = events[length >= min_session_length]
        if len(events) == before:
            return events.reset_index(drop=True)


def split_by_time(
    events: pd.DataFrame, days: float, min_session_length: int, name: str = "test"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, test): test = sessions ending in the last ``days`` days.

    Test events on items absent from train are removed, then test sessions shorter than
    ``min_session_length`` are dropped, as GRU4Rec's preprocessing does.
    """
    if events.empty:
        raise DataFormatError(f"cannot split an empty event set into train/{name}")
    session_end = events.groupby("SessionId")["Time"].max()
    cut = events["Time"].max() - days * DAY
    test_sessions = session_end.index[session_end > cut]
    in_test = events["SessionId"].isin(test_sessions)
    train, test = events[~in_test], events[in_test]
    test = test[test["ItemId"].isin(train["ItemId"].unique())]
    length = test.groupby("SessionId")["SessionId"].transform("size")
    test = test[length >= min_session_length]
    if train.empty:
        raise DataFormatError(f"the train part is empty after splitting off the last {days:g} days as {name}")
    if test.empty:
        raise DataFormatError(
            f"the {name} part is empty after filtering: no session of length >= {min_session_length} "
            f"ends in the last {days:g} days on items known to training"
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def prediction_cases(events: pd.DataFrame, min_position: int = 1) -> int:
    """Number of (prefix -> next item) cases of a split: every position >= ``min_position``."""
    lengths = events.groupby("SessionId", sort=False).size().to_numpy()
    return int(np.clip(lengths - min_position, 0, None).sum())


def split_last_sessions(
    train: pd.DataFrame, n_cases: int, min_position: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``train`` into (train_tr, valid): valid = the most recent sessions, in file order,
    until they hold at least ``n_cases`` prediction cases (:func:`prediction_cases`).

    For splits whose sessions carry order but no time (the SR-GNN and COTREC splits store
    training sessions chronologically): the validation split is carved from train the way
    their test split was carved from the whole, the latest sessions, with as many cases as
    the test split has. The evaluator removes valid events on items unseen in train_tr
    (and counts them), as it does for test.
    """
    if n_cases < 1:
        raise DataFormatError(f"a validation split needs at least one case, asked for {n_cases}")
    order = pd.unique(train["SessionId"])  # file order = chronological order for these splits
    lengths = train.groupby("SessionId", sort=False).size().reindex(order).to_numpy()
    cases_from_end = np.cumsum(np.clip(lengths - min_position, 0, None)[::-1])
    if cases_from_end[-1] < 2 * n_cases:
        raise DataFormatError(f"train has {int(cases_from_end[-1]):,} prediction cases: too few to hold out "
                              f"{n_cases:,} for validation and keep most for training")
    n_valid_sessions = int(np.searchsorted(cases_from_end, n_cases) + 1)
    in_valid = train["SessionId"].isin(order[len(order) - n_valid_sessions:])
    return train[~in_valid].reset_index(drop=True), train[in_valid].reset_index(drop=True)


def preprocess_events(events: pd.DataFrame, config: PreprocessConfig = PreprocessConfig()) -> dict[str, pd.DataFrame]:
    """Raw events (``SessionId, ItemId, Time``) to the splits train, test, train_tr, valid."""
    if "Time" not in events.columns:
        raise DataFormatError("raw preprocessing needs a Time column to split by time")
    events = drop_consecutive_repeats(events)
    events = filter_until_stable(events, config.min_item_support, config.min_session_length)
    if events.empty:
        raise DataFormatError(
            f"nothing is left after filtering (item support >= {config.min_item_support}, "
            f"session length >= {config.min_session_length})"
        )
    train, test = split_by_time(events, config.test_days, config.min_session_length, "test")
    train_tr, valid = split_by_time(train, config.valid_days, config.min_session_length, "valid")
    return {"train": train, "test": test, "train_tr": train_tr, "valid": valid}


def split_statistics(events: pd.DataFrame) -> dict[str, float | int | None]:
    """Events, sessions, items, days spanned and session length min/mean/max of one split."""
    lengths = events.groupby("SessionId").size() if len(events) else pd.Series(dtype=int)
    days = None
    if "Time" in events.columns and len(events):
        days = float((events["Time"].max() - events["Time"].min()) / DAY)
    return {
        "events": int(len(events)),
        "sessions": int(events["SessionId"].nunique()),
        "items": int(events["ItemId"].nunique()),
        "days": None if days is None else round(days, 2),
        "length_min": int(lengths.min()) if len(lengths) else 0,
        "length_mean": round(float(lengths.mean()), 3) if len(lengths) else 0.0,
        "length_max": int(lengths.max()) if len(lengths) else 0,
    }


def statistics_table(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row of :func:`split_statistics` per split."""
    return pd.DataFrame({name: split_statistics(frame) for name, frame in splits.items()}).T


#: statistics shown as whole numbers
_COUNT_STATS = ("events", "sessions", "items", "length_min", "length_max")


def readable_statistics(splits: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The statistics of ``dataset.json`` (split -> stats) as a table of display strings.

    Counts get thousands separators and no decimals, the mean length two decimals, and
    ``days`` reads "no times" for splits that carry only an order (never ``None``/``NaN``).
    """
    rows = {}
    for split, stats in splits.items():
        row = {}
        for key, value in (stats or {}).items():
            if value is None or (isinstance(value, float) and value != value):
                row[key] = "no times" if key == "days" else "–"
            elif key in _COUNT_STATS:
                row[key] = f"{int(value):,}"
            elif key == "length_mean":
                row[key] = f"{float(value):.2f}"
            elif key == "days":
                row[key] = f"{float(value):.1f}"
            else:
                row[key] = str(value)
        rows[split] = row
    return pd.DataFrame(rows).T
