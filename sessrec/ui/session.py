"""A live session as a list of item ids, and its URL form (``?session=1001,1002``)."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SESSION_LENGTH = 100
PARAM = "session"


@dataclass
class ParsedSession:
    items: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)  # ids not in the catalogue (dropped)
    invalid: list[str] = field(default_factory=list)  # tokens that are not ids (dropped)
    truncated: bool = False

    def problems(self) -> list[str]:
        out = []
        if self.invalid:
            shown = ", ".join(repr(t) for t in self.invalid[:5])
            out.append(f"ignored {len(self.invalid)} value(s) in the link that are not item ids: {shown}")
        if self.unknown:
            shown = ", ".join(str(i) for i in self.unknown[:8])
            more = f" and {len(self.unknown) - 8} more" if len(self.unknown) > 8 else ""
            out.append(f"ignored {len(self.unknown)} item id(s) not in this dataset's catalogue: {shown}{more}")
        if self.truncated:
            out.append(f"the link's session was cut to its first {MAX_SESSION_LENGTH} items")
        return out


def parse_session(text: str | None, is_known) -> ParsedSession:
    """Parse ``"1001,1002"`` (commas, spaces or semicolons); ``is_known(id)`` filters ids."""
    parsed = ParsedSession()
    if not text:
        return parsed
    for token in str(text).replace(";", ",").replace(" ", ",").split(","):
        token = token.strip()
        if not token:
            continue
        try:
            item = int(token)
        except ValueError:
            parsed.invalid.append(token[:40])
            continue
        if not is_known(item):
            parsed.unknown.append(item)
        elif len(parsed.items) < MAX_SESSION_LENGTH:
            parsed.items.append(item)
        else:
            parsed.truncated = True
    return parsed


def format_session(items: list[int]) -> str:
    return ",".join(str(int(i)) for i in items)


def add(items: list[int], item_id: int) -> list[int]:
    return (list(items) + [int(item_id)])[-MAX_SESSION_LENGTH:]


def remove_at(items: list[int], position: int) -> list[int]:
    return [item for i, item in enumerate(items) if i != position]


def move(items: list[int], position: int, offset: int) -> list[int]:
    """Move the click at ``position`` by ``offset`` places (clamped to the session)."""
    items = list(items)
    if not 0 <= position < len(items):
        return items
    target = min(max(position + offset, 0), len(items) - 1)
    item = items.pop(position)
    items.insert(target, item)
    return items


def replace_at(items: list[int], position: int, item_id: int) -> list[int]:
    """The session with click ``position`` replaced by ``item_id``."""
    return [int(item_id) if i == position else item for i, item in enumerate(items)]


def undo(items: list[int]) -> list[int]:
    return list(items[:-1])
