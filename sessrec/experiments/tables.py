"""Benchmark tables from run records (:mod:`sessrec.experiments.records`): mean ± std over
seeds, paired significance, published reference numbers beside ours, CSV/LaTeX export."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.models.registry import label_of

ACCURACY_METRICS = ("recall", "mrr", "ndcg")
METRIC_NAMES = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "hitrate": "HitRate", "coverage": "Coverage",
                "popularity": "Popularity", "diversity": "Diversity", "tied_target_share": "Tied targets"}
TIED = "tied_target_share"
TIED_COLUMN = "Tied targets"
NOT_MEASURED = "not measured"
TIES_SENTENCE = (
    "Ties: `median`, the expected rank when the target's ties are broken at random (rank = 1 + better + "
    "tied / 2). “Tied targets” is the share of test events whose true item has the same score as at least one "
    "other item: count-based baselines (MostPopular, LastItem, Item-KNN) tie often, and the `standard` mode "
    "(rank = 1 + better, which published GRU4Rec numbers use) would give them the best rank of every tie."
)


RUN_LABELS = {"gru4rec-xe": "GRU4Rec (cross-entropy)", "gru4rec-bprmax": "GRU4Rec (BPR-max)",
              "gru4rec-xe-2ep": "GRU4Rec (cross-entropy, 2 epochs)", "rq2-top1": "GRU4Rec (TOP1)",
              "rq2-top1max": "GRU4Rec (TOP1-max)"}


PUBLISHED_MODELS = {"s_pop": "S-POP", "bpr_mf": "BPR-MF", "fpmc": "FPMC", "narm": "NARM", "stamp": "STAMP",
                    "sr_gnn": "SR-GNN", "gce_gnn": "GCE-GNN"}


def pretty_label(label: str) -> str:
    """Run labels for people: model names as the app writes them (gru4rec -> GRU4Rec)."""
    label = str(label)
    return RUN_LABELS.get(label) or PUBLISHED_MODELS.get(label.lower()) or label_of(label)


def default_dataset(records: list[dict[str, Any]], wanted: str | None) -> str:
    """``wanted`` when it has runs; else the dataset with the most GRU4Rec runs (then the most runs)."""
    datasets = sorted({r["dataset"] for r in records})
    if wanted in datasets:
        return wanted
    return max(datasets, key=lambda d: (sum(is_gru4rec(r) for r in records if r["dataset"] == d),
                                        sum(r["dataset"] == d for r in records)))


def dataset_caption(records: list[dict[str, Any]], dataset: str) -> str:
    runs = [r for r in records if r["dataset"] == dataset]
    n_gru = sum(is_gru4rec(r) for r in runs)
    return f"{dataset} · {len(runs)} runs" + ("" if n_gru else " · baselines only so far")


def metric_name(metric: str, k: int | None = None) -> str:
    name = METRIC_NAMES.get(metric, metric)
    return f"{name}@{k}" if k is not None and k == k else name


@dataclass
class BenchmarkData:
    records: list[dict[str, Any]] = field(default_factory=list)  # full-ranking runs: every table but one
    sampled: list[dict[str, Any]] = field(default_factory=list)  # sampled-protocol runs (the "Sampled vs full" view)
    errors: list[dict[str, Any]] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)  # long: dataset,label,model,seed,metric,k,value
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  # aggregate(): mean,std,n
    references: pd.DataFrame = field(default_factory=pd.DataFrame)
    reference_error: str | None = None

    @property
    def empty(self) -> bool:
        return not self.records


def load(root: str | Path) -> BenchmarkData:
    from sessrec.experiments import records as rec

    root = Path(root)
    data = BenchmarkData()
    if root.is_dir():
        found = rec.load_run_records(root)
        # sampled-protocol runs are kept apart so no full-ranking table or test can include them
        data.records = rec.full_ranking_records(found)
        data.sampled = rec.sampled_records(found)
        data.errors = [r for r in found if "error" in r]
    data.table = rec.metrics_table(data.records)
    data.summary = rec.aggregate(data.table)
    try:
        data.references = rec.load_references(root / rec.REFERENCES_FILE)
    except (ValueError, OSError) as exc:
        data.references = pd.DataFrame(columns=["dataset", "model", "metric", "k", "value", "source", "protocol_note"])
        data.reference_error = str(exc)
    return data


def protocol_lines(records: list[dict[str, Any]]) -> dict[str, str]:
    """dataset -> one sentence stating the evaluation protocol its runs used."""
    out: dict[str, str] = {}
    for dataset in sorted({r["dataset"] for r in records}):
        evals = [r.get("evaluation", {}) for r in records if r["dataset"] == dataset]
        ties = sorted({str(e.get("tie_mode", "?")) for e in evals})
        mins = sorted({str(e.get("min_position", "?")) for e in evals})
        events = sorted({int(e["n_events"]) for e in evals if e.get("n_events") is not None})
        sampled = any(e.get("sampled") for e in evals)
        out[dataset] = (
            f"next-item prediction on the test split, {'SAMPLED candidates' if sampled else 'full ranking of the catalogue'}; "
            f"ties: {', '.join(ties)}; first predicted position: {', '.join(mins)}"
            + (f"; {', '.join(f'{n:,}' for n in events)} test events" if events else "")
        )
    return out


def long_summary(summary: pd.DataFrame, metrics: tuple[str, ...] | None = ACCURACY_METRICS) -> pd.DataFrame:
    """Sortable table: Dataset, Model, Metric, k, Mean, Std, Seeds."""
    frame = summary if metrics is None else summary[summary["metric"].isin(metrics)]
    out = pd.DataFrame({
        "Dataset": frame["dataset"], "Model": frame["label"].map(pretty_label), "Metric": frame["metric"].map(lambda m: METRIC_NAMES.get(m, m)),
        "k": frame["k"], "Mean": frame["mean"].astype(float), "Std": frame["std"].astype(float), "Seeds": frame["n"],
    })
    return out.sort_values(["Dataset", "Metric", "k", "Mean"], ascending=[True, True, True, False]).reset_index(drop=True)


def wide_table(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], ks: tuple[int, ...],
               digits: int = 4, tied: bool = False) -> pd.DataFrame:
    """Paper-style table for one dataset: one row per model, one column per metric@k,
    cells "mean ± std" (std omitted for a single seed); the best mean per column in bold
    markers ``**`` kept out (formatting is left to the exporter). With ``tied``, a last
    column "Tied targets" gives each model's tied-target share (mean over seeds, "not
    measured" for runs evaluated before it was recorded)."""
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & summary["k"].isin(ks)]
    rows = {}
    for (label, metric, k), group in frame.groupby(["label", "metric", "k"]):
        row = group.iloc[0]
        cell = f"{row['mean']:.{digits}f}" + (f" ± {row['std']:.{digits}f}" if row["n"] > 1 else "")
        rows.setdefault(pretty_label(label), {})[metric_name(metric, int(k))] = cell
    columns = [metric_name(m, k) for m in metrics for k in ks]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=[c for c in columns if any(c in r for r in rows.values())])
    table.index.name = "Model"
    if tied and len(table):
        shares = tied_shares(summary, dataset)
        table[TIED_COLUMN] = [shares.get(model, NOT_MEASURED) for model in table.index]
    return table


