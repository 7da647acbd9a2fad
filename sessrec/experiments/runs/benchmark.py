"""Benchmark runner: a set of models x seeds on one dataset, one run record per run.

Runs are independent and written atomically (see :mod:`sessrec.experiments.records`);
re-running the same command skips the runs already complete, so an interrupted
benchmark resumes where it stopped; a record that is damaged or incomplete is reported
and run again. Deterministic models (the baselines) run once. Several processes (or
machines sharing the folder) can work on one results folder: each run is claimed
first (:mod:`sessrec.experiments.runs.claims`), so none is computed twice.

With sampled settings (:class:`sessrec.evaluation.sampled.SampledSettings`) every run is
evaluated under the sampled-negatives protocol as well as by full ranking, and gets its
own run id (``<run id>-sampled-<sampling>-<negatives>-s<seed>``), so it never replaces
the full-ranking run of the same configuration.

A neural configuration with ``validation`` chooses its number of epochs on held-out
sessions and is then refitted on all of train. With ``epochs_from_seed`` set, only that
seed's run chooses: the other seeds read the choice from its record and train that many
epochs on all of train, without a selection of their own (the epoch count is tuned once,
like every other hyperparameter; the seeds then vary the training alone). The runner runs
that seed first; while its record is missing (claimed by another process, say), the
other seeds are skipped, said so, and a later run of the same command picks them up. A
sampled-protocol run reuses the sampled run of that seed.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sessrec.data.dataset import Dataset
from sessrec.errors import ParameterError
from sessrec.evaluation import DEFAULT_TIE_MODE, evaluate
from sessrec.evaluation.sampled import SampledSettings
from sessrec.experiments.runs.claims import try_claim
from sessrec.experiments.records import (RunRecord, code_version, data_identity, record_path, run_problem,
                                         write_run)
from sessrec.experiments.runs.training import machine_description, resolve_params, train_model, validation_data
from sessrec.models.io import library_versions
from sessrec.models.registry import REGISTRY


@dataclass(frozen=True)
class RunSpec:
    """One run configuration of a benchmark config (a label, its model and settings); the
    registry's :class:`~sessrec.models.registry.ModelSpec` describes the model itself."""

    label: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    group: str = "main"  # which question the run answers: main (RQ1), losses (RQ2), factors (RQ3)
    #: early stopping data for models that take a validation callback: None, "valid" or a held-out fraction
    validation: str | float | None = None
    #: with ``validation``: the seed whose run chooses the number of epochs for every seed
    epochs_from_seed: int | None = None
    #: for a setting chosen by ``sessrec tune``: its study, the budget spent, the best validation score
    tuning: dict[str, Any] | None = None

    @property
    def seeded(self) -> bool:
        """Runs once per seed when the model takes a ``seed`` (GRU4Rec, the neural models,
        Embedding-KNN); deterministic models (baselines, rules, session-kNN) run once."""
        from sessrec.models.factory import model_parameters

        return "seed" in model_parameters(self.model)

    def run_id(self, seed: int | None, sampled: SampledSettings | None = None) -> str:
        """``label``, ``label-seed<n>``, plus ``-sampled-<sampling>-<negatives>-s<seed>`` for sampled runs."""
        base = self.label if seed is None else f"{self.label}-seed{seed}"
        return base if sampled is None else f"{base}-{sampled.key}-s{sampled.seed}"



STALE = "the existing record was made with other settings"


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def stale_settings(root: str | Path, dataset: str, run_id: str, spec: RunSpec,
                   sampled: SampledSettings | None = None) -> str | None:
    """Why a complete run's record does not hold ``spec``'s settings (say a tuned config whose chosen
    setting changed since), or ``None`` when every setting the config names is the record's.
    The seed is the run's own, and a run that chose its epochs on validation data keeps its choice.
    A sampled run's record must also have drawn its negatives with ``sampled``'s sampler
    (records without one used sampler 1)."""
    try:
        record = json.loads(record_path(root, dataset, run_id).read_text())
    except (OSError, ValueError):
        return None  # run_problem has judged the file
    stored = record.get("hyperparameters") or {}
    ignore = {"seed"} | ({"n_epochs"} if spec.validation is not None else set())
    changed = [f"{key}: {stored.get(key)!r} -> {value!r}" for key, value in spec.params.items()
               if key not in ignore and not _same_value(stored.get(key), value)]
    if sampled is not None:
        used = ((record.get("protocol") or {}).get("sampled") or {}).get("sampler", 1)
        if used != sampled.sampler:
            changed.append(f"sampler: {used!r} -> {sampled.sampler!r}")
    return f"{STALE} ({'; '.join(changed)})" if changed else None


