"""Context features derived from a timestamp, shared by the datasets and the online path.

Two features follow from when an interaction happened (UTC): the time of day and the
season (northern hemisphere, meteorological: December-February is winter). The rules are
plain data (:data:`TIME_OF_DAY_HOURS`, :data:`SEASON_MONTHS`) so the database can store
them as a context-mapping table and anyone can read what "evening" means.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

#: time of day -> the hours (0-23) it covers
TIME_OF_DAY_HOURS: dict[str, tuple[int, ...]] = {
    "night": (0, 1, 2, 3, 4, 5),
    "morning": (6, 7, 8, 9, 10, 11),
    "afternoon": (12, 13, 14, 15, 16, 17),
    "evening": (18, 19, 20, 21, 22, 23),
}
#: season -> the months (1-12) it covers
SEASON_MONTHS: dict[str, tuple[int, ...]] = {
    "winter": (12, 1, 2),
    "spring": (3, 4, 5),
    "summer": (6, 7, 8),
    "autumn": (9, 10, 11),
}
#: device types of the demo shop (MovieLens has none)
DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet")

_HOUR_TO_TIME = {h: name for name, hours in TIME_OF_DAY_HOURS.items() for h in hours}
_MONTH_TO_SEASON = {m: name for name, months in SEASON_MONTHS.items() for m in months}


def time_context(seconds: np.ndarray) -> dict[str, np.ndarray]:
    """``{"time_of_day": ..., "season": ...}`` (string arrays) for Unix times in seconds (UTC)."""
    stamps = pd.to_datetime(np.asarray(seconds, dtype=np.float64), unit="s", utc=True)
    return {"time_of_day": np.array([_HOUR_TO_TIME[h] for h in stamps.hour], dtype=object),
            "season": np.array([_MONTH_TO_SEASON[m] for m in stamps.month], dtype=object)}


def context_now(now: datetime | None = None) -> dict[str, str]:
    """The time context of ``now`` (default: the current UTC time), one value per feature."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {"time_of_day": _HOUR_TO_TIME[moment.hour], "season": _MONTH_TO_SEASON[moment.month]}


def mapping_rows() -> list[dict[str, str]]:
    """The derivation rules as rows ``(feature, source, source_value, value)`` for the database."""
    rows = [{"feature": "time_of_day", "source": "hour", "source_value": str(h), "value": name}
            for name, hours in TIME_OF_DAY_HOURS.items() for h in hours]
    rows += [{"feature": "season", "source": "month", "source_value": str(m), "value": name}
             for name, months in SEASON_MONTHS.items() for m in months]
    return rows
