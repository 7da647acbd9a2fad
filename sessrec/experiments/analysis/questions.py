"""The research questions of the Benchmarks page, read from the run records.

Run records carry ``group`` (``main`` for RQ1; records written before the key existed
count as ``main``) and ``label``. RQ1 sets GRU4Rec against every other model, RQ2
compares its loss functions and RQ3 one-factor changes of its settings (both read against
the cross-entropy reference run, recognised by group or by label prefix), RQ4 breaks
accuracy down by position and popularity, RQ5 sets it against the modern neural models
with their published numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sessrec.experiments.analysis.tables import (compare_shown, config_entries, is_gru4rec, metric_name, pretty_label,
                                        published_cells, relative_cells, run_table, summary_of)
from sessrec.models.registry import is_subject, label_of, published_models, reproduction_bars

if TYPE_CHECKING:
    from sessrec.experiments.analysis.breakdowns import BenchmarkEvents

def rq2_shared() -> set[str]:
    """The RQ1 runs that double as RQ2's losses: the labels the questions config (group ``losses``)
    shares with the RQ1 configs, so one run answers both."""
    configs = config_entries()
    losses = {str(m.get("label")) for c in configs if c.get("group") == "losses" for m in c.get("models", [])}
    rq1 = {str(m.get("label")) for c in configs if c.get("group", "main") == "main" for m in c.get("models", [])}
    return losses & rq1


def reference_label() -> str | None:
    """RQ3's reference run (its factors are changes from it): the ``reference`` of the benchmark
    config that declares one (benchmarks/rsc15_100k_questions.json)."""
    return next((str(c["reference"]) for c in config_entries() if c.get("reference")), None)

FACTORS = {"layers": "hidden units", "batch_size": "batch size", "n_sample": "negative samples",
           "n_epochs": "epochs", "loss": "loss", "learning_rate": "learning rate"}
LOSS_NAMES = {"cross-entropy": "cross-entropy", "bpr-max": "BPR-max", "top1": "TOP1", "top1-max": "TOP1-max"}


def group_of(record: dict[str, Any]) -> str:
    return str(record.get("group") or "main")


def question_of(record: dict[str, Any]) -> str:
    """``rq1``, ``rq2`` or ``rq3`` for a run record."""
    label, group = str(record.get("label", "")), group_of(record)
    if group == "losses" or label.startswith("rq2-"):
        return "rq2"
    if group == "factors" or label.startswith("rq3-"):
        return "rq3"
    return "rq1"


#: what a run is, as the All runs table says it (RQ2 and RQ3 compare settings on test)
RUN_KINDS = {"rq1": "RQ1", "rq2": "RQ2 (settings compared on test)", "rq3": "RQ3 (settings compared on test)"}


def run_kinds(records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(dataset, label) -> what the run answers: RQ1 (tuned or published), or RQ2/RQ3 (compared on test)."""
    return {(str(r.get("dataset")), str(r.get("label"))):
            ("RQ1, tuned" if group_of(r) == TUNED_GROUP else RUN_KINDS[question_of(r)]) for r in records}


def records_for(records: list[dict[str, Any]], question: str, dataset: str | None = None) -> list[dict[str, Any]]:
    """The records answering ``question`` (RQ2 adds the shared GRU4Rec runs, RQ3 the reference)."""
    out = []
    reference, shared = reference_label(), rq2_shared()
    for r in records:
        if dataset is not None and r.get("dataset") != dataset:
            continue
        q = question_of(r)
        if q == question or (question == "rq2" and r.get("label") in shared) \
                or (question == "rq3" and r.get("label") == reference):
            out.append(r)
    return out


#: the group and label suffix of the runs refitted from ``sessrec tune`` (see :mod:`sessrec.experiments.runs.tuning`)
TUNED_GROUP, TUNED_SUFFIX = "tuned", "-tuned"
#: RQ1's two settings views: every model at its tuned setting (equal budget), or at its published one
SETTINGS_VIEWS = {"tuned": "Tuned, equal budget", "published": "Published settings"}


