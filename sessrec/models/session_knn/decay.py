"""session-rec's decay functions, by name, vectorised.

Two families (names as in session-rec's ``vsknn.py`` and ``sr.py``):

* position weights of the current session, ``f(i, length)`` with ``i`` the 1-based
  position of an item's last click: ``linear`` ``1 - 0.1 * (length - i)`` for ``i <= 10``
  else 0, ``same`` 1, ``div`` ``i / length``, ``log`` ``1 / log10(length - i + 1.7)``,
  ``quadratic`` ``(i / length) ** 2``;
* step decays ``g(step)`` with ``step >= 1`` a distance: ``linear`` ``1 - 0.1 * step`` for
  ``step <= 100`` else 0, ``same`` 1, ``div`` ``1 / step``, ``log`` ``1 / log10(step + 1.7)``,
  ``quadratic`` ``1 / step ** 2``.

The ``linear`` variants are kept exactly as session-rec has them, including that they go
negative (position weight for long sessions, step decay beyond 10 steps).
"""

from __future__ import annotations

import numpy as np

POSITION_WEIGHTS = ("linear", "same", "div", "log", "quadratic")
STEP_DECAYS = ("linear", "same", "div", "log", "quadratic")


def position_weight(name: str, i: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Weight of the item whose last click is at 1-based position ``i`` of a session of ``length``."""
    i = np.asarray(i, np.float64)
    length = np.asarray(length, np.float64)
    if name == "linear":
        return np.where(i <= 10, 1.0 - 0.1 * (length - i), 0.0)
    if name == "same":
        return np.ones_like(i)
    if name == "div":
        return i / length
    if name == "log":
        return 1.0 / np.log10(length - i + 1.7)
    if name == "quadratic":
        return (i / length) ** 2
    raise ValueError(f"unknown position weighting '{name}'")


def step_decay(name: str, step: np.ndarray | int) -> np.ndarray:
    """Decay of something ``step`` (>= 1) steps away."""
    step = np.asarray(step, np.float64)
    if name == "linear":
        return np.where(step <= 100, 1.0 - 0.1 * step, 0.0)
    if name == "same":
        return np.ones_like(step)
    if name == "div":
        return 1.0 / step
    if name == "log":
        return 1.0 / np.log10(step + 1.7)
    if name == "quadratic":
        return 1.0 / (step * step)
    raise ValueError(f"unknown step decay '{name}'")
