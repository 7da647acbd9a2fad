"""Checkpoints: weights plus plain metadata, never pickled objects.

A checkpoint is a ``torch.save`` of a dict holding only tensors, strings, numbers,
lists and dicts, so it loads with ``torch.load(..., weights_only=True)``, which refuses
anything that would need to run code. Layout::

    {"format": "sessrec-checkpoint", "format_version": 1,
     "model": "gru4rec", "hyperparameters": {...}, "item_ids": LongTensor,
     "tensors": {name: Tensor}, "meta": {...},
     "training_state": {"epoch", "tensors", "meta"}}      (optional)

``meta`` carries the dataset name and statistics, the training log and library versions.
``training_state`` (see :mod:`sessrec.models.training_state`) holds optimiser state,
epoch and random-generator states, so ``train --resume`` continues exactly.

Loading validates everything: ``item_ids`` must be a 1-D integer tensor of strictly
increasing ids (what :class:`ItemIndex` looks ids up in), no float tensor may hold NaN
or infinity, and each model checks its own tensors (``_from_tensors``), so a damaged
file is a :class:`CheckpointError` at load time, not a crash or wrong items at first use.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

import sessrec
from sessrec.data.sessions import ItemIndex
from sessrec.errors import CheckpointError
from sessrec.models.registry import SPECS
from sessrec.models.training_state import TrainingState
from sessrec.models.validation import all_finite

FORMAT = "sessrec-checkpoint"
FORMAT_VERSION = 1
#: the user-context task's checkpoints (weights, hyperparameters, encoders and Adam's state;
#: written by :meth:`sessrec.models.user_context.neural.NeuralUserContextModel.save`)
USER_FORMAT = "sessrec-user-context-checkpoint"
USER_FORMAT_VERSION = 1


def model_class(name: str) -> type[Any]:
    """The class of model ``name`` (ValueError for an unknown name)."""
    if name not in SPECS:  # "module:Class", imported on first use (see sessrec.models.registry)
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(SPECS))})")
    module, _, cls = SPECS[name].target.partition(":")
    return getattr(importlib.import_module(module), cls)


def library_versions() -> dict[str, str]:
    import pandas

    return {
        "sessrec": sessrec.__version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "python": platform.python_version(),
    }


def _check_plain(value: Any, where: str) -> None:
    """Refuse metadata that would need pickling (anything beyond JSON types and tensors)."""
    # exact types: a str or int subclass (torch's TorchVersion, say) would be pickled as its class
    if isinstance(value, torch.Tensor) or value is None or type(value) in (bool, int, float, str):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: checkpoint keys must be strings, got {k!r}")
            _check_plain(v, f"{where}.{k}")
        return
    raise TypeError(f"{where}: {type(value).__name__} cannot go into a checkpoint (plain data only)")


def _plain(value: Any) -> Any:
    """NumPy scalars/arrays and tuples to plain Python, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in (bool, int, float, str):
        return value  # bool before int: a bool is an int too, and must stay a bool
    for plain_type in (bool, int, float, str):
        if isinstance(value, plain_type) and type(value) is not plain_type:
            return plain_type(value)
    return value


