"""Claim files: several benchmark processes on one results folder never compute a run twice.

Before a run starts, its process creates ``<root>/<dataset>/<run_id>.claim`` with
``O_CREAT | O_EXCL`` (atomic: exactly one creator wins, also on network file
systems that honour it) and writes its pid, host name and start time into it. Other
processes skip a claimed run. The claim is removed when the run is written or fails.

A claim left behind by a process that died (killed, machine rebooted) is *stale*.
A claim from this host whose pid no longer runs is taken over automatically; a claim
from another host cannot be checked from here and is reported, with its age, so a
person can delete it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLAIM_SUFFIX = ".claim"


def claim_path(root: str | Path, dataset: str, run_id: str) -> Path:
    return Path(root) / dataset / f"{run_id}{CLAIM_SUFFIX}"


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, finished but not waited for, does not)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:  # no /proc (not Linux): kill(0) said it exists
        return True


def read_claim(path: Path) -> dict[str, Any] | None:
    """The content of a claim file, or None when it cannot be read (being written, or garbage)."""
    try:
        info = json.loads(path.read_text())
        return info if isinstance(info, dict) else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None


@dataclass
class Claim:
    """A held claim; :meth:`release` (or the context manager) removes it."""

    path: Path
    token: str

    def release(self) -> None:
        info = read_claim(self.path)
        if info is not None and info.get("token") == self.token:  # never remove someone else's claim
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def describe(info: dict[str, Any] | None) -> str:
    if info is None:
        return "an unreadable claim"
    age = time.time() - float(info.get("created", time.time()))
    return f"pid {info.get('pid')} on {info.get('host')} (claimed {age:.0f} s ago)"


def try_claim(root: str | Path, dataset: str, run_id: str) -> tuple[Claim | None, str | None]:
    """Claim a run: ``(claim, None)`` when this process now owns it, ``(None, holder)`` when another does."""
    path = claim_path(root, dataset, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    host, pid = socket.gethostname(), os.getpid()
    token = f"{host}:{pid}:{time.time_ns()}"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = read_claim(path)
            if info is None:
                # being written this very moment, or garbage: give the writer a moment
                time.sleep(0.05)
                info = read_claim(path)
            owner = info.get("pid") if info is not None else None
            stale = (info is not None and info.get("host") == host and type(owner) is int
                     and owner != pid and not pid_alive(owner))
            if not stale:
                return None, describe(info)
            # take over: move the stale file aside under a unique name; of several
            # processes doing this at once only one rename succeeds
            aside = path.with_name(f"{path.name}.stale.{pid}.{time.time_ns()}")
            try:
                os.rename(path, aside)
            except FileNotFoundError:
                continue
            moved = read_claim(aside)
            os.unlink(aside)
            if moved != info:  # a fresh claim appeared in between and we moved it: put it back
                if moved is not None:
                    _restore(path, moved)
                return None, describe(moved)
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": pid, "host": host, "created": time.time(), "token": token}, handle)
        return Claim(path, token), None
    return None, describe(read_claim(path))


def _restore(path: Path, info: dict[str, Any]) -> None:
    """Put back a live claim moved aside by mistake (only if the name is still free)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle)
