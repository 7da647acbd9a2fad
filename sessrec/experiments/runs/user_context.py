"""The offline pipeline of the user-context task: train every model, evaluate, compare.

Given a prepared user-context dataset (:mod:`sessrec.data.user_data`), its split (each
user's last 20 % of interactions by time, starting at a positive) gives ``train`` and
``test``. Every model is fitted on ``train`` and evaluated three ways:

* **leave-one-out** (NeuMF's protocol, so its paper's numbers compare): one case per test
  user, their *last* test positive, ranked among 99 items drawn uniformly from the items
  the user never interacted with (train or test), in the case's context: HR@10, NDCG@10,
  MRR@10 and AUC (:func:`sessrec.evaluation.user_context.evaluate_user_context`);
* **per-user lists**: each test user's *distinct* test positives together with 99 such
  negatives, ranked once in the context of the user's first test positive (the moment
  they come back). With ``R`` the user's relevant items and ``rel(j)`` whether the item
  at place ``j`` is one of them,

  - Precision@10 = |top-10 ∩ R| / 10,
  - AP@10 = (1 / min(|R|, 10)) · Σ_{j≤10} rel(j) · Precision@j, and MAP@10 its mean over users;

  ties are broken by the model's score only, then by a fixed random order of the
  candidates (the same for every model), so no model gains from ties;
* **ratings** (datasets with ratings): every model outputs scores, not ratings, so each
  is calibrated with one least-squares line ``rating ≈ a + b · score`` on the *training*
  ratings; RMSE and MAE of that line on the test ratings. A model that orders rated
  items well gets a low error; no model sees a test rating.

Every number is per seed; :func:`comparison_table` gives mean ± std over seeds and
:func:`significance_table` a paired Wilcoxon test per case against the best model.
Records are plain JSON under ``results/users/<dataset>/``, written and read through
:class:`~sessrec.experiments.records.UserRunRecord`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

from sessrec.data.interactions import Interactions
from sessrec.data.user_data import UserDataset
from sessrec.evaluation.user_context import DEFAULT_NEGATIVES, draw_negatives, evaluate_user_context
from sessrec.experiments.records import USER_RECORD_FORMAT, UserRunRecord, code_version
from sessrec.models.factory import make_model
from sessrec.models.registry import SPECS, USER_CONTEXT, models_of

K = 10
#: metrics in table order, with their display names
METRICS: dict[str, str] = {"hitrate@10": "HR@10", "ndcg@10": "NDCG@10", "auc": "AUC", "precision@10": "P@10",
                           "map@10": "MAP@10", "rmse": "RMSE", "mae": "MAE"}
LOWER_IS_BETTER = {"rmse", "mae"}


def user_context_models() -> list[str]:
    """Every registered user-context model, in registry order."""
    return [spec.name for spec in models_of(USER_CONTEXT)]


def last_test_positives(test: Interactions) -> tuple[Interactions, Interactions]:
    """``(cases, rest)``: each test user's last positive (by time, then row), and every other test row."""
    positive = np.flatnonzero(test.label >= 1.0)
    when = test.time if test.time is not None else np.arange(len(test), dtype=np.float64)
    order = positive[np.lexsort((positive, when[positive], test.user[positive]))]
    users = test.user[order]
    last = order[np.r_[users[1:] != users[:-1], True]] if len(order) else order
    mask = np.zeros(len(test), dtype=bool)
    mask[last] = True
    return test.select(np.sort(last)), test.select(~mask)


def average_precision_at(relevant: np.ndarray, n_relevant: int, k: int) -> float:
    """AP@k of one ranked list: ``relevant`` (bool, best first), ``n_relevant`` = |R|."""
    hits = relevant[:k].astype(np.float64)
    if n_relevant == 0:
        return 0.0
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / min(n_relevant, k))


