"""Equal-budget tuning (``sessrec tune``): starts, budget, pruning, resuming after a kill,
and no choice ever reading the test split."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from sessrec.cli import EXIT_OK, EXIT_USAGE, main
from sessrec.data.dataset import Dataset, load_dataset
from sessrec.data.preprocess import prediction_cases, split_last_sessions
from sessrec.errors import ParameterError
from sessrec.experiments.runs import tuning as tn

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


def _declare(folder: Path, models: dict, budget: dict) -> tuple[Path, Path]:
    """A tuning file (spaces inline as files beside it) and a budget file for the demo."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for label, (model, space, fixed) in models.items():
        (folder / f"{label}.space.json").write_text(json.dumps(space))
        entries[label] = {"model": model, "space": f"{label}.space.json", "fixed": fixed}
    (folder / "tuning.json").write_text(json.dumps({"models": entries}))
    (folder / "budget.json").write_text(json.dumps({"metric": "mrr@20", "datasets": {"demo": budget}}))
    return folder / "tuning.json", folder / "budget.json"


SR_SPACE = {"steps": {"type": "int", "low": 2, "high": 12}, "weighting": {"type": "categorical",
                                                                          "choices": ["div", "linear"]}}
GRU_SPACE = {"layers": {"type": "int", "low": 8, "high": 16, "step": 8}}
GRU_FIXED = {"loss": "cross-entropy", "n_sample": 64, "batch_size": 64, "n_epochs": 3, "seed": 1}


def test_the_committed_declarations_load_and_every_start_lies_in_its_space():
    declared = tn.load_tuning(REPO / "sweeps" / "tuning.json")
    assert {"gru4rec-xe", "gru4rec-bprmax", "sr", "vstan", "narm", "sasrec", "srgnn"} <= set(declared)
    for dataset in ("yoochoose1_64", "diginetica", "retailrocket", "rsc15_100k"):
        budget = tn.load_budget(dataset, REPO / "sweeps" / "budget.json")
        assert budget.trials >= 1 and budget.core_hours > 0
        for tuned in declared.values():
            for start in tn.study_starts(tuned, dataset, REPO / "benchmarks"):
                for name, value in start["params"].items():
                    dist = _distribution(tuned.space[name])
                    assert dist._contains(dist.to_internal_repr(value)), (dataset, tuned.label, start["source"], name)
    # the official paramfile is the first extra start of GRU4Rec (BPR-max) on Diginetica
    starts = tn.study_starts(declared["gru4rec-bprmax"], "diginetica", REPO / "benchmarks")
    assert "published settings" in starts[0]["source"] and "diginetica_bprmax" in starts[1]["source"]
    assert starts[1]["params"]["layers"] == 512


def _distribution(spec):
    if spec["type"] == "categorical":
        return optuna.distributions.CategoricalDistribution(spec["choices"])
    if spec["type"] == "int":
        return optuna.distributions.IntDistribution(spec["low"], spec["high"], step=spec.get("step", 1))
    return optuna.distributions.FloatDistribution(spec["low"], spec["high"], step=spec.get("step"),
                                                  log=spec.get("log", False))


def test_budget_file_is_enforced(tmp_path):
    tuning, budget_file = _declare(tmp_path / "decl", {"sr": ("sr", SR_SPACE, {})}, {"trials": 3, "core_hours": 1})
    dataset = load_dataset(DEMO)
    tuned = tn.load_tuning(tuning)["sr"]
    budget = tn.load_budget("demo", budget_file)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    rep = tn.tune(dataset, tuned, budget, storage=storage, progress=False, config_dir=tmp_path)
    assert rep.counted == 3 and rep.stopped_by == "trials"
    again = tn.tune(dataset, tuned, budget, storage=storage, progress=False, config_dir=tmp_path)
    assert again.counted == 3, "a finished study runs no more trials"
    # a core-hour cap far below one trial stops the study after its first trial
    capped = tn.Budget("demo", trials=50, core_hours=1e-7)
    rep = tn.tune(dataset, tn.TunedModel("sr2", "sr", SR_SPACE), capped, storage=storage, progress=False,
                  config_dir=tmp_path)
    assert rep.counted == 1 and rep.stopped_by == "core-hour cap"
    assert "stopped by its core-hour cap" in rep.line()
    with pytest.raises(ParameterError, match="no budget for dataset 'elsewhere'"):
        tn.load_budget("elsewhere", budget_file)
    (tmp_path / "bad.json").write_text(json.dumps({"datasets": {"demo": {"trials": 0, "core_hours": 1}}}))
    with pytest.raises(ParameterError, match="trials = 0"):
        tn.load_budget("demo", tmp_path / "bad.json")


