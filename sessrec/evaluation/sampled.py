"""The sampled-negatives protocol: the true item ranked among a few random other items.

Many papers (and e-commerce systems) do not rank the whole catalogue: for every test
event they draw ``N`` other items at random (typically 99, so the target competes with
100 candidates in all) and report HitRate@k, Precision@k or MAP@k of the target's rank
among those candidates. Krichene & Rendle ("On Sampled Metrics for Item
Recommendation", KDD 2020) showed that such numbers can order models differently from
full ranking. sessrec offers this protocol as a clearly labelled *alternative* to its
default (full ranking, :mod:`sessrec.evaluation.evaluator`); a sampled evaluation keeps
the full-ranking ranks of the same events from the same scores, so both can be read side
by side.

Definitions. For an event with target ``t`` the sampler draws ``N`` *distinct* items
other than ``t`` (without replacement):

* ``uniform``: every other catalogue item is equally likely;
* ``popularity``: items are drawn one after another with probability proportional to
  their training clicks among the items not drawn yet (weighted sampling without
  replacement).

Two samplers draw from these same distributions with different random numbers, so their
negatives differ; a record names the one it used (``sampler``; records without it used 1):

* ``1``, exponential keys: one ``E_i ~ Exp(1)`` key per catalogue item and event, the ``N``
  smallest ``E_i / w_i`` kept. It costs ``n_items`` random numbers and a top-N per event
  (2.6 billion keys for one evaluation on Diginetica, 10x the full-ranking time).
* ``2`` (default), first distinct draws: independent draws with replacement (uniform over
  the other items, or by popularity through the cumulative counts), repeats and the target
  dropped, the first ``N`` distinct kept in the order drawn. The first ``N`` distinct values
  of such a sequence are exactly a draw without replacement of either kind above, and it
  costs about ``N`` random numbers per event. A row left short (rare) is drawn again with
  twice as many draws; a sampler asked for more than half the drawable items uses the keys.

The sampled rank follows the same tie rule as the full rank
(:func:`sessrec.evaluation.metrics.ranks_from_counts`): with ``better`` the sampled
negatives scored strictly above the target and ``tied`` those scored exactly as it,
``median`` gives ``1 + better + tied / 2``. It lies between 1 and ``N + 1``. The sampled
metrics are the usual ones computed on the sampled ranks
(:func:`sessrec.evaluation.metrics.metrics_from_ranks`); records store them under the
names ``recall@k`` (= HitRate@k), ``mrr@k``, ``ndcg@k``, ``precision@k`` (= HitRate@k / k)
and ``map@k`` (= MRR@k with one relevant item) inside a separate ``sampled`` block, never
mixed with the full-ranking metrics.

Reproducibility. The draws come from one ``torch.Generator`` seeded with ``seed`` and are
consumed in the evaluator's order of events, which depends on the test data and the
batch size, not on the model: every model evaluated on the same catalogue with the same
seed and batch size competes against the same negatives at every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from sessrec.evaluation.metrics import metrics_from_ranks, ranks_from_counts

PROTOCOLS: tuple[str, ...] = ("full", "sampled")
SAMPLINGS: tuple[str, ...] = ("uniform", "popularity")
DEFAULT_PROTOCOL = "full"
DEFAULT_NEGATIVES = 99
DEFAULT_SAMPLING = "uniform"
DEFAULT_SAMPLING_SEED = 0
#: the samplers (module docstring): version -> what it does
SAMPLERS: dict[int, str] = {
    1: "exponential keys over the whole catalogue",
    2: "independent draws, the first distinct ones kept",
}
DEFAULT_SAMPLER = 2
_BLOCK = 128  # rows per draw of sampler 1: keeps the (rows, n_items) random keys small
_DRAW_BLOCK = 4096  # rows per draw of sampler 2 (about N + N/2 numbers a row)


@dataclass(frozen=True)
class SampledSettings:
    """How the negatives of a sampled evaluation are drawn."""

    negatives: int = DEFAULT_NEGATIVES
    sampling: str = DEFAULT_SAMPLING
    seed: int = DEFAULT_SAMPLING_SEED
    sampler: int = DEFAULT_SAMPLER

    @property
    def key(self) -> str:
        """Short name of the protocol variant, e.g. ``sampled-uniform-99`` (the seed is not part of it;
        a sampler other than the default is: ``sampled-uniform-99-v1``)."""
        version = "" if self.sampler == DEFAULT_SAMPLER else f"-v{self.sampler}"
        return f"sampled-{self.sampling}-{self.negatives}{version}"

    def evaluate_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`sessrec.evaluation.evaluate` for this variant."""
        return {"protocol": "sampled", "negatives": self.negatives, "sampling": self.sampling,
                "sampling_seed": self.seed, "sampler": self.sampler}

    def record(self) -> dict[str, Any]:
        """What a results file keeps of these settings."""
        return {"negatives": self.negatives, "sampling": self.sampling, "seed": self.seed, "sampler": self.sampler}

    def describe(self) -> str:
        """One phrase for people, e.g. ``99 uniform negatives (seed 0)``."""
        version = "" if self.sampler == DEFAULT_SAMPLER else f", sampler {self.sampler}"
        return f"{self.negatives} {self.sampling} negatives (seed {self.seed}{version})"


