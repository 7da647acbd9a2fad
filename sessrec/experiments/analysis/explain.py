"""Why a model recommends an item, and how much models agree: model-agnostic analysis.

Leave-one-out goes through the models' live interface (``score_session``), so it works
for every registered model the same way; models answer cheaply because the states of a
session's prefixes are cached (leaving out click ``i`` re-reads only the clicks after it).
Two optional model methods add what only some models can say: ``attention(session_items)``
(NARM, SASRec, SR-GNN: weights over the clicks, which are not an attribution) and
``evidence(session_items, item_id)`` (the counting models: the table rows that add up to
the score, see :mod:`sessrec.models.evidence`). Over a test set, :func:`run_agreement`
compares the per-event ranks of the run records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from sessrec.evaluation.metrics import ranks_in


def _rank(scores: np.ndarray, index: int, masked: np.ndarray | None = None) -> float:
    """Rank of item ``index`` under ``scores`` with median ties (1 = best); NaN if masked."""
    if masked is not None and len(masked) and index in set(masked.tolist()):
        return float("nan")
    return float(ranks_in(scores, np.array([index]), masked)[0])


def leave_one_out(model: Any, session: Sequence[int], item_id: int, exclude_seen: bool = False) -> pd.DataFrame:
    """How much each click of ``session`` contributes to ``item_id``'s score and rank.

    For every position ``p``, the session is re-scored without click ``p`` (all other
    clicks kept, in order). Columns: Position (1-based), Clicked, ScoreWithout,
    DeltaScore (full score minus score without the click: positive = the click raised
    the item), RankWithout, DeltaRank (rank without minus full rank: positive = the
    click moved the item up). Ranks use median ties. Raises ``KeyError`` for an item
    the model does not know.
    """
    index = int(model.item_index.to_index(np.asarray([item_id], dtype=np.int64))[0])
    if index < 0:
        raise KeyError(f"{model.name} does not know item {item_id}")
    session = [int(i) for i in session]

    def masked_of(items: list[int]) -> np.ndarray | None:
        if not exclude_seen:
            return None
        seen = model.item_index.to_index(np.asarray(items, dtype=np.int64))
        return seen[seen >= 0]

    full_scores, _ = model.score_session(session)
    full_score = float(full_scores[index])
    full_rank = _rank(full_scores, index, masked_of(session))
    rows = []
    for pos, clicked in enumerate(session):
        rest = session[:pos] + session[pos + 1:]
        scores, _ = model.score_session(rest)
        rank = _rank(scores, index, masked_of(rest))
        rows.append({"Position": pos + 1, "Clicked": clicked, "ScoreWithout": float(scores[index]),
                     "DeltaScore": full_score - float(scores[index]), "RankWithout": rank,
                     "DeltaRank": rank - full_rank})
    frame = pd.DataFrame(rows, columns=["Position", "Clicked", "ScoreWithout", "DeltaScore", "RankWithout",
                                        "DeltaRank"])
    frame.attrs.update(score=full_score, rank=full_rank)
    return frame


def list_changes(before: Sequence[int], after: Sequence[int]) -> dict[int, str]:
    """Per item of ``after``: "new" (entered the list), "up N" / "down N" (moved), "" (same
    place); plus the items that left, as ``{item: "left"}``."""
    old = {int(item): pos for pos, item in enumerate(before)}
    out: dict[int, str] = {}
    for pos, item in enumerate(after):
        item = int(item)
        if item not in old:
            out[item] = "new"
        elif old[item] > pos:
            out[item] = f"up {old[item] - pos}"
        elif old[item] < pos:
            out[item] = f"down {pos - old[item]}"
        else:
            out[item] = ""
    for item in old:
        if item not in out:
            out[item] = "left"
    return out


def jaccard_at_k(a: Sequence[int], b: Sequence[int], k: int) -> float:
    """|top-k(a) ∩ top-k(b)| / |top-k(a) ∪ top-k(b)|; 1.0 for two empty lists."""
    sa, sb = set(list(a)[:k]), set(list(b)[:k])
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def rank_biased_overlap(a: Sequence[int], b: Sequence[int], p: float = 0.9) -> float:
    """Rank-biased overlap (Webber et al., 2010) of two ranked lists, truncated at their
    common depth ``d``: ``(1 - p) * sum_{i<=d} p^(i-1) * |A_i ∩ B_i| / i``, rescaled by
    ``1 - p^d`` so identical lists score exactly 1 and disjoint lists 0."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    depth = min(len(a), len(b))
    if depth == 0:
        return 1.0 if len(a) == len(b) else 0.0
    seen_a: set[int] = set()
    seen_b: set[int] = set()
    overlap = 0
    total = 0.0
    for i in range(depth):
        x, y = int(a[i]), int(b[i])
        if x == y:
            overlap += 1
        else:
            overlap += (x in seen_b) + (y in seen_a)
        seen_a.add(x)
        seen_b.add(y)
        total += p ** i * overlap / (i + 1)
    return (1 - p) * total / (1 - p ** depth)