def test_published_settings_are_the_first_trial(tmp_path):
    tuning, budget_file = _declare(tmp_path / "decl", {"sr": ("sr", SR_SPACE, {})}, {"trials": 2, "core_hours": 1})
    configs = tmp_path / "benchmarks"
    configs.mkdir()
    (configs / "demo.json").write_text(json.dumps({"models": [
        {"label": "sr", "model": "sr", "params": {"steps": 7, "weighting": "linear", "pruning": 20}}]}))
    storage = f"sqlite:///{tmp_path / 's.db'}"
    tn.tune(load_dataset(DEMO), tn.load_tuning(tuning)["sr"], tn.load_budget("demo", budget_file), storage=storage,
            progress=False, config_dir=configs)
    first = optuna.load_study(study_name="demo/sr", storage=storage).trials[0]
    assert first.params == {"steps": 7, "weighting": "linear"}
    assert "published settings" in first.user_attrs["start"]


def test_a_pruned_trial_is_recorded_as_pruned(tmp_path):
    tuned = tn.TunedModel("gru", "gru4rec", GRU_SPACE, GRU_FIXED)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    rep = tn.tune(load_dataset(DEMO), tuned, tn.Budget("demo", 1, 1.0), storage=storage, progress=False,
                  config_dir=tmp_path, pruner=optuna.pruners.ThresholdPruner(lower=0.99))
    assert rep.pruned == 1 and rep.complete == 0 and rep.counted == 1
    (trial,) = optuna.load_study(study_name="demo/gru", storage=storage).trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert len(trial.user_attrs["valid_history"]) == 1, "pruned after its first epoch"
    assert trial.intermediate_values[1] == trial.user_attrs["valid_history"][0]["mrr@20"]
    assert trial.user_attrs["cpu_seconds"] > 0


def test_a_diverged_trial_scores_zero_and_the_study_goes_on(tmp_path, monkeypatch):
    """A setting whose loss becomes NaN is a bad setting: the trial completes with 0 and says why,
    and the next trial still runs (a diverged trial used to end the whole tune command)."""
    from sessrec.errors import TrainingError

    real = tn.make_model

    def diverging(name, params):  # the 8-unit setting diverges (as a real setting does, every time)
        model = real(name, params)
        if params["layers"] in (8, [8]):
            def fit(*args, **kwargs):
                raise TrainingError("gru4rec: training diverged: the loss became nan in epoch 1")
            model.fit = fit
        return model

    monkeypatch.setattr(tn, "make_model", diverging)
    space = {"layers": {"type": "int", "low": 8, "high": 32, "step": 8}}
    tuned = tn.TunedModel("gru", "gru4rec", space, {**GRU_FIXED, "n_epochs": 1})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = tn.open_study(load_dataset(DEMO), tuned, storage)
    for layers in (8, 16, 8):  # a diverging setting, a healthy one, the diverging one again
        study.enqueue_trial({"layers": layers})
    rep = tn.tune(load_dataset(DEMO), tuned, tn.Budget("demo", 4, 1.0), storage=storage, progress=False,
                  config_dir=tmp_path)
    trials = optuna.load_study(study_name="demo/gru", storage=storage).trials
    assert rep.complete == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    diverged = [t for t in trials if t.params["layers"] == 8]
    healthy = [t for t in trials if t.params["layers"] != 8]
    assert len(diverged) >= 2 and healthy
    assert diverged[1].user_attrs["repeat_of"] == diverged[0].number  # a repeat keeps the divergence
    assert all(t.value == 0.0 and "diverged" in t.user_attrs["diverged"] for t in diverged)
    assert all(t.value > 0.0 and "diverged" not in t.user_attrs for t in healthy)


