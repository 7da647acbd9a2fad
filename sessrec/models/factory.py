"""Build models by name from plain parameters (CLI, benchmark runner, app)."""

from __future__ import annotations

import inspect
from typing import Any

from sessrec.models.io import MODEL_CLASSES, model_class

BASELINES = ("most_popular", "last_item", "item_knn")


def model_names() -> list[str]:
    return sorted(MODEL_CLASSES)


def make_model(name: str, params: dict[str, Any] | None = None) -> Any:
    """An unfitted model ``name`` with ``params`` (unknown parameter names are an error)."""
    cls = model_class(name)
    params = dict(params or {})
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"model '{name}' has no parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(accepted))})")
    return cls(**params)


def parse_value(text: str) -> Any:
    """``"0.1"`` -> 0.1, ``"true"`` -> True, ``"100,100"`` -> [100, 100], else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if "," in text:
        return [parse_value(part) for part in text.split(",") if part.strip()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` with a clear error for bad items."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"expected key=value, got '{pair}'")
        key, value = pair.split("=", 1)
        out[key.strip()] = parse_value(value)
    return out
