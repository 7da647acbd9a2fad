"""Synthetic click logs with the shape of the full YOOCHOOSE dataset, at any size (for scale runs).

The full YOOCHOOSE clicks, as this project's users train on them, hold 27.0M training events in
7.8M sessions over 37.8k items, and 658k test events (the figures of issue 34). Nobody may
commit the real log, and no test may need it, so :func:`synthetic_clicks` draws a log of the
same shape: ``n_events`` clicks, the sessions, catalogue and test share of :data:`YOOCHOOSE`
scaled to it, and :func:`write_yoochoose_clicks` writes it in the raw ``yoochoose-clicks.dat``
format that ``python -m sessrec prepare raw --format yoochoose`` reads.

The shape, written down (:class:`LogShape`):

* **sessions**: lengths ``l >= 2`` with ``P(l)`` proportional to ``l ** -b`` up to 200 clicks, ``b``
  chosen so that the mean is 27.0M / 7.8M = 3.46 clicks (yoochoose1_64, a 1/64 sample of the
  same log, has P(2) = 0.44, P(3) = 0.19, P(4) = 0.12 and 1 % of its sessions above 22 clicks);
* **popularity**: clicks per item rank ``r`` follow a broken power law with the slopes measured
  on yoochoose1_64's training clicks (rank-frequency, least squares on log scales): -0.53 for
  ranks 10-100, -1.15 for 100-1,000, -1.28 beyond (its top 100 items take 32 % of the clicks);
* **within a session**: half the clicks follow the previous one to a near item (one of the 5
  items on either side of it in a fixed random order of the catalogue), the rest are drawn by
  popularity, so that models have transitions to learn and neighbourhoods to find;
* **time**: sessions start uniformly over 41 days (the last day, the test split of ``prepare``,
  then holds 1/41 = 2.4 % of the clicks: 658k / 27.7M), clicks 60 s apart on average.

It is a stand-in for speed and memory, not for accuracy: numbers measured on it say nothing
about how well a model recommends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LogShape:
    """The statistics a synthetic log follows (module docstring)."""

    train_events: int = 27_000_000
    train_sessions: int = 7_800_000
    items: int = 37_800
    test_events: int = 658_000
    max_length: int = 200
    #: (first rank, slope) of each piece of the rank-frequency curve
    popularity_slopes: tuple[tuple[int, float], ...] = ((1, -0.53), (100, -1.15), (1_000, -1.28))
    follow_share: float = 0.5
    follow_width: int = 5
    days: int = 41
    mean_gap_seconds: float = 60.0
    start: str = "2014-04-01T00:00:00Z"

    @property
    def mean_length(self) -> float:
        return self.train_events / self.train_sessions


YOOCHOOSE = LogShape()


def length_distribution(shape: LogShape = YOOCHOOSE) -> np.ndarray:
    """``P(l)`` for ``l = 0 .. max_length`` (zero below 2), a power law with ``shape.mean_length``."""
    lengths = np.arange(2, shape.max_length + 1, dtype=np.float64)

    def mean_for(exponent: float) -> float:
        weights = lengths ** -exponent
        return float((lengths * weights).sum() / weights.sum())

    low, high = 0.5, 10.0  # the mean falls as the exponent grows: bisect for the wanted one
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if mean_for(middle) > shape.mean_length else (low, middle)
    weights = lengths ** -((low + high) / 2)
    return np.r_[0.0, 0.0, weights / weights.sum()]


def popularity_weights(n_items: int, shape: LogShape = YOOCHOOSE) -> np.ndarray:
    """Click share of the item at each popularity rank: a broken power law, continuous where the
    slope changes (``shape.popularity_slopes``)."""
    log_rank = np.log(np.arange(1, n_items + 1, dtype=np.float64))
    log_weight = np.zeros(n_items)
    level = 0.0  # log weight where the current piece starts
    pieces = list(shape.popularity_slopes)
    for index, (first, slope) in enumerate(pieces):
        last = pieces[index + 1][0] if index + 1 < len(pieces) else n_items + 1
        inside = slice(first - 1, min(last - 1, n_items))
        log_weight[inside] = level + slope * (log_rank[inside] - np.log(first))
        level += slope * (np.log(last) - np.log(first))
    weights = np.exp(log_weight)
    return weights / weights.sum()


def synthetic_clicks(n_events: int, seed: int = 0, shape: LogShape = YOOCHOOSE) -> pd.DataFrame:
    """A click log of about ``n_events`` clicks (whole sessions) with ``shape``'s statistics.

    Columns ``SessionId``, ``Time`` (Unix seconds), ``ItemId``, in session and time order. The
    catalogue is ``shape.items`` times ``(n_events / (train + test events)) ** 0.19``, at least 100
    items: a smaller log sees fewer items, as a sample of the real one does (yoochoose1_64 holds
    46 % of the items with 1.8 % of the clicks, which is that power).
    """
    if n_events < 2:
        raise ValueError(f"n_events = {n_events} is not allowed: a session has at least 2 clicks")
    rng = np.random.default_rng(seed)
    full = shape.train_events + shape.test_events
    n_items = int(max(100, round(shape.items * min(1.0, n_events / full) ** 0.19)))
    lengths = rng.choice(np.arange(shape.max_length + 1), size=int(n_events / shape.mean_length * 1.1) + 10,
                         p=length_distribution(shape))
    lengths = lengths[: max(1, int(np.searchsorted(np.cumsum(lengths), n_events, side="right")))]
    n_sessions, total = len(lengths), int(lengths.sum())
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    # items by popularity rank; a session's next click follows the previous one to a near rank
    ranks = rng.choice(n_items, size=total, p=popularity_weights(n_items, shape))
    follow = rng.random(total) < shape.follow_share
    follow[starts] = False
    steps = rng.integers(1, shape.follow_width + 1, size=total) * rng.choice(np.array([-1, 1]), size=total)
    steps[~follow] = 0
    anchor = np.maximum.accumulate(np.where(follow, 0, np.arange(total)))  # the last click drawn by popularity
    walked = np.cumsum(steps)
    ranks = (ranks[anchor] + walked - walked[anchor]) % n_items
    item_ids = rng.permutation(n_items).astype(np.int64) + 214_000_000  # ids that do not give the rank away
    # sessions start uniformly over the days in session-id order; clicks follow at random gaps
    session_start = np.sort(rng.uniform(0, shape.days * 86_400.0, n_sessions))
    gaps = rng.exponential(shape.mean_gap_seconds, size=total)
    gaps[starts] = 0.0
    within = np.cumsum(gaps)
    within -= np.repeat(within[starts], lengths)
    return pd.DataFrame({
        "SessionId": np.repeat(np.arange(1, n_sessions + 1, dtype=np.int64), lengths),
        "Time": pd.Timestamp(shape.start).timestamp() + np.repeat(session_start, lengths) + within,
        "ItemId": item_ids[ranks],
    })


def write_yoochoose_clicks(clicks: pd.DataFrame, path: str | Path, chunk_rows: int = 1_000_000) -> Path:
    """Write ``clicks`` as YOOCHOOSE's raw ``yoochoose-clicks.dat`` (``session,ISO time,item,category``,
    no header; category 0), in chunks so the text never sits in memory whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for start in range(0, len(clicks), chunk_rows):
            part = clicks.iloc[start : start + chunk_rows]
            stamps = np.datetime_as_string((part["Time"].to_numpy() * 1000).astype("datetime64[ms]"), unit="ms")
            text = pd.DataFrame({"s": part["SessionId"].to_numpy(), "t": np.char.add(stamps, "Z"),
                                 "i": part["ItemId"].to_numpy(), "c": 0})
            text.to_csv(out, header=False, index=False)
    return path