def agreement_table(lists: dict[str, Sequence[int]], k: int, p: float = 0.9) -> pd.DataFrame:
    """Every pair of models' top-k lists: Jaccard@k and RBO. Columns: A, B, Jaccard, RBO."""
    names = list(lists)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            la, lb = list(lists[a])[:k], list(lists[b])[:k]
            rows.append({"A": a, "B": b, "Jaccard": jaccard_at_k(la, lb, k), "RBO": rank_biased_overlap(la, lb, p)})
    return pd.DataFrame(rows, columns=["A", "B", "Jaccard", "RBO"])


def hit_agreement(ranks: dict[str, np.ndarray], k: int = 20) -> pd.DataFrame:
    """How often two models are right on the same test events (target within top-``k``).

    ``ranks``: model -> per-event ranks over the same events in the same order (the
    ``ranks`` arrays of the run records). Columns: A, B, both (share of events both hit),
    only A, only B, neither, and Jaccard of the two hit sets.
    """
    names = list(ranks)
    sizes = {len(np.asarray(r)) for r in ranks.values()}
    if len(sizes) > 1:
        raise ValueError(f"rank arrays cover different events (lengths {sorted(sizes)})")
    rows = []
    for i, a in enumerate(names):
        hit_a = np.asarray(ranks[a]) <= k
        for b in names[i + 1:]:
            hit_b = np.asarray(ranks[b]) <= k
            union = np.sum(hit_a | hit_b)
            rows.append({"A": a, "B": b, "both": float(np.mean(hit_a & hit_b)),
                         "only A": float(np.mean(hit_a & ~hit_b)), "only B": float(np.mean(~hit_a & hit_b)),
                         "neither": float(np.mean(~hit_a & ~hit_b)),
                         "Jaccard": float(np.sum(hit_a & hit_b) / union) if union else 1.0})
    return pd.DataFrame(rows, columns=["A", "B", "both", "only A", "only B", "neither", "Jaccard"])


def attention_weights(model: Any, session: Sequence[int]) -> pd.DataFrame | None:
    """The model's attention over the clicks of ``session``, or ``None`` without ``attention()``.

    Columns: Position (1-based), Clicked, Attention (NaN for a click the attention did not
    read: an item the model does not know, or one before the model's window of the last
    ``max_len`` clicks). What the weights mean depends on the model (NARM and SASRec: a
    softmax, summing to 1 over the clicks read; SR-GNN: unnormalised readout gates).
    """
    if not callable(getattr(model, "attention", None)):
        return None
    session = [int(i) for i in session]
    idx = model.item_index.to_index(np.asarray(session, dtype=np.int64)) if session else np.zeros(0, np.int64)
    known = [p for p, i in enumerate(idx) if i >= 0]
    attention = np.full(len(session), np.nan)
    if known:
        weights = np.asarray(model.attention([session[p] for p in known]), dtype=np.float64).ravel()
        if len(weights) > len(known):
            raise ValueError(f"{model.name}: {len(weights)} attention weights for {len(known)} known clicks")
        read = known[len(known) - len(weights):]  # windowed models attend to the newest clicks
        attention[read] = weights
    return pd.DataFrame({"Position": np.arange(1, len(session) + 1), "Clicked": session, "Attention": attention})


def evidence(model: Any, session: Sequence[int], item_id: int) -> Any | None:
    """What produced ``item_id``'s score (:class:`sessrec.models.evidence.Evidence`), or ``None``
    for a model without ``evidence()``. Raises ``KeyError`` for an item the model does not know."""
    if not callable(getattr(model, "evidence", None)):
        return None
    return model.evidence([int(i) for i in session], int(item_id))


# -- agreement over a test set: the per-event ranks of the run records ------------------------

@dataclass
class RunAgreement:
    """:func:`hit_agreement` over the runs whose test events line up, and why others were left out."""

    table: pd.DataFrame  #: hit_agreement rows (A, B are run labels)
    hit_rates: dict[str, float]  #: label -> share of events with the target in the top k
    runs: dict[str, str] = field(default_factory=dict)  #: label -> run id compared
    left_out: list[str] = field(default_factory=list)  #: "label (run id): reason"
    protocol: str = ""  #: the protocol the compared runs share, in words
    n_events: int = 0


