"""User-item interactions in a context: the data of the second task (known users, no sessions).

One row per interaction: who (``user``), what (``item``), when (``time``, seconds, may be
absent), how strongly (``label``: 1.0 for a positive interaction such as a purchase, a
cart or a rating >= 4) and in which context (``context``: categorical features of the
interaction such as time of day, season or device, one array per feature, as strings).
Ids are the dataset's own integers; a model maps them to dense indices when it fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sessrec.errors import DataFormatError


@dataclass(frozen=True)
class Interactions:
    """Interactions as parallel arrays (see the module docstring)."""

    user: np.ndarray  # (n,) int64
    item: np.ndarray  # (n,) int64
    label: np.ndarray  # (n,) float32
    time: np.ndarray | None = None  # (n,) float64 seconds
    context: dict[str, np.ndarray] = field(default_factory=dict)  # feature -> (n,) str

    def __post_init__(self) -> None:
        n = len(self.user)
        lengths = {"item": len(self.item), "label": len(self.label),
                   **({"time": len(self.time)} if self.time is not None else {}),
                   **{f"context '{k}'": len(v) for k, v in self.context.items()}}
        wrong = {k: v for k, v in lengths.items() if v != n}
        if wrong:
            raise DataFormatError(f"interactions: {n} users but {wrong} (every column needs one value a row)")

    def __len__(self) -> int:
        return len(self.user)

    @property
    def context_features(self) -> tuple[str, ...]:
        return tuple(self.context)

    def select(self, rows: np.ndarray) -> "Interactions":
        """The rows ``rows`` (a boolean mask or indices), in that order."""
        return Interactions(self.user[rows], self.item[rows], self.label[rows],
                            None if self.time is None else self.time[rows],
                            {k: v[rows] for k, v in self.context.items()})

    def fingerprint(self) -> str:
        """A short content hash of the rows (users, items, labels and context values, in order; not
        times), so a run record can name the exact data it was trained and tested on."""
        import hashlib

        digest = hashlib.sha256()
        for array in (self.user, self.item):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes() + b"|")
        digest.update(np.ascontiguousarray(self.label, dtype=np.float32).tobytes() + b"|")
        for feature, values in sorted(self.context.items()):
            digest.update(feature.encode() + b"=" + "\x1f".join(map(str, values)).encode() + b"|")
        return digest.hexdigest()[:16]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, context: tuple[str, ...] | list[str] = ()) -> "Interactions":
        """Columns ``UserId``, ``ItemId``, optional ``Label`` (default 1.0) and ``Time``, and the
        ``context`` columns; a :class:`DataFormatError` names what is missing or malformed."""
        missing = [c for c in ("UserId", "ItemId", *context) if c not in frame.columns]
        if missing:
            raise DataFormatError(f"interactions: missing column(s) {', '.join(missing)} "
                                  f"(found: {', '.join(map(str, frame.columns))})")
        for column in ("UserId", "ItemId"):
            if not pd.api.types.is_integer_dtype(frame[column]):
                raise DataFormatError(f"interactions: {column} must hold integers, not {frame[column].dtype}")
        label = frame["Label"].to_numpy(np.float32) if "Label" in frame else np.ones(len(frame), np.float32)
        if not np.isfinite(label).all():
            raise DataFormatError("interactions: Label holds NaN or infinite values")
        time = frame["Time"].to_numpy(np.float64) if "Time" in frame else None
        return cls(frame["UserId"].to_numpy(np.int64), frame["ItemId"].to_numpy(np.int64), label, time,
                   {c: frame[c].astype(str).to_numpy() for c in context})

    def to_frame(self) -> pd.DataFrame:
        """The interactions as a frame with the columns :meth:`from_frame` reads."""
        columns: dict[str, np.ndarray] = {"UserId": self.user, "ItemId": self.item, "Label": self.label}
        if self.time is not None:
            columns["Time"] = self.time
        return pd.DataFrame({**columns, **self.context})
