"""The app's one palette: a colour per model label, the same in every chart and list.

* A registered model keeps its registry colour (:attr:`~sessrec.models.registry.ModelSpec.colour`).
* A variant of a model, a label that starts with the model's label or name ("GRU4Rec (BPR-max)",
  "VSTAN (tuned)", "gru4rec-seed1"), gets a lighter or darker shade of that model's colour; so
  does a second label of the same model in one chart. A label "<dataset> · <run>" (the training
  curves) is read by its part after the last " · ".
* Any other label (a published row, an ablation) gets a colour generated around the hue circle.

Within one chart no two labels are closer than :data:`MIN_DISTANCE` (CIE76 ΔE in Lab), so
no two look alike; a label's preferred colour depends on the label alone, so it is the same
in every chart where nothing else claims it.
"""

from __future__ import annotations

import colorsys
import hashlib
from typing import Iterable, Iterator

from sessrec.models.registry import REGISTRY, colour_of

#: smallest CIE76 colour difference between two labels of one chart (about "clearly different")
MIN_DISTANCE = 15.0
#: how far variants are mixed towards white (> 0) or black (< 0), in order of preference
SHADES = (0.35, -0.3, 0.5, -0.5, 0.2, -0.15)
#: lightest a colour may be (L* in Lab): paler swatches vanish on the white page
MAX_LIGHTNESS = 82.0


def _linear(channel: float) -> float:
    channel /= 255
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of a ``#rrggbb`` colour."""
    r, g, b = (_linear(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def distance(a: str, b: str) -> float:
    """CIE76 ΔE between two ``#rrggbb`` colours."""
    return sum((p - q) ** 2 for p, q in zip(lab(a), lab(b))) ** 0.5


def _mix(colour: str, amount: float) -> str:
    """``amount`` > 0 towards white, < 0 towards black."""
    target = 255 if amount > 0 else 0
    channels = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (target - c) * abs(amount)):02x}" for c in channels)


def stem(label: str) -> str:
    """The part of a label that names the run: after the last " · " ("diginetica · narm" -> "narm")."""
    return str(label).rsplit(" · ", 1)[-1]


def base_colour(label: str) -> str | None:
    """The colour of the registered model ``label`` is a variant of (longest matching label or name)."""
    text = stem(label).lower()
    best: tuple[int, str] | None = None
    for spec in REGISTRY:
        for prefix in (spec.label.lower(), spec.name.lower()):
            if text.startswith(prefix) and len(text) > len(prefix) and not text[len(prefix)].isalnum():
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), spec.colour)
    return best[1] if best else None


def _generated(start: int) -> Iterator[str]:
    """Colours around the hue circle (golden-angle steps), from a label-dependent start."""
    for i in range(start, start + 720):
        hue = (i * 0.618033988749895) % 1.0
        value = (0.85, 0.6, 0.95)[(i // 12) % 3]
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, value)
        yield f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _stable(label: str) -> int:
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)


def label_colours(labels: Iterable[object]) -> dict[str, str]:
    """A colour for each distinct label (see the module docstring)."""
    ordered = list(dict.fromkeys(str(label) for label in labels))
    chosen: dict[str, str] = {}
    for label in ordered:  # a model's own colour, for the first label that is exactly that model
        own = colour_of(stem(label))
        if own is not None and own not in chosen.values():
            chosen[label] = own
    registry = [spec.colour for spec in REGISTRY]
    for label in sorted(set(ordered) - set(chosen)):
        base = colour_of(stem(label)) or base_colour(label)
        shift = _stable(label)
        if base is not None:
            shades = [_mix(base, SHADES[(shift + i) % len(SHADES)]) for i in range(len(SHADES))]
        else:
            shades = []
        avoid_registry = base is None  # a stranger keeps clear of every model's colour
        for candidate in [*shades, *_generated(shift % 97)]:
            taken = list(chosen.values()) + (registry if avoid_registry else [])
            if lab(candidate)[0] <= MAX_LIGHTNESS and all(distance(candidate, other) >= MIN_DISTANCE for other in taken):
                chosen[label] = candidate
                break
        else:  # 720 candidates all too close: cannot happen for charts of a few dozen labels
            chosen[label] = "#868e96"
    return {label: chosen[label] for label in ordered}
