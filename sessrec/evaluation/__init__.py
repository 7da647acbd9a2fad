"""Next-item evaluation: one evaluator for every model, metrics, significance tests."""

from sessrec.evaluation.evaluator import EvalResult, NonFiniteScoresError, evaluate, prepare_test
from sessrec.evaluation.metrics import (
    DEFAULT_KS,
    DEFAULT_TIE_MODE,
    TIE_MODES,
    metrics_from_ranks,
    per_event_metric,
    ranks_from_counts,
)
from sessrec.evaluation.significance import PairedTestResult, paired_test

__all__ = [
    "DEFAULT_KS", "DEFAULT_TIE_MODE", "TIE_MODES", "EvalResult", "NonFiniteScoresError", "PairedTestResult",
    "evaluate", "metrics_from_ranks", "paired_test", "per_event_metric", "prepare_test", "ranks_from_counts",
]