def evaluate_user_lists(model: Any, train: Interactions, test: Interactions, *, negatives: int = DEFAULT_NEGATIVES,
                        k: int = K, seed: int = 0) -> dict[str, Any]:
    """Precision@k and MAP@k over per-user lists (see the module docstring); also the per-user AP."""
    positive = test.label >= 1.0
    users = np.unique(test.user[positive])
    if len(users) == 0:
        raise ValueError("evaluate_user_lists: the test part holds no positive interaction")
    catalogue = np.unique(np.concatenate([train.item, test.item]))
    seen: dict[int, set[int]] = {}
    for user, item in zip(np.concatenate([train.user, test.user]).tolist(),
                          np.concatenate([train.item, test.item]).tolist()):
        seen.setdefault(user, set()).add(item)
    first_rows: dict[int, int] = {}
    for row in np.flatnonzero(positive)[np.argsort(test.time[positive] if test.time is not None
                                                   else np.flatnonzero(positive), kind="stable")].tolist():
        first_rows.setdefault(int(test.user[row]), row)
    anchors = test.select(np.array([first_rows[int(u)] for u in users], dtype=np.int64))
    sampled = draw_negatives(anchors, seen, catalogue, negatives, seed)
    rng = np.random.default_rng([seed, 1])
    all_users, all_items, lists = [], [], []
    for row, user in enumerate(users.tolist()):
        relevant = np.unique(test.item[positive & (test.user == user)])
        candidates = np.concatenate([relevant, sampled[row]])
        lists.append((len(relevant), rng.permutation(len(candidates))))
        all_users.append(np.full(len(candidates), user, dtype=np.int64))
        all_items.append(candidates)
    sizes = [len(items) for items in all_items]
    context = {f: np.repeat(anchors.context[f], sizes) for f in anchors.context}
    scores = np.asarray(model.score_pairs(np.concatenate(all_users), np.concatenate(all_items), context), np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f"{model.name}: score_pairs returned NaN or infinite scores")
    precision, ap = [], []
    start = 0
    for (n_relevant, tie_order), size in zip(lists, sizes):
        part = scores[start:start + size]
        start += size
        # best first; among equal scores the fixed random order decides (np.lexsort: last key first)
        order = np.lexsort((tie_order, -part))
        relevant = order < n_relevant
        precision.append(float(relevant[:k].sum()) / k)
        ap.append(average_precision_at(relevant, n_relevant, k))
    return {f"precision@{k}": float(np.mean(precision)), f"map@{k}": float(np.mean(ap)),
            "per_user_ap": np.asarray(ap), "n_users": int(len(users))}


def rating_errors(model: Any, dataset: UserDataset) -> dict[str, float] | None:
    """RMSE and MAE of ``a + b · score`` fitted on the training ratings (``None`` without ratings)."""
    if not dataset.has_ratings:
        return None
    (train_rated, train_ratings), (test_rated, test_ratings) = dataset.ratings(False), dataset.ratings(True)
    if len(train_rated) < 2 or len(test_rated) == 0:
        return None
    train_scores = np.asarray(model.score_pairs(train_rated.user, train_rated.item, train_rated.context), np.float64)
    if not np.isfinite(train_scores).all():
        raise ValueError(f"{model.name}: score_pairs returned NaN or infinite scores")
    design = np.stack([np.ones(len(train_scores)), train_scores], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, train_ratings, rcond=None)
    predicted = np.clip(a + b * model.score_pairs(test_rated.user, test_rated.item, test_rated.context), 1.0, 5.0)
    error = predicted - test_ratings
    return {"rmse": float(np.sqrt(np.mean(error ** 2))), "mae": float(np.mean(np.abs(error))),
            "n_ratings": int(len(test_ratings))}


@dataclass
class PipelineSettings:
    """What :func:`run_models` trains and how it evaluates."""

    models: list[str]
    seeds: list[int]
    negatives: int = DEFAULT_NEGATIVES
    eval_seed: int = 0  #: the negatives' seed: the same for every model and training seed
    overrides: dict[str, dict[str, Any]] | None = None  #: model -> hyperparameters over the registry's
    #: a name for the overrides' setting (``"tuned"``): records become ``<model>-<tag>`` runs
    tag: str | None = None
    #: model -> where its setting comes from (the study, its trials, the valid score), kept in its records
    provenance: dict[str, dict[str, Any]] | None = None


def train_user_model(name: str, train: Interactions, seed: int, params: dict[str, Any] | None = None,
                     progress: bool = False) -> tuple[Any, float]:
    """Fit one registered user-context model; ``(model, seconds)``."""
    spec = SPECS[name]
    settings = {**(spec.demo or {}), **(params or {})}
    if spec.trains_in_epochs:
        settings["seed"] = seed
    model = make_model(name, settings)
    started = time.perf_counter()
    model.fit(train, progress=progress)
    return model, time.perf_counter() - started


