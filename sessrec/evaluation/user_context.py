"""The evaluator path of the user-context task: leave-one-out with sampled negatives.

Each user's most recent positive interaction (by time, by file order without times) is
held out; everything else trains. At evaluation the held-out item is ranked among
``negatives`` items drawn uniformly, for each case, from the catalogue items the user
never interacted with (in train or test), with a fixed seed so every model meets the same
negatives. Ranks follow the session evaluator's tie rule (``median`` by default: the
expected rank under random tie-breaking), and the metrics are the same functions
(HitRate@k is Recall@k with one relevant item, MRR@k, NDCG@k), plus AUC: the share of
the case's negatives scored below the held-out item (ties count one half), averaged over
the cases, which is ``1 - (rank - 1) / negatives`` under median ties.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sessrec.data.interactions import Interactions
from sessrec.evaluation.metrics import DEFAULT_TIE_MODE, metrics_from_ranks, ranks_from_counts
from sessrec.models.user_context.base import UserContextModel

DEFAULT_NEGATIVES = 99


@dataclass(frozen=True)
class UserContextResult:
    """Metrics and per-case ranks of one model under the leave-one-out protocol."""

    metrics: dict[str, float]
    ranks: np.ndarray  # (n_cases,) float64, 1 = best
    negatives: int
    seed: int
    seconds: float


def leave_one_out(interactions: Interactions, positive_label: float = 1.0) -> tuple[Interactions, Interactions]:
    """``(train, test)``: each user's last positive interaction in ``test``, the rest in ``train``.

    Users with a single positive interaction stay in train only (nothing would be left to
    learn them from). "Last" is by time, ties and data without times by row order.
    """
    order = np.arange(len(interactions))
    when = interactions.time if interactions.time is not None else order.astype(np.float64)
    positive = np.flatnonzero(interactions.label >= positive_label)
    if len(positive) == 0:
        raise ValueError(f"leave_one_out: no positive interaction (label >= {positive_label})")
    # the last positive row of each user: sort by (user, time, row) and take each user's final row
    by_user = positive[np.lexsort((order[positive], when[positive], interactions.user[positive]))]
    users = interactions.user[by_user]
    last = np.r_[users[1:] != users[:-1], True]
    first = np.r_[True, users[1:] != users[:-1]]
    held = by_user[last & ~first]  # users with at least two positives
    mask = np.zeros(len(interactions), dtype=bool)
    mask[held] = True
    return interactions.select(~mask), interactions.select(np.sort(held))


def draw_negatives(test: Interactions, seen: dict[int, set[int]], catalogue: np.ndarray, negatives: int,
                   seed: int) -> np.ndarray:
    """``(len(test), negatives)`` item ids per case, distinct, none of them seen by the case's user
    (``seen``: user -> items, all of them in ``catalogue``)."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(test), negatives), dtype=np.int64)
    for row, user in enumerate(test.user):
        excluded = seen.get(int(user), set())
        if len(catalogue) - len(excluded) < negatives:  # a user's items all belong to the catalogue
            raise ValueError(f"user {int(user)} has interacted with too many items to draw {negatives} negatives "
                             f"from {len(catalogue)} (lower negatives)")
        chosen: list[int] = []
        taken: set[int] = set()
        while len(chosen) < negatives:
            for item in rng.choice(catalogue, size=2 * negatives, replace=True).tolist():
                if item not in excluded and item not in taken:
                    taken.add(item)
                    chosen.append(item)
                    if len(chosen) == negatives:
                        break
        out[row] = chosen
    return out


def evaluate_user_context(
    model: UserContextModel,
    train: Interactions,
    test: Interactions,
    *,
    negatives: int = DEFAULT_NEGATIVES,
    ks: tuple[int, ...] = (10,),
    seed: int = 0,
    tie_mode: str = DEFAULT_TIE_MODE,
    also_seen: Interactions | None = None,
) -> UserContextResult:
    """Rank each test case's item among ``negatives`` sampled items (see the module docstring).

    The catalogue is every item of ``train`` and ``test``; a user's seen items are all of
    theirs in both, and in ``also_seen`` (e.g. the rest of a test part the cases were taken
    from). ``model`` must be fitted on ``train``.
    """
    if len(test) == 0:
        raise ValueError("evaluate_user_context: no test case")
    if isinstance(negatives, bool) or not isinstance(negatives, (int, np.integer)) or negatives < 1:
        raise ValueError(f"negatives = {negatives!r} is not allowed (allowed: an integer >= 1)")
    started = time.perf_counter()
    parts = [train, test] + ([also_seen] if also_seen is not None else [])
    catalogue = np.unique(np.concatenate([p.item for p in parts]))
    seen: dict[int, set[int]] = {}
    for user, item in zip(np.concatenate([p.user for p in parts]).tolist(),
                          np.concatenate([p.item for p in parts]).tolist()):
        seen.setdefault(user, set()).add(item)
    sampled = draw_negatives(test, seen, catalogue, int(negatives), seed)
    width = 1 + sampled.shape[1]
    items = np.concatenate([test.item[:, None], sampled], axis=1)  # column 0: the held-out item
    users = np.repeat(test.user, width)
    context = {k: np.repeat(v, width) for k, v in test.context.items()}
    scores = np.asarray(model.score_pairs(users, items.reshape(-1), context), dtype=np.float64)
    if scores.shape != (len(users),):
        raise ValueError(f"{model.name}: score_pairs returned shape {scores.shape}, expected ({len(users)},)")
    if not np.isfinite(scores).all():
        raise ValueError(f"{model.name}: score_pairs returned NaN or infinite scores")
    scores = scores.reshape(len(test), width)
    target = scores[:, :1]
    better = (scores[:, 1:] > target).sum(1)
    tied = (scores[:, 1:] == target).sum(1)  # other items scored exactly as the target
    ranks = np.asarray(ranks_from_counts(better, tied, tie_mode), dtype=np.float64)
    metrics = {k.replace("recall@", "hitrate@"): v for k, v in metrics_from_ranks(ranks, ks).items()
               if k.split("@")[0] in ("recall", "mrr", "ndcg")}
    metrics["auc"] = float(np.mean((negatives - better - 0.5 * tied) / negatives))
    return UserContextResult(metrics, ranks, int(negatives), seed, time.perf_counter() - started)