def tunable_models(path: str | Path | None = None) -> dict[str, str]:
    """Tunable label -> model name, from ``sweeps/tuning.json`` (empty when the file is absent)."""
    import json

    path = Path(path) if path is not None else Path(__file__).resolve().parents[3] / "sweeps" / "tuning.json"
    try:
        models = json.loads(path.read_text(encoding="utf-8")).get("models", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {label: str(entry.get("model")) for label, entry in models.items() if isinstance(entry, dict)}


def published_only(dataset: str, path: str | Path | None = None) -> dict[str, str]:
    """Tunable label -> why it is not tuned on ``dataset`` (``published_only`` in sweeps/budget.json)."""
    import json

    path = Path(path) if path is not None else Path(__file__).resolve().parents[3] / "sweeps" / "budget.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))["datasets"][dataset]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    reasons = entry.get("published_only") if isinstance(entry, dict) else None
    return {str(k): str(v) for k, v in reasons.items()} if isinstance(reasons, dict) else {}


def exploratory_runs(dataset: str, config_dir: str | Path | None = None) -> dict[str, str]:
    """Label -> why the run does not compete (``exploratory`` in benchmarks/<dataset>.json): a
    setting tried after looking at test results is shown as such, never counted as a model's result."""
    import json

    folder = Path(config_dir) if config_dir is not None else Path(__file__).resolve().parents[3] / "benchmarks"
    try:
        explored = json.loads((folder / f"{dataset}.json").read_text(encoding="utf-8")).get("exploratory", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in explored.items()} if isinstance(explored, dict) else {}


@dataclass
class SettingsView:
    """RQ1's records on one dataset under one settings view."""

    view: str
    records: list[dict[str, Any]]
    #: tunable labels that ran at their published setting here but have no tuned run yet
    missing: list[str]
    #: labels shown at their only setting (models with nothing to tune)
    untuned: list[str]
    #: tunable labels the budget keeps at their published setting here -> why (tuned view only)
    kept_published: dict[str, str] = field(default_factory=dict)
    #: labels left out because their setting was chosen by looking at test -> why
    explored: dict[str, str] = field(default_factory=dict)


def settings_view(records: list[dict[str, Any]], dataset: str, view: str,
                  tunable: dict[str, str] | None = None) -> SettingsView:
    """RQ1's records of ``dataset`` in ``view``: ``published`` (every run but the tuned ones) or
    ``tuned`` (each tunable model's tuned run, beside the models that have nothing to tune)."""
    if view not in SETTINGS_VIEWS:
        raise ValueError(f"unknown settings view {view!r} (known: {', '.join(SETTINGS_VIEWS)})")
    tunable = tunable_models() if tunable is None else tunable
    explored = exploratory_runs(dataset)
    rq1 = [r for r in records_for(records, "rq1", dataset) if str(r.get("label")) not in explored]
    published = [r for r in rq1 if group_of(r) != TUNED_GROUP]
    if view == "published":
        return SettingsView(view, published, [], [], explored=explored)
    tuned = [r for r in rq1 if group_of(r) == TUNED_GROUP]
    done = {str(r.get("label", "")).removesuffix(TUNED_SUFFIX) for r in tuned}
    kept = {label: why for label, why in published_only(dataset).items() if label in tunable}
    kept_runs = [r for r in published if str(r.get("label")) in kept]
    tuned_models = {model for label, model in tunable.items() if label not in kept}
    fixed = [r for r in published if r.get("model") not in tuned_models and r not in kept_runs]
    ran = {r.get("label") for r in published}
    missing = [label for label in tunable if label not in done and label in ran and label not in kept]
    return SettingsView(view, fixed + kept_runs + tuned, missing, sorted({str(r.get("label")) for r in fixed}),
                        {label: why for label, why in kept.items() if label in ran}, explored)


def default_settings_view(records: list[dict[str, Any]], dataset: str, tunable: dict[str, str] | None = None) -> str:
    """``tuned`` once every tunable model that ran on ``dataset`` has its tuned run, else ``published``."""
    tuned = settings_view(records, dataset, "tuned", tunable)
    has_tuned = any(group_of(r) == TUNED_GROUP for r in tuned.records)
    return "tuned" if has_tuned and not tuned.missing else "published"


def settings_note(view: SettingsView) -> str | None:
    """What a reader must know about the view's completeness (``None`` when nothing is missing)."""
    if view.view != "tuned" or not view.missing:
        return None
    return (f"Tuning is not finished on this dataset: {', '.join(view.missing)} "
            f"{'has' if len(view.missing) == 1 else 'have'} no tuned run yet, so "
            f"{'it is' if len(view.missing) == 1 else 'they are'} missing from this view "
            "(`python -m sessrec tune --status` says where each study stands).")


def tuning_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per tuned label: its study, the budget spent, why it stopped, the best validation
    score and the chosen parameters (from the records' ``tuning`` blocks; first seed's record)."""
    from sessrec.experiments.analysis.tables import pretty_label

    rows, seen = [], set()
    for record in records:
        block = record.get("tuning")
        label = str(record.get("label"))
        if not isinstance(block, dict) or label in seen:
            continue
        seen.add(label)
        budget = block.get("budget") or {}
        done = (block.get("trials_complete") or 0) + (block.get("trials_pruned") or 0)
        stopped: Any = block.get("stopped_by")  # a string, or None (not finished, or an older record)
        rows.append({"Model": pretty_label(label), "Study": block.get("study"),
                     "Trials": f"{done}/{budget.get('trials', '?')} ({block.get('trials_pruned') or 0} pruned)",
                     "Core-hours": f"{block.get('core_hours', 0):.2f}/{budget.get('core_hours', '?')}",
                     "Stopped by": {"trials": "its trials", "core-hour cap": "CORE-HOUR CAP (fewer trials)"}.get(
                         stopped, "not finished"),
                     f"Best valid {block.get('metric', '')}": block.get("best_valid"),
                     "Parameters": ", ".join(f"{k}={v}" for k, v in sorted((block.get("params") or {}).items()))})
    return pd.DataFrame(rows)


def rank_moves(records: list[dict[str, Any]], dataset: str, metric: str = "mrr", k: int = 20,
               tunable: dict[str, str] | None = None) -> pd.DataFrame:
    """Each model's rank (1 = best mean ``metric@k``) in the published and the tuned view:
    columns Model, View, Rank, Value; a tuned run is matched to its published label."""
    from sessrec.experiments.analysis.tables import pretty_label, summary_of

    rows = []
    for view in SETTINGS_VIEWS:
        summary = summary_of(settings_view(records, dataset, view, tunable).records)
        part = summary[(summary["metric"] == metric) & (summary["k"] == k) & (summary["dataset"] == dataset)]
        part = part.assign(base=part["label"].astype(str).str.removesuffix(TUNED_SUFFIX))
        part = part.sort_values("mean", ascending=False).reset_index(drop=True)
        for rank, row in enumerate(part.itertuples(), start=1):
            rows.append({"Model": pretty_label(str(row.base)), "View": SETTINGS_VIEWS[view], "Rank": rank,
                         "Value": float(row.mean)})
    frame = pd.DataFrame(rows, columns=["Model", "View", "Rank", "Value"])
    both = frame.groupby("Model")["View"].nunique()
    return frame[frame["Model"].isin(both[both == 2].index)].reset_index(drop=True)


def datasets_with(records: list[dict[str, Any]], question: str) -> list[str]:
    return sorted({r["dataset"] for r in records if question_of(r) == question})


def rq1_verdicts(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], ks: tuple[int, ...]) -> pd.DataFrame:
    """Every other model against the best GRU4Rec run, for every metric@k on ``dataset``.

    One row per (column, model): the best GRU4Rec mean of that column, the model's mean and
    the outcome for GRU4Rec (``wins``, ``ties`` or ``loses``, compared as the tables show
    them). Losses are listed, not hidden. Columns without a GRU4Rec run, and means that are
    not finite, are left out.
    """
    columns = ["Metric", "Best GRU4Rec", "GRU4Rec", "GRU4Rec seeds", "Model", "Value", "Seeds", "Difference", "Outcome"]
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & summary["k"].isin(ks)]
    frame = frame[np.isfinite(frame["mean"].astype(float))]
    rows = []
    for metric in metrics:
        for k in ks:
            group = frame[(frame["metric"] == metric) & (frame["k"] == k)]
            is_gru = group["model"].map(is_subject).astype(bool)
            if not is_gru.any() or is_gru.all():
                continue
            best = group[is_gru].loc[group[is_gru]["mean"].idxmax()]
            for _, other in group[~is_gru].iterrows():
                outcome = compare_shown(best["mean"], other["mean"])
                rows.append({"Metric": metric_name(metric, int(k)), "Best GRU4Rec": pretty_label(best["label"]),
                             "GRU4Rec": best["mean"], "GRU4Rec seeds": int(best["n"]),
                             "Model": pretty_label(other["label"]), "Value": other["mean"], "Seeds": int(other["n"]),
                             "Difference": best["mean"] - other["mean"],
                             "Outcome": {"higher": "wins", "equal": "ties", "lower": "loses"}[outcome]})
    return pd.DataFrame(rows, columns=columns)


def verdict_lines(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], ks: tuple[int, ...],
                  others: str = "other model") -> list[str]:
    """Where the best GRU4Rec run loses or ties on ``dataset`` (one line per model that beats or
    equals it), or one line saying it wins every column; empty without a GRU4Rec run or another model."""
    verdicts = rq1_verdicts(summary, dataset, metrics, ks)
    if verdicts.empty:
        return []
    lines = loss_summary(verdicts) + tie_summary(verdicts)
    n_columns = verdicts["Metric"].nunique()
    return lines or [f"The best GRU4Rec run beats every {others} on all {n_columns} metric/k columns."]


def loss_summary(verdicts: pd.DataFrame) -> list[str]:
    """One sentence per model that beats the best GRU4Rec run somewhere (a higher mean as shown)."""
    return _outcome_lines(verdicts[verdicts["Outcome"] == "loses"], "beats every GRU4Rec run on")


def tie_summary(verdicts: pd.DataFrame) -> list[str]:
    """One sentence per model whose mean, as shown, equals the best GRU4Rec run's somewhere."""
    return _outcome_lines(verdicts[verdicts["Outcome"] == "ties"], "ties with the best GRU4Rec run on")


def _outcome_lines(rows: pd.DataFrame, verb: str) -> list[str]:
    out = []
    for model, group in rows.groupby("Model", sort=False):
        cells = ", ".join(f"{r['Metric']} ({r['Value']:.4f} vs {r['GRU4Rec']:.4f})" for _, r in group.iterrows())
        out.append(f"**{model}** {verb} {cells}")
    return out


def loss_table(records: list[dict[str, Any]], dataset: str) -> pd.DataFrame:
    """RQ2: one row per loss function on ``dataset``, with its settings and training cost."""
    runs = [r for r in records_for(records, "rq2", dataset) if is_gru4rec(r)]
    table = run_table(runs)
    if table.empty:
        return table
    hp = [r["_record"].get("hyperparameters") or {} for _, r in table.iterrows()]
    table.insert(1, "Loss", [LOSS_NAMES.get(str(h.get("loss")), str(h.get("loss"))) for h in hp])
    table.insert(2, "Settings", [_settings(h) for h in hp])
    return table.sort_values("_mrr@20", ascending=False).drop(columns=["_record"]).reset_index(drop=True)


def rq1_question() -> str:
    """RQ1 as the Benchmarks page asks it, naming every other session model of the registry by family."""
    from sessrec.models.registry import FAMILIES, SESSION, models_of

    groups: dict[str, list[str]] = {}
    for spec in models_of(SESSION):
        if not spec.subject:
            groups.setdefault(spec.family, []).append(label_of(spec.name))
    families = "; ".join(f"{FAMILIES.get(family, family)}: {', '.join(names)}"
                         for family, names in groups.items())
    return (f"How does GRU4Rec compare with every other model on each dataset ({families}), at k = 1, 5, 10, 20, "
            "and is the difference significant?")


def tuned_loss_table(records: list[dict[str, Any]], dataset: str, load_ranks=None) -> pd.DataFrame:
    """RQ2 from the studies: per loss, the GRU4Rec run refitted from that loss's own study (its best
    validation trial), with the study's best validation MRR@20 and, against the best of them on
    test MRR@20, a paired Wilcoxon test per shared seed (the largest p-value is shown).

    Only subject runs made from a study (``tuning`` in the record) count: no setting chosen on test.
    """
    from sessrec.evaluation import paired_test

    if load_ranks is None:
        from sessrec.experiments.records import load_ranks
    runs: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("dataset") == dataset and is_gru4rec(record) and isinstance(record.get("tuning"), dict) \
                and "error" not in record and not (record.get("evaluation") or {}).get("sampled"):
            loss = str((record.get("hyperparameters") or {}).get("loss"))
            runs.setdefault(loss, []).append(record)
    rows = []
    for loss, group in runs.items():
        metrics = [r["evaluation"]["metrics"] for r in group]
        study = group[0]["tuning"]
        rows.append({"Loss": LOSS_NAMES.get(loss, loss), "Run": group[0].get("label"), "Seeds": len(group),
                     "Study": f"{study.get('trials_complete', 0) + study.get('trials_pruned', 0)} trials, "
                              f"best valid MRR@20 {study.get('best_valid', float('nan')):.4f}",
                     "Recall@20": float(np.mean([m["recall@20"] for m in metrics])),
                     "MRR@20": float(np.mean([m["mrr@20"] for m in metrics])), "_runs": group})
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).sort_values("MRR@20", ascending=False).reset_index(drop=True)
    best = {r.get("seed"): r for r in table.loc[0, "_runs"]}
    p_values: list[float | None] = [None]
    for runs_of_loss in table["_runs"].iloc[1:]:
        pairs = [(best[r.get("seed")], r) for r in runs_of_loss if r.get("seed") in best]
        p_values.append(max((paired_test(load_ranks(a), load_ranks(b), "mrr", 20, "wilcoxon").p_value
                             for a, b in pairs), default=None))
    table["Wilcoxon p (MRR@20, vs the first row, largest over seeds)"] = p_values
    return table.drop(columns=["_runs"])