def evaluate_trained(model: Any, dataset: UserDataset, train: Interactions, test: Interactions,
                     negatives: int = DEFAULT_NEGATIVES, eval_seed: int = 0) -> dict[str, Any]:
    """Every metric of the module docstring for one fitted model, with the per-case values."""
    cases, rest = last_test_positives(test)
    loo = evaluate_user_context(model, train, cases, negatives=negatives, ks=(K,), seed=eval_seed, also_seen=rest)
    lists = evaluate_user_lists(model, train, test, negatives=negatives, seed=eval_seed)
    metrics: dict[str, float] = {m: loo.metrics[m] for m in ("hitrate@10", "ndcg@10", "mrr@10", "auc")}
    metrics.update({k: lists[k] for k in ("precision@10", "map@10")})
    errors = rating_errors(model, dataset)
    if errors is not None:
        metrics.update({"rmse": errors["rmse"], "mae": errors["mae"]})
    return {"metrics": metrics, "ranks": loo.ranks.tolist(), "per_user_ap": lists["per_user_ap"].tolist(),
            "n_cases": int(len(cases)), "n_list_users": lists["n_users"],
            "n_ratings": None if errors is None else errors["n_ratings"]}


def record_path(out: Path, dataset: str, run: str, seed: int) -> Path:
    return Path(out) / dataset / f"{run}_seed{seed}.json"


def run_name(record: dict[str, Any]) -> str:
    """What a record is a run of: its model, or ``<model>-<tag>`` for a named setting."""
    return str(record.get("run") or record["model"])


def run_models(dataset: UserDataset, settings: PipelineSettings, out: Path | None = None,
               checkpoints: Path | None = None, echo: Callable[[str], None] = print,
               progress: bool = True) -> list[dict[str, Any]]:
    """Train and evaluate every (model, seed); write each record to ``out`` and each model to
    ``checkpoints`` as it completes (a record already there is kept and not recomputed)."""
    unknown = [m for m in settings.models if m not in SPECS or SPECS[m].task != USER_CONTEXT]
    if unknown:
        raise ValueError(f"unknown user-context model(s) {', '.join(unknown)} "
                         f"(choose from {', '.join(user_context_models())})")
    train, test = dataset.split()
    data = {"path": str(dataset.path), "train_fingerprint": train.fingerprint(), "test_fingerprint": test.fingerprint()}
    version = code_version()
    records = []
    for seed in settings.seeds:  # every model gets a first seed before any gets a second
        for name in settings.models:
            run = f"{name}-{settings.tag}" if settings.tag else name
            path = record_path(out, dataset.name, run, seed) if out is not None else None
            if path is not None and path.is_file():
                kept, problem = read_record(path)
                if kept is not None:
                    records.append(kept)
                    echo(f"{run} seed {seed}: kept {path}")
                    continue
                echo(f"{run} seed {seed}: {path} is not a valid record ({problem}); running it again")
            spec = SPECS[name]
            if not spec.trains_in_epochs and seed != settings.seeds[0]:
                continue  # a counting model has no seed: one run is all its runs
            model, seconds = train_user_model(name, train, seed, (settings.overrides or {}).get(name),
                                              progress=progress)
            evaluation = evaluate_trained(model, dataset, train, test, settings.negatives, settings.eval_seed)
            checkpoint = None
            if checkpoints is not None and hasattr(model, "save"):
                checkpoint = model.save(Path(checkpoints) / f"{name}_seed{seed}.pt",
                                        meta={"dataset": dataset.name}).as_posix()
            losses = list(getattr(model, "loss_history", []))
            label = f"{spec.label} ({settings.tag})" if settings.tag else spec.label
            extra: dict[str, Any] = {"run": run} if settings.tag else {}
            if settings.provenance and name in settings.provenance:
                extra["setting_from"] = settings.provenance[name]
            # built through the typed record: every check of user_record_problem runs before it is written
            record = UserRunRecord.from_dict({
                "format": USER_RECORD_FORMAT, "dataset": dataset.name, "data": data, "model": name, "label": label,
                "seed": seed if spec.trains_in_epochs else None, "hyperparameters": model.hyperparameters(),
                "fit_seconds": round(seconds, 3),
                "seconds_per_epoch": round(seconds / len(losses), 4) if losses else None,
                "loss_history": losses, "negatives": settings.negatives, "eval_seed": settings.eval_seed,
                "checkpoint": checkpoint, "code_version": version, **evaluation, **extra}).to_dict()
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(record, indent=1) + "\n")
            records.append(record)
            shown = "  ".join(f"{METRICS[m]} {v:.4f}" for m, v in evaluation["metrics"].items() if m in METRICS)
            echo(f"{run} seed {seed}: {shown}  ({seconds:.1f} s)")
    return records


