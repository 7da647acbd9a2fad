"""Dataset statistics for the explorer page."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sessrec.data.sessions import Sessions

SPLIT_TITLES = {"train": "train", "test": "test", "train_tr": "train (validation fit)", "valid": "validation"}
STAT_TITLES = {"events": "Events", "sessions": "Sessions", "items": "Items", "days": "Days",
               "length_min": "Min length", "length_mean": "Mean length", "length_max": "Max length"}


def split_table(info: dict[str, Any]) -> pd.DataFrame:
    from sessrec.data.preprocess import readable_statistics

    table = readable_statistics(info.get("splits") or {})
    table.index = [SPLIT_TITLES.get(s, s) for s in table.index]
    table.index.name = "Split"
    return table.rename(columns=STAT_TITLES)


def session_lengths(sessions: Sessions) -> pd.DataFrame:
    lengths = sessions.lengths
    counts = np.bincount(lengths) if len(lengths) else np.zeros(1, int)
    frame = pd.DataFrame({"Length": np.arange(len(counts)), "Sessions": counts})
    return frame[frame["Sessions"] > 0].reset_index(drop=True)


def item_popularity(sessions: Sessions) -> pd.DataFrame:
    """How many items have each click count (log-binned): Clicks (bin start), Items."""
    _, counts = np.unique(sessions.items, return_counts=True)
    if len(counts) == 0:
        return pd.DataFrame(columns=["Clicks", "Items"])
    edges = np.unique(np.round(np.logspace(0, np.log10(counts.max() + 1), 40)).astype(int))
    hist, edges = np.histogram(counts, bins=np.r_[edges, counts.max() + 1] if edges[-1] <= counts.max() else edges)
    frame = pd.DataFrame({"Clicks": edges[:-1], "Items": hist})
    return frame[frame["Items"] > 0].reset_index(drop=True)


def rank_frequency(sessions: Sessions, max_points: int = 400) -> pd.DataFrame:
    """Clicks of the item at popularity rank r (long tail), down-sampled on a log grid."""
    _, counts = np.unique(sessions.items, return_counts=True)
    counts = np.sort(counts)[::-1]
    if len(counts) == 0:
        return pd.DataFrame(columns=["Rank", "Clicks"])
    ranks = np.unique(np.round(np.logspace(0, np.log10(len(counts)), max_points)).astype(int))
    return pd.DataFrame({"Rank": ranks, "Clicks": counts[ranks - 1]})


def concentration(sessions: Sessions) -> dict[str, float]:
    """Share of clicks on the top 1% / 10% of items."""
    _, counts = np.unique(sessions.items, return_counts=True)
    counts = np.sort(counts)[::-1]
    total = counts.sum() or 1
    out = {}
    for share in (0.01, 0.1):
        n = max(1, int(round(len(counts) * share)))
        out[f"top {share:.0%} of items"] = float(counts[:n].sum() / total)
    return out


def top_items(sessions: Sessions, catalogue, n: int = 20) -> pd.DataFrame:
    ids, counts = np.unique(sessions.items, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:n]
    rows = catalogue.rows(ids[order])
    rows["Clicks"] = counts[order]
    rows["Share"] = counts[order] / max(len(sessions.items), 1)
    return rows[["ItemId", "Name", "Category", "Clicks", "Share"]]


def top_categories(sessions: Sessions, catalogue, n: int = 20) -> pd.DataFrame:
    ids, counts = np.unique(sessions.items, return_counts=True)
    frame = pd.DataFrame({"Category": [catalogue.category(i) for i in ids], "Clicks": counts, "Items": 1})
    out = frame.groupby("Category").sum().sort_values("Clicks", ascending=False).head(n).reset_index()
    out["Share"] = out["Clicks"] / max(len(sessions.items), 1)
    return out
