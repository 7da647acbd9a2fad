"""Where long benchmark runs stand: their per-epoch checkpoints and their claims.

The benchmark runner keeps a neural run's training state in
``checkpoints/partial/<dataset>/<name>.pt`` until its record is written, and claims
every run with ``results/<dataset>/<run_id>.claim`` while it trains (see
:mod:`sessrec.experiments.runs.benchmark` and :mod:`sessrec.experiments.runs.claims`). This module
reads both, without building any model, so a person can see which runs are training,
how far they got, and which were left behind by a process that is gone.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessrec.errors import CheckpointError
from sessrec.experiments.runs.claims import CLAIM_SUFFIX, pid_alive, read_claim
from sessrec.models.io import read_checkpoint

#: ``<run_id>.refit-<n>`` (refit after the selection) and ``<run_id>.epochs-<n>`` (a seed reusing seed 1's choice)
_PHASE = re.compile(r"^(?P<run_id>.+?)\.(?P<phase>refit|epochs)-(?P<epochs>\d+)$")


@dataclass(frozen=True)
class PartialRun:
    """One run's training checkpoint, as far as it got."""

    dataset: str
    run_id: str
    phase: str  #: "selection", "refit", "reuse" (of seed 1's epoch count) or "training"
    epoch: int
    max_epochs: int | None
    best_epoch: int | None
    best_valid: float | None
    epochs_without_gain: int
    patience: int | None
    last_epoch_seconds: float | None
    path: Path
    recent_epoch_seconds: float | None = None  #: mean of the last (up to) three epochs

    def epochs_left(self) -> tuple[int, int] | None:
        """Epochs still to train as ``(in this phase, in the refit after it)``, assuming no
        later epoch beats the best so far (a gain extends the selection and the refit);
        ``None`` where the checkpoint does not say its epoch budget."""
        if self.max_epochs is None:
            return None
        if self.phase != "selection":
            return max(self.max_epochs - self.epoch, 0), 0
        if self.patience is None or self.best_epoch is None:
            return None
        stops_after = min(self.max_epochs, self.epoch + self.patience - self.epochs_without_gain)
        return max(stops_after - self.epoch, 0), int(self.best_epoch)

    def time_left_text(self) -> str | None:
        """A rough estimate of the time to the run's end, at the recent seconds per epoch."""
        left = self.epochs_left()
        if left is None or self.recent_epoch_seconds is None:
            return None
        here, refit = left
        hours = (here + refit) * self.recent_epoch_seconds / 3600
        if self.phase == "selection":
            what = f"{here} more selection epoch(s) and a {refit}-epoch refit if no later epoch gains"
        else:
            what = f"{here} epoch(s) left"
        return f"{what}: about {hours:.1f} h at {self.recent_epoch_seconds:,.0f} s per epoch"

    def describe(self, chosen_by: PartialRun | None = None) -> str:
        """One line of the report; ``chosen_by``: the selection this refit follows, said with it."""
        what = {"selection": "choosing the number of epochs on held-out sessions",
                "refit": "refit on all of train", "reuse": "training seed 1's number of epochs",
                "training": "training"}[self.phase]
        if chosen_by is not None and chosen_by.best_valid is not None:
            what += (f" (the selection chose {chosen_by.best_epoch} epochs, best valid Recall@20 "
                     f"{chosen_by.best_valid:.4f})")
        text = f"{what}: epoch {self.epoch}" + (f" of {self.max_epochs}" if self.max_epochs else "")
        if self.best_valid is not None:
            text += (f", best valid Recall@20 {self.best_valid:.4f} after epoch {self.best_epoch}, "
                     f"{self.epochs_without_gain} epoch(s) without gain (patience {self.patience})")
        if self.last_epoch_seconds is not None:
            text += f", last epoch {self.last_epoch_seconds:,.0f} s"
        estimate = self.time_left_text()
        if estimate:
            text += f"; {estimate}"
        return text


@dataclass(frozen=True)
class ClaimState:
    """A claim file: who holds the run, and whether that process still runs."""

    dataset: str
    run_id: str
    pid: int | None
    host: str | None
    alive: bool | None  #: None: held on another host, cannot be checked from here

    def describe(self) -> str:
        if self.alive is None:
            return f"claimed by pid {self.pid} on {self.host} (another host: not checked)"
        return f"claimed by pid {self.pid} ({'running' if self.alive else 'gone: the claim is stale'})"


