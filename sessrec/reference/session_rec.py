"""Shared by the parity and speed scripts: run session-rec's own models beside sessrec's.

session-rec (github.com/rn5l/session-rec) is *not* a dependency: pass the path of a
checkout. Its algorithm files are imported unchanged; two shims make them import on
today's stack: ``numpy.in1d`` (removed in NumPy 2.4) is aliased to ``numpy.isin``, and
``pympler`` (used only for memory statistics) is replaced by an empty module.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd

from sessrec.data.dataset import Dataset
from sessrec.data.sessions import Sessions

#: published settings per dataset (session-rec's conf/ folder) for the parity models;
#: keys: sessrec model name -> (session-rec class, session-rec params, sessrec params)
PARITY_MODELS: dict[str, dict[str, tuple[str, dict, dict]]] = {
    # conf/save/rsc15/window/window_rsc15_baselines.yml, window_rsc15_stan.yml (stan-mrr)
    "rsc15_100k": {
        "vsknn": ("algorithms.knn.vsknn:VMContextKNN",
                  {"k": 100, "sample_size": 1000, "weighting": "quadratic", "weighting_score": "quadratic"},
                  {"k": 100, "sample_size": 1000, "weighting": "quadratic", "weighting_score": "quadratic"}),
        "stan": ("algorithms.knn.stan:STAN",
                 {"k": 1000, "sample_size": 10000, "lambda_spw": 0.00001, "lambda_snh": 10, "lambda_inh": 2},
                 {"k": 1000, "sample_size": 10000, "lambda_spw": 0.00001, "lambda_snh": 10, "lambda_inh": 2}),
        "sr": ("algorithms.baselines.sr:SequentialRules", {"steps": 8, "weighting": "div"},
               {"steps": 8, "weighting": "div"}),
    },
    # conf/save/diginetica/single split/single_digi_baselines.yml, single_digi_stan.yml (stan-mrr)
    "diginetica": {
        "vsknn": ("algorithms.knn.vsknn:VMContextKNN",
                  {"k": 1500, "sample_size": 10000, "weighting": "quadratic", "weighting_score": "linear",
                   "idf_weighting": 10},
                  {"k": 1500, "sample_size": 10000, "weighting": "quadratic", "weighting_score": "linear",
                   "idf_weighting": 10}),
        "stan": ("algorithms.knn.stan:STAN",
                 {"k": 500, "sample_size": 5000, "lambda_spw": 1.25, "lambda_snh": 80, "lambda_inh": 5},
                 {"k": 500, "sample_size": 5000, "lambda_spw": 1.25, "lambda_snh": 80, "lambda_inh": 5}),
        "sr": ("algorithms.baselines.sr:SequentialRules", {"steps": 15, "weighting": "div"},
               {"steps": 15, "weighting": "div"}),
    },
}


def import_session_rec(checkout: str | Path) -> None:
    """Make ``algorithms.*`` of the checkout importable (with the two shims)."""
    checkout = Path(checkout).resolve()
    if not (checkout / "algorithms" / "knn" / "vsknn.py").is_file():
        raise SystemExit(f"{checkout}: not a session-rec checkout (algorithms/knn/vsknn.py missing)")
    if not hasattr(np, "in1d"):
        np.in1d = np.isin  # type: ignore[attr-defined]
    if "pympler" not in sys.modules:
        pympler = types.ModuleType("pympler")
        pympler.asizeof = types.SimpleNamespace(asizeof=lambda *a, **k: 0)  # type: ignore[attr-defined]
        sys.modules["pympler"] = pympler
    sys.path.insert(0, str(checkout))


def make_session_rec(target: str, params: dict):
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(**params)


def session_times(sessions: Sessions) -> np.ndarray:
    """Per-event time for session-rec: real times, or the session's file order (as sessrec uses)."""
    if sessions.times is not None:
        return sessions.times
    return np.repeat(np.arange(sessions.n_sessions, dtype=np.float64), sessions.lengths)


def train_frame(dataset: Dataset) -> pd.DataFrame:
    """Training data as session-rec reads it: SessionId, ItemId, Time, sorted by session then time."""
    train = dataset.train
    return pd.DataFrame({
        "SessionId": np.repeat(np.arange(train.n_sessions), train.lengths),
        "ItemId": train.items,
        "Time": session_times(train),
    })


def test_events(dataset: Dataset, item_ids: np.ndarray, max_events: int | None):
    """Yield ``(session_no, items, times)`` of test sessions (unknown items removed) until ``max_events``."""
    test = dataset.test
    known = np.isin(test.items, item_ids)
    times = test.times if test.times is not None else np.full(test.n_events, float(dataset.train.n_sessions))
    count = 0
    for s in range(test.n_sessions):
        lo, hi = test.offsets[s], test.offsets[s + 1]
        keep = known[lo:hi]
        items, ts = test.items[lo:hi][keep], times[lo:hi][keep]
        n_events = len(items) - dataset.min_position
        if n_events <= 0:
            continue
        yield s, items, ts
        count += n_events
        if max_events is not None and count >= max_events:
            return


def top_n(scores: np.ndarray, n: int = 20) -> np.ndarray:
    """Indices of the ``n`` best scores, ties broken by the lower index (the same rule for both)."""
    part = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    boundary = scores[part].min()
    pool = np.flatnonzero(scores >= boundary)  # every item that could be in the top n with ties
    order = np.lexsort((pool, -scores[pool]))
    return pool[order[:n]]
