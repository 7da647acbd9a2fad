"""Equal-budget tuning: one Optuna study per (dataset, label), the same budget for every model.

What is tuned is declared in ``sweeps/tuning.json`` (per label: the model, the parameters
held fixed, a search space under ``sweeps/spaces/`` and settings enqueued as the first
trials); the budget in ``sweeps/budget.json`` (per dataset: the number of trials every
model gets and a cap in core-hours). Every trial trains on ``train_tr`` and is scored on
``valid``; the test split is never read (a test checks it).

* **Starts.** A study's first trials are the label's published setting (its entry in
  ``benchmarks/<dataset>.json``) and the extra starts of ``tuning.json`` (the official
  GRU4Rec paramfiles), so tuning can only match or beat them; each is tagged with its source.
* **Epochs and pruning.** A model trained in epochs is scored on valid after every epoch;
  the score is reported to Optuna's median pruner, which stops trials that fall behind.
  A trial's value is its best epoch's score and that epoch count is part of the setting.
* **Budget.** Trials that count are the complete and pruned ones. Core-hours are the CPU
  seconds of the trials (every thread counted; updated after every epoch) / 3600, except
  those of trials cut off because their worker died (a stopped job: the machine ended them,
  not the setting; the report gives their count and hours). A study stops at whichever
  comes first; the report says which.
* **Repeats.** A setting the sampler draws again (drawn parameters and fixed ones alike) is not
  trained again: the trial takes the earlier complete trial's score and history, costs no CPU,
  says ``repeat_of``, and counts as one of the budget's trials as before.
* **Fixed parts.** A part held fixed across trials (a hybrid's GRU4Rec and neighbour model)
  is fitted once per worker (:func:`sessrec.models.reuse.reuse_fits`) and shared by its later
  trials, which say how many fits they reused (``reused_fits``); their CPU time leaves those
  fits out, the first trial's includes them.
* **Resuming.** The study lives in an Optuna RDB storage (SQLite file by default, a
  PostgreSQL URL for several workers). Starting ``tune`` again continues it; a trial whose
  process died (killed, machine restarted) is marked failed when the next worker on the
  same host starts (and by Optuna's heartbeat on any host), never left running.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, cast

import optuna

from sessrec.data.dataset import Dataset
from sessrec.errors import ParameterError, TrainingError
from sessrec.evaluation import DEFAULT_TIE_MODE, evaluate
from sessrec.experiments.runs.sweep import check_space, check_sweep, open_storage, suggest
from sessrec.models.factory import make_model, model_parameters
from sessrec.models.registry import EARLY_STOPPING, EPOCHS, ONCE
from sessrec.models.registry import spec as model_spec
from sessrec.models.reuse import reused_count, reuse_fits

TUNING_FILE = Path("sweeps") / "tuning.json"
BUDGET_FILE = Path("sweeps") / "budget.json"
DEFAULT_STORAGE = "sqlite:///sweeps/studies/studies.db"
#: free studies (``sweep``) keep out of the committed equal-budget studies
SWEEP_STORAGE = "sqlite:///results/sweeps.db"
#: why a trial failed when its worker process died (``failed_because``)
WORKER_DIED = "its worker process died"
#: trials that use up the trial budget
COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass(frozen=True)
class TunedModel:
    """One tunable label of ``tuning.json``."""

    label: str
    model: str
    space: dict[str, dict[str, Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    #: dataset -> [{"source", "params"}]: settings enqueued before any sampled trial
    starts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: dataset -> parameters held fixed on that dataset only (over ``fixed``), e.g. a hybrid's components
    fixed_on: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the study's name under each dataset (default: the label); a new name starts a new study when
    #: the space changes, since Optuna cannot continue a study over another space (the old one is kept)
    study: str | None = None

    @property
    def study_label(self) -> str:
        """``<dataset>/<study_label>`` names this label's study."""
        return self.study or self.label

    def fixed_for(self, dataset: str) -> dict[str, Any]:
        """The parameters held fixed in a study on ``dataset``."""
        return {**self.fixed, **self.fixed_on.get(dataset, {})}