def first_seeds(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per run label: its lowest seed (deterministic runs have none), in first-seen order."""
    chosen: dict[str, dict[str, Any]] = {}
    for record in records:
        label = str(record.get("label") or record.get("model"))
        seed = record.get("seed")
        old = chosen.get(label)
        if old is None or (seed is not None and old.get("seed") is not None and seed < old["seed"]):
            chosen[label] = record
    return list(chosen.values())


def protocol_key(record: dict[str, Any]) -> tuple:
    """What must match for two runs' ranks to be compared event by event: ranking (full or
    sampled, with its settings), tie mode, first predicted position, number of events."""
    ev, proto = record.get("evaluation") or {}, record.get("protocol") or {}
    ranking = str(proto.get("ranking") or ev.get("protocol") or "full catalogue")
    sampled = bool(ev.get("sampled") or proto.get("sampled")) or ranking.startswith("sampled")
    settings = tuple(str(ev.get(key, proto.get(key))) for key in ("negatives", "sampling")) if sampled else ()
    return (("sampled", *settings) if sampled else ("full catalogue",), ev.get("tie_mode", proto.get("tie_mode")),
            ev.get("min_position", proto.get("min_position")), ev.get("n_events"))


def describe_protocol(key: tuple) -> str:
    ranking, ties, first, events = key
    what = "full ranking" if ranking == ("full catalogue",) else "sampled candidates " + " / ".join(ranking[1:])
    return f"{what}, ties {ties}, from position {first}, {events:,} test events" if isinstance(events, int) else \
        f"{what}, ties {ties}, from position {first}"


def run_agreement(records: list[dict[str, Any]], k: int = 20,
                  load: Callable[[dict[str, Any], str], np.ndarray] | None = None) -> RunAgreement:
    """How often each pair of runs is right on the same test events (target within top ``k``).

    Takes the first seed of every run label in ``records`` (one dataset). Runs are compared
    only when their events line up: the same protocol (:func:`protocol_key`) and, where the
    ranks files hold them, the same event positions and targets, event by event. The
    protocol most runs share wins (full ranking first); every other run is named in
    ``left_out`` with the reason. Raises ``ValueError`` when fewer than two runs line up.
    """
    if load is None:
        from sessrec.experiments.records import load_ranks

        load = load_ranks
    runs = first_seeds(records)
    left_out: list[str] = []
    if len({r.get("dataset") for r in runs}) > 1:
        raise ValueError("runs of several datasets: their test events cannot line up")
    keys = [protocol_key(r) for r in runs]
    if not runs:
        raise ValueError("no run records to compare")
    counts = {key: keys.count(key) for key in keys}
    reference = max(counts, key=lambda key: (counts[key], key[0] == ("full catalogue",)))
    name = lambda r: f"{r.get('label') or r.get('model')} ({r.get('run_id')})"  # noqa: E731
    ranks: dict[str, np.ndarray] = {}
    used: dict[str, str] = {}
    anchor: dict[str, np.ndarray] = {}
    for record, key in zip(runs, keys):
        if key != reference:
            left_out.append(f"{name(record)}: {_key_difference(key, reference)}")
            continue
        try:
            r = np.asarray(load(record, "ranks"), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - a missing ranks file is a note, not a crash
            left_out.append(f"{name(record)}: per-event ranks unavailable ({type(exc).__name__})")
            continue
        if isinstance(key[3], int) and len(r) != key[3]:
            left_out.append(f"{name(record)}: ranks file has {len(r):,} events, the record {key[3]:,}")
            continue
        mismatch = _event_mismatch(record, anchor, load)
        if mismatch:
            left_out.append(f"{name(record)}: {mismatch}")
            continue
        label = str(record.get("label") or record.get("model"))
        ranks[label], used[label] = r, str(record.get("run_id"))
    if len(ranks) < 2:
        raise ValueError("fewer than two runs whose test events line up" +
                         (": " + "; ".join(left_out) if left_out else ""))
    if len({len(r) for r in ranks.values()}) > 1:  # records without n_events: lengths must still agree
        raise ValueError("the runs' ranks cover different numbers of events: "
                         + ", ".join(f"{label} {len(r):,}" for label, r in ranks.items()))
    return RunAgreement(hit_agreement(ranks, k), {label: float(np.mean(r <= k)) for label, r in ranks.items()},
                         used, left_out, describe_protocol(reference), len(next(iter(ranks.values()))))


def _key_difference(key: tuple, reference: tuple) -> str:
    """Why a run's protocol key differs from the compared runs', in words."""
    names = ("ranking", "ties", "first position", "test events")
    fmt = lambda v: f"{v:,}" if isinstance(v, int) else " / ".join(v) if isinstance(v, tuple) else str(v)  # noqa: E731
    parts = [f"{n} {fmt(a)} vs {fmt(b)}" for n, a, b in zip(names, key, reference) if a != b]
    return "evaluated differently from the compared runs (" + "; ".join(parts) + ")"


def _event_mismatch(record: dict[str, Any], anchor: dict[str, np.ndarray], load) -> str | None:
    """Compare the run's per-event positions and targets with the first run's (kept in ``anchor``)."""
    for what in ("positions", "targets"):
        try:
            values = np.asarray(load(record, what))
        except Exception:  # noqa: BLE001 - older ranks files may not hold them; the protocol key still matched
            continue
        if what not in anchor:
            anchor[what] = values
        elif len(values) != len(anchor[what]) or not np.array_equal(values, anchor[what]):
            return f"different test events (its {what} differ from the first run's)"
    return None
