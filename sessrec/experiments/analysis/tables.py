"""Benchmark tables from run records (:mod:`sessrec.experiments.records`): labels, mean ±
std over seeds, the evaluation protocol in words, published reference numbers beside ours,
Markdown/LaTeX export and chart frames. The research questions are read from these tables
in :mod:`sessrec.experiments.analysis.questions`, the paired tests in
:mod:`sessrec.experiments.analysis.significance`."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.models.registry import is_subject, label_of

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


#: the benchmark configs: each model entry's optional "name" is how its runs are shown
CONFIG_DIR = Path(__file__).resolve().parents[3] / "benchmarks"


@functools.lru_cache(maxsize=4)
def config_entries(config_dir: Path = CONFIG_DIR) -> tuple[dict[str, Any], ...]:
    """Every benchmark config under ``config_dir`` (``*.json``, not the generated ``tuned/``), read once."""
    out = []
    for path in sorted(Path(config_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append(data)
    return tuple(out)


def run_names(config_dir: Path = CONFIG_DIR) -> dict[str, str]:
    """Run label -> display name, from the ``name`` of the configs' model entries."""
    return {str(m["label"]): str(m["name"]) for config in config_entries(config_dir)
            for m in config.get("models", []) if isinstance(m, dict) and m.get("name") and m.get("label")}


PUBLISHED_MODELS = {"s_pop": "S-POP", "bpr_mf": "BPR-MF", "fpmc": "FPMC", "narm": "NARM", "stamp": "STAMP",
                    "sr_gnn": "SR-GNN", "gce_gnn": "GCE-GNN"}


def pretty_label(label: str) -> str:
    """Run labels for people: model names as the app writes them (gru4rec -> GRU4Rec)."""
    label = str(label)
    if label.endswith("-tuned"):  # a refit of `sessrec tune`'s best setting
        base = pretty_label(label.removesuffix("-tuned"))
        return f"{base[:-1]}, tuned)" if base.endswith(")") else f"{base} (tuned)"
    return run_names().get(label) or PUBLISHED_MODELS.get(label.lower()) or label_of(label)


def default_dataset(records: list[dict[str, Any]], wanted: str | None) -> str:
    """``wanted`` when it has runs; else the dataset with the most GRU4Rec runs (then the most runs)."""
    datasets: list[str] = sorted({r["dataset"] for r in records})
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
    """Sortable table: Dataset, Model, Run label, Metric, k, Mean, Std, Seeds."""
    frame = summary if metrics is None else summary[summary["metric"].isin(metrics)]
    out = pd.DataFrame({
        "Dataset": frame["dataset"], "Model": frame["label"].map(pretty_label), "Run label": frame["label"],
        "Metric": frame["metric"].map(lambda m: METRIC_NAMES.get(m, m)),
        "k": frame["k"], "Mean": frame["mean"].astype(float), "Std": frame["std"].astype(float), "Seeds": frame["n"],
    })
    # the headline metric first (MRR@20, then Recall, NDCG), large cut-offs first, best model first
    order = {name: i for i, name in enumerate(["MRR", "Recall", "NDCG"])}
    out = out.assign(_order=out["Metric"].map(lambda m: order.get(m, len(order))))
    out = out.sort_values(["Dataset", "_order", "Metric", "k", "Mean"], ascending=[True, True, True, False, False])
    return out.drop(columns="_order").reset_index(drop=True)


def wide_table(summary: pd.DataFrame, dataset: str, metrics: tuple[str, ...], ks: tuple[int, ...],
               digits: int = 4, tied: bool = False) -> pd.DataFrame:
    """Paper-style table for one dataset: one row per model, one column per metric@k,
    cells "mean ± std" (std omitted for a single seed); the best mean per column in bold
    markers ``**`` kept out (formatting is left to the exporter). With ``tied``, a last
    column "Tied targets" gives each model's tied-target share (mean over seeds, "not
    measured" for runs evaluated before it was recorded)."""
    frame = summary[(summary["dataset"] == dataset) & summary["metric"].isin(metrics) & summary["k"].isin(ks)]
    rows: dict[str, dict[str, str]] = {}
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


