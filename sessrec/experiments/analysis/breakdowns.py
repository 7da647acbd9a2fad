"""Where models win and lose: metrics broken down by session position, target popularity,
and whether the target is a re-click (already in the session) or new to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sessrec.data.dataset import Dataset
from sessrec.data.sessions import ItemIndex
from sessrec.evaluation.evaluator import prepare_test
from sessrec.evaluation.metrics import per_event_metric
from sessrec.experiments.records import load_ranks, valid_records

POSITION_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 9), (10, 10**9))

#: the buckets of the re-click breakdown, in order
RECLICK_BUCKETS = ("re-click", "new to the session")

#: what ``breakdown`` can split by
BREAKDOWNS = ("position", "popularity", "reclick")


def _position_label(low: int, high: int) -> str:
    if low == high:
        return str(low)
    return f"{low}+" if high >= 10**9 else f"{low}-{high}"


def by_position(ranks: np.ndarray, positions: np.ndarray, metric: str = "recall", k: int = 20) -> pd.DataFrame:
    """``metric@k`` per bucket of the target's position in the session (1 = second click)."""
    values = per_event_metric(ranks, metric, k)
    rows = []
    for order, (low, high) in enumerate(POSITION_BUCKETS):
        mask = (positions >= low) & (positions <= high)
        if mask.any():
            rows.append({"bucket": _position_label(low, high), "order": order, "value": float(values[mask].mean()),
                         "n": int(mask.sum())})
    return pd.DataFrame(rows, columns=["bucket", "order", "value", "n"])


def popularity_edges(popularity: np.ndarray, n_buckets: int = 5) -> np.ndarray:
    """Quantile edges of target popularity that split the events into ``n_buckets``."""
    edges = np.unique(np.quantile(popularity, np.linspace(0, 1, n_buckets + 1)))
    return edges


def by_popularity(
    ranks: np.ndarray, target_popularity: np.ndarray, metric: str = "recall", k: int = 20, edges: np.ndarray | None = None
) -> pd.DataFrame:
    """``metric@k`` per quantile bucket of the target item's training popularity (clicks)."""
    values = per_event_metric(ranks, metric, k)
    edges = popularity_edges(target_popularity) if edges is None else edges
    bucket = np.clip(np.searchsorted(edges, target_popularity, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        mask = bucket == b
        if mask.any():
            rows.append({"bucket": f"{int(edges[b])}-{int(edges[b + 1])} clicks", "order": b,
                         "value": float(values[mask].mean()), "n": int(mask.sum())})
    return pd.DataFrame(rows, columns=["bucket", "order", "value", "n"])


@dataclass(frozen=True)
class BenchmarkEvents:
    """The benchmark's test events of a dataset, in the order of the run records' ranks files."""

    targets: np.ndarray  # (n_events,) dense index of the true item in the training catalogue
    reclick: np.ndarray  # (n_events,) the true item occurs earlier in its session

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` was evaluated on exactly these events (same count, same targets)."""
        targets = load_ranks(record, "targets")
        return len(targets) == len(self.targets) and np.array_equal(targets, self.targets)


def benchmark_events(dataset: Dataset) -> BenchmarkEvents:
    """The test events every benchmark run of ``dataset`` is scored on (catalogue: the training
    items; positions from ``min_position``), with each one's re-click flag. Clicks before
    ``min_position`` count as earlier clicks of the session."""
    prepared = prepare_test(dataset.test, ItemIndex.from_items(np.unique(dataset.train.items)), dataset.min_position)
    targets, reclick = [], []
    for start, end in zip(prepared.offsets[:-1], prepared.offsets[1:]):
        session = prepared.items[start:end]
        for p in range(dataset.min_position, len(session)):
            targets.append(session[p])
            reclick.append(session[p] in session[:p])
    return BenchmarkEvents(np.asarray(targets, dtype=np.int64), np.asarray(reclick, dtype=bool))


def by_reclick(ranks: np.ndarray, reclick: np.ndarray, metric: str = "recall", k: int = 20) -> pd.DataFrame:
    """``metric@k`` on targets already clicked earlier in the session and on targets new to it."""
    values = per_event_metric(ranks, metric, k)
    rows = [{"bucket": name, "order": order, "value": float(values[mask].mean()), "n": int(mask.sum())}
            for order, (name, mask) in enumerate(zip(RECLICK_BUCKETS, (reclick, ~reclick))) if mask.any()]
    return pd.DataFrame(rows, columns=["bucket", "order", "value", "n"])


def breakdown(records: list[dict[str, Any]], by: str = "position", metric: str = "recall", k: int = 20,
              events: dict[str, BenchmarkEvents] | None = None) -> pd.DataFrame:
    """Long table dataset, label, bucket, order, value (mean over seeds), n for every run.

    Popularity buckets are computed once per dataset (from the first run's targets), so
    every model of a dataset is split at the same edges. ``by="reclick"`` needs the test
    events of each dataset (:func:`benchmark_events`) in ``events``; runs of a dataset without
    them, or evaluated on other events, are left out.
    """
    if by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {', '.join(BREAKDOWNS)}")
    frames = []
    edges_by_dataset: dict[str, np.ndarray] = {}
    for record in valid_records(records):
        if by == "reclick":
            known = (events or {}).get(record["dataset"])
            if known is None or not known.matches(record):
                continue
        ranks = load_ranks(record, "ranks")
        if by == "position":
            table = by_position(ranks, load_ranks(record, "positions"), metric, k)
        elif by == "reclick":
            assert known is not None  # records without their events were skipped above
            table = by_reclick(ranks, known.reclick, metric, k)
        else:
            pop = load_ranks(record, "target_popularity")
            edges = edges_by_dataset.setdefault(record["dataset"], popularity_edges(pop))
            table = by_popularity(ranks, pop, metric, k, edges)
        table["dataset"], table["label"], table["seed"] = record["dataset"], record["label"], record.get("seed")
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["dataset", "label", "bucket", "order", "value", "n"])
    full = pd.concat(frames, ignore_index=True)
    return (full.groupby(["dataset", "label", "bucket", "order"], as_index=False)
                .agg(value=("value", "mean"), n=("n", "first")).sort_values(["dataset", "label", "order"]))