def read_record(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a valid user-context run record at ``path``, else ``(None, why)``."""
    try:
        return UserRunRecord.from_dict(json.loads(path.read_text(encoding="utf-8"))).to_dict(), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        return None, str(exc)


def load_records(folder: Path, dataset: str,
                 skipped: Callable[[Path, str], None] | None = None) -> list[dict[str, Any]]:
    """Every valid record of ``dataset`` under ``folder`` (``results/users``), by model then seed.
    A file that is not one is left out and named, with why, to ``skipped`` (default: stderr)."""
    records = []
    for path in sorted((Path(folder) / dataset).glob("*_seed*.json")):
        record, problem = read_record(path)
        if record is not None:
            records.append(record)
        elif skipped is not None:
            skipped(path, problem or "")
        else:
            print(f"skipped {path}: {problem}", file=sys.stderr)
    return records


def comparison_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per model: mean and standard deviation of every metric over its seeds."""
    rows = []
    by_model: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_model.setdefault(run_name(record), []).append(record)
    for name, runs in by_model.items():
        row: dict[str, Any] = {"model": runs[0]["label"], "seeds": len(runs)}
        for metric, label in METRICS.items():
            values = [r["metrics"][metric] for r in runs if metric in r["metrics"]]
            if values:
                row[label] = float(np.mean(values))
                row[f"{label} sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
        row["s/epoch"] = (float(np.mean([r["seconds_per_epoch"] for r in runs])) if runs[0]["seconds_per_epoch"]
                          else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def _per_case(runs: list[dict[str, Any]], metric: str) -> np.ndarray:
    """Per-case values of ``metric`` averaged over a model's seeds (``ndcg``/``hitrate`` from ranks, ``map`` from AP)."""
    if metric == "map@10":
        return np.mean([r["per_user_ap"] for r in runs], axis=0)
    ranks = np.asarray([r["ranks"] for r in runs], dtype=np.float64)
    if metric == "ndcg@10":
        values = np.where(ranks <= K, 1.0 / np.log2(ranks + 1.0), 0.0)
    elif metric == "hitrate@10":
        values = (ranks <= K).astype(np.float64)
    else:
        raise ValueError(f"no per-case values for {metric} (choose ndcg@10, hitrate@10 or map@10)")
    return values.mean(0)


def significance_table(records: list[dict[str, Any]], metric: str = "ndcg@10") -> pd.DataFrame:
    """Each model against the best (by mean ``metric``): paired two-sided Wilcoxon over the cases,
    each case's value averaged over the model's seeds."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_model.setdefault(run_name(record), []).append(record)
    values = {name: _per_case(runs, metric) for name, runs in by_model.items()}
    best = max(values, key=lambda name: values[name].mean())
    rows = []
    for name, value in values.items():
        if name == best or len(value) != len(values[best]) or not np.any(value - values[best]):
            p = float("nan") if name == best else 1.0
        else:
            p = float(stats.wilcoxon(values[best], value, zero_method="wilcox").pvalue)
        rows.append({"model": by_model[name][0]["label"], metric: float(value.mean()),
                     "vs": by_model[best][0]["label"], "difference": float(value.mean() - values[best].mean()),
                     "p": p, "significant (p < 0.05)": bool(p < 0.05)})
    return pd.DataFrame(rows).sort_values(metric, ascending=False, ignore_index=True)


def train_and_save(dataset: UserDataset, models: list[str], out: Path, overrides: dict[str, dict[str, Any]],
                   progress: bool = False) -> list[str]:
    """Fit each model once on the dataset's train part and save ``out/<model>.pt`` (models that
    count, such as ContextPop, have no checkpoint: the online path fits them from the data)."""
    train, _ = dataset.split()
    lines = []
    for name in models:
        if name not in SPECS or SPECS[name].task != USER_CONTEXT:
            raise ValueError(f"unknown user-context model '{name}' (choose from {', '.join(user_context_models())})")
        if not SPECS[name].trains_in_epochs:
            lines.append(f"{name}: counted from the data when used, no checkpoint")
            continue
        model, seconds = train_user_model(name, train, int((SPECS[name].demo or {}).get("seed", 1)),
                                          overrides.get(name), progress=progress)
        path = model.save(Path(out) / f"{name}.pt", meta={"dataset": dataset.name})
        lines.append(f"{name}: {len(model.loss_history)} epochs in {seconds:.1f} s, final loss "
                     f"{model.loss_history[-1]:.4f} -> {path}")
    return lines


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as text: ``mean ± sd`` cells (4 decimals), the best mean of each
    metric in bold (highest, or lowest for RMSE and MAE)."""
    out = pd.DataFrame({"model": table["model"], "seeds": table["seeds"].astype(str)})
    for label in [*METRICS.values(), "s/epoch"]:
        if label not in table:
            continue
        values = table[label]
        lower = label in ("RMSE", "MAE", "s/epoch")
        best = values.min() if lower else values.max()
        cells = []
        for value, sd in zip(values, table.get(f"{label} sd", pd.Series([np.nan] * len(table)))):
            if pd.isna(value):
                cells.append("")
                continue
            cell = f"{value:.4f}" + (f" ± {sd:.4f}" if not pd.isna(sd) else "")
            cells.append(f"**{cell}**" if value == best and label != "s/epoch" else cell)
        out[label] = cells
    return out.set_index("model")


def _markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join([str(table.index.name or ""), *map(str, table.columns)]) + " |",
             "|" + "---|" * (len(table.columns) + 1)]
    lines += ["| " + " | ".join([str(index), *map(str, row)]) + " |" for index, row in table.iterrows()]
    return "\n".join(lines)


def results_markdown(records: list[dict[str, Any]], dataset: str, metric: str = "ndcg@10") -> str:
    """The comparison and the significance table of ``dataset``'s records, as Markdown."""
    seeds = sorted({r["seed"] for r in records if r["seed"] is not None})
    parts = [f"**{dataset}: leave-one-out (HR, NDCG, AUC; {records[0]['negatives']} sampled negatives), per-user "
             f"lists (P, MAP), calibrated ratings (RMSE, MAE); mean ± sd over seeds {', '.join(map(str, seeds))}; "
             "best in bold; seconds per epoch on 1 thread**", "", _markdown(format_table(comparison_table(records)))]
    tuned = {r["label"]: r["setting_from"] for r in records if r.get("setting_from")}
    if tuned:
        parts += ["", "Tuned settings, chosen on a validation split carved from train (`users tune`), never on test: "
                  + "; ".join(f"{label}: best of {t['trials']} trials of `{t['study']}` (trial {t['trial']}, valid "
                              f"NDCG@10 {t.get('valid ndcg@10', float('nan')):.4f})" for label, t in sorted(tuned.items()))
                  + "."]
    significance = significance_table(records, metric)
    significance["p"] = [("" if p != p else "< 0.0001" if p < 1e-4 else f"{p:.4f}") for p in significance["p"]]
    significance["difference"] = [f"{d:+.4f}" for d in significance["difference"]]
    significance[metric] = [f"{v:.4f}" for v in significance[metric]]
    parts += ["", f"**{dataset}: paired two-sided Wilcoxon on per-case {metric} (each case averaged over seeds), "
              "each model against the best**", "", _markdown(significance.set_index("model"))]
    return "\n".join(parts) + "\n"


def all_results_markdown(folder: Path) -> str:
    """Every dataset's tables under ``folder`` (``results/users``), for the documentation."""
    blocks = ["# User-context results", "",
              "Generated by `python -m sessrec docs` from the records under `results/users/` "
              "(`python -m sessrec users evaluate --dataset data/<name>` writes them). "
              "The protocol and the metric definitions are on the [Known users](../known-users.md) page.", ""]
    datasets = sorted(p.name for p in Path(folder).glob("*") if p.is_dir())
    for dataset in datasets:
        records = load_records(Path(folder), dataset)
        if records:
            blocks += [f"## {dataset}", "", results_markdown(records, dataset)]
    if len(blocks) == 5:
        blocks.append("No record yet.")
    return "\n".join(blocks).rstrip() + "\n"
