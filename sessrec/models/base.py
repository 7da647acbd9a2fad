"""The one interface every model implements, and what all models share.

Every model answers one question: given the items of a session so far, how good is
every catalogue item as the next one? It answers it through a streaming, batched
interface, so the evaluator (many sessions in parallel) and the live playground (one
session, one click at a time) drive exactly the same code:

    state = model.init_state(batch_size)        # every slot is an empty session
    state = model.step(state, items)            # each slot consumes one item (dense index)
    scores = model.scores(state)                # (batch_size, n_items) float32
    state = model.reset(state, finished_mask)   # slots where the mask is True start anew

States are treated as immutable values: ``step`` and ``reset`` return new states and
never modify their input, so a cached state of a live session can be stepped again.
Items are dense catalogue indices (``model.item_index`` maps original ids to them).

Optional methods, found with ``hasattr`` (the app has no per-model code):
``attention(session_item_ids) -> np.ndarray`` (attention models: one weight per click read)
and ``evidence(session_item_ids, item_id) -> Evidence`` (counting models: the rows that add
up to the item's score, :mod:`sessrec.models.evidence`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from cachetools import LRUCache

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.contract import EpochCallback, TrainsOnce, Validate
from sessrec.models.training_state import TrainingState

State = Any


@runtime_checkable
class SessionModel(Protocol):
    """Structural type of a next-item model (see the module docstring)."""

    @property
    def name(self) -> str: ...  # a read-only member: models declare it on the class

    item_index: ItemIndex

    @property
    def n_items(self) -> int: ...

    def fit(self, train: Sessions, *, validate: Validate | None = None, progress: bool = True,
            checkpoint: str | Path | None = None, resume: TrainingState | None = None,
            callback: EpochCallback | None = None) -> "SessionModel": ...  # sessrec.models.contract

    def init_state(self, batch_size: int) -> State: ...

    def reset(self, state: State, mask: torch.Tensor) -> State: ...

    def step(self, state: State, items: torch.Tensor) -> State: ...

    def scores(self, state: State) -> torch.Tensor: ...


def select_rows(state: State, rows: torch.Tensor) -> State:
    """Rows ``rows`` of a batch-first state.

    A tensor; a tuple of batch-first tensors (one per layer or part); or a tuple/list
    with one entry per slot (e.g. the clicks read so far).
    """
    if isinstance(state, torch.Tensor):
        return state.index_select(0, rows)
    if isinstance(state, (tuple, list)):
        if state and all(isinstance(part, torch.Tensor) for part in state):
            return type(state)(part.index_select(0, rows) for part in state)
        return type(state)(state[i] for i in rows.tolist())
    raise TypeError(f"cannot select rows of a {type(state).__name__} state; override select()")


@dataclass
class Recommendation:
    """Result of :meth:`BaseSessionModel.recommend` for one live session."""

    item_ids: np.ndarray  # (k,) original item ids, best first
    scores: np.ndarray  # (k,) the model's scores for them
    unknown_items: list[int] = field(default_factory=list)  # session ids the model skipped
    all_scores: np.ndarray | None = None  # (n_items,) full score vector, if asked for


class BaseSessionModel(TrainsOnce):
    """Shared behaviour: the live ``recommend`` with prefix-state caching, and naming.

    Subclasses implement ``fit_once`` (models trained in one pass) or override ``fit`` (models
    trained in epochs; the contract of :mod:`sessrec.models.contract`), and ``init_state``,
    ``reset``, ``step``, ``scores`` and the checkpoint hooks ``_tensors`` / ``_from_tensors`` (see :mod:`sessrec.models.io`).
    """

    name: ClassVar[str] = "base"
    #: live sessions whose states are kept for incremental recommend()
    live_cache_size: ClassVar[int] = 256

    def __init__(self) -> None:
        self.item_index = ItemIndex(np.zeros(0, np.int64))
        self._live_cache: LRUCache[tuple[int, ...], State] = LRUCache(maxsize=self.live_cache_size)
        self._live_lock = threading.Lock()

    # -- to be provided by subclasses -------------------------------------------------
    def init_state(self, batch_size: int) -> State:
        raise NotImplementedError

    def reset(self, state: State, mask: torch.Tensor) -> State:
        raise NotImplementedError

    def step(self, state: State, items: torch.Tensor) -> State:
        raise NotImplementedError

    def scores(self, state: State) -> torch.Tensor:
        raise NotImplementedError

    def select(self, state: State, rows: torch.Tensor) -> State:
        """The state of the slots ``rows`` only (lets the evaluator score just the rows it ranks).

        Works for the state types the built-in models use: a tensor, or a tuple/list of
        tensors, batch first; a list of per-slot Python objects. Override otherwise.
        """
        return select_rows(state, rows)

    def hyperparameters(self) -> dict[str, Any]:
        """Plain (JSON-able) settings that define the model; stored in checkpoints."""
        return {}

    # -- shared -----------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return self.item_index.n_items

    @property
    def is_fitted(self) -> bool:
        return self.item_index.n_items > 0

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(f"{self.name}: call fit() or load a checkpoint first")

    def clear_live_cache(self) -> None:
        with self._live_lock:
            self._live_cache.clear()

    def session_state(self, item_indices: tuple[int, ...]) -> State:
        """State after reading ``item_indices`` (dense, known items), reusing cached prefixes.

        A session that grows by one click costs one ``step`` instead of re-reading it.
        """
        self._check_fitted()
        with self._live_lock:
            cut = len(item_indices)
            while cut > 0 and item_indices[:cut] not in self._live_cache:
                cut -= 1
            state = self._live_cache[item_indices[:cut]] if cut > 0 else None  # a read counts as a use
        if state is None:
            state = self.init_state(1)
        with torch.inference_mode():
            for pos in range(cut, len(item_indices)):
                state = self.step(state, torch.tensor([item_indices[pos]], dtype=torch.long))
                with self._live_lock:  # past live_cache_size the least recently used prefix goes
                    self._live_cache[item_indices[: pos + 1]] = state
        return state

    def score_session(self, session_items: list[int] | np.ndarray) -> tuple[np.ndarray, list[int]]:
        """Scores of every catalogue item after ``session_items`` (original ids).

        Returns ``(scores, unknown_items)``: items outside the catalogue are skipped
        and reported rather than raising.
        """
        ids = np.asarray(list(session_items), dtype=np.int64)
        idx = self.item_index.to_index(ids)
        unknown = [int(i) for i in ids[idx < 0]]
        state = self.session_state(tuple(int(i) for i in idx[idx >= 0]))
        with torch.inference_mode():
            scores = self.scores(state)[0].float().numpy().copy()
        return scores, unknown

    def recommend(
        self,
        session_items: list[int] | np.ndarray,
        k: int = 20,
        exclude_seen: bool = False,
        return_all_scores: bool = False,
    ) -> Recommendation:
        """Top-``k`` next items for one live session given as original item ids."""
        scores, unknown = self.score_session(session_items)
        ranked = scores.copy()
        if exclude_seen and len(session_items):
            seen = self.item_index.to_index(np.asarray(list(session_items), dtype=np.int64))
            ranked[seen[seen >= 0]] = -np.inf
        k = max(0, min(int(k), self.n_items))
        top = np.argpartition(-ranked, k - 1)[:k] if 0 < k < len(ranked) else np.arange(len(ranked))[:k]
        top = top[np.lexsort((top, -ranked[top]))]  # by score, ties by index: deterministic
        return Recommendation(
            item_ids=self.item_index.to_ids(top),
            scores=scores[top],
            unknown_items=unknown,
            all_scores=scores if return_all_scores else None,
        )