def check_sampled_settings(settings: SampledSettings, n_items: int) -> None:
    """Raise ``ValueError`` naming the problem when ``settings`` cannot be used on ``n_items`` items."""
    if settings.sampling not in SAMPLINGS:
        raise ValueError(f"unknown sampling '{settings.sampling}' (choose from {', '.join(SAMPLINGS)})")
    if isinstance(settings.negatives, bool) or not isinstance(settings.negatives, (int, np.integer)):
        raise ValueError(f"negatives must be an integer, not {settings.negatives!r}")
    if not 1 <= settings.negatives < n_items:
        raise ValueError(
            f"negatives = {settings.negatives} is not allowed: the catalogue has {n_items} items, so at most "
            f"{n_items - 1} items other than the target can be drawn (allowed: 1 to {max(n_items - 1, 1)})"
        )
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, (int, np.integer)) or settings.seed < 0:
        raise ValueError(f"sampling seed must be an integer >= 0, not {settings.seed!r}")
    if isinstance(settings.sampler, bool) or settings.sampler not in SAMPLERS:
        raise ValueError(f"sampler = {settings.sampler!r} is not allowed (allowed: "
                         f"{', '.join(f'{v} ({what})' for v, what in SAMPLERS.items())})")


def training_counts(train_items: np.ndarray, item_index: Any, n_items: int) -> np.ndarray:
    """Training clicks of every catalogue item (dense order); items unknown to the catalogue are ignored."""
    idx = np.asarray(item_index.to_index(train_items))
    return np.bincount(idx[idx >= 0], minlength=n_items).astype(np.float64)


