"""Tuning the user-context models on a validation split, never on test.

The question Rendle et al. (RecSys 2020) asked of NeuMF is whether it still wins against a
*well-tuned* dot-product model. Answering it needs every model tuned the same way:

* **validation split**: the dataset's split rule applied once more to the *train* part
  (each user's last share of training interactions, starting at a positive) gives
  ``train_tr`` and ``valid``; a setting is fitted on ``train_tr`` and judged by leave-one-out
  NDCG@10 on each ``valid`` user's last positive among 99 sampled negatives (the test
  protocol, on data the test never sees);
* **search**: seeded random search over :data:`SPACE`, the same space and the same number of
  trials for every model; trial 0 is the registry's demo setting, so tuning can only keep
  or beat it on valid;
* **resumable**: the study is a JSON file (``sweeps/users/<dataset>.json``) rewritten after
  every trial; running again continues where it stopped and a finished trial is never rerun.

:func:`tuned_settings` reads the best valid setting of each model; ``users evaluate --tuned``
refits it on the whole train part with several seeds and evaluates on test as usual.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sessrec.data.interactions import Interactions
from sessrec.data.user_data import DEFAULT_TEST_SHARE, UserDataset, split_by_user
from sessrec.evaluation.user_context import DEFAULT_NEGATIVES, evaluate_user_context
from sessrec.experiments.runs.user_context import last_test_positives, train_user_model, user_context_models
from sessrec.models.factory import make_model
from sessrec.models.registry import SPECS

STUDY_FORMAT = "sessrec-user-context-study"
#: how trials are drawn (see :func:`trial_settings`); a study drawn otherwise is not continued
SAMPLER = "distinct random draws, seed 0"
METRIC = "ndcg@10"
#: the search space, the same for every neural user-context model: name -> allowed values
SPACE: dict[str, list[Any]] = {  # 768 settings
    "embedding_dim": [8, 16, 32, 64],
    "learning_rate": [0.0003, 0.001, 0.003, 0.01],
    "l2": [0.0, 1e-6, 1e-5, 1e-4],
    "negatives": [1, 2, 4, 8],
    "n_epochs": [10, 20, 30],
}
DEFAULT_TRIALS = 16
#: the seed every trial trains with (the refit uses the evaluation's seeds)
TRIAL_SEED = 1


def validation_split(dataset: UserDataset) -> tuple[Interactions, Interactions]:
    """``(train_tr, valid)``: the dataset's split rule applied to its train part."""
    share = float(dataset.info.get("split", {}).get("test_share", DEFAULT_TEST_SHARE))
    train = dataset.interactions[~dataset.test_mask()].reset_index(drop=True)
    valid = split_by_user(train, share)
    if not valid.any():
        raise ValueError(f"{dataset.name}: the train part leaves no validation case (no user with two positives)")
    return (Interactions.from_frame(train[~valid], dataset.context_features),
            Interactions.from_frame(train[valid], dataset.context_features))


def trial_settings(index: int, model: str, seed: int = 0) -> dict[str, Any]:
    """Trial ``index``'s setting: 0 is the registry's demo setting, the rest distinct draws from
    :data:`SPACE` (one generator seeded with ``seed``; a draw equal to an earlier trial's is drawn
    again), the same sequence for every model, each trial depending only on those before it."""
    demo = {k: v for k, v in (SPECS[model].demo or {}).items() if k in SPACE}
    if index == 0:
        return demo
    defaults = make_model(model, SPECS[model].demo or {}).hyperparameters()
    seen = [tuple(sorted({name: defaults[name] for name in SPACE if name in defaults}.items()))]
    rng = np.random.default_rng(seed)
    size = int(np.prod([len(values) for values in SPACE.values()]))
    while True:
        draw = {name: values[int(rng.integers(len(values)))] for name, values in SPACE.items()}
        key = tuple(sorted(draw.items()))
        if key in seen and len(seen) < size:
            continue
        seen.append(key)
        if len(seen) - 1 == index:
            return draw


def study_path(folder: str | Path, dataset: str) -> Path:
    return Path(folder) / f"{dataset}.json"


def read_study(path: Path, dataset: str) -> dict[str, Any]:
    """A study file, or a new empty study when there is none."""
    if not path.is_file():
        return {"format": STUDY_FORMAT, "dataset": dataset, "metric": METRIC, "space": SPACE, "sampler": SAMPLER,
                "split": "train part re-split by the dataset's rule: train_tr -> valid", "models": {}}
    try:
        study = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as a study ({exc})") from exc
    if study.get("format") != STUDY_FORMAT or study.get("dataset") != dataset:
        raise ValueError(f"{path}: not a user-context study of '{dataset}'")
    if study.get("space") != SPACE or study.get("sampler") != SAMPLER:
        raise ValueError(f"{path}: was run over another search space or sampler; move it away to start a new study")
    return study


def _write(path: Path, study: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(study, indent=1) + "\n")
    temporary.replace(path)  # a stop mid-write leaves the previous study whole


def tune_models(dataset: UserDataset, models: list[str], folder: str | Path, trials: int = DEFAULT_TRIALS,
                echo: Callable[[str], None] = print, seed: int = 0) -> dict[str, Any]:
    """Run (or continue) the study of every model in ``models``; return the study."""
    tunable = [m for m in user_context_models() if SPECS[m].trains_in_epochs]
    unknown = [m for m in models if m not in tunable]
    if unknown:
        raise ValueError(f"cannot tune {', '.join(unknown)} (tunable user-context models: {', '.join(tunable)})")
    path = study_path(folder, dataset.name)
    study = read_study(path, dataset.name)
    train_tr, valid = validation_split(dataset)
    cases, rest = last_test_positives(valid)
    for model in models:
        done = study["models"].setdefault(model, {"trials": []})["trials"]
        for index in range(len(done), trials):
            params = trial_settings(index, model, seed)
            fitted, seconds = train_user_model(model, train_tr, TRIAL_SEED, params)
            result = evaluate_user_context(fitted, train_tr, cases, negatives=DEFAULT_NEGATIVES, seed=0,
                                           also_seen=rest)
            done.append({"trial": index, "params": params, METRIC: result.metrics[METRIC],
                         "hitrate@10": result.metrics["hitrate@10"], "fit_seconds": round(seconds, 2)})
            _write(path, study)
            echo(f"{model} trial {index + 1}/{trials}: valid {METRIC} {result.metrics[METRIC]:.4f} "
                 f"({seconds:.1f} s) {params}")
        best = max(done[:trials], key=lambda t: t[METRIC])
        echo(f"{model}: best valid {METRIC} {best[METRIC]:.4f} at trial {best['trial']} of {trials} "
             f"(demo setting {done[0][METRIC]:.4f})")
    return study


def tuned_settings(path: str | Path) -> dict[str, dict[str, Any]]:
    """Model -> its best valid setting in a study file (ties: the earlier trial)."""
    return {model: dict(best["params"]) for model, best in best_trials(path).items()}


def best_trials(path: str | Path) -> dict[str, dict[str, Any]]:
    """Model -> its best trial in a study file (ties: the earlier trial), with ``trials``: how many
    trials the study had run for it."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such study (python -m sessrec users tune --dataset ...)")
    study = json.loads(path.read_text())
    if study.get("format") != STUDY_FORMAT:
        raise ValueError(f"{path}: not a user-context study")
    chosen = {}
    for model, entry in study["models"].items():
        if entry["trials"]:
            best = max(entry["trials"], key=lambda t: (t[METRIC], -t["trial"]))
            chosen[model] = {**best, "trials": len(entry["trials"])}
    return chosen
