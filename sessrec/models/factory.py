"""Build models by name from plain parameters (CLI, benchmark runner, app)."""

from __future__ import annotations

from typing import Any

from sessrec.errors import ParameterError
from sessrec.models.io import model_class
from sessrec.models.registry import SESSION, SPECS, models_of


def model_names(task: str = SESSION) -> list[str]:
    """The registered models of ``task`` (default: the session models), sorted by name."""
    return sorted(spec.name for spec in models_of(task))


def make_model(name: str, params: dict[str, Any] | None = None) -> Any:
    """An unfitted model ``name`` with ``params``; a :class:`ParameterError` for an unknown
    model, an unknown parameter name or a value out of range (checked by the constructor)."""
    if name not in SPECS:
        raise ParameterError(f"unknown model '{name}' (known: {', '.join(sorted(SPECS))})")
    params = dict(params or {})
    accepted = model_parameters(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ParameterError(
            f"model '{name}' has no parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(accepted)) or 'none'})"
        )
    return model_class(name)(**params)


def model_parameters(name: str) -> list[str]:
    """Names of the parameters of model ``name``: the keys of a default instance's
    ``hyperparameters()``, which every model returns complete (its checkpoints rebuild it from them)."""
    return list(model_class(name)().hyperparameters())


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
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            raise ParameterError(f"expected key=value, got '{pair[:80]}'")
        key, value = pair.split("=", 1)
        if key.strip() in out:
            raise ParameterError(f"parameter '{key.strip()}' is given twice")
        out[key.strip()] = parse_value(value)
    return out