def save_model(
    model: Any, path: str | Path, meta: dict[str, Any] | None = None, training_state: TrainingState | None = None
) -> Path:
    """Write ``model`` to ``path`` atomically (a crash never leaves half a file).

    With ``training_state`` the file can also continue the training (``train --resume``).
    """
    if not getattr(model, "is_fitted", False):
        raise CheckpointError(f"{model.name}: nothing to save, the model is not fitted")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    full_meta = {"library_versions": library_versions(), **_plain(meta or {})}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "hyperparameters": _plain(model.hyperparameters()),
        "item_ids": torch.from_numpy(model.item_index.item_ids.copy()),
        "tensors": {k: v.detach().cpu().contiguous() for k, v in model._tensors().items()},
        "meta": full_meta,
    }
    if training_state is not None:
        payload["training_state"] = _plain(training_state.to_payload())
    _check_plain(payload, "checkpoint")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; checkpoints are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` failed, without quoting torch's message."""
    text = str(exc)
    if isinstance(exc, EOFError):
        return "the file is empty or truncated"
    if isinstance(exc, pickle.UnpicklingError) and "Unsupported global" in text:
        return "it holds Python objects besides tensors and plain data, which are refused for safety"
    if isinstance(exc, pickle.UnpicklingError):
        return "not a PyTorch file of tensors and plain data"
    if isinstance(exc, RuntimeError) and ("zip archive" in text or "PytorchStreamReader" in text):
        return "a damaged or truncated PyTorch file"
    return f"cannot be read: {type(exc).__name__}"


def _torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` of ``path``, every failure a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        # torch's own text advises retrying with weights_only=False, which would run code
        # from the file: never show it; say what is wrong in our words instead
        raise CheckpointError(f"{path}: not a sessrec checkpoint ({_load_failure(exc)})") from None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate the raw checkpoint dict of a session model (no model built)."""
    return _checked_session_payload(_torch_load(path), Path(path))


def _checked_session_payload(payload: Any, path: Path) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a sessrec checkpoint (missing format marker)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload.get('format_version')} is not supported "
            f"(this sessrec reads version {FORMAT_VERSION})"
        )
    for key in ("model", "hyperparameters", "item_ids", "tensors", "meta"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint is missing '{key}'")
    if not isinstance(payload["hyperparameters"], dict) or not isinstance(payload["meta"], dict):
        raise CheckpointError(f"{path}: checkpoint hyperparameters and meta must be dicts")
    tensors = payload["tensors"]
    if not isinstance(tensors, dict) or not all(isinstance(t, torch.Tensor) for t in tensors.values()):
        raise CheckpointError(f"{path}: checkpoint 'tensors' must map names to tensors")
    for name, t in tensors.items():
        if (t.dtype.is_floating_point or t.dtype.is_complex) and not all_finite(t):
            raise CheckpointError(f"{path}: tensor '{name}' holds NaN or infinite values; refusing to load it")
    checked_item_ids(payload["item_ids"], path)
    return payload


def checked_item_ids(item_ids: Any, where: str | Path = "checkpoint") -> np.ndarray:
    """``item_ids`` as an int64 array, if it is what :class:`ItemIndex` needs: 1-D, integer, strictly increasing."""
    if not isinstance(item_ids, torch.Tensor):
        raise CheckpointError(f"{where}: item_ids must be a tensor, got {type(item_ids).__name__}")
    if item_ids.dtype.is_floating_point or item_ids.dtype.is_complex or item_ids.dtype == torch.bool:
        raise CheckpointError(f"{where}: item_ids hold {item_ids.dtype}, expected integer ids")
    if item_ids.dim() != 1:
        raise CheckpointError(f"{where}: item_ids have shape {tuple(item_ids.shape)}, expected one dimension")
    if item_ids.numel() == 0:
        raise CheckpointError(f"{where}: item_ids are empty (a model needs a catalogue)")
    ids = item_ids.numpy().astype(np.int64)
    steps = np.diff(ids)
    if (steps == 0).any():
        raise CheckpointError(f"{where}: item_ids contain duplicates (e.g. {int(ids[1:][steps == 0][0])})")
    if (steps < 0).any():
        raise CheckpointError(f"{where}: item_ids are not sorted (ids map to dense indices in increasing order)")
    return ids


def load_training_state(path: str | Path) -> TrainingState | None:
    """The training state stored with a checkpoint, or ``None`` for a weights-only file."""
    payload = read_checkpoint(path)
    if "training_state" not in payload:
        return None
    return TrainingState.from_payload(payload["training_state"], str(path))


def read_user_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate the raw checkpoint dict of a user-context model (no model built)."""
    return _checked_user_payload(_torch_load(path), Path(path))


def _checked_user_payload(payload: Any, path: Path) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("format") != USER_FORMAT:
        raise CheckpointError(f"{path}: not a user-context checkpoint (missing format marker)")
    if payload.get("format_version") != USER_FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {payload.get('format_version')} is not supported")
    for key in ("model", "hyperparameters", "encoders", "weights"):
        if key not in payload:
            raise CheckpointError(f"{path}: the checkpoint is missing '{key}'")
    for name, tensor in payload["weights"].items():
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{path}: weight '{name}' is not a tensor")
        if tensor.dtype.is_floating_point and not all_finite(tensor):
            raise CheckpointError(f"{path}: weight '{name}' holds NaN or infinite values; refusing to load it")
    return payload


def load_model(path: str | Path) -> Any:
    """Build the model stored in ``path``, of either task (the file says which). Raises
    :class:`CheckpointError` on any problem."""
    raw = _torch_load(path)
    if isinstance(raw, dict) and raw.get("format") == USER_FORMAT:
        return _load_user_model(_checked_user_payload(raw, Path(path)), path)
    payload = _checked_session_payload(raw, Path(path))
    name = payload["model"]
    if name not in SPECS:
        raise CheckpointError(f"{path}: unknown model '{name}' (known: {', '.join(sorted(SPECS))})")
    cls = model_class(name)
    item_index = ItemIndex(checked_item_ids(payload["item_ids"], path))
    try:
        model = cls._from_tensors(payload["hyperparameters"], payload["tensors"], item_index)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    except Exception as exc:
        raise CheckpointError(f"{path}: checkpoint does not fit model '{name}' ({exc})") from exc
    model.checkpoint_meta = payload["meta"]
    model.checkpoint_path = str(path)
    return model


def _load_user_model(payload: dict[str, Any], path: str | Path) -> Any:
    name = str(payload["model"])
    if name not in SPECS:
        raise CheckpointError(f"{path}: unknown model '{name}' (known: {', '.join(sorted(SPECS))})")
    model = model_class(name).from_payload(payload, str(path))
    model.checkpoint_meta = payload.get("meta", {})
    model.checkpoint_path = str(path)
    return model


def checkpoint_summary(path: str | Path) -> dict[str, Any]:
    """Small JSON-able description of a checkpoint, for listings (raises CheckpointError)."""
    payload = read_checkpoint(path)
    meta = payload["meta"]
    return {
        "path": str(path),
        "model": payload["model"],
        "n_items": int(payload["item_ids"].numel()),
        "dataset": meta.get("dataset"),
        "hyperparameters": json.loads(json.dumps(payload["hyperparameters"], default=str)),
    }