def _settings(h: dict[str, Any]) -> str:
    parts = [f"lr {h.get('learning_rate')}", f"momentum {h.get('momentum')}",
             f"α {h.get('sample_alpha')}", f"logQ {h.get('logq')}", f"dropout {h.get('dropout_p_embed')}"]
    if str(h.get("loss")) == "bpr-max":
        parts.append(f"bpreg {h.get('bpreg')}")
    return ", ".join(parts)


def factor_changes(reference: dict[str, Any], other: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(hyperparameter, reference value, this run's value) for every setting that differs."""
    skip = {"seed", "n_threads", "sample_cache", "device"}  # where and how, not what is trained
    keys = [k for k in dict.fromkeys([*reference, *other]) if k not in skip]
    return [(k, reference.get(k), other.get(k)) for k in keys if reference.get(k) != other.get(k)]


def _value(v: Any) -> str:
    if isinstance(v, list) and len(v) == 1:
        v = v[0]
    return str(v)


def factor_table(records: list[dict[str, Any]], dataset: str) -> pd.DataFrame:
    """RQ3: the reference run and every one-factor change, accuracy next to training cost.

    The factor and its values are read from the records' hyperparameters (compared with
    the reference ``gru4rec-xe`` run), not from the labels."""
    runs = records_for(records, "rq3", dataset)
    table = run_table(runs)
    if table.empty:
        return table
    reference_run = reference_label()
    ref_rows = table[table["Run"] == reference_run]
    reference = (ref_rows.iloc[0]["_record"].get("hyperparameters") or {}) if len(ref_rows) else None
    factors, values = [], []
    for _, row in table.iterrows():
        hp = row["_record"].get("hyperparameters") or {}
        if row["Run"] == reference_run or reference is None:
            factors.append("(reference)" if row["Run"] == reference_run else "?")
            values.append("")
            continue
        changes = factor_changes(reference, hp)
        factors.append(", ".join(FACTORS.get(k, k) for k, _, _ in changes) or "(no change)")
        values.append(", ".join(f"{_value(a)} → {_value(b)}" for _, a, b in changes))
    table.insert(1, "Factor", factors)
    table.insert(2, "Change", values)
    for metric in ("recall@20", "mrr@20"):
        ref = float(ref_rows.iloc[0][f"_{metric}"]) if len(ref_rows) else float("nan")
        name, k = metric.split("@")
        table[f"Δ {metric_name(name, int(k))}"] = table[f"_{metric}"] - ref
    ref_secs = float(ref_rows.iloc[0]["Train s"]) if len(ref_rows) else float("nan")
    table["Time × ref"] = table["Train s"] / ref_secs
    table["_order"] = [("0" if f == "(reference)" else "1" + f) for f in factors]
    table["_point"] = [f"{r} (reference)" if f == "(reference)" else f"{f}: {v}" for r, f, v in zip(table["Run"], factors, values)]
    return table.sort_values(["_order", "Run"]).drop(columns=["_record", "_order"]).reset_index(drop=True)


def breakdown_frame(records: list[dict[str, Any]], dataset: str, by: str, metric: str, k: int,
                    events: BenchmarkEvents | None = None) -> pd.DataFrame:
    """RQ4: ``metric@k`` by position in the session, by target popularity or by re-click
    (which needs ``dataset``'s test ``events``), every RQ1 model of ``dataset`` (mean over
    seeds), via :func:`sessrec.experiments.analysis.breakdowns.breakdown`."""
    from sessrec.experiments.analysis.breakdowns import breakdown

    runs = records_for(records, "rq1", dataset)
    frame = breakdown(runs, by=by, metric=metric, k=k, events=None if events is None else {dataset: events})
    if frame.empty:
        return frame
    frame = frame.copy()
    frame["Model"] = frame["label"].map(pretty_label)
    return frame


def breakdown_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """A :func:`breakdown_frame` as one row per model and one column per bucket, in bucket order."""
    wide = frame.pivot_table(index="Model", columns="bucket", values="value", aggfunc="first")
    wide = wide[frame.drop_duplicates("bucket").sort_values("order")["bucket"].tolist()]
    wide.columns.name = None
    return wide


def bucket_counts(frame: pd.DataFrame) -> str:
    """The test events per bucket of a :func:`breakdown_frame`, as "1: 15,963, 2: 11,446, ..."."""
    counts = frame.drop_duplicates("bucket").sort_values("order")
    return ", ".join(f"{b}: {n:,}" for b, n in zip(counts["bucket"], counts["n"]))


def modern_models() -> dict[str, str]:
    """RQ5's modern comparators and their names in results/reference_numbers.csv, read from the
    registry when asked (a model registered after import is counted)."""
    return published_models()


#: the metrics of RQ5's comparisons (at k = 20, as the papers report them)
MODERN_METRICS = ("recall", "mrr")

#: reproduction bars (:func:`sessrec.models.registry.reproduction_bars`, read from the registry
#: when a table is made, so a model registered later counts): the largest relative difference
#: (%, either way) of our Recall@20 and MRR@20 from the published ones that counts as
#: reproducing the paper, judged on the mean of ``REPRODUCTION_SEEDS`` seeds (the SR-GNN paper's
#: numbers, for SR-GNN and for NARM; SASRec has no published number on these splits)
REPRODUCTION_SEEDS = 3


def modern_runs(records: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """RQ5's runs on ``dataset``: GRU4Rec's RQ1 configurations and the modern neural models."""
    modern = modern_models()
    return [r for r in records if r.get("dataset") == dataset
            and (r.get("model") in modern or (is_gru4rec(r) and question_of(r) == "rq1"))]


def modern_table(records: list[dict[str, Any]], dataset: str, references: pd.DataFrame | None = None) -> pd.DataFrame:
    """RQ5: GRU4Rec's RQ1 configurations and the modern neural models on ``dataset``, one
    row per configuration (mean ± std over seeds, training cost), with the published
    Recall@20 / MRR@20 of the model where the reference table has one and the relative
    difference of our mean from it (``<metric> vs paper %``)."""
    table = run_table(modern_runs(records, dataset))
    if table.empty:
        return table
    published = {}
    if references is not None and not references.empty:
        for row in references[references["dataset"] == dataset].itertuples():
            published[(str(row.model), str(row.metric), int(row.k))] = float(row.value)
    models = [str(r["_record"].get("model")) for _, r in table.iterrows()]
    modern = modern_models()
    for metric in ("recall", "mrr"):
        table[f"Published {metric_name(metric, 20)}"] = [
            published.get((modern.get(m, m), metric, 20), float("nan")) for m in models]
    for metric in ("recall", "mrr"):  # relative to the paper, as the reproduction bars are stated
        paper = table[f"Published {metric_name(metric, 20)}"].to_numpy(float)
        table[f"{metric_name(metric, 20)} vs paper %"] = 100.0 * (table[f"_{metric}@20"].to_numpy(float) - paper) / paper
    table.insert(1, "Model", [label_of(m) for m in models])
    table["_model"] = models
    return table.sort_values("_mrr@20", ascending=False).drop(columns=["_record"]).reset_index(drop=True)


def _misses(outside: dict[str, float]) -> str:
    """The metrics outside a reproduction bar and on which side of the paper they are: a miss
    above the published number is a different finding from one below it."""
    side = {name: "above" if v > 0 else "below" for name, v in outside.items()}
    if len(set(side.values())) == 1:
        return "on " + " and ".join(outside) + f", {next(iter(side.values()))} the paper"
    return "on " + " and ".join(f"{name} {where} the paper" for name, where in side.items())


def reproduction_lines(table: pd.DataFrame) -> list[str]:
    """Whether each model with a reproduction bar (:func:`~sessrec.models.registry.reproduction_bars`)
    reproduces its published numbers, one sentence per run of :func:`modern_table`, e.g. "**SR-GNN**: Recall@20
    +1.72 %, MRR@20 +1.58 % from the paper: within its 2 % bar (provisional: 1 of the 3 seeds the
    bar is judged on)"; a miss says its side, "outside its 3 % bar on MRR@20, above the paper".
    Differences are compared as shown (two decimals), so a sentence never contradicts its
    table cell; a metric with no published number is left out."""
    lines = []
    bars = reproduction_bars()
    for _, row in (table.iterrows() if not table.empty else ()):
        bar = bars.get(str(row.get("_model")))
        differences = {metric_name(m, 20): row.get(f"{metric_name(m, 20)} vs paper %") for m in MODERN_METRICS}
        differences = {name: round(float(v), 2) for name, v in differences.items() if v is not None and v == v}
        if bar is None or not differences:
            continue
        outside = {name: v for name, v in differences.items() if abs(v) > bar}
        said = ", ".join(f"{name} {v:+.2f} %" for name, v in differences.items())
        verdict = f"within its {bar:g} % bar" if not outside else f"outside its {bar:g} % bar " + _misses(outside)
        seeds = int(row["Seeds"])
        basis = (f"mean of {seeds} seeds" if seeds >= REPRODUCTION_SEEDS else
                 f"provisional: {seeds} of the {REPRODUCTION_SEEDS} seeds the bar is judged on")
        lines.append(f"**{row['Model']}**: {said} from the paper: {verdict} ({basis})")
    return lines


def modern_text_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`modern_table` as text cells for the Markdown and LaTeX exporters: one row per run,
    accuracy as mean ± std, the published numbers ("-" where none), training seconds."""
    if table.empty:
        return table
    out = pd.DataFrame({
        "Model": table["Model"], "Seeds": table["Seeds"].astype(int).astype(str),
        "Recall@20": table["Recall@20"], "MRR@20": table["MRR@20"],
        "Published Recall@20": published_cells(table["Published Recall@20"]),
        "Published MRR@20": published_cells(table["Published MRR@20"]),
        "Recall@20 vs paper": relative_cells(table["Recall@20 vs paper %"]),
        "MRR@20 vs paper": relative_cells(table["MRR@20 vs paper %"]),
        "Train s": [f"{v:,.0f}" if v == v else "-" for v in table["Train s"]],
    })
    out.index = pd.Index(table["Run"], name="Run")
    return out


def modern_verdict_lines(records: list[dict[str, Any]], dataset: str) -> list[tuple[str, bool]]:
    """RQ5 said plainly: each modern model against the best GRU4Rec run on ``dataset``.

    One ``(sentence, gru4rec_wins)`` per modern model with runs, e.g. "**NARM** (1 seed)
    against GRU4Rec (cross-entropy) (3 seeds): Recall@20 0.7120 vs 0.7090 (higher), MRR@20
    0.3028 vs 0.3133 (lower)", from :func:`rq1_verdicts` over RQ5's runs at k = 20. When the
    two metrics' best GRU4Rec runs differ, each comparison names its run.
    ``gru4rec_wins`` is True only when GRU4Rec is ahead, as shown, on both metrics.
    """
    verdicts = rq1_verdicts(summary_of(modern_runs(records, dataset)), dataset, MODERN_METRICS, (20,))
    if verdicts.empty:
        return []
    best_runs = verdicts.drop_duplicates("Metric")[["Best GRU4Rec", "GRU4Rec seeds"]]
    one_run = best_runs["Best GRU4Rec"].nunique() == 1
    against = (f"{best_runs.iloc[0]['Best GRU4Rec']} ({_seeds(best_runs.iloc[0]['GRU4Rec seeds'])})" if one_run
               else "the best GRU4Rec run of each metric")
    side_of = {"loses": "higher", "ties": "equal", "wins": "lower"}  # the modern model's side of each outcome
    out = []
    for model, rows in verdicts.groupby("Model", sort=False):
        parts = []
        for _, r in rows.iterrows():
            run = "" if one_run else f"{r['Best GRU4Rec']}, {_seeds(r['GRU4Rec seeds'])}; "
            parts.append(f"{r['Metric']} {r['Value']:.4f} vs {r['GRU4Rec']:.4f} ({run}{side_of[r['Outcome']]})")
        wins = len(rows) == len(MODERN_METRICS) and bool((rows["Outcome"] == "wins").all())
        out.append((f"**{model}** ({_seeds(rows['Seeds'].max())}) against {against}: " + ", ".join(parts), wins))
    return out


def _seeds(n: Any) -> str:
    n = int(n)
    return f"{n} seed" + ("" if n == 1 else "s")
