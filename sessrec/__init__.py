"""sessrec: a workbench for session-based recommendation built around GRU4Rec.

The public API, imported on first use so that ``import sessrec`` stays light::

    from sessrec import GRU4Rec, evaluate, load_dataset, make_model
    dataset = load_dataset("data/demo")
    model = GRU4Rec(layers=[96], n_epochs=2).fit(dataset.train)
    print(evaluate(model, dataset.test).metrics["mrr@20"])
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from sessrec.runtime import set_wait_policy

# before anything imports torch: idle OpenMP threads sleep instead of spinning (see runtime)
set_wait_policy()

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "load_dataset": "sessrec.data.dataset",
    "Dataset": "sessrec.data.dataset",
    "Sessions": "sessrec.data.sessions",
    "evaluate": "sessrec.evaluation",
    "make_model": "sessrec.models.factory",
    "load_model": "sessrec.models.io",
    "save_model": "sessrec.models.io",
    "REGISTRY": "sessrec.models.registry",
    "train_model": "sessrec.experiments.runs.training",
    "load_run_records": "sessrec.experiments.records",
}



def _model_exports() -> dict[str, str]:
    """Every registered model's class by its class name (``GRU4Rec``, ``VSTAN``, ...)."""
    from sessrec.models.registry import REGISTRY

    return {spec.target.split(":")[1]: spec.target.split(":")[0] for spec in REGISTRY}


_EXPORTS.update(_model_exports())
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'sessrec' has no attribute {name!r}")
