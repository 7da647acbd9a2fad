"""Fitted parts shared between the trials of one study.

A composite model (the hybrid) whose parts are held fixed while only the way it combines
them is tuned would fit the same parts again in every trial: GRU4Rec for minutes, SLIST
for 4 CPU-minutes and 3 GB on ``yoochoose1_64``. Inside :func:`reuse_fits` a part fitted
with the same class, settings and training sessions is fitted once and handed to every
later trial of that block; outside it (training, benchmarks, the app) nothing is kept and
every fit runs, so a run's training time is always its own.

A part is only reused when the fit is a pure function of (class, settings, sessions):
sessrec's models are seeded, and the seed is part of the settings. Memory stays bounded:
each ``role`` keeps its newest fit only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from sessrec.data.sessions import Sessions

T = TypeVar("T")


@dataclass
class _Store:
    fits: dict[str, tuple[str, Any]] = field(default_factory=dict)  # role -> (key, fitted part)
    reused: int = 0


_ACTIVE: ContextVar[_Store | None] = ContextVar("sessrec_reuse_fits", default=None)


@contextmanager
def reuse_fits() -> Iterator[None]:
    """Inside this block, :func:`fit_part` fits each distinct part once."""
    token = _ACTIVE.set(_Store())
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def reused_count() -> int:
    """How many fits the enclosing :func:`reuse_fits` block has handed out again (0 outside one)."""
    store = _ACTIVE.get()
    return 0 if store is None else store.reused


def sessions_key(sessions: Sessions) -> str:
    """A content hash of ``sessions`` with their times (some models weigh sessions by age)."""
    digest = hashlib.sha256(sessions.fingerprint().encode())
    if sessions.times is not None:
        digest.update(np.ascontiguousarray(sessions.times, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]


def fit_part(role: str, name: str, params: dict[str, Any], train: Sessions, fit: Callable[[], T]) -> T:
    """``fit()``, or inside :func:`reuse_fits` the part already fitted for ``role`` when its
    model ``name``, ``params`` and ``train`` are the same. The caller must not change the part."""
    store = _ACTIVE.get()
    if store is None:
        return fit()
    key = json.dumps([name, params, sessions_key(train)], sort_keys=True, default=str)
    held = store.fits.get(role)
    if held is not None and held[0] == key:
        store.reused += 1
        return held[1]
    store.fits.pop(role, None)  # free the old part before fitting the new one
    part = fit()
    store.fits[role] = (key, part)
    return part