def ranked_by(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """``table`` (cells "mean ± std") best first by ``column``'s means; rows without a number last."""
    if column not in table.columns:
        return table
    descending = (-table[column].map(_leading_number)).fillna(np.inf).to_numpy()
    return table.iloc[np.argsort(descending, kind="stable")]


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
    """Whether the record is a run of the workbench's subject model (GRU4Rec)."""
    return is_subject(record.get("model"))


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


def summary_of(records: list[dict[str, Any]]) -> pd.DataFrame:
    from sessrec.experiments import records as rec

    return rec.aggregate(rec.metrics_table(records))


def training_speed(record: dict[str, Any]) -> float | None:
    """Mean training events per second over the epochs of a run (None for the baselines)."""
    log = record.get("training_log") or []
    values: list[Any] = [e.get("events_per_s", e.get("events_per_second")) for e in log if isinstance(e, dict)]
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
    logged: list[Any] = [e.get("seconds") for log in ("training_log", "selection_log") for e in record.get(log) or []
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


def cost_frame(records: list[dict[str, Any]], timings: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """Run (display name), Train s, Cost from, _recall@20, _mrr@20: every configuration of
    ``records`` with a training cost, cheapest first. ``timings`` (label -> entry of
    ``sessrec timing``, :mod:`sessrec.experiments.runs.timing`): a timed configuration's cost
    is its CPU seconds of one run; the others keep their records' :func:`training_seconds`
    (mean over seeds), and "Cost from" says which."""
    columns = ["Run", "Train s", "Cost from", "_recall@20", "_mrr@20"]
    table = run_table(records)
    if table.empty:
        return pd.DataFrame(columns=columns)
    out = table[["Run", "Train s", "_recall@20", "_mrr@20"]].copy()
    timed = {label: float(entry["cpu_seconds"]) for label, entry in (timings or {}).items()
             if isinstance(entry, dict) and isinstance(entry.get("cpu_seconds"), (int, float))}
    out["Cost from"] = [TIMED if label in timed else FROM_RECORDS for label in out["Run"]]
    out["Train s"] = [timed.get(label, seconds) for label, seconds in zip(out["Run"], out["Train s"])]
    out["Run"] = out["Run"].map(pretty_label)
    return out[out["Train s"] > 0][columns].sort_values("Train s").reset_index(drop=True)


#: where a cost-accuracy point's training cost comes from
TIMED = "timed: CPU s of one run, one thread (sessrec timing)"
FROM_RECORDS = "run records: training s beside other jobs"


def published_cells(values) -> list[str]:
    """Published numbers as table cells: 4 decimals, "-" where the paper has none for the model."""
    return [f"{v:.4f}" if v == v else "-" for v in values]


def relative_cells(percents) -> list[str]:
    """Relative differences as table cells ("+1.72 %"), "-" where there is no published number.
    Two decimals, so that a difference of 2.96 % does not read as the 3 % of a bar."""
    return [f"{v:+.2f} %" if v == v else "-" for v in percents]


def visible_columns(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if not str(c).startswith("_")]


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


def record_tables_markdown(records: list[dict[str, Any]], k: int = 20) -> str:
    """One Markdown table per dataset of the full-ranking ``records`` (the README's tables):
    Recall@k and MRR@k as mean ± std over seeds (the best in bold), the share of test events
    whose target is tied with another item ("n/m": not measured), the tie mode, the number of
    seeds, mean training seconds (every epoch, the choice of epochs included) and evaluation
    seconds; rows by MRR@k, best first."""
    from sessrec.experiments.records import TIED_SHARE, aggregate, full_ranking_records, metrics_table

    records = full_ranking_records(records)
    if not records:
        return ""
    summary = aggregate(metrics_table(records))
    table = summary[summary["k"] == k]
    timing = pd.DataFrame([{"dataset": r["dataset"], "label": r["label"], "train_s": training_seconds(r),
                            "eval_s": r["evaluation"]["seconds"]} for r in records])
    timing = timing.groupby(["dataset", "label"]).mean()
    tied = summary[summary["metric"] == TIED_SHARE].set_index(["dataset", "label"])["mean"]
    ties: dict[tuple[str, str], set[str]] = {}
    for r in records:
        ties.setdefault((r["dataset"], r["label"]), set()).add(r["evaluation"].get("tie_mode", "?"))
    parts = []
    for dataset, part in table.groupby("dataset"):
        lines = [f"**{dataset}** (k = {k})", "",
                 f"| model | Recall@{k} | MRR@{k} | tied | ties | seeds | train s | eval s |",
                 "|---|---|---|---|---|---|---|---|"]
        wide = part.pivot_table(index="label", columns="metric", values=["mean", "std", "n"])
        best = {m: wide[("mean", m)].max() for m in ("recall", "mrr")}
        for label in wide.sort_values(("mean", "mrr"), ascending=False).index:
            cells = []
            for m in ("recall", "mrr"):
                mean, std = wide.loc[label, ("mean", m)], wide.loc[label, ("std", m)]
                text = f"{mean:.4f} ± {std:.4f}" if wide.loc[label, ("n", m)] > 1 else f"{mean:.4f}"
                cells.append(f"**{text}**" if mean == best[m] else text)
            t = timing.loc[(dataset, label)]
            share = f"{tied.loc[(dataset, label)]:.1%}" if (dataset, label) in tied.index else "n/m"
            mode = "/".join(sorted(ties[(dataset, label)]))
            lines.append(f"| {label} | {cells[0]} | {cells[1]} | {share} | {mode} | "
                         f"{int(wide.loc[label, ('n', 'mrr')])} | {t['train_s']:.1f} | {t['eval_s']:.1f} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)

