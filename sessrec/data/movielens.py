"""MovieLens-100k as a prepared user-context dataset, read from RecBole's atomic files.

The RecBole package ships MovieLens-100k (943 users, 1,682 movies, 100,000 ratings with
timestamps) as tab-separated "atomic files" under ``recbole/dataset_example/ml-100k/``:
``ml-100k.inter`` (``user_id, item_id, rating, timestamp``), ``ml-100k.user`` (``age,
gender, occupation, zip_code``) and ``ml-100k.item`` (``movie_title, release_year, class``,
the genres). sessrec never depends on RecBole and never commits these files: ``source``
is RecBole's downloaded wheel (``pip download recbole --no-deps``), an installed copy of
the package, or any folder holding the three files.

Every rating is an interaction with action ``rating``; its label is 1 for a rating >= 4
(the usual implicit-feedback reading of MovieLens) and 0 otherwise; the context is the
time of day and the season of the rating's timestamp (UTC, :mod:`sessrec.data.context`).
Items get the movie title as their name and the first listed genre as their category.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from sessrec.data.context import time_context
from sessrec.errors import DataFormatError

MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{part}"
PARTS = ("inter", "user", "item")


def _read_part(source: Path, part: str) -> pd.DataFrame:
    """One atomic file as a frame, its columns without the ``:type`` suffixes."""
    if source.is_file():
        try:
            with zipfile.ZipFile(source) as wheel:
                raw = wheel.read(MEMBER.format(part=part))
        except zipfile.BadZipFile:
            raise DataFormatError(f"{source}: not a wheel (zip) file; give RecBole's wheel or a folder") from None
        except KeyError:
            raise DataFormatError(f"{source}: holds no {MEMBER.format(part=part)} (is it RecBole's wheel?)") from None
        handle: io.BytesIO | Path = io.BytesIO(raw)
    else:
        candidates = [source / f"ml-100k.{part}", source / "dataset_example" / "ml-100k" / f"ml-100k.{part}",
                      source / MEMBER.format(part=part)]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataFormatError(f"{source}: no ml-100k.{part} there (looked in {', '.join(map(str, candidates))})")
        handle = found
    try:
        frame = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{source}: ml-100k.{part} cannot be read ({exc})") from None
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def read_movielens_100k(source: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(interactions, items, users)`` in the prepared format of :mod:`sessrec.data.user_data`."""
    source = Path(source)
    if not source.exists():
        raise DataFormatError(f"{source}: no such file or folder (RecBole's wheel: "
                              "`pip download recbole --no-deps -d /tmp/recbole`)")
    inter, users, items = (_read_part(source, part) for part in PARTS)
    for frame, name, needed in ((inter, "inter", ("user_id", "item_id", "rating", "timestamp")),
                                (users, "user", ("user_id", "age", "gender", "occupation")),
                                (items, "item", ("item_id", "movie_title", "class"))):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataFormatError(f"{source}: ml-100k.{name} lacks the column(s) {', '.join(missing)}")
    numeric = inter[["user_id", "item_id", "rating", "timestamp"]].apply(pd.to_numeric, errors="coerce")
    times = numeric["timestamp"].to_numpy()
    context = time_context(np.nan_to_num(times, nan=0.0))
    interactions = pd.DataFrame({"UserId": numeric["user_id"], "ItemId": numeric["item_id"],
                                 "Time": numeric["timestamp"], "Action": "rating",
                                 "Rating": numeric["rating"].astype(np.float64),
                                 "time_of_day": pd.Series(context["time_of_day"], dtype=object).where(~np.isnan(times), None),
                                 "season": pd.Series(context["season"], dtype=object).where(~np.isnan(times), None)})
    genres = items["class"].str.split().str[0].fillna("")
    item_frame = pd.DataFrame({"ItemId": pd.to_numeric(items["item_id"], errors="coerce").astype("Int64"),
                               "Name": items["movie_title"], "Category": genres, "Brand": "",
                               "Price": np.nan, "Discount": np.nan,
                               "Year": items.get("release_year", pd.Series([""] * len(items)))})
    user_frame = pd.DataFrame({"UserId": pd.to_numeric(users["user_id"], errors="coerce").astype("Int64"),
                               "Age": pd.to_numeric(users["age"], errors="coerce"), "Gender": users["gender"],
                               "Occupation": users["occupation"]})
    return interactions, item_frame.dropna(subset=["ItemId"]), user_frame.dropna(subset=["UserId"])


def movielens_info(source: Path) -> dict:
    """The ``user_dataset.json`` of MovieLens-100k (statistics are added when written)."""
    return {"name": "ml-100k", "description": "MovieLens-100k (GroupLens), read from RecBole's atomic files: "
            "ratings with timestamps; users with age, gender and occupation; movies with genres",
            "context": ["time_of_day", "season"],
            "split": {"test_share": 0.2, "rule": "each user's last 20% of interactions by time, from a positive"},
            "labels": "1 for a rating >= 4, else 0",
            "provenance": {"source": source.name, "reader": "sessrec.data.movielens",
                           "command": f"python -m sessrec users prepare movielens --source {source.name}"}}