def test_a_model_without_epochs_is_never_pruned(tmp_path):
    """Its one score is final: a pruner that would stop everything leaves it complete."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    rep = tn.tune(load_dataset(DEMO), tn.TunedModel("sr", "sr", SR_SPACE), tn.Budget("demo", 2, 1.0),
                  storage=storage, progress=False, config_dir=tmp_path,
                  pruner=optuna.pruners.ThresholdPruner(lower=0.99))
    assert rep.complete == 2 and rep.pruned == 0 and rep.best_attrs["best_epoch"] is None


def test_epoch_models_take_their_best_epoch(tmp_path):
    tuned = tn.TunedModel("gru", "gru4rec", GRU_SPACE, GRU_FIXED)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    rep = tn.tune(load_dataset(DEMO), tuned, tn.Budget("demo", 1, 1.0), storage=storage, progress=False,
                  config_dir=tmp_path)
    history = rep.best_attrs["valid_history"]
    assert len(history) == 3
    best = max(history, key=lambda h: h["mrr@20"])
    assert rep.best_value == best["mrr@20"] and rep.best_attrs["best_epoch"] == best["epoch"]
    config = tn.refit_config([rep], {"gru": tuned}, "demo")
    (entry,) = config["models"]
    assert entry["label"] == "gru-tuned" and entry["params"]["n_epochs"] == best["epoch"]
    assert entry["params"]["layers"] == [rep.best_params["layers"]]
    assert entry["tuning"]["study"] == "demo/gru" and entry["tuning"]["best_valid"] == rep.best_value
    # a study whose budget is not spent yet has no tuned setting to refit
    study = optuna.load_study(study_name="demo/gru", storage=storage)
    still_open = tn.report(study, tuned, tn.Budget("demo", 5, 1.0), [])
    assert still_open.stopped_by is None and tn.refit_config([still_open], {"gru": tuned}, "demo")["models"] == []


def test_no_choice_reads_the_test_split(tmp_path, monkeypatch):
    """The test split is unreadable garbage and reading it raises: tuning still works, and gives
    exactly the scores it gives on the intact dataset."""
    broken = tmp_path / "demo"
    shutil.copytree(DEMO, broken)
    (broken / "test.tsv.gz").write_bytes(b"not gzip at all")
    real_sessions = Dataset.sessions

    def guarded(self, split="train"):
        if split == "test":
            raise AssertionError("a tuning choice read the test split")
        return real_sessions(self, split)

    tuning, budget_file = _declare(tmp_path / "decl", {"sr": ("sr", SR_SPACE, {})}, {"trials": 2, "core_hours": 1})
    budget = tn.load_budget("demo", budget_file)
    tuned = tn.load_tuning(tuning)["sr"]
    clean = tn.tune(load_dataset(DEMO), tuned, budget, storage=f"sqlite:///{tmp_path / 'a.db'}", progress=False,
                    config_dir=tmp_path)
    monkeypatch.setattr(Dataset, "sessions", guarded)
    monkeypatch.setattr(Dataset, "test", property(lambda self: guarded(self, "test")))
    blind = tn.tune(load_dataset(broken), tuned, budget, storage=f"sqlite:///{tmp_path / 'b.db'}", progress=False,
                    config_dir=tmp_path)
    assert blind.best_value == clean.best_value and blind.best_params == clean.best_params


def _trials(storage: str, name: str) -> list:
    try:
        return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    except Exception:  # noqa: BLE001 - the study (or its tables) is not created yet, or the file is busy
        return []


def test_a_study_resumes_after_a_kill_and_the_killed_trial_is_failed(tmp_path):
    tuning, budget_file = _declare(tmp_path / "decl", {"gru": ("gru4rec", GRU_SPACE, {**GRU_FIXED, "n_epochs": 30})},
                                   {"trials": 2, "core_hours": 1})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    command = [sys.executable, "-m", "sessrec", "tune", "--dataset", str(DEMO), "--tuning", str(tuning),
               "--budget", str(budget_file), "--storage", storage, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # kill it halfway through its first trial (after an epoch)
        running = [t for t in _trials(storage, "demo/gru") if t.state == optuna.trial.TrialState.RUNNING]
        if running and running[0].user_attrs.get("valid_history"):
            break
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.5)
    else:
        pytest.fail("the first trial never reported an epoch")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    (killed,) = _trials(storage, "demo/gru")
    assert killed.state == optuna.trial.TrialState.RUNNING, "nothing has noticed yet"

    # the next start marks it failed, then finishes the budget with shorter trials
    short = _declare(tmp_path / "decl", {"gru": ("gru4rec", GRU_SPACE, {**GRU_FIXED, "n_epochs": 1})},
                     {"trials": 2, "core_hours": 1})
    assert short[0] == tuning
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = _trials(storage, "demo/gru")
    states = [t.state for t in trials]
    assert states[0] == optuna.trial.TrialState.FAIL
    assert trials[0].user_attrs["failed_because"] == "its worker process died"
    assert states[1:] == [optuna.trial.TrialState.COMPLETE] * 2
    assert "2/2 trials (2 complete, 0 pruned, 1 failed)" in result.stdout
    assert "1 trial cut off by a stopped job" in result.stdout
    # the cut-off trial's CPU time does not count against the core-hour cap; the others' does
    study = optuna.load_study(study_name="demo/gru", storage=storage)
    rep = tn.report(study, tn.TunedModel("gru", "gru4rec", GRU_SPACE), tn.Budget("demo", 2, 1.0), [])
    spent = [float(t.user_attrs["cpu_seconds"]) for t in trials]
    assert spent[0] > 0 and rep.cut_off == 1
    assert rep.cut_off_hours == pytest.approx(spent[0] / 3600)
    assert rep.core_hours == pytest.approx(sum(spent[1:]) / 3600)
    assert rep.to_json()["trials_cut_off"] == 1


def test_a_study_of_a_larger_budget_is_read_as_the_smaller_one(tmp_path):
    """The 30-trial kNN studies under today's 12/20 rule: only their first trials count (a seeded
    sampler makes them the trials a smaller study would have run), and the best is chosen among those."""
    tuned = tn.TunedModel("sr", "sr", SR_SPACE)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    tn.tune(load_dataset(DEMO), tuned, tn.Budget("demo", 5, 1.0), storage=storage, progress=False,
            config_dir=tmp_path)
    study = optuna.load_study(study_name="demo/sr", storage=storage)
    first3 = sorted(study.trials, key=lambda t: t.number)[:3]
    rep = tn.report(study, tuned, tn.Budget("demo", 3, 1.0), [])
    assert rep.counted == 3 and rep.beyond_budget == 2 and rep.stopped_by == "trials"
    assert rep.best_value == max(t.value for t in first3)
    assert "2 later trials of an older, larger budget not counted" in rep.line()
    assert rep.to_json()["trials_beyond_budget"] == 2


def test_a_trial_left_running_on_another_machine_is_failed_by_the_only_worker(tmp_path):
    """Studies travel between machines in the committed SQLite file: a trial another machine was
    running stays 'running' there; the one worker of the queue (--only-worker) marks it failed."""
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    trial = study.ask()
    trial.set_user_attr("worker", {"host": "a-machine-long-gone", "pid": 1})
    assert tn.fail_dead_trials(study) == 0, "another host's trial may still be running there"
    assert tn.fail_dead_trials(study, only_worker=True) == 1
    (failed,) = study.get_trials()
    assert failed.state == optuna.trial.TrialState.FAIL and failed.user_attrs["failed_because"]


def test_a_start_whose_trial_failed_is_enqueued_again_and_none_twice(tmp_path):
    study = optuna.create_study(study_name="demo/sr", storage=f"sqlite:///{tmp_path / 's.db'}")
    start = [{"source": "published", "params": {"steps": 7, "weighting": "div"}}]
    tn.enqueue_starts(study, start)
    tn.enqueue_starts(study, start)
    assert len(study.trials) == 1, "enqueued once"
    trial = study.ask()  # the enqueued start, then its worker dies
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    tn.enqueue_starts(study, start)
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].user_attrs["start"] == "published"


def test_tune_cli_status_export_and_write_config(tmp_path, capsys):
    tuning, budget_file = _declare(tmp_path / "decl", {"sr": ("sr", SR_SPACE, {})}, {"trials": 2, "core_hours": 1})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    base = ["tune", "--dataset", str(DEMO), "--tuning", str(tuning), "--budget", str(budget_file),
            "--storage", storage, "--quiet"]
    assert main(base) == EXIT_OK
    assert main(base + ["--status", "--export", str(tmp_path / "studies"),
                        "--write-config", str(tmp_path / "tuned")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "demo/sr: 2/2 trials (2 complete, 0 pruned, 0 failed)" in out and "done" in out
    exported = json.loads((tmp_path / "studies" / "demo" / "sr.json").read_text())
    assert [t["state"] for t in exported["trials"]] == ["complete", "complete"]
    config = json.loads((tmp_path / "tuned" / "demo.json").read_text())
    assert config["group"] == "tuned" and config["models"][0]["label"] == "sr-tuned"
    assert config["models"][0]["tuning"]["trials_complete"] == 2
    assert main(base + ["--model", "nothing"]) == EXIT_USAGE
    assert "no tuning declared for nothing" in capsys.readouterr().err


def test_the_budget_rule_keeps_the_expensive_models_at_published_settings(tmp_path, capsys):
    """sweeps/budget.json: 20 trials for every model on rsc15_100k, 12 on the larger datasets, where
    NARM, SR-GNN and SASRec are not tuned (one run costs CPU-hours), nor SLIST and GRU4Rec+SLIST
    where SLIST's fit needs over 10 GB (RetailRocket, Diginetica), and `tune` refuses them in one line."""
    committed = REPO / "sweeps" / "budget.json"
    assert tn.load_budget("rsc15_100k", committed).trials == 20
    assert not tn.load_budget("rsc15_100k", committed).published_only
    for dataset in ("yoochoose1_64", "diginetica", "retailrocket"):
        budget = tn.load_budget(dataset, committed)
        dear = {"narm", "srgnn", "sasrec"} | ({"slist", "hybrid-slist"} if dataset != "yoochoose1_64" else {"bert4rec"})
        assert budget.trials == 12 and set(budget.published_only) == dear
        assert all("CPU-hours" in why or " GB " in why for why in budget.published_only.values())
    budget = tn.Budget("demo", 2, 1.0, published_only={"sr": "too dear here"})
    with pytest.raises(ParameterError, match="sr is not tuned on demo .*too dear here"):
        tn.tune(load_dataset(DEMO), tn.TunedModel("sr", "sr", SR_SPACE), budget,
                storage=f"sqlite:///{tmp_path / 's.db'}", progress=False, config_dir=tmp_path)
    # the CLI: named on purpose, refused; in the default list, left out with its reason
    tuning, budget_file = _declare(tmp_path / "decl", {"sr": ("sr", SR_SPACE, {}), "sknn": ("sr", SR_SPACE, {})},
                                   {"trials": 1, "core_hours": 1, "published_only": {"sr": "too dear here"}})
    base = ["tune", "--dataset", str(DEMO), "--tuning", str(tuning), "--budget", str(budget_file),
            "--storage", f"sqlite:///{tmp_path / 'c.db'}", "--quiet"]
    assert main(base + ["--model", "sr"]) == EXIT_USAGE
    assert "sr is not tuned on demo" in capsys.readouterr().err
    assert main(base + ["--status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "demo/sr: published settings only (too dear here)" in out and "demo/sknn: no study yet" in out


def test_validation_split_of_an_untimed_split_is_its_latest_sessions():
    rows = [(s, item, p) for s in range(1, 21) for p, item in enumerate(range(s % 4 + 2))]
    train = pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"])
    train_tr, valid = split_last_sessions(train, n_cases=6, min_position=1)
    assert sorted(valid["SessionId"].unique()) == [18, 19, 20]  # 3 + 4 + 1 ... = the first to reach 6 cases
    assert prediction_cases(valid, 1) >= 6 > prediction_cases(valid[valid["SessionId"] > 18], 1)
    assert set(train_tr["SessionId"]) | set(valid["SessionId"]) == set(range(1, 21))
    assert not set(train_tr["SessionId"]) & set(valid["SessionId"])
    with pytest.raises(Exception, match="too few"):
        split_last_sessions(train, n_cases=10_000)
    assert np.isclose(prediction_cases(train, 2), sum(max(s % 4 + 2 - 2, 0) for s in range(1, 21)))


def _write_tuned(root: Path, label: str, model: str, quality: float, seeds=(None,), n_events: int = 400) -> None:
    from sessrec.evaluation import metrics_from_ranks
    from sessrec.experiments.records import write_run

    rng = np.random.default_rng(7)
    for seed in seeds:
        ranks = np.minimum(rng.geometric(quality, n_events), 2000).astype(float)
        run_id = f"{label}-tuned" if seed is None else f"{label}-tuned-seed{seed}"
        record = {"run_id": run_id, "label": f"{label}-tuned", "model": model, "dataset": "demo", "seed": seed,
                  "group": "tuned", "hyperparameters": {}, "training_log": [], "train_seconds": 1.0,
                  "tuning": {"study": f"demo/{label}", "trials_complete": 3, "core_hours": 0.1},
                  "evaluation": {"metrics": metrics_from_ranks(ranks), "tie_mode": "median", "min_position": 1,
                                 "seconds": 1.0, "n_events": n_events, "n_sessions": 100, "n_items": 2425}}
        write_run(root, record, {"ranks": ranks, "positions": np.ones(n_events, dtype=np.int32),
                                 "targets": np.arange(n_events, dtype=np.int32),
                                 "target_popularity": np.ones(n_events, dtype=np.int32)})


def test_settings_views_show_tuned_runs_only_when_every_tunable_model_has_one(tmp_path, capsys):
    from sessrec.experiments.analysis import questions
    from sessrec.experiments.records import load_run_records
    from tests.app_support import write_fake_results

    root = tmp_path / "results"
    root.mkdir()
    write_fake_results(root, questions=False)
    tunable = {"gru4rec-xe": "gru4rec", "item_knn": "item_knn", "vstan": "vstan"}  # vstan never ran here
    _write_tuned(root, "item_knn", "item_knn", 0.5)
    records = load_run_records(root)
    published = questions.settings_view(records, "demo", "published", tunable)
    assert {r["label"] for r in published.records} == {"gru4rec-xe", "most_popular", "last_item", "item_knn"}
    tuned = questions.settings_view(records, "demo", "tuned", tunable)
    assert {r["label"] for r in tuned.records} == {"most_popular", "last_item", "item_knn-tuned"}
    assert tuned.missing == ["gru4rec-xe"] and tuned.untuned == ["last_item", "most_popular"]
    assert "gru4rec-xe has no tuned run yet" in questions.settings_note(tuned)
    assert questions.default_settings_view(records, "demo", tunable) == "published"

    _write_tuned(root, "gru4rec-xe", "gru4rec", 0.6, seeds=(1, 2))
    records = load_run_records(root)
    assert questions.settings_view(records, "demo", "tuned", tunable).missing == []
    assert questions.default_settings_view(records, "demo", tunable) == "tuned"
    moves = questions.rank_moves(records, "demo", tunable=tunable)
    assert set(moves["View"]) == set(questions.SETTINGS_VIEWS.values())
    assert set(moves["Model"]) == {"GRU4Rec (cross-entropy)", "Item-KNN", "MostPopular", "LastItem"}
    budget = questions.tuning_table(questions.settings_view(records, "demo", "tuned", tunable).records)
    assert sorted(budget["Model"]) == ["GRU4Rec (cross-entropy, tuned)", "Item-KNN (tuned)"]
    assert sorted(budget["Study"]) == ["demo/gru4rec-xe", "demo/item_knn"]
    best_tuned = moves[(moves["View"] == "Tuned, equal budget") & (moves["Rank"] == 1)]["Model"].item()
    assert best_tuned == "GRU4Rec (cross-entropy)"  # quality 0.6: the best of the tuned view

    # the CLI and the page both default to the tuned view here (the repository's tuning.json)
    assert main(["results", "--root", str(root), "--no-strict"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "settings: Tuned, equal budget" in out and "GRU4Rec (cross-entropy, tuned)" in out
    assert "Item-KNN (tuned)" in out
    assert main(["results", "--root", str(root), "--no-strict", "--settings", "published"]) == EXIT_OK
    assert "tuned)" not in capsys.readouterr().out


def test_models_kept_at_published_settings_complete_the_tuned_view_and_explored_runs_never_count(
        tmp_path, monkeypatch):
    """Issue 45: the tuned view is complete once every row is tuned or kept at its published setting
    with the reason; a run compared on test (declared 'exploratory') is in no view's verdict."""
    from sessrec.experiments.analysis import questions
    from sessrec.experiments.records import load_run_records
    from tests.app_support import write_fake_results

    root = tmp_path / "results"
    root.mkdir()
    write_fake_results(root, questions=False)
    _write_tuned(root, "gru4rec-xe", "gru4rec", 0.6, seeds=(1, 2))
    records = load_run_records(root)
    tunable = {"gru4rec-xe": "gru4rec", "item_knn": "item_knn"}
    assert questions.settings_view(records, "demo", "tuned", tunable).missing == ["item_knn"]
    monkeypatch.setattr(questions, "published_only", lambda dataset: {"item_knn": "one run costs 9 CPU-hours"})
    tuned = questions.settings_view(records, "demo", "tuned", tunable)
    assert tuned.missing == [] and tuned.kept_published == {"item_knn": "one run costs 9 CPU-hours"}
    assert "item_knn" in {r["label"] for r in tuned.records}
    assert questions.default_settings_view(records, "demo", tunable) == "tuned"
    monkeypatch.setattr(questions, "exploratory_runs", lambda dataset: {"last_item": "picked on test"})
    for view in questions.SETTINGS_VIEWS:
        shown = questions.settings_view(records, "demo", view, tunable)
        assert "last_item" not in {r["label"] for r in shown.records} and shown.explored == {"last_item": "picked on test"}


def test_the_readme_verdict_and_the_page_verdict_name_the_same_models():
    """One source: every model the README says GRU4Rec is behind beats GRU4Rec's best run in the
    page's RQ1 verdict at MRR@20 (same settings view), and the other way round."""
    from sessrec.experiments.analysis import docs, questions, tables
    from sessrec.experiments.records import load_run_records, valid_records

    records = valid_records(load_run_records(REPO / "results"))
    for head in docs.headlines(records):
        if not head.subject:
            continue
        view = questions.settings_view(records, head.dataset, head.view)
        verdicts = questions.rq1_verdicts(tables.summary_of(view.records), head.dataset, ("mrr",), (20,))
        beaten_by = set(verdicts[verdicts["Outcome"] == "loses"]["Model"])
        top = head.subject[0]
        behind = {docs.pretty(s.label) for s in head.standings if s.rank < top.rank}
        assert behind == beaten_by, head.dataset


def test_benchmarks_page_has_the_settings_views(tmp_path, app_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app_support import write_fake_results

    root = tmp_path / "results"
    root.mkdir()
    write_fake_results(root, questions=False)
    _write_tuned(root, "item_knn", "item_knn", 0.5)
    _write_tuned(root, "gru4rec-xe", "gru4rec", 0.6, seeds=(1, 2))
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(root))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    at.switch_page("pages/benchmarks.py").run()
    assert not at.exception, [e.value for e in at.exception]
    rows = [str(label) for label in at.dataframe[0].value.index]  # RQ1's first table
    assert "GRU4Rec (cross-entropy, tuned)" in rows and "Item-KNN (tuned)" in rows, rows
    assert "GRU4Rec (cross-entropy)" not in rows, "the default view is the tuned one"
    assert any("How the ranks move" in h.value for h in at.subheader)
    assert any("Tuning budget" in e.label for e in at.expander)



def test_rq3_shows_the_importances_of_the_gru4rec_study(tmp_path, app_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app_support import write_fake_results

    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = optuna.create_study(study_name="demo/gru4rec-xe", storage=storage, direction="maximize")
    layers = optuna.distributions.IntDistribution(64, 512, step=4)
    rate = optuna.distributions.FloatDistribution(0.01, 0.25)
    for i, (units, lr) in enumerate([(64, 0.05), (128, 0.1), (256, 0.05), (512, 0.2), (96, 0.15)]):
        study.add_trial(optuna.trial.create_trial(params={"layers": units, "learning_rate": lr},
                                                  distributions={"layers": layers, "learning_rate": rate},
                                                  value=0.1 + units / 10_000 + 0.001 * i))
    importances = tn.parameter_importances(study)
    assert set(importances) == {"layers", "learning_rate"} and importances["layers"] > importances["learning_rate"]

    root = tmp_path / "results"
    root.mkdir()
    write_fake_results(root, questions=False)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(root))
    monkeypatch.setenv("SESSREC_STUDIES", storage)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    at.switch_page("pages/benchmarks.py").run()
    at.session_state["bm_tab"] = "RQ3 · Factors"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("demo/gru4rec-xe" in m.value and "5 complete trials" in m.value for m in at.markdown)
    monkeypatch.setenv("SESSREC_STUDIES", f"sqlite:///{tmp_path / 'none.db'}")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    at.switch_page("pages/benchmarks.py").run()
    at.session_state["bm_tab"] = "RQ3 · Factors"
    at.run()
    assert not at.exception and any("No GRU4Rec tuning study on **demo** yet" in i.value for i in at.info)


def test_parameters_fixed_on_one_dataset_reach_its_trials_and_its_refit(tmp_path, monkeypatch):
    """'fixed_on' (a hybrid's components, tuned per dataset) holds parameters fixed on one dataset
    only: its trials and its refit config use them, another dataset's do not, and a parameter the
    model lacks is refused."""
    from sessrec.models.factory import make_model

    tuning, budget_file = _declare(tmp_path / "decl", {"sr": ("sr", {"steps": {"type": "int", "low": 2, "high": 3}},
                                                                {"weighting": "div"})}, {"trials": 2, "core_hours": 1})
    data = json.loads(tuning.read_text())
    data["models"]["sr"]["fixed_on"] = {"demo": {"weighting": "linear"}}
    tuning.write_text(json.dumps(data))
    tuned = tn.load_tuning(tuning)["sr"]
    assert tuned.fixed_for("demo") == {"weighting": "linear"} and tuned.fixed_for("other") == {"weighting": "div"}
    storage = f"sqlite:///{tmp_path / 's.db'}"
    built = []
    monkeypatch.setattr(tn, "make_model", lambda name, params: built.append(params) or make_model(name, params))
    rep = tn.tune(load_dataset(DEMO), tuned, tn.load_budget("demo", budget_file), storage=storage, progress=False,
                  config_dir=tmp_path)
    assert built and all(params["weighting"] == "linear" for params in built), "every trial held it fixed"
    assert tn.refit_config([rep], {"sr": tuned}, "demo")["models"][0]["params"]["weighting"] == "linear"
    elsewhere = tn.TunedModel("sr", "sr", tuned.space, tuned.fixed, fixed_on={"other": {"weighting": "linear"}})
    with pytest.raises(ParameterError, match="has none for demo"):
        tn.tune(load_dataset(DEMO), elsewhere, tn.load_budget("demo", budget_file), storage=storage, progress=False,
                config_dir=tmp_path)
    data["models"]["sr"]["fixed_on"] = {"demo": {"no_such_setting": 1}}
    tuning.write_text(json.dumps(data))
    with pytest.raises(ParameterError, match="no parameter.*no_such_setting"):
        tn.load_tuning(tuning)


def test_a_label_with_its_own_study_name_starts_a_new_study_and_keeps_the_old(tmp_path):
    """A label whose space changed gets a new study name ('study' in tuning.json): Optuna cannot
    continue a study over another space; the old study stays where it was."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    first = tn.TunedModel("sr", "sr", SR_SPACE)
    tn.tune(load_dataset(DEMO), first, tn.Budget("demo", 2, 1.0), storage=storage, progress=False,
            config_dir=tmp_path)
    again = tn.TunedModel("sr", "sr", SR_SPACE, study="sr-v2")
    assert tn.existing_study(load_dataset(DEMO), again, storage) is None, "nothing under the new name yet"
    tn.tune(load_dataset(DEMO), again, tn.Budget("demo", 3, 1.0), storage=storage, progress=False,
            config_dir=tmp_path)
    assert tn.stored_studies(storage) == ["demo/sr", "demo/sr-v2"]
    assert len(optuna.load_study(study_name="demo/sr", storage=storage).trials) == 2
    assert len(optuna.load_study(study_name="demo/sr-v2", storage=storage).trials) == 3
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "space.json").write_text(json.dumps(SR_SPACE))
    (bad / "tuning.json").write_text(json.dumps({"models": {"sr": {"model": "sr", "space": "space.json",
                                                                  "study": "a/b"}}}))
    with pytest.raises(ParameterError, match="not a study name"):
        tn.load_tuning(bad / "tuning.json")
    assert tn.load_tuning()["hybrid"].study_label == "hybrid-v2"


def test_a_setting_drawn_again_takes_the_earlier_score_without_training(tmp_path):
    """TPE may draw a setting twice (small categorical spaces): the repeat is not trained again,
    it takes the finished trial's score and history, costs no CPU, and still counts as a trial."""
    one_setting = {"weighting": {"type": "categorical", "choices": ["div"]}}
    tuned = tn.TunedModel("sr", "sr", one_setting, fixed={"steps": 5})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    rep = tn.tune(load_dataset(DEMO), tuned, tn.Budget("demo", 3, 1.0), storage=storage, progress=False,
                  config_dir=tmp_path)
    first, *repeats = sorted(optuna.load_study(study_name="demo/sr", storage=storage).trials, key=lambda t: t.number)
    assert rep.counted == 3 and len(repeats) == 2
    assert first.user_attrs["cpu_seconds"] > 0 and "repeat_of" not in first.user_attrs
    for trial in repeats:
        assert trial.user_attrs["repeat_of"] == 0 and trial.value == first.value
        assert trial.user_attrs["cpu_seconds"] == 0.0
        assert trial.user_attrs["valid_history"] == first.user_attrs["valid_history"]
    # the same drawn parameters under other fixed ones are another setting: trained
    other = tn.TunedModel("sr", "sr", one_setting, fixed={"steps": 9})
    study = tn.open_study(load_dataset(DEMO), other, storage)
    study.optimize(tn.make_objective(load_dataset(DEMO), other, "mrr@20"), n_trials=1)
    last = max(study.trials, key=lambda t: t.number)
    assert "repeat_of" not in last.user_attrs and last.user_attrs["cpu_seconds"] > 0


def test_a_study_of_the_blend_fits_the_hybrids_components_once(tmp_path):
    """Only the blend varies, so the worker fits GRU4Rec and the neighbours in its first trial and
    its later trials reuse them (and say so); the scores are those of separate fits."""
    fixed = {"gru4rec_params": {"layers": [8], "batch_size": 16, "n_epochs": 1, "n_sample": 8}, "seed": 2,
             "neighbours": "sknn", "neighbour_params": {"k": 20}}
    space = {"weight": {"type": "categorical", "choices": [0.2, 0.8]},
             "normalise": {"type": "categorical", "choices": ["minmax", "probability"]}}
    tuned = tn.TunedModel("hybrid", "hybrid", space, fixed=fixed)
    storage = f"sqlite:///{tmp_path / 's.db'}"
    tn.tune(load_dataset(DEMO), tuned, tn.Budget("demo", 3, 1.0), storage=storage, progress=False,
            config_dir=tmp_path)
    trials = sorted(optuna.load_study(study_name="demo/hybrid", storage=storage).trials, key=lambda t: t.number)
    trained = [t for t in trials if "repeat_of" not in t.user_attrs]
    assert "reused_fits" not in trained[0].user_attrs
    assert len(trained) >= 2 and all(t.user_attrs["reused_fits"] == 2 for t in trained[1:])
    exported = {t["number"]: t for t in tn.export_trials(optuna.load_study(study_name="demo/hybrid", storage=storage))}
    assert "reused_fits" not in exported[trained[0].number] and exported[trained[1].number]["reused_fits"] == 2
    # the same setting fitted on its own scores what the study recorded
    again = optuna.create_study(direction="maximize")
    again.enqueue_trial(trained[-1].params)
    again.optimize(tn.make_objective(load_dataset(DEMO), tuned, "mrr@20"), n_trials=1)
    assert again.trials[0].value == pytest.approx(trained[-1].value, abs=1e-9)