def sampled_counts(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(better, tied)`` per row: how many of the items ``negatives[b]`` row ``b`` of ``scores``
    puts strictly above, and exactly level with, the item ``targets[b]`` (both int32).

    Non-finite scores count as below every finite score and tied with each other, as in
    :func:`sessrec.evaluation.metrics.rank_counts`.
    """
    neg_scores = scores.gather(1, negatives)
    target_scores = scores.gather(1, targets.view(-1, 1))
    low = torch.full((), float("-inf"), dtype=scores.dtype)
    neg_scores = torch.where(torch.isfinite(neg_scores), neg_scores, low)
    target_scores = torch.where(torch.isfinite(target_scores), target_scores, low)
    better = torch.gt(neg_scores, target_scores).sum(1, dtype=torch.int32)
    tied = torch.eq(neg_scores, target_scores).sum(1, dtype=torch.int32)
    return better, tied


class NegativeSampler:
    """Draws, for each event, ``negatives`` distinct items other than its target.

    Args:
        n_items: catalogue size (items are dense indices ``0..n_items-1``).
        settings: number of negatives, ``uniform`` or ``popularity`` sampling, seed, sampler.
        popularity: training clicks per item (needed for ``popularity`` sampling; items
            with no clicks are never drawn).
    """

    def __init__(self, n_items: int, settings: SampledSettings, popularity: np.ndarray | None = None):
        check_sampled_settings(settings, n_items)
        self.n_items = n_items
        self.settings = settings
        self.generator = torch.Generator().manual_seed(int(settings.seed))
        self.inverse_weights = None
        self.cumulative: torch.Tensor | None = None  # running sums of the weights (sampler 2, popularity)
        drawable = n_items
        if settings.sampling == "popularity":
            if popularity is None:
                raise ValueError("popularity sampling needs the training clicks of every item")
            weights = np.asarray(popularity, dtype=np.float64)
            if len(weights) != n_items or (weights < 0).any() or not np.isfinite(weights).all():
                raise ValueError(f"popularity must be {n_items} finite counts >= 0")
            drawable = int((weights > 0).sum())
            if settings.negatives > drawable - 1:
                raise ValueError(f"negatives = {settings.negatives} is not allowed: only {drawable} items have "
                                 "training clicks to be drawn by popularity")
            with np.errstate(divide="ignore"):
                self.inverse_weights = torch.from_numpy(1.0 / weights).float()  # inf: never drawn
            self.cumulative = torch.from_numpy(np.cumsum(weights))
        # drawing most of the catalogue by rejection wastes draws on repeats: sampler 2 uses the keys there
        self.use_keys = settings.sampler == 1 or 2 * settings.negatives > drawable

    def draw(self, targets: torch.Tensor) -> torch.Tensor:
        """``(len(targets), negatives)`` int64 item indices; row ``b`` never contains ``targets[b]``."""
        targets = targets.to(torch.int64)
        if self.use_keys:
            return self._draw_by_keys(targets)
        out = torch.empty(len(targets), self.settings.negatives, dtype=torch.int64)
        for start in range(0, len(targets), _DRAW_BLOCK):
            out[start : start + _DRAW_BLOCK] = self._draw_distinct(targets[start : start + _DRAW_BLOCK])
        return out

    def _draw_distinct(self, targets: torch.Tensor) -> torch.Tensor:
        """Sampler 2: per row, the first ``negatives`` distinct non-target values of independent draws."""
        n = self.settings.negatives
        out = torch.empty(len(targets), n, dtype=torch.int64)
        pending = torch.arange(len(targets))
        width = n + max(16, n // 2)
        while len(pending):
            rows = targets[pending].view(-1, 1)
            if self.cumulative is None:  # uniform over the other items: skip the target's index
                draws = torch.randint(0, self.n_items - 1, (len(rows), width), generator=self.generator)
                draws += (draws >= rows).long()
            else:  # by popularity: an item is drawn where a uniform point falls in its share of the clicks
                total = self.cumulative[-1]
                points = torch.rand(len(rows), width, dtype=torch.float64, generator=self.generator) * total
                draws = torch.searchsorted(self.cumulative, points, right=True).clamp_(max=self.n_items - 1)
            ordered, order = torch.sort(draws, dim=1, stable=True)  # equal values keep the order drawn
            repeat = torch.zeros_like(ordered, dtype=torch.bool)
            repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
            keep = torch.empty_like(repeat).scatter_(1, order, ~repeat)  # first occurrences, in drawing order
            keep &= draws != rows
            chosen = keep & (keep.cumsum(1) <= n)
            enough = chosen.sum(1) == n
            out[pending[enough]] = draws[enough][chosen[enough]].view(-1, n)  # row-major: drawing order kept
            pending = pending[~enough]
            width *= 2
        return out

    def _draw_by_keys(self, targets: torch.Tensor) -> torch.Tensor:
        """Sampler 1: the ``negatives`` smallest exponential keys of every row."""
        out = torch.empty(len(targets), self.settings.negatives, dtype=torch.int64)
        for start in range(0, len(targets), _BLOCK):
            rows = targets[start : start + _BLOCK].view(-1, 1)
            # exponential keys: the N smallest E_i / w_i are a weighted draw without replacement
            keys = torch.empty(len(rows), self.n_items).exponential_(generator=self.generator)
            if self.inverse_weights is not None:
                keys.mul_(self.inverse_weights)
            keys.scatter_(1, rows, float("inf"))  # the target is never a negative
            out[start : start + len(rows)] = torch.topk(keys, self.settings.negatives, dim=1, largest=False,
                                                        sorted=False).indices
        return out

    def counts(self, scores: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the negatives of these events and count them (:func:`sampled_counts`)."""
        return sampled_counts(scores, targets, self.draw(targets))


@dataclass
class SampledResult:
    """Sampled ranks and metrics of one evaluation (events in the same order as the full ranks)."""

    settings: SampledSettings
    ranks: np.ndarray  # (n_events,) rank of the target among itself and its negatives, 1..negatives+1
    n_tied: np.ndarray  # (n_events,) negatives scored exactly as the target
    metrics: dict[str, float]
    tie_mode: str

    @property
    def tied_target_share(self) -> float:
        return float((self.n_tied > 0).mean()) if len(self.n_tied) else float("nan")

    def summary(self) -> dict[str, Any]:
        """Plain dict for results files: the settings, tied share and the sampled metrics."""
        return {
            "protocol": self.settings.key,
            "negatives": self.settings.negatives,
            "sampling": self.settings.sampling,
            "seed": self.settings.seed,
            "sampler": self.settings.sampler,
            "tie_mode": self.tie_mode,
            "n_tied_events": int((self.n_tied > 0).sum()),
            "tied_target_share": self.tied_target_share,
            "metrics": dict(self.metrics),
        }


class SampledCollector:
    """Collects the sampled counts chunk by chunk inside :func:`sessrec.evaluation.evaluate`,
    in the order the evaluator scores the events."""

    def __init__(self, settings: SampledSettings, n_items: int, popularity: np.ndarray | None = None):
        self.sampler = NegativeSampler(n_items, settings, popularity)
        self.better: list[np.ndarray] = []
        self.tied: list[np.ndarray] = []

    def add(self, scores: torch.Tensor, targets: torch.Tensor) -> None:
        """Draw and count the negatives of the next scored events (rows of ``scores``)."""
        better, tied = self.sampler.counts(scores, targets)
        self.better.append(better.numpy())
        self.tied.append(tied.numpy())

    def result(self, order: np.ndarray, tie_mode: str, ks: tuple[int, ...]) -> SampledResult:
        """Ranks and metrics, events reordered by ``order`` (the one the evaluator applies to its full ranks)."""
        empty = np.zeros(0, dtype=np.int32)
        better = np.concatenate(self.better or [empty])[order]
        tied = np.concatenate(self.tied or [empty])[order]
        ranks = ranks_from_counts(better, tied, tie_mode)
        return SampledResult(self.sampler.settings, ranks, tied, metrics_from_ranks(ranks, ks), tie_mode)


def sampled_collector(protocol: str, settings: SampledSettings, model: Any, train: Any = None) -> SampledCollector | None:
    """The collector :func:`sessrec.evaluation.evaluate` feeds for ``protocol`` (None for ``full``).

    Checks everything before the evaluation starts: the protocol name, ``settings`` against
    the model's catalogue, and that ``popularity`` sampling has the training sessions
    (``train``) to count clicks from.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol '{protocol}' (choose from {', '.join(PROTOCOLS)})")
    if protocol == "full":
        return None
    check_sampled_settings(settings, model.n_items)
    clicks = None
    if settings.sampling == "popularity":
        if train is None:
            raise ValueError("popularity sampling needs the training sessions (train=...)")
        clicks = training_counts(train.items, model.item_index, model.n_items)
    return SampledCollector(settings, model.n_items, clicks)