def tied_shares(summary: pd.DataFrame, dataset: str) -> dict[str, str]:
    """Pretty model label -> its tied-target share on ``dataset`` as text ("47.1%"; mean over seeds)."""
    frame = summary[(summary["dataset"] == dataset) & (summary["metric"] == TIED)]
    return {pretty_label(label): f"{mean:.1%}" for label, mean in zip(frame["label"], frame["mean"])}


def numeric_wide(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], ks: tuple[int, ...]) -> pd.DataFrame:
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & summary["k"].isin(ks)].copy()
    frame["column"] = [metric_name(m, int(k)) for m, k in zip(frame["metric"], frame["k"])]
    return frame.pivot_table(index="label", columns="column", values="mean", aggfunc="first")


def _leading_number(cell: object) -> float:
    """The mean of a "mean ± std" cell (NaN for text such as "47.1%" or "not measured")."""
    try:
        return float(str(cell).split("±")[0])
    except ValueError:
        return float("nan")


def _best_values(table: pd.DataFrame, bold: list[str] | None) -> dict[str, float]:
    """Highest mean of each column in ``bold`` (default: every column), for the exporters."""
    return {c: table[c].map(_leading_number).max() for c in (table.columns if bold is None else bold)}


def to_latex(table: pd.DataFrame, caption: str = "", label: str = "tab:results", bold: list[str] | None = None) -> str:
    """A booktabs LaTeX table of a wide table (strings); the best (highest) value of each
    column in ``bold`` (default: every column) in bold."""
    number = _leading_number
    best = _best_values(table, bold)
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * len(table.columns) + "}", r"\toprule",
             " & ".join([_tex(str(table.index.name or "Model")), *[_tex(c) for c in table.columns]]) + r" \\",
             r"\midrule"]
    for model, row in table.iterrows():
        cells = []
        for c in table.columns:
            cell = "" if pd.isna(row[c]) else _tex(str(row[c])).replace("±", r"$\pm$")
            if cell and c in best and number(row[c]) == best[c]:
                cell = r"\textbf{" + cell + "}"
            cells.append(cell)
        lines.append(" & ".join([_tex(str(model)), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(r"\caption{" + _tex(caption) + "}")
    lines += [r"\label{" + label + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_markdown(table: pd.DataFrame, bold: list[str] | None = None) -> str:
    """A Markdown table of a wide table (strings); the best (highest) value of each column in
    ``bold`` (default: every column) in bold."""
    number = _leading_number
    best = _best_values(table, bold)
    lines = ["| " + " | ".join([str(table.index.name or ""), *map(str, table.columns)]) + " |",
             "|" + "---|" * (len(table.columns) + 1)]
    for model, row in table.iterrows():
        cells = ["" if pd.isna(row[c]) else str(row[c]) for c in table.columns]
        cells = [f"**{cell}**" if cell and c in best and number(cell) == best[c] else cell
                 for cell, c in zip(cells, table.columns)]
        lines.append("| " + " | ".join([str(model), *cells]) + " |")
    return "\n".join(lines) + "\n"


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


def modern_runs(records: list[dict[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """RQ5's runs on ``dataset``: GRU4Rec's RQ1 configurations and the modern neural models."""
    return [r for r in records if r.get("dataset") == dataset
            and (r.get("model") in MODERN_MODELS or (is_gru4rec(r) and question_of(r) == "rq1"))]


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


#: the metrics of RQ5's comparisons (at k = 20, as the papers report them)
MODERN_METRICS = ("recall", "mrr")


def _seeds(n: Any) -> str:
    n = int(n)
    return f"{n} seed" + ("" if n == 1 else "s")


#: LaTeX's special characters and what prints them
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(char, char) for char in text)


def chart_frame(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], k: int) -> pd.DataFrame:
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & (summary["k"] == k)]
    return pd.DataFrame({"Model": frame["label"].map(pretty_label), "Metric": [metric_name(m, k) for m in frame["metric"]],
                         "mean": frame["mean"], "std": frame["std"]})


def curve_frame(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...]) -> pd.DataFrame:
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics)].dropna(subset=["k"])
    return pd.DataFrame({"Model": frame["label"].map(pretty_label), "metric": [metric_name(m) for m in frame["metric"]],
                         "k": frame["k"].astype(int), "mean": frame["mean"]})


def is_gru4rec(record: dict[str, Any]) -> bool:
    return str(record.get("model", "")).startswith("gru4rec")


def significance(records: list[dict[str, Any]], dataset: str, metric: str, k: int, test: str = "wilcoxon",
                 load_ranks=None) -> tuple[pd.DataFrame, list[str]]:
    """Paired test of every GRU4Rec run against every baseline run on ``dataset``.

    Pairs share the test events (same dataset and protocol); the per-event ranks come
    from the run records. Returns the table and notes about pairs that could not be tested.
    """
    from sessrec.evaluation import paired_test

    if load_ranks is None:
        from sessrec.experiments.records import load_ranks
    runs = [r for r in records if r["dataset"] == dataset]
    ours = [r for r in runs if is_gru4rec(r)]
    others = [r for r in runs if not is_gru4rec(r)]
    rows, notes = [], []
    cache: dict[str, np.ndarray | None] = {}

    def ranks(record):
        key = record["_path"]
        if key not in cache:
            try:
                cache[key] = load_ranks(record)
            except Exception as exc:  # noqa: BLE001 - a missing ranks file is a note, not a crash
                notes.append(f"{record.get('run_id')}: per-event ranks unavailable ({type(exc).__name__}: {exc})")
                cache[key] = None
        return cache[key]

    for a in ours:
        ra = ranks(a)
        if ra is None:
            continue
        for b in others:
            rb = ranks(b)
            if rb is None:
                continue
            tie_a, tie_b = (r.get("evaluation", {}).get("tie_mode") for r in (a, b))
            if tie_a != tie_b:
                notes.append(f"{a['run_id']} vs {b['run_id']}: ranks under different tie modes ({tie_a} vs {tie_b}), "
                             "not paired")
                continue
            if len(ra) != len(rb):
                notes.append(f"{a['run_id']} vs {b['run_id']}: different test events ({len(ra)} vs {len(rb)}), not paired")
                continue
            res = paired_test(ra, rb, metric, k, test)
            rows.append({
                "GRU4Rec run": a.get("run_id"), "Seed": a.get("seed"), "Baseline": pretty_label(b.get("label", b.get("model"))),
                f"{metric_name(metric, k)} GRU4Rec": res.mean_a, f"{metric_name(metric, k)} baseline": res.mean_b,
                "Difference": res.difference, "p-value": res.p_value, "Events": res.n_events,
                "Significant (p<0.05)": bool(res.p_value < 0.05),
            })
    return pd.DataFrame(rows), notes


def references_beside(summary: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """Our mean next to each published number with the same dataset, model, metric and k."""
    if references.empty:
        return pd.DataFrame()
    refs = references.copy()
    refs["_model"] = refs["model"].astype(str).str.lower().str.replace("-", "_")
    refs["_metric"] = refs["metric"].astype(str).str.lower()
    ours = summary.copy()
    ours["_model"] = ours["model"].astype(str).str.lower()
    ours["_metric"] = ours["metric"].astype(str).str.lower()
    ours = ours.groupby(["dataset", "_model", "_metric", "k"], as_index=False).agg(ours_mean=("mean", "max"), ours_label=("label", "first"))
    merged = refs.merge(ours, how="left", left_on=["dataset", "_model", "_metric", "k"], right_on=["dataset", "_model", "_metric", "k"])
    out = pd.DataFrame({
        "Dataset": merged["dataset"], "Model": [pretty_label(m) for m in merged["model"]],
        "Metric": [metric_name(m, int(k)) if k == k else metric_name(m) for m, k in zip(merged["_metric"], merged["k"])],
        "Published": merged["value"].astype(float), "Ours (best run)": merged["ours_mean"].astype(float),
        "Source": [short_source(x) for x in merged["source"]], "Full source": merged["source"],
        "Protocol note": merged["protocol_note"].fillna(""),
    })
    out["Difference"] = out["Ours (best run)"] - out["Published"]
    return out[["Dataset", "Model", "Metric", "Published", "Ours (best run)", "Difference", "Source", "Full source",
                "Protocol note"]]


def short_source(source: object, parts: int = 3) -> str:
    """"SR-GNN, Wu et al., AAAI 2019, Table 2 (...)" -> "SR-GNN, Wu et al., AAAI 2019": fits a table column."""
    text = str(source) if source == source else ""
    return ", ".join(p.strip() for p in text.split(",")[:parts])


# -- research questions ------------------------------------------------------------------
#
# Run records carry ``group`` (``main`` for RQ1; records written before the key existed
# count as ``main``) and ``label``. RQ2 (losses) and RQ3 (factors) runs are recognised by
# group or by their label prefix, and both are read against the cross-entropy reference.

BASELINES = ("most_popular", "last_item", "item_knn")
RQ2_SHARED = ("gru4rec-xe", "gru4rec-bprmax")  # the RQ1 GRU4Rec runs double as two of RQ2's losses
REFERENCE_LABEL = "gru4rec-xe"
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


def records_for(records: list[dict[str, Any]], question: str, dataset: str | None = None) -> list[dict[str, Any]]:
    """The records answering ``question`` (RQ2 adds the shared GRU4Rec runs, RQ3 the reference)."""
    out = []
    for r in records:
        if dataset is not None and r.get("dataset") != dataset:
            continue
        q = question_of(r)
        if q == question or (question == "rq2" and r.get("label") in RQ2_SHARED) \
                or (question == "rq3" and r.get("label") == REFERENCE_LABEL):
            out.append(r)
    return out


def datasets_with(records: list[dict[str, Any]], question: str) -> list[str]:
    return sorted({r["dataset"] for r in records if question_of(r) == question})


def summary_of(records: list[dict[str, Any]]) -> pd.DataFrame:
    from sessrec.experiments import records as rec

    return rec.aggregate(rec.metrics_table(records))


def training_speed(record: dict[str, Any]) -> float | None:
    """Mean training events per second over the epochs of a run (None for the baselines)."""
    log = record.get("training_log") or []
    values = [e.get("events_per_s", e.get("events_per_second")) for e in log if isinstance(e, dict)]
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else None


def training_seconds(record: dict[str, Any]) -> float | None:
    """What training a run cost: the seconds of its training epochs summed, the epoch
    selection included (``train_seconds_epochs``, else the epoch logs); its wall time for
    models trained without epochs (the kNN models, rules and baselines). The wall time of a
    run resumed across processes covers the last process only, so the sum is preferred."""
    epochs = record.get("train_seconds_epochs")
    if epochs:
        return float(epochs)
    logged = [e.get("seconds") for log in ("training_log", "selection_log") for e in record.get(log) or []
              if isinstance(e, dict)]
    if logged and all(isinstance(v, (int, float)) for v in logged):
        return float(sum(logged))
    wall = record.get("train_seconds")
    return None if wall is None else float(wall)


def _mean_std(values: list[float], digits: int = 4) -> str:
    values = [v for v in values if v == v]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def run_table(records: list[dict[str, Any]], metrics: tuple[tuple[str, int], ...] = (("recall", 20), ("mrr", 20)),
              ) -> pd.DataFrame:
    """One row per label: seeds, the metrics as mean ± std over seeds, training seconds
    (:func:`training_seconds`) and events/s (means over seeds). Numeric helper columns
    ``_<metric>@<k>`` carry the means."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_label.setdefault(str(r.get("label", r.get("model"))), []).append(r)
    rows = []
    for label, runs in by_label.items():
        row: dict[str, Any] = {"Run": label, "Seeds": len(runs)}
        for metric, k in metrics:
            vals = [float(r["evaluation"]["metrics"].get(f"{metric}@{k}", float("nan"))) for r in runs]
            row[metric_name(metric, k)] = _mean_std(vals)
            row[f"_{metric}@{k}"] = float(np.nanmean(vals)) if any(v == v for v in vals) else float("nan")
        secs = [s for s in (training_seconds(r) for r in runs) if s is not None]
        speed = [s for s in (training_speed(r) for r in runs) if s is not None]
        row["Train s"] = float(np.mean(secs)) if secs else float("nan")
        row["Events/s"] = float(np.mean(speed)) if speed else float("nan")
        row["_record"] = runs[0]
        rows.append(row)
    return pd.DataFrame(rows)


#: the modern neural comparators of RQ5, and their names in results/reference_numbers.csv
MODERN_MODELS = {"narm": "narm", "sasrec": "sasrec", "srgnn": "sr_gnn"}


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
    for metric in ("recall", "mrr"):
        table[f"Published {metric_name(metric, 20)}"] = [
            published.get((MODERN_MODELS.get(m, m), metric, 20), float("nan")) for m in models]
    for metric in ("recall", "mrr"):  # relative to the paper, as the reproduction bars are stated
        paper = table[f"Published {metric_name(metric, 20)}"].to_numpy(float)
        table[f"{metric_name(metric, 20)} vs paper %"] = 100.0 * (table[f"_{metric}@20"].to_numpy(float) - paper) / paper
    table.insert(1, "Model", [label_of(m) for m in models])
    return table.sort_values("_mrr@20", ascending=False).drop(columns=["_record"]).reset_index(drop=True)


def published_cells(values) -> list[str]:
    """Published numbers as table cells: 4 decimals, "-" where the paper has none for the model."""
    return [f"{v:.4f}" if v == v else "-" for v in values]


def relative_cells(percents) -> list[str]:
    """Relative differences as table cells ("+1.7 %"), "-" where there is no published number."""
    return [f"{v:+.1f} %" if v == v else "-" for v in percents]


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
    ref_rows = table[table["Run"] == REFERENCE_LABEL]
    reference = (ref_rows.iloc[0]["_record"].get("hyperparameters") or {}) if len(ref_rows) else None
    factors, values = [], []
    for _, row in table.iterrows():
        hp = row["_record"].get("hyperparameters") or {}
        if row["Run"] == REFERENCE_LABEL or reference is None:
            factors.append("(reference)" if row["Run"] == REFERENCE_LABEL else "?")
            values.append("")
            continue
        changes = factor_changes(reference, hp)
        factors.append(", ".join(FACTORS.get(k, k) for k, _, _ in changes) or "(no change)")
        values.append(", ".join(f"{_value(a)} → {_value(b)}" for _, a, b in changes))
    table.insert(1, "Factor", factors)
    table.insert(2, "Change", values)
    for metric in ("recall@20", "mrr@20"):
        ref = float(ref_rows.iloc[0][f"_{metric}"]) if len(ref_rows) else float("nan")
        table[f"Δ {metric_name(*metric.split('@'))}"] = table[f"_{metric}"] - ref
    ref_secs = float(ref_rows.iloc[0]["Train s"]) if len(ref_rows) else float("nan")
    table["Time × ref"] = table["Train s"] / ref_secs
    table["_order"] = [("0" if f == "(reference)" else "1" + f) for f in factors]
    table["_point"] = [f"{r} (reference)" if f == "(reference)" else f"{f}: {v}" for r, f, v in zip(table["Run"], factors, values)]
    return table.sort_values(["_order", "Run"]).drop(columns=["_record", "_order"]).reset_index(drop=True)


def visible_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if not str(c).startswith("_")]


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
            is_gru = group["model"].astype(str).str.startswith("gru4rec")
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


#: decimals the tables show; verdicts compare means at this precision, so that a sentence
#: never says "beats (0.7120 vs 0.7120)"
SHOWN_DIGITS = 4


def compare_shown(a: float, b: float) -> str:
    """``higher``, ``equal`` or ``lower``: ``a`` against ``b`` as the tables show them
    (``n/a`` when either is not a finite number)."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return "n/a"
    a, b = float(f"{a:.{SHOWN_DIGITS}f}"), float(f"{b:.{SHOWN_DIGITS}f}")
    return "higher" if a > b else "equal" if a == b else "lower"


def significance_summary(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per-run paired tests (:func:`significance`) folded over seeds: one row per GRU4Rec
    configuration and baseline, with the mean difference, the largest p-value over seeds
    and in how many seeds the difference is significant (in its own direction)."""
    if table.empty:
        return table
    value_cols = [c for c in table.columns if c.endswith(" GRU4Rec") or c.endswith(" baseline")]
    rows = []
    for (label, baseline), g in table.groupby(["GRU4Rec", "Baseline"], sort=False):
        sig = g["p-value"] < alpha
        wins = (g["Difference"] > 0) & sig
        losses = (g["Difference"] < 0) & sig
        verdict = (f"better in {wins.sum()}/{len(g)} seeds" if wins.any() else "") + \
                  (("; " if wins.any() else "") + f"WORSE in {losses.sum()}/{len(g)} seeds" if losses.any() else "")
        rows.append({"GRU4Rec": label, "Baseline": baseline, **{c: g[c].mean() for c in value_cols},
                     "Difference": g["Difference"].mean(), "Largest p": g["p-value"].max(),
                     "Seeds": len(g), "Verdict (p<0.05)": verdict or "no significant difference"})
    return pd.DataFrame(rows)


def significance_by_k(records: list[dict[str, Any]], dataset: str, metric: str, ks: tuple[int, ...],
                      test: str = "wilcoxon", load_ranks=None) -> tuple[pd.DataFrame, list[str]]:
    """RQ1 significance at every k: GRU4Rec configurations (RQ1 runs) against each baseline."""
    runs = [r for r in records_for(records, "rq1", dataset)]
    frames, notes = [], []
    for k in ks:
        table, n = significance(runs, dataset, metric, k, test, load_ranks=load_ranks)
        notes += [x for x in n if x not in notes]
        if table.empty:
            continue
        table = table.rename(columns={"GRU4Rec run": "Run"})
        table["GRU4Rec"] = [pretty_label(str(r).rsplit("-seed", 1)[0]) for r in table["Run"]]
        table = table.rename(columns={f"{metric_name(metric, k)} GRU4Rec": "mean GRU4Rec",
                                      f"{metric_name(metric, k)} baseline": "mean baseline"})
        folded = significance_summary(table)
        folded.insert(0, "k", k)
        frames.append(folded)
    if not frames:
        return pd.DataFrame(), notes
    return pd.concat(frames, ignore_index=True), notes


def breakdown_frame(records: list[dict[str, Any]], dataset: str, by: str, metric: str, k: int) -> pd.DataFrame:
    """RQ4: ``metric@k`` by position in the session or by target popularity, every RQ1 model
    of ``dataset`` (mean over seeds), via :func:`sessrec.experiments.analysis.breakdown`."""
    from sessrec.experiments.analysis import breakdown

    runs = records_for(records, "rq1", dataset)
    frame = breakdown(runs, by=by, metric=metric, k=k)
    if frame.empty:
        return frame
    frame = frame.copy()
    frame["Model"] = frame["label"].map(pretty_label)
    return frame


def protocol_details(records: list[dict[str, Any]], dataset: str) -> dict[str, Any]:
    """What the runs on ``dataset`` were evaluated on, read from their ``evaluation`` blocks."""
    evals = [r.get("evaluation", {}) for r in records if r.get("dataset") == dataset]

    def values(key):
        return sorted({e.get(key) for e in evals if e.get(key) is not None}, key=str)

    relabelled = [r for r in records if r.get("dataset") == dataset and r.get("tie_mode_note")]
    return {"tie_mode": values("tie_mode"), "min_position": values("min_position"), "n_events": values("n_events"),
            "n_relabelled": len(relabelled),
            "n_sessions": values("n_sessions"), "n_items": values("n_items"),
            "n_test_events_raw": values("n_test_events_raw"), "n_unknown_items_removed": values("n_unknown_items_removed"),
            "n_sessions_dropped": values("n_sessions_dropped"), "sampled": any(e.get("sampled") for e in evals)}


def protocol_markdown(records: list[dict[str, Any]], dataset: str) -> str:
    d = protocol_details(records, dataset)

    def show(key, fmt="{:,}"):
        vals = d[key]
        return " / ".join(fmt.format(v) if isinstance(v, (int, float)) else str(v) for v in vals) if vals else "not recorded"

    first = d["min_position"]
    positions = f"every position p ≥ {show('min_position')}" + (
        " (the published protocol for this dataset starts at the third click)" if first and min(first) >= 2 else "")
    ranking = "**sampled candidates** (not comparable with full-ranking numbers)" if d["sampled"] else \
        f"**full ranking** of all {show('n_items')} training items, never sampled (runs of the sampled protocol " \
        "appear only in the *Sampled vs full* tab)"
    ties = f"Ties: `{show('tie_mode', '{}')}`" + (
        " (the expected rank under random tie-breaking; published GRU4Rec numbers use `standard`)"
        if d["tie_mode"] == ["median"] else "") + ". "
    if d["n_relabelled"]:
        ties += (f"{d['n_relabelled']} GRU4Rec runs were evaluated with `standard` ties before tied targets were "
                 "counted and are re-labelled `median`: their scores are continuous, and retrained seeds had almost "
                 "no tied target and identical metrics in both modes (each record carries a note). ")
    return (
        f"**Evaluation protocol on {dataset}.** Next-item prediction: at {positions} of every test session the model "
        f"has read the clicks before p and ranks the whole catalogue; the rank of the true item p is kept. "
        f"Ranking: {ranking}. {ties}"
        f"Test items unseen in training are removed before evaluation and counted: **{show('n_unknown_items_removed')}** "
        f"of {show('n_test_events_raw')} test events removed, **{show('n_sessions_dropped')}** sessions dropped as too short; "
        f"**{show('n_events')}** predictions over {show('n_sessions')} sessions remain. "
        "Recall@k = HitRate@k (one target per event); MRR@k is 0 beyond k. "
        "GRU4Rec: mean ± standard deviation over seeds; the baselines are deterministic (one run)."
    )


def best_style(table: pd.DataFrame, columns: list[str] | None = None, higher: bool = True):
    """Styler: the best value of each column (mean of "mean ± std" cells) bold on a green tint."""
    def number(cell) -> float:
        if isinstance(cell, (int, float, np.number)):
            return float(cell)
        try:
            return float(str(cell).split("±")[0])
        except ValueError:
            return float("nan")

    def column_style(col: pd.Series) -> list[str]:
        values = col.map(number)
        best = values.max() if higher else values.min()
        return ["font-weight: bold; background-color: rgba(55, 178, 77, 0.18)" if v == best else "" for v in values]

    return table.style.apply(column_style, axis=0, subset=columns)


def significance_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The folded significance table (:func:`significance_by_k`) as GRU4Rec × baseline rows and
    one column per k: the mean difference, ▲ significantly better in every seed, ▼ significantly
    worse in every seed, ○ otherwise (not significant, or not in every seed)."""
    if table.empty:
        return table

    def cell(row) -> str:
        verdict = str(row["Verdict (p<0.05)"])
        seeds = int(row["Seeds"])
        if verdict == f"better in {seeds}/{seeds} seeds":
            mark = "▲"
        elif verdict == f"WORSE in {seeds}/{seeds} seeds":
            mark = "▼"
        else:
            mark = "○"
        return f"{row['Difference']:+.4f} {mark}"

    out = table.assign(cell=table.apply(cell, axis=1)).pivot_table(
        index=["GRU4Rec", "Baseline"], columns="k", values="cell", aggfunc="first")
    out.columns = [f"k={k}" for k in out.columns]
    return out


def significance_style(matrix: pd.DataFrame):
    def colour(cell) -> str:
        text = str(cell)
        if text.endswith("▲"):
            return "color: #2b8a3e; font-weight: bold"
        if text.endswith("▼"):
            return "color: #c92a2a; font-weight: bold"
        return "color: #868e96"

    return matrix.style.map(colour)


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