def partial_runs(partial_dir: str | Path) -> tuple[list[PartialRun], list[str]]:
    """Every training checkpoint under ``partial_dir/<dataset>/``, and the files that could
    not be read (as ``"<path>: <why>"``)."""
    runs, unreadable = [], []
    for path in sorted(Path(partial_dir).glob("*/*.pt")):
        try:
            payload = read_checkpoint(path)
        except (CheckpointError, OSError) as exc:
            unreadable.append(f"{path}: {exc}")
            continue
        meta, params = payload.get("meta") or {}, payload.get("hyperparameters") or {}
        state, log = meta.get("training_state") or {}, meta.get("training_log") or []
        match = _PHASE.match(path.stem)
        if match:
            run_id, phase = match["run_id"], "refit" if match["phase"] == "refit" else "reuse"
        else:
            run_id, phase = path.stem, "selection" if any("valid" in e for e in log) else "training"
        selecting = phase == "selection"
        runs.append(PartialRun(
            dataset=path.parent.name, run_id=run_id, phase=phase, epoch=int(state.get("epoch", len(log))),
            max_epochs=params.get("n_epochs"),
            best_epoch=state.get("best_epoch") if selecting else None,
            best_valid=state.get("best_score") if selecting else None,
            epochs_without_gain=int(state.get("bad_epochs", 0)),
            patience=params.get("patience") if selecting else None,
            last_epoch_seconds=float(log[-1]["seconds"]) if log and "seconds" in log[-1] else None,
            path=path, recent_epoch_seconds=_recent_seconds(log)))
    return runs, unreadable


def _recent_seconds(log: list[dict[str, Any]], last: int = 3) -> float | None:
    """Mean seconds of the last ``last`` logged epochs (selection epochs include their validation)."""
    seconds = [float(entry["seconds"]) for entry in log if "seconds" in entry][-last:]
    return sum(seconds) / len(seconds) if seconds else None


def claims(root: str | Path) -> list[ClaimState]:
    """Every claim under ``root/<dataset>/``, with whether its process still runs."""
    here, out = socket.gethostname(), []
    for path in sorted(Path(root).glob(f"*/*{CLAIM_SUFFIX}")):
        info: dict[str, Any] = read_claim(path) or {}
        pid = info.get("pid") if type(info.get("pid")) is int else None
        host = info.get("host")
        alive = pid_alive(pid) if host == here else None
        out.append(ClaimState(path.parent.name, path.name[: -len(CLAIM_SUFFIX)], pid, host, alive))
    return out


def progress_lines(root: str | Path, partial_dir: str | Path) -> list[str]:
    """The report of ``python -m sessrec progress``: one line per run in progress or claimed.

    A run that has chosen its epochs and is refitting keeps its selection checkpoint (so an
    interrupted refit does not choose again): the two are reported as one line, the refit's,
    which also holds the run's claim."""
    runs, unreadable = partial_runs(partial_dir)
    held = {(c.dataset, c.run_id): c for c in claims(root)}
    groups: dict[tuple[str, str], list[PartialRun]] = {}
    for run in runs:
        groups.setdefault((run.dataset, run.run_id), []).append(run)
    lines = []
    for key, group in groups.items():
        selection = next((r for r in group if r.phase == "selection"), None)
        texts = []
        for run in group:
            if run is selection and any(_refits(r, selection) for r in group):
                continue  # finished: said on its refit's line
            texts.append(run.describe(selection if selection is not None and _refits(run, selection) else None))
        claim = held.pop(key, None)
        holder = claim.describe() if claim else "not claimed: no process is running it"
        lines += [f"{key[0]}/{key[1]}: {text}; {holder}" for text in texts]
    for claim in held.values():
        lines.append(f"{claim.dataset}/{claim.run_id}: no checkpoint yet (first epoch, or a model without "
                     f"epochs); {claim.describe()}")
    lines += [f"unreadable checkpoint {entry}" for entry in unreadable]
    return lines or [f"nothing in progress (no checkpoint under {partial_dir}, no claim under {root})"]


def _refits(run: PartialRun, selection: PartialRun) -> bool:
    """Whether ``run`` is the refit of the epoch count ``selection`` chose."""
    return run.phase == "refit" and run.max_epochs is not None and run.max_epochs == selection.best_epoch