@dataclass(frozen=True)
class Budget:
    """The budget every tunable model gets on one dataset."""

    dataset: str
    trials: int
    core_hours: float
    metric: str = "mrr@20"
    #: labels not tuned on this dataset -> why (they run at their published settings there)
    published_only: dict[str, str] = field(default_factory=dict)

    def check_tunable(self, label: str) -> None:
        """Refuse, in one line, a label the rule keeps at its published settings on this dataset."""
        if label in self.published_only:
            raise ParameterError(f"{label} is not tuned on {self.dataset} (sweeps/budget.json 'published_only': "
                                 f"{self.published_only[label]}); it runs at its published settings there")


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read the {what} ({exc})") from exc


def load_tuning(path: str | Path = TUNING_FILE) -> dict[str, TunedModel]:
    """Every tunable label of ``path``, its space read and checked (:class:`ParameterError` if not)."""
    path = Path(path)
    data = _read_json(path, "tuning declarations")
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict) or not data["models"]:
        raise ParameterError(f'{path}: expected {{"models": {{label: {{"model", "space", ...}}}}}}')
    out = {}
    for label, entry in data["models"].items():
        where = f"{path}: '{label}'"
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or "space" not in entry:
            raise ParameterError(f"{where} needs a 'model' name and a 'space' file")
        space = check_space(_read_json(path.parent / entry["space"], "parameter space"), f"{where}: space")
        fixed = dict(entry.get("fixed") or {})
        fixed_on = entry.get("fixed_on") or {}
        if not isinstance(fixed_on, dict) or not all(isinstance(v, dict) for v in fixed_on.values()):
            raise ParameterError(f"{where}: 'fixed_on' maps dataset names to the parameters held fixed there")
        known = set(model_parameters(entry["model"]))
        unknown = sorted((set(space) | set(fixed) | {k for v in fixed_on.values() for k in v}) - known)
        if unknown:
            raise ParameterError(f"{where}: model '{entry['model']}' has no parameter(s) {', '.join(unknown)}")
        starts = entry.get("starts") or {}
        if not isinstance(starts, dict) or not all(isinstance(v, list) for v in starts.values()):
            raise ParameterError(f"{where}: 'starts' maps dataset names to lists of {{source, params}}")
        study = entry.get("study")
        if study is not None and not (isinstance(study, str) and study and "/" not in study):
            raise ParameterError(f"{where}: 'study' = {study!r} is not a study name (text without '/')")
        out[label] = TunedModel(label, entry["model"], space, fixed, starts, {d: dict(v) for d, v in fixed_on.items()},
                                study)
    return out


def load_budget(dataset: str, path: str | Path = BUDGET_FILE) -> Budget:
    """The budget rule for ``dataset`` (:class:`ParameterError` when the file has none for it)."""
    path = Path(path)
    data = _read_json(path, "budget")
    entry = (data.get("datasets") or {}).get(dataset) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        known = ", ".join(sorted((data.get("datasets") or {}) if isinstance(data, dict) else {}))
        raise ParameterError(f"{path}: no budget for dataset '{dataset}' (budgets exist for: {known or 'none'}); "
                             "every tuned dataset needs one rule, the same for all its models")
    trials, hours = entry.get("trials"), entry.get("core_hours")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ParameterError(f"{path}: '{dataset}': trials = {trials!r} (allowed: an integer >= 1)")
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not math.isfinite(hours) or hours <= 0:
        raise ParameterError(f"{path}: '{dataset}': core_hours = {hours!r} (allowed: a number > 0)")
    published = entry.get("published_only") or {}
    if not isinstance(published, dict) or not all(isinstance(v, str) and v for v in published.values()):
        raise ParameterError(f"{path}: '{dataset}': published_only maps labels to the reason they are not tuned")
    return Budget(dataset, trials, float(hours), str(data.get("metric", "mrr@20")), dict(published))


def published_start(tuned: TunedModel, dataset: str, config_dir: str | Path = "benchmarks") -> dict[str, Any] | None:
    """The label's setting in ``benchmarks/<dataset>.json`` as a start, or ``None``."""
    path = Path(config_dir) / f"{dataset}.json"
    if not path.is_file():
        return None
    entries = _read_json(path, "benchmark config").get("models", [])
    entry = next((m for m in entries if isinstance(m, dict) and m.get("label") == tuned.label), None)
    if entry is None:
        return None
    return {"source": f"{path} '{tuned.label}' (published settings)", "params": dict(entry.get("params") or {})}


