"""Paired significance tests between two models evaluated on the same events."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sessrec.evaluation.metrics import per_event_metric


@dataclass(frozen=True)
class PairedTestResult:
    metric: str
    k: int
    test: str
    n_events: int
    mean_a: float
    mean_b: float
    difference: float  # mean_a - mean_b
    statistic: float
    p_value: float

    def to_dict(self) -> dict:
        return asdict(self)


def paired_test(
    ranks_a: np.ndarray,
    ranks_b: np.ndarray,
    metric: str = "mrr",
    k: int = 20,
    test: str = "wilcoxon",
) -> PairedTestResult:
    """Compare two models' per-event values of ``metric@k`` on the same events.

    ``test`` is ``wilcoxon`` (signed-rank, zero differences dropped, two-sided) or
    ``ttest`` (paired t-test, two-sided). Both rank arrays must list the same events in
    the same order, which the evaluator guarantees for one test set and protocol.
    """
    ranks_a = np.asarray(ranks_a, dtype=np.float64)
    ranks_b = np.asarray(ranks_b, dtype=np.float64)
    if ranks_a.shape != ranks_b.shape:
        raise ValueError(
            f"paired test needs the same events for both models ({len(ranks_a)} vs {len(ranks_b)} ranks)"
        )
    # imported here: scipy.stats costs about 0.5 s to import, which every page that evaluates
    # (the playground's first load among them) would otherwise pay without testing anything
    from scipy import stats

    a = per_event_metric(ranks_a, metric, k)
    b = per_event_metric(ranks_b, metric, k)
    diff = a - b
    if len(diff) == 0 or not np.any(diff):
        statistic, p_value = 0.0, 1.0
    elif test == "wilcoxon":
        res = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(res.statistic), float(res.pvalue)
    elif test == "ttest":
        res = stats.ttest_rel(a, b)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    else:
        raise ValueError(f"unknown test '{test}' (choose wilcoxon or ttest)")
    return PairedTestResult(
        metric=metric,
        k=k,
        test=test,
        n_events=len(a),
        mean_a=float(a.mean()) if len(a) else float("nan"),
        mean_b=float(b.mean()) if len(b) else float("nan"),
        difference=float(diff.mean()) if len(diff) else float("nan"),
        statistic=statistic,
        p_value=p_value,
    )
