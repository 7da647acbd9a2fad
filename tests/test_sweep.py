import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd

from sessrec.data.dataset import load_dataset, write_dataset
from sessrec.evaluation import evaluate
from sessrec.experiments.runs.sweep import load_space
from sessrec.experiments.runs.tuning import run_sweep
from sessrec.experiments.runs.training import train_model

ROOT = Path(__file__).resolve().parents[1]


def toy_dataset(folder: Path):
    rows = [(s, item, s * 10 + p) for s in range(60) for p, item in enumerate([s % 5, 5 + s % 3, 8 + s % 2])]
    frame = pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"]).astype({"Time": float})
    early, late = frame[frame["SessionId"] < 40], frame[frame["SessionId"] >= 40]
    # the test sessions run backwards: a sweep scored on them would see other numbers
    backwards = late.assign(Time=late["SessionId"] * 10 + (late["SessionId"] * 10 + 2 - late["Time"]) % 10)
    write_dataset(folder, {"train": frame, "test": backwards, "train_tr": early, "valid": late}, name="toy")
    return load_dataset(folder)


def test_sweep_maximises_on_the_validation_split(tmp_path):
    dataset = toy_dataset(tmp_path / "toy")
    space = load_space(ROOT / "sweeps" / "item_knn.json")
    study = run_sweep(dataset, "item_knn", space, n_trials=3, storage=f"sqlite:///{tmp_path}/s.db", seed=0)
    assert len(study.trials) == 3
    assert set(study.best_params) == {"lambda_", "alpha"}
    assert "recall@20" in study.best_trial.user_attrs["metrics"]
    # the trials were scored on the validation split (train_tr -> valid), not on test
    best = study.best_trial
    model, _ = train_model(dataset, "item_knn", params=best.params, split="train_tr", progress=False)
    on_valid = evaluate(model, dataset.sessions("valid"), min_position=dataset.min_position, beyond_accuracy=False)
    on_test = evaluate(model, dataset.test, min_position=dataset.min_position, beyond_accuracy=False)
    assert best.value == on_valid.metrics["mrr@20"]
    assert best.user_attrs["metrics"]["recall@20"] == on_valid.metrics["recall@20"]
    assert on_test.metrics["mrr@20"] != on_valid.metrics["mrr@20"]  # so the check above can tell them apart
    assert best.user_attrs["split"] == "valid"
    # ... and trained on train_tr: the full train split gives other scores on valid
    full, _ = train_model(dataset, "item_knn", params=best.params, split="train", progress=False)
    assert evaluate(full, dataset.sessions("valid"), min_position=dataset.min_position,
                    beyond_accuracy=False).metrics["mrr@20"] != best.value


def test_two_worker_processes_share_one_study_without_losing_trials(tmp_path):
    toy_dataset(tmp_path / "toy")
    storage = f"sqlite:///{tmp_path}/shared.db"
    command = [sys.executable, "-m", "sessrec", "sweep", "--dataset", str(tmp_path / "toy"), "--model", "item_knn",
               "--space", str(ROOT / "sweeps" / "item_knn.json"), "--n-trials", "5", "--storage", storage,
               "--study", "shared", "--quiet"]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    study = optuna.load_study(study_name="shared", storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 10
    assert len({t.number for t in complete}) == 10