def study_starts(tuned: TunedModel, dataset: str, config_dir: str | Path = "benchmarks") -> list[dict[str, Any]]:
    """The settings enqueued first, restricted to the space's parameters (the rest is held fixed)."""
    starts = [s for s in [published_start(tuned, dataset, config_dir)] if s is not None]
    starts += list(tuned.starts.get(dataset, []))
    out = []
    for start in starts:
        params = {}
        for name, value in start["params"].items():
            if name in tuned.space:
                params[name] = value[0] if name == "layers" and isinstance(value, list) and len(value) == 1 else value
        out.append({"source": start["source"], "params": params})
    return out


def study_name(dataset: str, label: str) -> str:
    return f"{dataset}/{label}"


@dataclass
class StudyReport:
    """Where one study stands against its budget."""

    name: str
    label: str
    complete: int
    pruned: int
    failed: int
    running: int
    core_hours: float
    budget: Budget
    best_value: float | None
    best_params: dict[str, Any]
    best_attrs: dict[str, Any]
    starts: list[dict[str, Any]]
    #: the enqueued starting settings as they scored here: {"source", "state", "value"}
    start_scores: list[dict[str, Any]] = field(default_factory=list)
    #: complete or pruned trials run beyond the budget (under an older, larger one): not counted
    beyond_budget: int = 0
    #: trials cut off because their worker died (a stopped job, a killed session) and their
    #: core-hours, which the cap does not count: the machine stopped them, not the setting
    cut_off: int = 0
    cut_off_hours: float = 0.0

    @property
    def counted(self) -> int:
        return self.complete + self.pruned

    @property
    def stopped_by(self) -> str | None:
        """``"trials"`` or ``"core-hour cap"`` once the study is over, else ``None``."""
        if self.counted >= self.budget.trials:
            return "trials"
        if self.core_hours >= self.budget.core_hours:
            return "core-hour cap"
        return None

    def line(self) -> str:
        best = "no complete trial yet" if self.best_value is None else (
            f"best valid {self.budget.metric} = {self.best_value:.4f}")
        state = {None: "open", "trials": "done", "core-hour cap": "stopped by its core-hour cap"}[self.stopped_by]
        extra = (f" ({self.beyond_budget} later trials of an older, larger budget not counted)"
                 if self.beyond_budget else "")
        if self.cut_off:
            extra += (f" ({self.cut_off} trial{'s' if self.cut_off != 1 else ''} cut off by a stopped job: "
                      f"{self.cut_off_hours:.2f} core-hours not counted against the cap)")
        return (f"{self.name}: {self.counted}/{self.budget.trials} trials ({self.complete} complete, {self.pruned} "
                f"pruned, {self.failed} failed), {self.core_hours:.2f}/{self.budget.core_hours:g} core-hours, "
                f"{state}; {best}{extra}")

    def start_lines(self) -> list[str]:
        """How each starting setting (published, official paramfile) scored on this dataset's valid."""
        return [f"  start {s['source']}: " + (f"valid {self.budget.metric} = {s['value']:.4f}" if s["value"] is not None
                                              else s["state"]) for s in self.start_scores]

    def to_json(self) -> dict[str, Any]:
        """The ``tuning`` block a refit's run record carries."""
        return {"study": self.name, "metric": self.budget.metric, "split": "train_tr -> valid",
                "trials_complete": self.complete, "trials_pruned": self.pruned, "trials_failed": self.failed,
                "core_hours": round(self.core_hours, 4),
                "budget": {"trials": self.budget.trials, "core_hours": self.budget.core_hours},
                **({"trials_cut_off": self.cut_off, "core_hours_cut_off": round(self.cut_off_hours, 4)}
                   if self.cut_off else {}),
                "stopped_by": self.stopped_by, "trials_beyond_budget": self.beyond_budget,
                "best_valid": self.best_value, "params": self.best_params,
                "selected_epochs": self.best_attrs.get("best_epoch"), "best_trial_source": self.best_attrs.get("start"),
                "starts": self.start_scores}


