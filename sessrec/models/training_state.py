"""Training state next to the weights, so an interrupted training continues exactly.

A checkpoint (:mod:`sessrec.models.io`) holds a model's weights. To *continue*
training, a model also needs what its optimiser accumulated (Adagrad sums, momentum,
Adam moments, step counts), how many epochs are done, its training log, and the
state of every random number stream it draws from, so that the rest of the run
draws exactly what an uninterrupted run would have drawn. That is a
:class:`TrainingState`: flat tensors plus plain JSON, stored under the checkpoint's
optional ``"training_state"`` key, loaded with ``weights_only=True`` like the rest.

Any model trained by epochs can use it. A model with a ``torch.optim`` optimiser::

    tensors, layout = flatten_state(optimizer.state_dict(), "optim")
    rng_tensors, rng_meta = capture_rngs({"data": my_generator})   # + torch/numpy/random globals
    state = TrainingState(epoch=3, tensors={**tensors, **rng_tensors},
                          meta={"optim": layout, "rng": rng_meta, "training_log": log})
    save_model(model, path, meta, training_state=state)

and on resume::

    state = load_training_state(path)                        # None for weights-only files
    optimizer.load_state_dict(unflatten_state(state.tensors, state.meta["optim"]))
    restore_rngs(state.tensors, state.meta["rng"], {"data": my_generator})
    for epoch in range(state.epoch + 1, n_epochs + 1): ...

GRU4Rec (hand-written Adagrad, see ``gru4rec/model.py``) stores its optimiser planes
and generator this way. Exactness needs the same seed, data and thread count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sessrec.errors import CheckpointError

_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"


@dataclass
class TrainingState:
    """What continuing a training needs beyond the weights.

    Attributes:
        epoch: epochs completed (training continues with ``epoch + 1``).
        tensors: flat ``name -> Tensor`` (optimiser state, random generator states, ...).
        meta: plain JSON-able data (layouts, pointers, training log, ...).
    """

    epoch: int
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The plain dict stored in a checkpoint."""
        return {
            "epoch": int(self.epoch),
            "tensors": {k: v.detach().cpu().contiguous() for k, v in self.tensors.items()},
            "meta": self.meta,
        }

    @classmethod
    def from_payload(cls, payload: Any, where: str = "checkpoint") -> "TrainingState":
        """Validate a stored payload (:class:`CheckpointError` when it is malformed)."""
        if not isinstance(payload, dict) or not {"epoch", "tensors", "meta"} <= set(payload):
            raise CheckpointError(f"{where}: training state needs epoch, tensors and meta")
        epoch, tensors, meta = payload["epoch"], payload["tensors"], payload["meta"]
        if type(epoch) is not int or epoch < 0:
            raise CheckpointError(f"{where}: training state epoch {epoch!r} is not a count of epochs")
        if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise CheckpointError(f"{where}: training state tensors must be a dict of tensors")
        if not isinstance(meta, dict):
            raise CheckpointError(f"{where}: training state meta must be a dict")
        for name, t in tensors.items():
            if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"{where}: training state tensor '{name}' holds NaN or infinite values")
        return cls(epoch, dict(tensors), dict(meta))


# -- nested state dicts <-> flat tensors + JSON ---------------------------------------


def flatten_state(value: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested structure (e.g. ``optimizer.state_dict()``) into flat tensors and a JSON layout.

    Tensors are replaced by ``{"__tensor__": name}`` (names start with ``prefix``),
    tuples by ``{"__tuple__": [...]}`` and dicts with non-string keys (the integer
    parameter ids of an optimiser's ``state``) by ``{"__items__": [[key, value], ...]}``.
    Everything else must already be JSON: None, bool, int, float, str.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(v: Any, path: str) -> Any:
        if isinstance(v, torch.Tensor):
            tensors[path] = v.detach().cpu().clone()
            return {_TENSOR: path}
        if isinstance(v, dict):
            if all(isinstance(k, str) for k in v):
                return {k: walk(x, f"{path}.{k}") for k, x in v.items()}
            return {_ITEMS: [[k, walk(x, f"{path}.{k}")] for k, x in v.items()]}
        if isinstance(v, tuple):
            return {_TUPLE: [walk(x, f"{path}.{i}") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [walk(x, f"{path}.{i}") for i, x in enumerate(v)]
        if v is None or type(v) in (bool, int, float, str):
            return v
        if isinstance(v, np.generic):
            return v.item()
        raise TypeError(f"{path}: {type(v).__name__} cannot be stored in a training state")

    return tensors, walk(value, prefix)


def unflatten_state(tensors: dict[str, torch.Tensor], layout: Any) -> Any:
    """Inverse of :func:`flatten_state` (:class:`CheckpointError` for a missing tensor)."""

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {_TENSOR}:
                if v[_TENSOR] not in tensors:
                    raise CheckpointError(f"training state: tensor '{v[_TENSOR]}' is missing")
                return tensors[v[_TENSOR]]
            if set(v) == {_TUPLE}:
                return tuple(walk(x) for x in v[_TUPLE])
            if set(v) == {_ITEMS}:
                return {k: walk(x) for k, x in v[_ITEMS]}
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(layout)


# -- random number streams ------------------------------------------------------------


def capture_rngs(
    generators: dict[str, torch.Generator] | None = None, *, global_rngs: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """States of ``generators`` (by name) and, with ``global_rngs``, of torch's, NumPy's and Python's global streams.

    Returns ``(tensors, meta)`` to merge into a :class:`TrainingState`; names start with ``rng.``.
    """
    tensors = {f"rng.{name}": g.get_state() for name, g in (generators or {}).items()}
    meta: dict[str, Any] = {"generators": sorted(generators or {}), "global": global_rngs}
    if global_rngs:
        tensors["rng.torch_global"] = torch.get_rng_state()
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        tensors["rng.numpy_global"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
        meta["numpy_global"] = [kind, int(pos), int(has_gauss), float(gauss)]
        version, internal, gauss_next = random.getstate()
        meta["python_global"] = [version, list(internal), gauss_next]
    return tensors, meta


def restore_rngs(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], generators: dict[str, torch.Generator] | None = None
) -> None:
    """Put the streams captured by :func:`capture_rngs` back (the same names must be given)."""
    wanted = sorted(generators or {})
    if wanted != sorted(meta.get("generators", [])):
        raise CheckpointError(f"training state: random generators {meta.get('generators')} stored, {wanted} expected")
    try:
        for name, g in (generators or {}).items():
            g.set_state(tensors[f"rng.{name}"])
        if meta.get("global"):
            torch.set_rng_state(tensors["rng.torch_global"])
            kind, pos, has_gauss, gauss = meta["numpy_global"]
            np.random.set_state((kind, tensors["rng.numpy_global"].numpy().astype(np.uint32), pos, has_gauss, gauss))
            version, internal, gauss_next = meta["python_global"]
            random.setstate((version, tuple(internal), gauss_next))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"training state: cannot restore the random generators ({exc})") from exc
