"""Training jobs that run in their own process, for the app's Train page.

A job is a folder ``<jobs root>/<job id>/`` holding plain files, so any Streamlit rerun,
a reloaded browser or a second browser sees the same jobs:

    job.json        what to train (dataset, model, hyperparameters, output checkpoint)
    status.json     state (queued, running, done, failed, cancelled), pid, message
    epochs.jsonl    one line per finished epoch: the model's training-log record
    output.log      the worker's stdout and stderr

The worker (``python -m sessrec.experiments.runs.jobs <job folder>``) is started detached
from the Streamlit process. The output checkpoint is claimed with a lock file created
atomically, so two jobs can never write the same checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sessrec.errors import OutputPathError, ParameterError
from sessrec.experiments.runs.claims import pid_alive

STATES_FINAL = ("done", "failed", "cancelled")


@dataclass
class JobSpec:
    """What one job trains and where it writes the checkpoint."""

    dataset: str  #: prepared dataset folder
    model: str  #: registry name
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    out: str = ""  #: checkpoint path


@dataclass
class JobView:
    """A job as the page shows it (read from its folder)."""

    job_id: str
    folder: Path
    spec: JobSpec
    state: str
    message: str = ""
    pid: int | None = None
    created: float = 0.0
    epochs: list[dict[str, Any]] = field(default_factory=list)
    n_epochs: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in STATES_FINAL


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _lock_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(f".{out.name}.training")


def validate_spec(spec: JobSpec) -> None:
    """Raise the CLI's errors for a job that cannot run: unknown model or bad
    hyperparameters (:class:`ParameterError` / ``ValueError``), missing dataset."""
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.training import resolve_params
    from sessrec.models.factory import make_model

    load_dataset(spec.dataset)
    make_model(spec.model, resolve_params(spec.model, spec.params, spec.preset))
    if not spec.out or not str(spec.out).endswith(".pt"):
        raise ParameterError(f"out: a checkpoint path ending in .pt is required, got '{spec.out}'")


def start_job(spec: JobSpec, jobs_root: str | Path, *, python: str | None = None) -> str:
    """Validate ``spec``, claim its checkpoint and start the worker; returns the job id.

    Raises :class:`OutputPathError` when another job is writing the same checkpoint.
    """
    validate_spec(spec)
    out = Path(spec.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock_path(out)
    job_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    folder = Path(jobs_root) / job_id
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        owner = lock.read_text().strip() if lock.exists() else "?"
        if not _job_alive(Path(jobs_root) / owner):
            lock.unlink(missing_ok=True)  # left by a job that died without cleaning up
            return start_job(spec, jobs_root, python=python)
        raise OutputPathError(f"{out}: job {owner} is already training this checkpoint; "
                              "wait for it, cancel it, or choose another name") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(job_id)
    folder.mkdir(parents=True)
    _write_json(folder / "job.json", {"spec": asdict(spec), "created": time.time()})
    _write_json(folder / "status.json", {"state": "queued"})
    log = open(folder / "output.log", "wb")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [python or sys.executable, "-m", "sessrec.experiments.runs.jobs", str(folder)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True,  # not a child of the Streamlit script: survives reruns
    )
    log.close()
    _write_json(folder / "status.json", {"state": "queued", "pid": process.pid})
    return job_id


def _job_alive(folder: Path) -> bool:
    status = _read_json(folder / "status.json")
    return status.get("state") not in STATES_FINAL and pid_alive(status.get("pid"))


def read_job(folder: str | Path) -> JobView:
    """The job in ``folder`` as it is now; a worker that died unannounced reads as failed."""
    folder = Path(folder)
    job = _read_json(folder / "job.json")
    status = _read_json(folder / "status.json")
    spec = JobSpec(**{k: v for k, v in (job.get("spec") or {}).items() if k in JobSpec.__dataclass_fields__}) \
        if job.get("spec") else JobSpec("", "")
    epochs = []
    try:
        for line in (folder / "epochs.jsonl").read_text().splitlines():
            try:
                epochs.append(json.loads(line))
            except ValueError:
                continue  # a line being written
    except OSError:
        pass
    state = str(status.get("state", "queued"))
    message = str(status.get("message", ""))
    if state not in STATES_FINAL and status.get("pid") and not pid_alive(status.get("pid")):
        state, message = "failed", "the training process ended without a word; see its output log"
    return JobView(folder.name, folder, spec, state, message, status.get("pid"), float(job.get("created", 0.0)),
                   epochs, status.get("n_epochs"))


def list_jobs(jobs_root: str | Path) -> list[JobView]:
    """Every job under ``jobs_root``, newest first."""
    root = Path(jobs_root)
    if not root.is_dir():
        return []
    jobs = [read_job(p) for p in root.iterdir() if (p / "job.json").is_file()]
    return sorted(jobs, key=lambda j: j.created, reverse=True)


def cancel_job(folder: str | Path) -> bool:
    """Ask a running job to stop (SIGTERM); returns False when it was not running."""
    view = read_job(folder)
    if view.finished or not pid_alive(view.pid):
        return False
    assert view.pid is not None  # pid_alive(None) is False
    try:
        os.kill(int(view.pid), signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def output_log(folder: str | Path, max_chars: int = 4000) -> str:
    """The end of the worker's output (progress bars, errors)."""
    try:
        text = (Path(folder) / "output.log").read_text(errors="replace")
    except OSError:
        return ""
    # progress bars redraw with carriage returns: keep the last state of each line
    lines = [line.split("\r")[-1] for line in text.splitlines()]
    return "\n".join(lines)[-max_chars:]


# -- the worker --------------------------------------------------------------------------


def run_worker(folder: str | Path) -> int:
    """Train the job in ``folder`` (runs in the job's own process)."""
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.training import train_model
    from sessrec.models.io import save_model

    folder = Path(folder)
    spec = read_job(folder).spec
    status = {"state": "running", "pid": os.getpid(), "started": time.time()}

    def on_term(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    _write_json(folder / "status.json", status)

    def on_epoch(model: Any, record: dict[str, Any]) -> bool:  # noqa: ARG001
        with open(folder / "epochs.jsonl", "a") as handle:
            handle.write(json.dumps({k: v for k, v in record.items() if isinstance(v, (int, float, str))}) + "\n")
        return False

    try:
        dataset = load_dataset(spec.dataset)
        from sessrec.experiments.runs.training import resolve_params
        from sessrec.models.factory import make_model

        status["n_epochs"] = make_model(spec.model, resolve_params(spec.model, spec.params, spec.preset)) \
            .hyperparameters().get("n_epochs")
        _write_json(folder / "status.json", status)
        model, meta = train_model(dataset, spec.model, params=spec.params, preset=spec.preset, callback=on_epoch)
        save_model(model, spec.out, meta)
        status.update(state="done", message=f"saved {spec.out} after {meta['train_seconds']:.1f} s")
    except KeyboardInterrupt:
        status.update(state="cancelled", message="cancelled; no checkpoint was written")
    except Exception as exc:  # noqa: BLE001 - every failure is reported on the page
        status.update(state="failed", message=f"{type(exc).__name__}: {exc}"[:2000])
    finally:
        status["finished"] = time.time()
        _write_json(folder / "status.json", status)
        lock = _lock_path(spec.out)
        if lock.exists() and lock.read_text().strip() == folder.name:
            lock.unlink()
    return 0 if status["state"] == "done" else 1


if __name__ == "__main__":  # pragma: no cover - exercised through start_job in the tests
    sys.exit(run_worker(sys.argv[1]))
