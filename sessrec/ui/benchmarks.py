"""Benchmark tables from run records (:mod:`sessrec.experiments.records`): mean ± std over
seeds, paired significance, published reference numbers beside ours, CSV/LaTeX export."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.ui.models import label_of

ACCURACY_METRICS = ("recall", "mrr", "ndcg")
METRIC_NAMES = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "hitrate": "HitRate", "coverage": "Coverage",
                "popularity": "Popularity", "diversity": "Diversity"}


def pretty_label(label: str) -> str:
    """Run labels for people: model names as the app writes them (gru4rec -> GRU4Rec)."""
    return label_of(str(label))


def metric_name(metric: str, k: int | None = None) -> str:
    name = METRIC_NAMES.get(metric, metric)
    return f"{name}@{k}" if k is not None and k == k else name


@dataclass
class BenchmarkData:
    records: list[dict[str, Any]] = field(default_factory=list)
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
        data.records = [r for r in found if "error" not in r]
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
               digits: int = 4) -> pd.DataFrame:
    """Paper-style table for one dataset: one row per model, one column per metric@k,
    cells "mean ± std" (std omitted for a single seed); the best mean per column in bold
    markers ``**`` kept out (formatting is left to the exporter)."""
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & summary["k"].isin(ks)]
    rows = {}
    for (label, metric, k), group in frame.groupby(["label", "metric", "k"]):
        row = group.iloc[0]
        cell = f"{row['mean']:.{digits}f}" + (f" ± {row['std']:.{digits}f}" if row["n"] > 1 else "")
        rows.setdefault(pretty_label(label), {})[metric_name(metric, int(k))] = cell
    columns = [metric_name(m, k) for m in metrics for k in ks]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=[c for c in columns if any(c in r for r in rows.values())])
    table.index.name = "Model"
    return table


def numeric_wide(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], ks: tuple[int, ...]) -> pd.DataFrame:
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & summary["k"].isin(ks)].copy()
    frame["column"] = [metric_name(m, int(k)) for m, k in zip(frame["metric"], frame["k"])]
    return frame.pivot_table(index="label", columns="column", values="mean", aggfunc="first")


def highlight_best(table: pd.DataFrame):
    """A Styler that puts the best mean of every column in bold (for st.dataframe)."""
    def number(cell) -> float:
        try:
            return float(str(cell).split("±")[0])
        except ValueError:
            return float("nan")

    def column_style(col: pd.Series) -> list[str]:
        values = col.map(number)
        return ["font-weight: bold" if v == values.max() else "" for v in values]

    return table.style.apply(column_style, axis=0)


def to_latex(table: pd.DataFrame, caption: str = "", label: str = "tab:results") -> str:
    """A booktabs LaTeX table of a wide table (strings); the best value per column in bold."""
    def number(cell: str) -> float:
        try:
            return float(str(cell).split("±")[0])
        except ValueError:
            return float("nan")

    best = {c: table[c].map(number).max() for c in table.columns}
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * len(table.columns) + "}", r"\toprule",
             " & ".join(["Model", *[_tex(c) for c in table.columns]]) + r" \\", r"\midrule"]
    for model, row in table.iterrows():
        cells = []
        for c in table.columns:
            cell = "" if pd.isna(row[c]) else str(row[c]).replace("±", r"$\pm$")
            if cell and number(row[c]) == best[c]:
                cell = r"\textbf{" + cell + "}"
            cells.append(cell)
        lines.append(" & ".join([_tex(str(model)), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(r"\caption{" + _tex(caption) + "}")
    lines += [r"\label{" + label + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("@", "@")):
        text = text.replace(a, b)
    return text


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
        "Dataset": merged["dataset"], "Model": [label_of(m) for m in merged["model"]],
        "Metric": [metric_name(m, int(k)) if k == k else metric_name(m) for m, k in zip(merged["_metric"], merged["k"])],
        "Published": merged["value"].astype(float), "Ours (best run)": merged["ours_mean"].astype(float),
        "Source": merged["source"], "Protocol note": merged["protocol_note"].fillna(""),
    })
    out["Difference"] = out["Ours (best run)"] - out["Published"]
    return out