#: where neural runs keep their per-epoch training checkpoint until the run record is written,
#: relative to the folder holding the results root (``results/`` -> ``checkpoints/partial``)
PARTIAL_DIR = Path("checkpoints") / "partial"


def partial_dir_for(root: str | Path) -> Path:
    """The per-epoch checkpoint folder of runs written under ``root``: beside it, never in the
    working directory (so a results folder elsewhere keeps its partial checkpoints with it)."""
    return Path(root).absolute().parent / PARTIAL_DIR

def baseline_specs() -> list[RunSpec]:
    """What ``benchmark`` runs without ``--config``: the registry's simple baselines."""
    return [RunSpec(spec.name, spec.name) for spec in REGISTRY if spec.family == "baseline"]


def load_specs(path: str | Path) -> list[RunSpec]:
    """Read ``{"group"?, "models": [{"label", "model", "params"?, "preset"?, "group"?,
    "validation"?, "epochs_from_seed"?, "tuning"?}, ...]}`` from JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        specs = [
            RunSpec(m["label"], m["model"], dict(m.get("params", {})), m.get("preset"), m.get("group", data.get("group", "main")),
                      m.get("validation"), m.get("epochs_from_seed"), m.get("tuning"))
            for m in data["models"]
        ]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a benchmark config ({exc}); expected {{\"models\": [{{\"label\", \"model\"}}]}}") from exc
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{path}: labels must be unique ({labels})")
    for spec in specs:
        seed = spec.epochs_from_seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0
                                 or spec.validation is None):
            raise ValueError(f"{path}: '{spec.label}': epochs_from_seed must be a seed number (>= 0), on an entry "
                             "with 'validation' (it names the run whose epoch selection the other seeds reuse); "
                             f"got {seed!r}")
    return specs


def validate_specs(specs: list[RunSpec]) -> None:
    """Build every configuration once (unfitted) so a bad parameter fails before the first run."""
    from sessrec.models.factory import make_model

    for spec in specs:
        try:
            make_model(spec.model, resolve_params(spec.model, spec.params, spec.preset))
        except ValueError as exc:  # ParameterError included
            raise ParameterError(f"benchmark config '{spec.label}': {exc}") from exc


def run_one(
    dataset: Dataset, spec: RunSpec, seed: int | None, *, tie_mode: str = DEFAULT_TIE_MODE, progress: bool = True,
    command: str | None = None, checkpoint_path: str | Path | None = None, sampled: SampledSettings | None = None,
    epochs_from: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train and evaluate one configuration; returns ``(record, per-event arrays)``.

    ``epochs_from``: the record of the run whose epoch selection this run reuses (see
    ``RunSpec.epochs_from_seed``); the model then trains its ``selected_epochs`` on all
    of train, without a selection of its own.

    ``sampled``: also evaluate with sampled negatives (the record's ``evaluation.sampled``
    block and the ``sampled_ranks`` / ``sampled_n_tied`` arrays); full ranking otherwise only.

    ``checkpoint_path``: where a neural model keeps its per-epoch training state; an
    interrupted run restarted with the same path continues from its last epoch.
    """
    params = dict(spec.params)
    if seed is not None:
        params["seed"] = seed
    validation = spec.validation
    reused: dict[str, Any] = {}
    if epochs_from is not None:
        problem = reuse_problem(spec, epochs_from)
        if problem:
            raise ValueError(f"{spec.run_id(seed)} cannot reuse the epochs of {epochs_from.get('run_id')}: {problem}")
        params["n_epochs"], validation = epochs_from["selected_epochs"], None
        # the shared selection is part of what this model cost, as it is of the run that made it
        reused = {"selected_epochs": epochs_from["selected_epochs"], "epochs_selected_by": epochs_from.get("run_id"),
                  "selection_seconds_epochs": selection_seconds(epochs_from)}
    model, meta = train_model(dataset, spec.model, params=params, preset=spec.preset, progress=progress,
                              validation=validation, checkpoint_path=checkpoint_path)
    # the sessions the final model was trained on (all of train unless it was not refitted)
    held_out = meta.get("validation") is not None and not meta.get("refit")
    train = validation_data(dataset, "train", spec.validation)[0] if held_out else dataset.train
    protocol = {"protocol": "full"} if sampled is None else sampled.evaluate_options()
    result = evaluate(model, dataset.test, tie_mode=tie_mode, min_position=dataset.min_position,
                      train=train, progress=progress, **protocol)
    popularity = np.bincount(model.item_index.to_index(train.items), minlength=model.n_items)
    record = RunRecord(**{
        "run_id": spec.run_id(seed, sampled),
        "label": spec.label,
        "model": spec.model,
        "group": spec.group,
        "dataset": dataset.name,
        "data": data_identity(dataset),
        "dataset_statistics": dataset.info.get("splits", {}),
        "protocol": {"min_position": dataset.min_position, "tie_mode": tie_mode, "ranking": "full catalogue",
                     **({} if sampled is None else {
                         "ranking": "full catalogue, and sampled candidates (evaluation.sampled)",
                         "sampled": sampled.record()})},
        "seed": seed,
        "preset": spec.preset,
        "hyperparameters": {**resolve_params(spec.model, spec.params, spec.preset), **model.hyperparameters()},
        "training_log": meta["training_log"],
        "train_split": meta["train_split"],
        "validation": meta.get("validation"),
        "refit": meta.get("refit", False),
        "selected_epochs": meta.get("selected_epochs", reused.get("selected_epochs")),
        "selection_log": meta.get("selection_log"),
        **({"epochs_selected_by": reused["epochs_selected_by"]} if reused else {}),
        # the seconds of the epoch selection (this run's, or the one it reused), included in train_seconds_epochs
        "selection_seconds_epochs": meta.get("selection_seconds_epochs", reused.get("selection_seconds_epochs")),
        "train_seconds": meta["train_seconds"],
        "train_seconds_epochs": (meta.get("train_seconds_epochs") or 0.0) + reused.get("selection_seconds_epochs", 0.0),
        "evaluation": result.summary(),
        **({"tuning": spec.tuning} if spec.tuning else {}),
        "library_versions": library_versions(),
        "code_version": code_version(),
        "machine": machine_description(),
        "command": command or " ".join(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }).to_dict()  # a typo in a key, or a key no reader knows, fails here
    arrays = {
        "ranks": result.ranks.astype(np.float32),  # in the run's tie mode (halves are exact in float32)
        "n_tied": result.n_tied.astype(np.int32),  # lets any other tie mode be recomputed from the ranks
        "positions": result.positions.astype(np.int32),
        "targets": result.targets.astype(np.int32),
        "target_popularity": popularity[result.targets].astype(np.int32),
    }
    if result.sampled is not None:
        arrays["sampled_ranks"] = result.sampled.ranks.astype(np.float32)  # 1..negatives+1, halves exact
        arrays["sampled_n_tied"] = result.sampled.n_tied.astype(np.int32)
    return record, arrays


def selection_seconds(record: dict[str, Any]) -> float:
    """Seconds a run spent choosing its number of epochs (the epochs of its selection log)."""
    return float(sum(e.get("seconds", 0.0) for e in record.get("selection_log") or []))


#: settings that may differ between a run and the run whose choice of epochs it reuses
REUSE_MAY_DIFFER = ("seed", "n_epochs", "n_threads", "device", "patience")


def reuse_problem(spec: RunSpec, source: dict[str, Any]) -> str | None:
    """Why ``spec`` cannot train for the epoch count chosen in run record ``source``, or None."""
    epochs = source.get("selected_epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1 or not source.get("selection_log"):
        return f"it chose no number of epochs (selected_epochs={epochs!r})"
    if source.get("validation") != spec.validation:
        return f"it selected on validation={source.get('validation')!r}, the config says {spec.validation!r}"
    theirs = source.get("hyperparameters") or {}
    mine = resolve_params(spec.model, spec.params, spec.preset)
    changed = sorted(k for k, v in mine.items() if k not in REUSE_MAY_DIFFER and theirs.get(k) != v)
    if changed:
        return "it ran with other settings (" + ", ".join(f"{k}: {theirs.get(k)!r} -> {mine[k]!r}" for k in changed) + ")"
    return None


def selection_source(root: str | Path, dataset: str, spec: RunSpec, seed: int | None,
                     sampled: SampledSettings | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """The record whose epoch selection run ``spec``/``seed`` reuses, as ``(record, None)``;
    ``(None, why)`` while it cannot (that record is missing, or unusable); ``(None, None)``
    for a run that selects its own epochs (or none)."""
    if spec.epochs_from_seed is None or spec.validation is None or seed is None or seed == spec.epochs_from_seed:
        return None, None
    source_id = spec.run_id(spec.epochs_from_seed, sampled)
    problem = run_problem(root, dataset, source_id)
    if problem is not None:
        return None, f"waits for {dataset}/{source_id} ({problem}), whose choice of epochs it reuses"
    source = json.loads(record_path(root, dataset, source_id).read_text())
    problem = reuse_problem(spec, source)
    if problem is not None:
        return None, f"cannot reuse the epochs of {dataset}/{source_id}: {problem}"
    return source, None


def run_benchmark(
    dataset: Dataset,
    specs: list[RunSpec],
    seeds: list[int],
    root: str | Path = "results",
    *,
    tie_mode: str = DEFAULT_TIE_MODE,
    progress: bool = True,
    log=print,
    partial_dir: str | Path | None = None,
    sampled: SampledSettings | None = None,
) -> list[Path]:
    """Run every spec (seeded ones once per seed), skipping complete runs and runs claimed by others.

    Returns the records this process wrote. A damaged record is reported (``warning:``)
    and run again; a run another live process has claimed is left to it. Neural runs
    save their training state to ``partial_dir/<dataset>/<run_id>.pt`` (default
    :func:`partial_dir_for` ``root``) after every
    epoch; re-running the same command resumes them from there, and the file is removed
    once the run record is written. With ``sampled``, the runs are the sampled-protocol
    runs (their own run ids, see the module docstring).
    """
    validate_specs(specs)
    partial_dir = partial_dir_for(root) if partial_dir is None else partial_dir
    written, waiting_runs = [], []
    for spec in specs:
        order: list[int | None] = list(seeds) if spec.seeded else [None]
        if spec.epochs_from_seed in order:  # the seed that chooses the epochs goes first
            order.remove(spec.epochs_from_seed)
            order.insert(0, spec.epochs_from_seed)
        for seed in order:
            run_id = spec.run_id(seed, sampled)
            problem = run_problem(root, dataset.name, run_id) or stale_settings(root, dataset.name, run_id, spec, sampled)
            if problem is None:
                log(f"skip {dataset.name}/{run_id}: already complete")
                continue
            epochs_from, waiting = selection_source(root, dataset.name, spec, seed, sampled)
            if waiting:
                log(f"skip {dataset.name}/{run_id}: {waiting}")
                waiting_runs.append(run_id)
                continue
            claim, holder = try_claim(root, dataset.name, run_id)
            if claim is None:
                log(f"skip {dataset.name}/{run_id}: claimed by {holder} "
                    "(delete its .claim file if that process is gone)")
                continue
            with claim:
                # another process may have finished it meanwhile
                problem = run_problem(root, dataset.name, run_id) or stale_settings(root, dataset.name, run_id, spec, sampled)
                if problem is None:
                    log(f"skip {dataset.name}/{run_id}: already complete")
                    continue
                if problem.startswith(STALE):
                    log(f"{dataset.name}/{run_id}: {problem}; running it again with the config's settings")
                elif problem != "missing":
                    log(f"warning: {dataset.name}/{run_id}: the existing record is not usable ({problem}); "
                        "running it again")
                log(f"run {dataset.name}/{run_id} ...")
                # a run that reuses a choice of epochs has its own checkpoint name: it must never
                # resume the checkpoint of a selection (other sessions, best-epoch weights)
                name = run_id if epochs_from is None else f"{run_id}.epochs-{epochs_from['selected_epochs']}"
                partial = Path(partial_dir) / dataset.name / f"{name}.pt"
                record, arrays = run_one(dataset, spec, seed, tie_mode=tie_mode, progress=progress,
                                         checkpoint_path=partial, sampled=sampled, epochs_from=epochs_from)
                path = write_run(root, RunRecord(**record), arrays)  # checked whole before it is written
                partial.unlink(missing_ok=True)
                for refit_partial in partial.parent.glob(f"{run_id}.refit-*.pt"):
                    refit_partial.unlink()
            m = record["evaluation"]["metrics"]
            log(f"  Recall@20 {m['recall@20']:.4f}  MRR@20 {m['mrr@20']:.4f}  "
                f"tied targets {record['evaluation']['tied_target_share']:.1%} ({tie_mode})  "
                f"train {record['train_seconds']:.1f} s  eval {record['evaluation']['seconds']:.1f} s  -> {path}")
            if sampled is not None:
                s = record["evaluation"]["sampled"]["metrics"]
                log(f"  sampled ({sampled.describe()}): HitRate@10 {s['recall@10']:.4f}  "
                    f"MRR@10 {s['mrr@10']:.4f}  Precision@10 {s['precision@10']:.4f}")
            written.append(path)
    if waiting_runs:
        log(f"warning: {len(waiting_runs)} run(s) not done, waiting for the run that chooses their epochs: "
            f"{', '.join(waiting_runs)}; run the same command again once it is complete")
    return written