def within_budget(trials: list[optuna.trial.FrozenTrial], budget: Budget) -> tuple[list[optuna.trial.FrozenTrial], int]:
    """The trials that count under ``budget``: in trial order, up to its number of complete or pruned
    trials (failed and running ones before that point kept), and how many counted trials lie beyond.

    A study run under an older, larger budget is read as the smaller one: the sampler is seeded and
    each trial depends only on the trials before it, so its first N trials are the ones a study
    stopped at N would have run.
    """
    states = optuna.trial.TrialState
    within, counted, beyond = [], 0, 0
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.state in (states.COMPLETE, states.PRUNED):
            if counted >= budget.trials:
                beyond += 1
                continue
            counted += 1
        elif counted >= budget.trials:
            continue
        within.append(trial)
    return within, beyond


def report(study: optuna.Study, tuned: TunedModel, budget: Budget, starts: list[dict[str, Any]]) -> StudyReport:
    states = optuna.trial.TrialState
    trials, beyond = within_budget(study.get_trials(deepcopy=False), budget)
    count = {s: sum(t.state == s for t in trials) for s in states}
    died = [t for t in trials if t.user_attrs.get("failed_because") == WORKER_DIED]
    hours = sum(float(t.user_attrs.get("cpu_seconds", 0.0)) for t in trials if t not in died) / 3600.0
    died_hours = sum(float(t.user_attrs.get("cpu_seconds", 0.0)) for t in died) / 3600.0
    done = [t for t in trials if t.state == states.COMPLETE]
    # cast: optuna types a trial's value Optional, and a COMPLETE trial always has one
    best = max(done, key=lambda t: cast(float, t.value)) if done else None
    scored = [{"source": t.user_attrs["start"], "state": t.state.name.lower(),
               "value": None if t.value is None else float(t.value)} for t in trials if t.user_attrs.get("start")]
    return StudyReport(study.study_name, tuned.label, count[states.COMPLETE], count[states.PRUNED],
                       count[states.FAIL], count[states.RUNNING], hours, budget,
                       None if best is None else float(cast(float, best.value)),
                       {} if best is None else dict(best.params), {} if best is None else dict(best.user_attrs),
                       starts, scored, beyond, len(died), died_hours)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study: optuna.Study, only_worker: bool = False) -> int:
    """Mark as failed the running trials whose worker on this host has died, or with
    ``only_worker`` (no other worker uses the storage) every running trial; returns how many."""
    host, n = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = trial.user_attrs.get("worker") or {}
        here = worker.get("host") == host and isinstance(worker.get("pid"), int)
        if (here and not _alive(worker["pid"])) or (only_worker and not (here and worker["pid"] == os.getpid())):
            study._storage.set_trial_user_attr(trial._trial_id, "failed_because", WORKER_DIED)
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            n += 1
    return n


#: what a trial that repeats a finished setting takes over from it (:func:`finished_twin`)
REUSED_ATTRS = ("valid_history", "best_epoch", "n_valid_events", "tie_mode", "metrics", "split", "diverged")


