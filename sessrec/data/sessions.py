"""The in-memory container every part of sessrec passes around: sessions as flat arrays.

A :class:`Sessions` object holds events grouped by session, sessions in chronological
order (by start time, or by file order where the data has no times), items inside a
session in click order. Storing them flat (one item array plus session offsets) keeps
the session-parallel loops of training and evaluation in NumPy instead of Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Sessions:
    """Events grouped by session.

    Attributes:
        session_ids: ``(n_sessions,)`` original session ids, in session order.
        offsets: ``(n_sessions + 1,)`` start of each session in ``items``; session ``s``
            is ``items[offsets[s]:offsets[s + 1]]``.
        items: ``(n_events,)`` original item ids (int64).
        times: ``(n_events,)`` event times in seconds, or ``None`` where the data has
            only an order (the benchmark splits).
    """

    session_ids: np.ndarray
    offsets: np.ndarray
    items: np.ndarray
    times: np.ndarray | None = None

    @property
    def n_sessions(self) -> int:
        return len(self.session_ids)

    @property
    def n_events(self) -> int:
        return len(self.items)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def session(self, index: int) -> np.ndarray:
        """Item ids of the ``index``-th session."""
        return self.items[self.offsets[index] : self.offsets[index + 1]]

    def unique_items(self) -> np.ndarray:
        return np.unique(self.items)

    def fingerprint(self) -> str:
        """A short content hash of the sessions (order, session ids and items; not times).

        Two splits with the same sessions in the same order share it whatever file they
        came from, so a checkpoint can be matched to the data it was trained on.
        """
        import hashlib

        digest = hashlib.sha256()
        for array in (self.session_ids, self.offsets, self.items):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
            digest.update(b"|")
        return digest.hexdigest()[:16]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Sessions":
        """Build from a frame with ``SessionId``, ``ItemId`` and ``Time`` or ``Pos``.

        Sessions are ordered by their first ``Time`` (ties and time-less data: by first
        appearance in the frame); events inside a session by ``Time`` or ``Pos``,
        stably, so equal times keep file order.
        """
        if frame.empty:
            return cls(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int64), None)
        has_time = "Time" in frame.columns
        within = "Time" if has_time else ("Pos" if "Pos" in frame.columns else None)
        work = pd.DataFrame(
            {
                "SessionId": frame["SessionId"].to_numpy(),
                "ItemId": frame["ItemId"].to_numpy(np.int64),
                "_row": np.arange(len(frame)),
            }
        )
        if within is not None:
            work["_within"] = frame[within].to_numpy(np.float64)
        else:
            work["_within"] = work["_row"].astype(np.float64)
        grouped = work.groupby("SessionId", sort=False)
        key = grouped["_within"].transform("min") if has_time else grouped["_row"].transform("min")
        work["_session_key"] = key
        work["_first_row"] = grouped["_row"].transform("min")
        work = work.sort_values(["_session_key", "_first_row", "_within", "_row"], kind="stable")
        session_col = work["SessionId"].to_numpy()
        starts = np.flatnonzero(np.r_[True, session_col[1:] != session_col[:-1]])
        offsets = np.r_[starts, len(work)].astype(np.int64)
        times = frame["Time"].to_numpy(np.float64)[work["_row"].to_numpy()] if has_time else None
        return cls(
            session_ids=session_col[starts],
            offsets=offsets,
            items=work["ItemId"].to_numpy(np.int64),
            times=times,
        )

    def to_frame(self) -> pd.DataFrame:
        """Inverse of :meth:`from_frame`: ``SessionId``, ``ItemId`` and ``Time`` or ``Pos``."""
        lengths = self.lengths
        data = {
            "SessionId": np.repeat(self.session_ids, lengths),
            "ItemId": self.items,
        }
        if self.times is not None:
            data["Time"] = self.times
        else:
            data["Pos"] = np.arange(self.n_events) - np.repeat(self.offsets[:-1], lengths)
        return pd.DataFrame(data)

    def select(self, session_mask: np.ndarray) -> "Sessions":
        """Keep only the sessions where ``session_mask`` is True (order preserved)."""
        keep = np.repeat(session_mask, self.lengths)
        lengths = self.lengths[session_mask]
        return Sessions(
            session_ids=self.session_ids[session_mask],
            offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
            items=self.items[keep],
            times=None if self.times is None else self.times[keep],
        )


@dataclass(frozen=True)
class ItemIndex:
    """Maps original item ids to dense indices ``0..n_items-1`` (the model's catalogue).

    The one id encoder of sessrec: the user-context models encode their user ids with it too."""

    item_ids: np.ndarray  # (n_items,) sorted original ids

    @classmethod
    def from_items(cls, items: np.ndarray) -> "ItemIndex":
        return cls(np.unique(np.asarray(items, dtype=np.int64)))

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_index(self, items: np.ndarray) -> np.ndarray:
        """Dense indices of ``items``; ``-1`` for ids outside the catalogue."""
        items = np.asarray(items, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, items)
        pos = np.minimum(pos, max(self.n_items - 1, 0))
        known = (self.n_items > 0) & (self.item_ids[pos] == items) if self.n_items else np.zeros(items.shape, bool)
        return np.where(known, pos, -1).astype(np.int64)

    def to_ids(self, indices: np.ndarray) -> np.ndarray:
        return self.item_ids[np.asarray(indices, dtype=np.int64)]

    def __contains__(self, item_id: int) -> bool:
        return bool(self.to_index(np.array([item_id]))[0] >= 0)
