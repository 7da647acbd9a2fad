"""Checks for hyperparameters: every bad value is a ParameterError naming the value and the allowed range.

Model constructors run these before anything else, so a bad setting fails at once
(from the CLI, a benchmark config or a sweep) instead of as an IndexError deep in
training or, worse, a silently wrong model. The checks are strict about types:
``True`` is not an integer, ``2.5`` is not a batch size, ``"abc"`` is not a number.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Literal, overload

import numpy as np
import torch

from sessrec.errors import ParameterError


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range_text(kind: str, low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"{kind} in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{kind} {'<' if high_open else '<='} {high:g}"
    return kind


def _fail(owner: str | None, name: str, value: Any, allowed: str) -> ParameterError:
    prefix = f"{owner}: " if owner else ""
    return ParameterError(f"{prefix}{name} = {_shown(value)} is not allowed (allowed: {allowed})")


@overload
def check_int(name: str, value: Any, *, min: int | None = ..., max: int | None = ...,
              owner: str | None = ..., allow_none: Literal[False] = ...) -> int: ...
@overload
def check_int(name: str, value: Any, *, min: int | None = ..., max: int | None = ...,
              owner: str | None = ..., allow_none: bool) -> int | None: ...
def check_int(
    name: str, value: Any, *, min: int | None = None, max: int | None = None, owner: str | None = None,
    allow_none: bool = False,
) -> int | None:
    """``value`` as an int within ``[min, max]`` (integral floats such as ``2.0`` are accepted);
    ``None`` passes through when ``allow_none``."""
    if value is None and allow_none:
        return None
    allowed = _range_text("an integer", min, max, False, False) + (" or null" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(owner, name, value, allowed)
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float) or as_float != int(as_float):
            raise _fail(owner, name, value, allowed)
        number = int(as_float)
    if (min is not None and number < min) or (max is not None and number > max):
        raise _fail(owner, name, value, allowed)
    return number


@overload
def check_float(name: str, value: Any, *, min: float | None = ..., max: float | None = ..., min_open: bool = ...,
                max_open: bool = ..., owner: str | None = ..., allow_none: Literal[False] = ...) -> float: ...
@overload
def check_float(name: str, value: Any, *, min: float | None = ..., max: float | None = ..., min_open: bool = ...,
                max_open: bool = ..., owner: str | None = ..., allow_none: bool) -> float | None: ...
def check_float(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    owner: str | None = None,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a finite float within the range (``min_open``/``max_open``: bound excluded);
    ``None`` passes through when ``allow_none``."""
    if value is None and allow_none:
        return None
    allowed = "a finite " + _range_text("number", min, max, min_open, max_open) + (" or null" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(owner, name, value, allowed)
    number = float(value)
    if not math.isfinite(number):
        raise _fail(owner, name, value, allowed)
    if min is not None and (number < min or (min_open and number == min)):
        raise _fail(owner, name, value, allowed)
    if max is not None and (number > max or (max_open and number == max)):
        raise _fail(owner, name, value, allowed)
    return number


def check_bool(name: str, value: Any, *, owner: str | None = None) -> bool:
    """``value`` as a bool (``0``/``1`` accepted, anything else refused)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(value)
    raise _fail(owner, name, value, "true or false")


def check_choice(name: str, value: Any, choices: Iterable[Any], *, owner: str | None = None) -> Any:
    """``value`` if it is one of ``choices`` (of the same type: ``True`` is not ``1``)."""
    choices = list(choices)
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise _fail(owner, name, value, "one of " + ", ".join(str(c) for c in choices))
    return value


#: what a ``device`` hyperparameter may name (``cuda:N`` picks one of several GPUs)
DEVICES = ("cpu", "cuda", "cuda:N")


def check_device(name: str, value: Any, *, owner: str | None = None) -> str:
    """``value`` as a device name: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (a ``torch.device`` is accepted too).

    Only the name is checked here, not whether CUDA is present: a checkpoint trained on a
    GPU must still load (onto the CPU) where there is none. :func:`torch_device` checks
    that when training starts.
    """
    text = str(value) if isinstance(value, (str, torch.device)) else None
    if text is None or not (text in ("cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit())):
        raise _fail(owner, name, value, "one of " + ", ".join(DEVICES))
    return text


def torch_device(device: str) -> torch.device:
    """The ``torch.device`` to train on; a ParameterError when CUDA is asked for but not available.

    One message for every torch model (GRU4Rec and the neural comparators).
    """
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"device={device!r}: CUDA is not available on this machine (use device='cpu')")
    return torch.device(device)


def all_finite(scores: torch.Tensor) -> bool:
    """True when no score is NaN or infinite.

    One sum over the tensor: a NaN or an infinity anywhere makes the sum non-finite, so a
    finite sum proves every score finite. Only when the sum is not finite (a non-finite
    score, or an overflow of huge finite ones) is the exact element-wise test run; on CPU
    the sum is about 20 times cheaper than ``torch.isfinite(scores).all()``.
    """
    if scores.device.type == "cpu" and not scores.requires_grad:
        # NumPy: one thread, no OpenMP start-up per call (torch's threaded sum of a
        # (128, 17k) block was measured 30x slower than NumPy's on a loaded machine)
        values = scores.numpy()
        with np.errstate(over="ignore", invalid="ignore"):  # an inf/NaN sum is the signal, not an error
            return bool(np.isfinite(values.sum())) or bool(np.isfinite(values).all())
    if bool(torch.isfinite(scores.sum())):
        return True
    return bool(torch.isfinite(scores).all())