def finished_twin(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """The earliest complete trial of the same study with exactly this trial's setting (drawn
    parameters and the parameters held fixed), if any.

    Optuna's TPE can draw a setting again, most often in small categorical spaces (the hybrid's
    study on yoochoose1_64 drew one setting three times in 12 trials). Training it again gives
    the same score (a trial's seed is part of its setting), so the repeat takes the earlier
    score and costs no CPU; it still counts as one of the budget's trials, as before."""
    for other in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if other.number != trial.number and other.params == trial.params and other.value is not None \
                and other.user_attrs.get("fixed") == trial.user_attrs.get("fixed"):
            return other
    return None


def make_objective(dataset: Dataset, tuned: TunedModel, metric: str, *, tie_mode: str = DEFAULT_TIE_MODE,
                   sessions: Callable[[str], Any] | None = None) -> Callable[[optuna.Trial], float]:
    """The objective of one study: fit on ``train_tr``, score ``metric`` on ``valid``.

    ``sessions(split)`` reads a split (default ``dataset.sessions``); only ``train_tr`` and
    ``valid`` are ever asked for."""
    read = sessions or dataset.sessions
    name, _, k = metric.partition("@")

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        fixed = tuned.fixed_for(dataset.name)
        params = {**fixed, **suggest(trial, tuned.space)}
        trial.set_user_attr("fixed", fixed)
        twin = finished_twin(trial)
        if twin is not None:  # the sampler drew a setting already trained: the same score, no compute
            for key in REUSED_ATTRS:
                if key in twin.user_attrs:
                    trial.set_user_attr(key, twin.user_attrs[key])
            trial.set_user_attr("repeat_of", twin.number)
            trial.set_user_attr("cpu_seconds", 0.0)
            trial.set_user_attr("seconds", 0.0)
            return cast(float, twin.value)
        train, valid = read("train_tr"), read("valid")
        model = make_model(tuned.model, params)
        reused_before = reused_count()
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        history: list[dict[str, float]] = []
        n_events: list[int] = []
        style = model_spec(tuned.model).trains  # declared in the registry

        def score(fitted: Any) -> float:
            result = evaluate(fitted, valid, ks=(int(k),), tie_mode=tie_mode, min_position=dataset.min_position,
                              beyond_accuracy=False, progress=False)
            n_events[:] = [int(result.n_events)]
            value = float(result.metrics[metric])
            history.append({"epoch": len(history) + 1, metric: value,
                            f"recall@{k}": float(result.metrics[f"recall@{k}"])})
            trial.set_user_attr("cpu_seconds", time.process_time() - cpu_start)
            trial.set_user_attr("valid_history", history)
            if style == ONCE:  # one score, final: nothing to prune
                return value
            trial.report(value, len(history))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {len(history)} ({metric} = {value:.4f})")
            return value

        def after_epoch(record: dict[str, Any]) -> None:  # GRU4Rec's per-epoch callback; None: go on
            score(model)

        try:  # the one training contract (sessrec.models.contract); the registry says how it trains
            if style == EPOCHS:
                model.fit(train, callback=after_epoch, progress=False)
            elif style == EARLY_STOPPING:
                model.fit(train, validate=score, progress=False)
            else:
                model.fit(train, progress=False)
                score(model)
        except TrainingError as exc:
            # a setting whose training diverges is a bad setting, not a broken study: it counts as a
            # complete trial scored by its best epoch before the divergence (0 with none), and says so
            trial.set_user_attr("diverged", str(exc)[:300])
            if not history:
                history.append({"epoch": 1, metric: 0.0, f"recall@{k}": 0.0})
        best = max(history, key=lambda h: h[metric])
        trial.set_user_attr("metrics", {key: value for key, value in best.items() if key != "epoch"})
        trial.set_user_attr("split", "valid")
        trial.set_user_attr("cpu_seconds", time.process_time() - cpu_start)
        trial.set_user_attr("seconds", time.perf_counter() - wall_start)
        trial.set_user_attr("best_epoch", int(best["epoch"]) if style != ONCE else None)
        trial.set_user_attr("n_valid_events", n_events[0] if n_events else None)
        trial.set_user_attr("tie_mode", tie_mode)
        if reused_count() > reused_before:  # its CPU time leaves out the fits an earlier trial made
            trial.set_user_attr("reused_fits", reused_count() - reused_before)
        return best[metric]

    return objective


def open_study(dataset: Dataset, tuned: TunedModel, storage: str, seed: int | None = 0,
               pruner: optuna.pruners.BasePruner | None = None, name: str | None = None) -> optuna.Study:
    """Create or load the study of ``tuned`` on ``dataset`` (TPE; median pruning after 3 trials),
    named ``<dataset>/<label>`` unless ``name`` is given."""
    if storage.startswith("sqlite:///"):
        Path(storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.create_study(
            study_name=name or study_name(dataset.name, tuned.study_label), storage=open_storage(storage),
            direction="maximize", load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        )


def existing_study(dataset: Dataset, tuned: TunedModel, storage: str) -> optuna.Study | None:
    """The study of ``tuned`` on ``dataset`` when it exists in ``storage`` (nothing is created)."""
    if study_name(dataset.name, tuned.study_label) not in stored_studies(storage):
        return None
    return open_study(dataset, tuned, storage)


def enqueue_starts(study: optuna.Study, starts: list[dict[str, Any]]) -> None:
    """Enqueue each starting setting unless a trial of it is done, pruned, running or waiting;
    so a start whose trial failed (its worker killed, say) is tried again, and none twice."""
    states = optuna.trial.TrialState
    alive = (states.COMPLETE, states.PRUNED, states.RUNNING, states.WAITING)
    had = {t.user_attrs.get("start") for t in study.get_trials(deepcopy=False, states=alive)}
    for start in starts:
        if start["source"] not in had:
            study.enqueue_trial(start["params"], user_attrs={"start": start["source"]})


def tune(dataset: Dataset, tuned: TunedModel, budget: Budget, *, storage: str = DEFAULT_STORAGE,
         seed: int = 0, progress: bool = True, max_trials: int | None = None,
         config_dir: str | Path = "benchmarks", sessions: Callable[[str], Any] | None = None,
         pruner: optuna.pruners.BasePruner | None = None, only_worker: bool = False) -> StudyReport:
    """Run the study of ``tuned`` on ``dataset`` until its budget is spent (or ``max_trials``
    more trials by this worker); returns where it stands. Resumes an existing study; with
    ``only_worker``, trials left running by a process that is gone are marked failed first."""
    from tqdm.auto import tqdm

    budget.check_tunable(tuned.label)
    if tuned.fixed_on and dataset.name not in tuned.fixed_on:
        raise ParameterError(f"{tuned.label} holds parameters fixed per dataset and has none for {dataset.name} "
                             f"(sweeps/tuning.json 'fixed_on': {', '.join(sorted(tuned.fixed_on))})")
    if not (dataset.has_split("train_tr") and dataset.has_split("valid")):
        raise ParameterError(f"dataset {dataset.name} has no train_tr/valid split to tune on "
                             "(`python -m sessrec prepare` writes one)")
    starts = study_starts(tuned, dataset.name, config_dir)
    study = open_study(dataset, tuned, storage, seed, pruner)
    fail_dead_trials(study, only_worker)
    enqueue_starts(study, starts)
    objective = make_objective(dataset, tuned, budget.metric, sessions=sessions)
    state = report(study, tuned, budget, starts)
    bar = tqdm(total=budget.trials, initial=min(state.counted, budget.trials), unit="trial", disable=not progress,
               desc=study.study_name)
    ran = 0
    # parts held fixed (a hybrid's components) are fitted once per worker
    with reuse_fits():
        try:
            while state.stopped_by is None and (max_trials is None or ran < max_trials):
                study.optimize(objective, n_trials=1, catch=(), gc_after_trial=True)
                ran += 1
                state = report(study, tuned, budget, starts)
                bar.n = min(state.counted, budget.trials)
                bar.set_postfix_str(f"{state.core_hours:.2f}/{budget.core_hours:g} core-h, best "
                                    f"{'-' if state.best_value is None else f'{state.best_value:.4f}'}")
                bar.refresh()
        finally:
            bar.close()
    return state


def run_sweep(
    dataset: Dataset,
    model: str,
    space: dict[str, dict[str, Any]],
    *,
    fixed: dict[str, Any] | None = None,
    n_trials: int = 20,
    storage: str = SWEEP_STORAGE,
    study_name: str | None = None,
    metric: str = "mrr@20",
    seed: int | None = None,
    tie_mode: str = DEFAULT_TIE_MODE,
) -> optuna.Study:
    """A free study (``sweep``): ``n_trials`` more trials of any model over any space, outside the
    equal-budget rule, with the same objective, pruning and trial records as :func:`tune`.

    Every setting is checked before the first trial (:func:`~sessrec.experiments.runs.sweep.check_sweep`).
    Workers sharing ``storage`` and ``study_name`` share the study (Optuna hands each its trials).
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ParameterError(f"n_trials = {n_trials!r} is not allowed (allowed: an integer >= 1)")
    fixed = dict(fixed or {})
    check_sweep(model, space, fixed, metric, storage)
    if not (dataset.has_split("train_tr") and dataset.has_split("valid")):
        raise ParameterError(f"dataset {dataset.name} has no train_tr/valid split to tune on "
                             "(`python -m sessrec prepare` writes one)")
    free = TunedModel(label=model, model=model, space=space, fixed=fixed)
    study = open_study(dataset, free, storage, seed, name=study_name or f"{dataset.name}-{model}")
    with reuse_fits():
        study.optimize(make_objective(dataset, free, metric, tie_mode=tie_mode), n_trials=n_trials,
                       gc_after_trial=True)
    return study


def refit_config(reports: list[StudyReport], tuning: dict[str, TunedModel], dataset: str) -> dict[str, Any]:
    """A benchmark config (``benchmarks/tuned/<dataset>.json``) of every finished study's best
    setting, labelled ``<label>-tuned`` in group ``tuned``, each entry with its ``tuning`` block.
    A study still open (budget not spent) is left out: its best-so-far is not the tuned setting."""
    models = []
    for rep in reports:
        if rep.best_value is None or rep.stopped_by is None:
            continue
        tuned = tuning[rep.label]
        params = {**tuned.fixed_for(dataset), **rep.best_params}
        if isinstance(params.get("layers"), int):
            params["layers"] = [params["layers"]]
        if rep.best_attrs.get("best_epoch"):
            params["n_epochs"] = int(rep.best_attrs["best_epoch"])
        models.append({"label": f"{rep.label}-tuned", "model": tuned.model, "params": params,
                       "tuning": rep.to_json()})
    return {"description": f"RQ1 under equal-budget tuning on {dataset}: each model's best setting of its study "
                           "(sweeps/tuning.json, sweeps/budget.json), refitted on all of train and evaluated on test "
                           "(full ranking, median ties). Written by `python -m sessrec tune --write-config`.",
            "group": "tuned", "models": models}


def export_trials(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial of ``study`` as plain data (what ``sweeps/studies/<dataset>/<label>.json`` keeps)."""
    out = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        out.append({"number": trial.number, "state": trial.state.name.lower(),
                    "value": None if trial.value is None else float(trial.value), "params": dict(trial.params),
                    "start": attrs.get("start"), "best_epoch": attrs.get("best_epoch"),
                    "cpu_seconds": attrs.get("cpu_seconds"), "seconds": attrs.get("seconds"),
                    "valid_history": attrs.get("valid_history"), "failed_because": attrs.get("failed_because"),
                    # a trial that shared fitted parts with an earlier one: its CPU seconds leave them out
                    **({"reused_fits": attrs["reused_fits"]} if "reused_fits" in attrs else {})})
    return out


def snapshot_sqlite(storage: str, target: str | Path) -> Path:
    """Copy a SQLite study storage to ``target`` consistently while workers may be writing to it
    (SQLite's online backup), e.g. to commit the studies of a tuning still running."""
    import sqlite3

    if not storage.startswith("sqlite:///"):
        raise ParameterError(f"--snapshot: the storage {storage[:80]} is not a SQLite file")
    source = Path(storage.removeprefix("sqlite:///"))
    if not source.is_file():
        raise ParameterError(f"--snapshot: no study storage at {source}")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with sqlite3.connect(source) as src, sqlite3.connect(partial) as dst:
        src.backup(dst)
    dst.close()
    partial.replace(target)
    return target


def stored_studies(storage: str) -> list[str]:
    """Names of the studies in ``storage`` (``[]`` when a SQLite file is absent)."""
    if storage.startswith("sqlite:///") and not Path(storage.removeprefix("sqlite:///")).is_file():
        return []
    return sorted(s.study_name for s in optuna.get_all_study_summaries(open_storage(storage)))


def parameter_importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's fANOVA importance of each parameter for the study's objective (its complete
    trials; ``{}`` with fewer than two, or when every trial scored the same)."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 2 or len({t.value for t in done}) < 2:
        return {}
    return {name: float(value) for name, value in optuna.importance.get_param_importances(study).items()}
