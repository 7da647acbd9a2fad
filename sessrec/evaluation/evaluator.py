"""One next-item evaluator for every model.

Protocol: for every position ``p >= min_position`` of every test session, the model
has read items ``0..p-1`` and ranks the *whole* training catalogue; the rank of the
true item ``p`` is recorded. Recall@k (= HitRate@k), MRR@k and NDCG@k are averages
over those events. Test items that never occur in training are removed from their
sessions before evaluation (as GRU4Rec's own evaluation does); how many were removed,
and how many sessions became too short, is reported with every result.

The evaluator drives models only through the streaming interface of
:mod:`sessrec.models.base`, session-parallel: ``batch_size`` slots each hold one test
session; when a session runs out, its slot is reset and takes the next session.

Ties are resolved by ``tie_mode`` (default ``median``, see :mod:`sessrec.evaluation.metrics`);
every result also reports ``tied_target_share``, the share of events whose target is
tied with at least one other item, so a reader sees which models ties affect. A model
that produces a non-finite score (NaN, +inf, -inf) for an evaluated event is an error
(:class:`NonFiniteScoresError`), never a silently perfect or silently bad rank.

``protocol="sampled"`` adds the sampled-negatives protocol of many papers
(:mod:`sessrec.evaluation.sampled`): from the same scores, each event's target is also
ranked among ``negatives`` random other items. The full-ranking results are computed as
always; the sampled ones come beside them (:attr:`EvalResult.sampled`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from cachetools import LRUCache
from tqdm.auto import tqdm

from sessrec.data.cooccurrence import regularised_cosine
from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import SessrecError
from sessrec.evaluation.metrics import (
    DEFAULT_KS,
    DEFAULT_TIE_MODE,
    check_tie_mode,
    metrics_from_ranks,
    ranks_from_counts,
)
from sessrec.evaluation.pairs import PairTable
from sessrec.evaluation.ranking import BlockRanker
from sessrec.evaluation.sampled import (
    DEFAULT_NEGATIVES,
    DEFAULT_PROTOCOL,
    DEFAULT_SAMPLING,
    DEFAULT_SAMPLER,
    DEFAULT_SAMPLING_SEED,
    SampledResult,
    SampledSettings,
    sampled_collector,
)
from sessrec.models.base import SessionModel
from sessrec.models.sparse_rows import SparseRows


class NonFiniteScoresError(SessrecError):
    """A model scored some item NaN or infinite while being evaluated."""


@dataclass(frozen=True)
class PreparedTest:
    """Test sessions in dense catalogue indices, unknown items removed."""

    offsets: np.ndarray
    items: np.ndarray  # dense indices
    session_ids: np.ndarray
    n_events_raw: int
    n_unknown_items_removed: int
    n_sessions_raw: int
    n_sessions_dropped: int  # fewer than min_position + 1 known items left
    min_position: int

    @property
    def n_sessions(self) -> int:
        return len(self.session_ids)

    @property
    def n_eval_events(self) -> int:
        return int(np.maximum(np.diff(self.offsets) - self.min_position, 0).sum())


def prepare_test(test: Sessions, item_index: ItemIndex, min_position: int = 1) -> PreparedTest:
    """Map ``test`` onto the catalogue and drop what cannot be evaluated (counted)."""
    if min_position < 1:
        raise ValueError("min_position must be >= 1 (position 0 has no history to predict from)")
    idx = item_index.to_index(test.items)
    known = idx >= 0
    session_of_event = np.repeat(np.arange(test.n_sessions), test.lengths)
    known_lengths = np.bincount(session_of_event[known], minlength=test.n_sessions)
    keep_session = known_lengths > min_position
    keep_event = known & keep_session[session_of_event]
    lengths = known_lengths[keep_session]
    return PreparedTest(
        offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        items=idx[keep_event],
        session_ids=test.session_ids[keep_session],
        n_events_raw=test.n_events,
        n_unknown_items_removed=int((~known).sum()),
        n_sessions_raw=test.n_sessions,
        n_sessions_dropped=int((~keep_session).sum()),
        min_position=min_position,
    )


@dataclass
class EvalResult:
    """Metrics of one model on one test set, with the per-event ranks behind them."""

    model: str
    metrics: dict[str, float]
    ranks: np.ndarray  # (n_events,) rank of the true item, in event order
    positions: np.ndarray  # (n_events,) position p of the target in its (filtered) session
    targets: np.ndarray  # (n_events,) dense index of the true item
    session_index: np.ndarray  # (n_events,) index of the session in the prepared test
    n_tied: np.ndarray  # (n_events,) number of other items scored exactly as the true item
    tie_mode: str
    min_position: int
    ks: tuple[int, ...]
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    #: the sampled-negatives ranks and metrics of the same events (``protocol="sampled"`` only)
    sampled: SampledResult | None = None

    @property
    def protocol(self) -> str:
        return "full" if self.sampled is None else "sampled"

    @property
    def n_events(self) -> int:
        return len(self.ranks)

    @property
    def tied_target_share(self) -> float:
        """Share of events whose true item is tied with at least one other item (NaN without events)."""
        return float((self.n_tied > 0).mean()) if len(self.n_tied) else float("nan")

    def summary(self) -> dict[str, Any]:
        """Plain dict for results files (no per-event arrays)."""
        return {
            "model": self.model,
            "tie_mode": self.tie_mode,
            "min_position": self.min_position,
            "ks": list(self.ks),
            "seconds": self.seconds,
            "events_per_second": self.n_events / self.seconds if self.seconds > 0 else None,
            **self.counts,
            "n_tied_events": int((self.n_tied > 0).sum()),
            "tied_target_share": self.tied_target_share,
            "metrics": dict(self.metrics),
            **({"sampled": self.sampled.summary()} if self.sampled is not None else {}),
        }


#: the last few cosine tables and their pair look-ups, by (training split, catalogue): a
#: benchmark evaluates many models on the same data, and building them is the fixed cost
#: of the diversity metric
_COSINE_CACHE: LRUCache[tuple[str, str], tuple[SparseRows, PairTable]] = LRUCache(maxsize=2)


def _cosine_entry(train: Sessions, item_index: ItemIndex) -> tuple[SparseRows, PairTable]:
    key = (train.fingerprint(), hashlib.sha256(np.ascontiguousarray(item_index.item_ids).tobytes()).hexdigest())
    if key in _COSINE_CACHE:
        return _COSINE_CACHE[key]  # a read counts as a use
    if not np.array_equal(ItemIndex.from_items(train.items).item_ids, item_index.item_ids):
        raise ValueError("training data does not match the model's catalogue")
    table = SparseRows.from_scipy(regularised_cosine(train, item_index, alpha=0.5, lambda_=0.0))
    entry = (table, PairTable(table, len(item_index.item_ids)))
    _COSINE_CACHE[key] = entry  # evicts the least recently used table past two
    return entry


def session_cosine(train: Sessions, item_index: ItemIndex) -> SparseRows:
    """Plain cosine similarity of items over training sessions (for intra-list diversity).

    Sparse: only item pairs that share a training session have an entry (never a dense
    item x item matrix). The last two tables are kept for reuse.
    """
    return _cosine_entry(train, item_index)[0]


class _BeyondAccuracy:
    """Accumulates coverage, popularity and intra-list diversity of the top-k lists."""

    def __init__(self, ks: tuple[int, ...], n_items: int, popularity: np.ndarray | None, cosine: PairTable | None):
        self.ks = ks
        self.max_k = min(max(ks), n_items)
        self.n_items = n_items
        self.covered = {k: np.zeros(n_items, dtype=bool) for k in ks}
        self.popularity = None if popularity is None else popularity / max(popularity.max(), 1.0)
        self.pop_sums = {k: 0.0 for k in ks}
        self.ild_sums = {k: 0.0 for k in ks}
        self.n = 0
        self.cosine = cosine
        # the item pairs (a, b), a < b, of a top list: the pairs of a top-k come first
        a, b = np.triu_indices(self.max_k, k=1)
        order = np.argsort(b, kind="stable")
        self.pair_a, self.pair_b = a[order], b[order]
        self.pairs_within = {k: int((b < k).sum()) for k in ks}
        self.ild_ks = [k for k in ks if k >= 2 and self.pairs_within[k]]
        self.ild_ends = np.array([self.pairs_within[k] for k in self.ild_ks], dtype=np.int64)

    def add(self, top: np.ndarray) -> None:
        """Count the top lists ``top`` (``(B, max_k)`` item indices, best first)."""
        self.n += top.shape[0]
        for k in self.ks:
            self.covered[k][top[:, :k].ravel()] = True
        if self.popularity is not None:
            # running sums over the list give every k's mean popularity in one pass
            cumulative = self.popularity[top].cumsum(1)
            for k in self.ks:
                length = min(k, self.max_k)
                self.pop_sums[k] += float(cumulative[:, length - 1].sum()) / length
        if self.cosine is not None and self.ild_ks:
            sums = self.cosine.running_sums(top, self.pair_a, self.pair_b, self.ild_ends)
            for column, k in enumerate(self.ild_ks):
                self.ild_sums[k] += float((1.0 - sums[:, column] / self.pairs_within[k]).sum())

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for k in self.ks:
            out[f"coverage@{k}"] = float(self.covered[k].mean())
            if self.popularity is not None:
                out[f"popularity@{k}"] = self.pop_sums[k] / max(self.n, 1)
            if self.cosine is not None and k >= 2:
                out[f"diversity@{k}"] = self.ild_sums[k] / max(self.n, 1)
        return out


#: rows scored and ranked together: a (128, n_items) block stays in cache between the
#: matrix product, the rank counts and the top-k (one pass over a 512-row matrix is
#: bound by memory traffic and measured up to twice slower)
SCORE_BLOCK_ROWS = 128


def _score_blocks(model: SessionModel, state: Any, rows: np.ndarray, n_slots: int):
    """Yield ``(rows, scores)`` blocks for the slots ``rows`` (ascending) of ``state``.

    Models with ``select`` (every :class:`~sessrec.models.base.BaseSessionModel`) score
    only the evaluated slots, block by block: slots whose session is over or whose
    position is not evaluated cost nothing. Other models score every slot once.
    """
    if not len(rows):
        return
    if not hasattr(model, "select"):
        scores = model.scores(state)
        for start in range(0, len(rows), SCORE_BLOCK_ROWS):
            block = rows[start : start + SCORE_BLOCK_ROWS]
            yield block, scores.index_select(0, torch.from_numpy(block))
        return
    for start in range(0, len(rows), SCORE_BLOCK_ROWS):
        block = rows[start : start + SCORE_BLOCK_ROWS]
        whole = len(block) == n_slots
        yield block, model.scores(state if whole else model.select(state, torch.from_numpy(block)))


def evaluate(
    model: SessionModel,
    test: Sessions,
    *,
    ks: tuple[int, ...] = DEFAULT_KS,
    tie_mode: str = DEFAULT_TIE_MODE,
    min_position: int = 1,
    batch_size: int = 512,
    train: Sessions | None = None,
    beyond_accuracy: bool = True,
    progress: bool = False,
    protocol: str = DEFAULT_PROTOCOL,
    negatives: int = DEFAULT_NEGATIVES,
    sampling: str = DEFAULT_SAMPLING,
    sampling_seed: int = DEFAULT_SAMPLING_SEED,
    sampler: int = DEFAULT_SAMPLER,
) -> EvalResult:
    """Evaluate ``model`` on ``test`` with the next-item protocol (module docstring).

    Args:
        ks: cut-offs for Recall/MRR/NDCG and the beyond-accuracy metrics.
        tie_mode: ``median`` (default: expected rank under random tie-breaking),
            ``standard`` (optimistic; what published GRU4Rec numbers use) or
            ``conservative`` (pessimistic).
        min_position: first predicted position (1: every item after the first;
            2: the published RetailRocket protocol).
        train: training sessions; with ``beyond_accuracy`` they give the popularity
            (``popularity@k``: mean of popularity / max popularity over the top-k) and
            the item cosine for intra-list diversity (``diversity@k``: 1 - mean
            pairwise cosine in the top-k). Coverage needs no training data.
        protocol: ``full`` (default) ranks the whole catalogue; ``sampled`` does that and
            also ranks each target among ``negatives`` distinct random other items, drawn
            ``uniform``-ly or by training ``popularity`` (which needs ``train``) from a
            generator seeded with ``sampling_seed`` by ``sampler`` 2 (default) or the slower,
            older 1 (see :mod:`sessrec.evaluation.sampled`).

    Raises:
        NonFiniteScoresError: the model scored an item NaN or +-inf at an evaluated
            event (the message names the model and the first such event).
    """
    check_tie_mode(tie_mode)
    if not ks or min(ks) < 1:
        raise ValueError("ks must be positive cut-offs")
    ks = tuple(sorted(set(int(k) for k in ks)))
    sampled = sampled_collector(protocol, SampledSettings(negatives, sampling, sampling_seed, sampler), model, train)
    started = time.perf_counter()
    prepared = prepare_test(test, model.item_index, min_position)
    popularity = cosine = None
    if beyond_accuracy and train is not None:
        popularity = np.bincount(model.item_index.to_index(train.items).clip(min=0), minlength=model.n_items).astype(np.float64)
        cosine = _cosine_entry(train, model.item_index)[1]
    extra = _BeyondAccuracy(ks, model.n_items, popularity, cosine) if beyond_accuracy else None

    offsets, items = prepared.offsets, prepared.items
    n_sessions = prepared.n_sessions
    n_events = prepared.n_eval_events
    model_name = getattr(model, "name", type(model).__name__)
    better = np.empty(n_events, dtype=np.int64)
    n_tied = np.empty(n_events, dtype=np.int64)
    positions = np.empty(n_events, dtype=np.int64)
    targets = np.empty(n_events, dtype=np.int64)
    session_index = np.empty(n_events, dtype=np.int64)
    written = 0

    slots = min(batch_size, n_sessions)
    rank = BlockRanker(extra.max_k if extra is not None else 0)
    bar = tqdm(total=n_events, desc=f"evaluate {getattr(model, 'name', 'model')}", unit="ev", disable=not progress)
    with torch.inference_mode():
        state = model.init_state(max(slots, 1))
        slot_session = np.arange(slots, dtype=np.int64)
        next_session = slots
        cursor = offsets[slot_session].copy()  # flat index of the next input item
        session_end = offsets[slot_session + 1].copy()
        active = np.ones(slots, dtype=bool)
        while active.any():
            inputs = np.where(active, items[np.minimum(cursor, len(items) - 1)], 0)
            state = model.step(state, torch.from_numpy(inputs))
            position = cursor + 1 - offsets[slot_session]  # position of the target
            evaluated = np.flatnonzero(active & (position >= min_position))
            for rows, chosen in _score_blocks(model, state, evaluated, slots):
                target = items[cursor[rows] + 1]
                ranked = rank(chosen, target)  # one pass: counts, finiteness, lists
                if not ranked.finite:
                    raise _non_finite_error(model_name, chosen, rows, slot_session, position, prepared)
                top = ranked.top
                chunk = slice(written, written + len(rows))
                better[chunk], n_tied[chunk] = ranked.better, ranked.tied
                positions[chunk] = position[rows]
                targets[chunk] = target
                session_index[chunk] = slot_session[rows]
                written += len(rows)
                bar.update(len(rows))
                if extra is not None:
                    assert top is not None  # the ranker lists the top max_k >= 1 items when extra is on
                    extra.add(top)
                if sampled is not None:
                    sampled.add(chosen, torch.from_numpy(target))
            cursor += 1
            finished = active & (cursor + 1 >= session_end)
            if finished.any():
                done = np.flatnonzero(finished)
                n_new = min(len(done), n_sessions - next_session)
                refill, retire = done[:n_new], done[n_new:]
                new_sessions = np.arange(next_session, next_session + n_new)
                next_session += n_new
                slot_session[refill] = new_sessions
                cursor[refill] = offsets[new_sessions]
                session_end[refill] = offsets[new_sessions + 1]
                active[retire] = False
                state = model.reset(state, torch.from_numpy(finished))
    bar.close()
    assert written == n_events, f"evaluator bug: {written} of {n_events} events scored"

    order = np.lexsort((positions, session_index))  # report in test-file order
    better, n_tied = better[order], n_tied[order]
    positions, targets, session_index = positions[order], targets[order], session_index[order]
    ranks = ranks_from_counts(better, n_tied, tie_mode)
    metrics = metrics_from_ranks(ranks, ks)
    if extra is not None:
        metrics.update(extra.metrics())
    return EvalResult(
        sampled=sampled.result(order, tie_mode, ks) if sampled is not None else None,
        model=model_name,
        metrics=metrics,
        ranks=ranks,
        positions=positions,
        targets=targets,
        session_index=session_index,
        n_tied=n_tied,
        tie_mode=tie_mode,
        min_position=min_position,
        ks=ks,
        seconds=time.perf_counter() - started,
        counts={
            "n_events": n_events,
            "n_sessions": n_sessions,
            "n_test_events_raw": prepared.n_events_raw,
            "n_test_sessions_raw": prepared.n_sessions_raw,
            "n_unknown_items_removed": prepared.n_unknown_items_removed,
            "n_sessions_dropped": prepared.n_sessions_dropped,
            "n_items": model.n_items,
        },
    )


def _non_finite_error(
    model_name: str, scores: torch.Tensor, rows: np.ndarray, slot_session: np.ndarray, position: np.ndarray,
    prepared: PreparedTest,
) -> NonFiniteScoresError:
    """The error for a batch with non-finite scores, naming the first bad event (error path only)."""
    bad = ~torch.isfinite(scores)
    bad_rows = torch.nonzero(bad.any(1))[:, 0].numpy()
    first = int(bad_rows[np.argmin(slot_session[rows[bad_rows]])])  # earliest session in the test file
    row = rows[first]
    values = scores[first][bad[first]]
    kinds = sorted({"NaN" if v != v else ("+inf" if v > 0 else "-inf") for v in values.tolist()})
    session_id = prepared.session_ids[slot_session[row]]
    return NonFiniteScoresError(
        f"model '{model_name}' produced non-finite scores ({', '.join(kinds)} for {int(bad[first].sum())} of "
        f"{scores.shape[1]} items) at session {session_id}, position {int(position[row])}: its weights or inputs "
        "are broken; refusing to rank with them"
    )
