"""What the README and the documentation site show, generated from the run records and the registry.

``python -m sessrec docs`` writes these (and ``--check`` fails when a committed copy has
drifted from the records), so no number in the README is typed by hand:

* :func:`headline_markdown`: one verdict sentence per dataset and one table (RQ1 at 20,
  each dataset in its default settings view, GRU4Rec's configurations beside the best model);
* :func:`headline_svg`: one figure, every configuration's MRR@20 per dataset, GRU4Rec marked;
* :func:`models_markdown`: the model reference page, one entry per registered model.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sessrec.experiments.analysis import questions, tables
from sessrec.models.registry import FAMILIES, SPECS, colour_of, is_subject

METRIC_K = 20


@dataclass(frozen=True)
class Standing:
    """One configuration (run label) on one dataset: mean metrics over its seeds and its rank."""

    label: str
    model: str
    recall: float
    mrr: float
    seeds: int
    rank: int  #: by MRR@20 among the dataset's configurations, 1 = best


@dataclass(frozen=True)
class DatasetHeadline:
    dataset: str
    view: str  #: the RQ1 settings view the dataset is shown in
    missing: list[str]  #: tunable labels without a tuned run yet (why the view is not "tuned")
    standings: list[Standing]  #: best MRR@20 first

    @property
    def best(self) -> Standing:
        return self.standings[0]

    @property
    def subject(self) -> list[Standing]:
        return [s for s in self.standings if is_subject(s.model)]


def headlines(records: list[dict[str, Any]]) -> list[DatasetHeadline]:
    """RQ1 at k = 20 on every dataset with results, each in its default settings view."""
    out = []
    for dataset in sorted({str(r["dataset"]) for r in records}):
        view = questions.settings_view(records, dataset, questions.default_settings_view(records, dataset))
        if not view.records:
            continue
        summary = tables.summary_of(view.records)
        rows = summary[(summary["k"] == METRIC_K) & summary["metric"].isin(["recall", "mrr"])]
        wide = rows.pivot_table(index=["label", "model"], columns="metric", values=["mean", "n"])
        ordered = wide.sort_values(("mean", "mrr"), ascending=False)
        standings = [Standing(str(label), str(model), float(row[("mean", "recall")]), float(row[("mean", "mrr")]),
                              int(row[("n", "mrr")]), rank)
                     for rank, ((label, model), row) in enumerate(ordered.iterrows(), start=1)]
        missing = questions.settings_view(records, dataset, "tuned").missing
        out.append(DatasetHeadline(dataset, view.view, list(missing), standings))
    return out


def _pair(s: Standing) -> str:
    return f"{s.recall:.4f} / {s.mrr:.4f}"


def _view_text(h: DatasetHeadline) -> str:
    if h.view == "tuned":
        return "tuned, equal budget"
    if not h.missing:
        return "published settings"
    names = ", ".join(tables.pretty_label(label) for label in h.missing)
    plural = "s" if len(h.missing) > 1 else ""
    return f"published settings; equal-budget tuning unfinished, no tuned run yet for {len(h.missing)} configuration{plural} ({names})"


def cost_frames(records: list[dict[str, Any]],
                timings: dict[str, dict[str, dict[str, Any]]]) -> dict[str, pd.DataFrame]:
    """Dataset -> :func:`tables.cost_frame` of its full-ranking configurations (datasets with at
    least one cost), in name order; ``timings``: dataset -> label -> ``sessrec timing`` entry."""
    full = [r for r in records if not r.get("evaluation", {}).get("sampled")]
    frames = {d: tables.cost_frame([r for r in full if r["dataset"] == d], timings.get(d, {}))
              for d in sorted({str(r["dataset"]) for r in full})}
    return {d: frame for d, frame in frames.items() if not frame.empty}


def _training_costs(frame: pd.DataFrame | None) -> dict[str, tuple[float, bool]]:
    """Display name -> (training cost in seconds, timed or not), from one dataset's cost frame."""
    if frame is None:
        return {}
    return {str(row[0]): (float(row[1]), row[2] == tables.TIMED) for row in frame.itertuples(index=False)}


def _cost_cell(name: str, costs: dict[str, tuple[float, bool]]) -> str:
    if name not in costs:
        return "-"
    seconds, timed = costs[name]
    return f"{seconds:,.0f} s" + ("" if timed else " (records)")


def headline_markdown(records: list[dict[str, Any]], timings: dict[str, dict[str, dict[str, Any]]] | None = None) -> str:
    """The verdict sentences and the table (see the module docstring); ``timings`` (dataset ->
    label -> ``sessrec timing`` entry) give the table's training costs where they were timed."""
    heads = headlines(records)
    if not heads:
        return "No run records yet (`python -m sessrec benchmark`)."
    sentences = []
    for h in heads:
        n = len(h.standings)
        if h.subject and h.subject[0].rank == 1:
            verdict = f"GRU4Rec is best on MRR@{METRIC_K} ({pretty(h.best.label)} {_pair(h.best)})"
            by_recall = max(h.standings, key=lambda s: s.recall)
            if not is_subject(by_recall.model):
                verdict += f", {pretty(by_recall.label)} on Recall@{METRIC_K} ({_pair(by_recall)})"
        elif h.subject:
            top = h.subject[0]
            ahead = [pretty(x.label) for x in h.standings if x.rank < top.rank]
            verdict = (f"GRU4Rec **loses**: {pretty(h.best.label)} is best ({_pair(h.best)}); GRU4Rec's best "
                       f"configuration, {pretty(top.label)}, ranks {ordinal(top.rank)} of {n}, behind "
                       f"{', '.join(ahead)}")
        else:
            verdict = f"no GRU4Rec run yet; {pretty(h.best.label)} is best ({_pair(h.best)})"
        sentences.append(f"- **{h.dataset}** ({_view_text(h)}): {verdict}.")
    header = (f"| dataset | settings | best configuration (Recall@{METRIC_K} / MRR@{METRIC_K}) | "
              f"GRU4Rec configurations (Recall@{METRIC_K} / MRR@{METRIC_K}, rank by MRR@{METRIC_K}) | "
              "training cost of one run (best / GRU4Rec's best) | configurations |")
    lines = [header, "|---|---|---|---|---|---|"]
    frames = cost_frames(records, timings or {})
    for h in heads:
        ours = "; ".join(f"{pretty(s.label)} {_pair(s)} ({ordinal(s.rank)})" for s in h.subject) or "-"
        costs = _training_costs(frames.get(h.dataset))
        cost = _cost_cell(pretty(h.best.label), costs)
        if h.subject and h.subject[0].label != h.best.label:
            cost += f" / {_cost_cell(pretty(h.subject[0].label), costs)}"
        lines.append(f"| {h.dataset} | {_view_text(h)} | {pretty(h.best.label)} {_pair(h.best)} | {ours} | "
                     f"{cost} | {len(h.standings)} |")
    note = ("Training cost: CPU seconds of one training run on all of train, one thread "
            "(`python -m sessrec timing`; [every configuration](docs/reference/costs.md)); "
            "\"(records)\": not timed yet, the run records' training seconds beside other jobs.")
    return "\n".join(sentences) + "\n\n" + "\n".join(lines) + "\n\n" + note


def pretty(label: str) -> str:
    """A run label for people: the model's display name where the label is the model's name."""
    return tables.pretty_label(label)


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def headline_svg(records: list[dict[str, Any]], width: int = 760) -> str:
    """Every configuration's MRR@20 per dataset as dots on one axis; GRU4Rec's in its colour."""
    heads = headlines(records)
    row_h, left, right, top = 46, 130, 160, 40
    height = top + row_h * max(len(heads), 1) + 40
    values = [s.mrr for h in heads for s in h.standings] or [0.0, 1.0]
    low, high = 0.0, max(values) * 1.08
    x = lambda v: left + (width - left - right) * (v - low) / (high - low)  # noqa: E731
    subject_colour = next((colour_of(s.label) for s in SPECS.values() if s.subject), None) or "#be0032"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="20" font-size="14" font-weight="bold">MRR@{METRIC_K} of every configuration '
             f'(mean over seeds; full ranking, median ties)</text>']
    step = 0.05 if high <= 0.5 else 0.1
    tick = 0.0
    while tick <= high:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{height - 34}" stroke="#e9ecef"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 20}" text-anchor="middle" fill="#495057">{tick:.2f}</text>')
        tick = round(tick + step, 10)
    for i, h in enumerate(heads):
        y = top + row_h * i + row_h / 2
        parts.append(f'<text x="{left - 10}" y="{y + 4:.1f}" text-anchor="end">{html.escape(h.dataset)}</text>')
        for s in sorted(h.standings, key=lambda s: is_subject(s.model)):  # GRU4Rec drawn last, on top
            mine = is_subject(s.model)
            colour = subject_colour if mine else "#adb5bd"
            radius = 6 if mine else 4
            parts.append(f'<circle cx="{x(s.mrr):.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}" fill-opacity="0.85">'
                         f'<title>{html.escape(pretty(s.label))}: {s.mrr:.4f}</title></circle>')
        parts.append(f'<text x="{x(h.best.mrr) + 8:.1f}" y="{y - 8:.1f}" fill="#212529">'
                     f'{html.escape(pretty(h.best.label))}</text>')
    legend_y = height - 6
    parts.append(f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="6" fill="{subject_colour}"/>'
                 f'<text x="{left + 16}" y="{legend_y}">GRU4Rec</text>'
                 f'<circle cx="{left + 96}" cy="{legend_y - 4}" r="4" fill="#adb5bd"/>'
                 f'<text x="{left + 106}" y="{legend_y}">every other configuration (best one named)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def models_markdown() -> str:
    """The model reference: every registered model by family and task, from the registry."""
    from sessrec.models.io import model_class

    lines = ["# Model reference", "",
             "Generated from the model registry (`sessrec/models/registry.py`) by `python -m sessrec docs`; "
             "a model registered there appears here with no other file touched.", ""]
    for family, title in FAMILIES.items():
        members = [s for s in SPECS.values() if s.family == family]
        if not members:
            continue
        lines += [f"## {title}", ""]
        for s in members:
            doc = (model_class(s.name).__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
            facts = [f"task: {s.task.replace('_', '-')}", f"trains: {s.trains.replace('_', ' ')}",
                     f"scores: {s.scores}"]
            if s.device:
                facts.append("device: cpu or cuda")
            if s.subject:
                facts.append("the workbench's subject")
            lines += [f"### {s.label} (`{s.name}`)", "", s.summary[:1].upper() + s.summary[1:] + ".", "",
                      *([doc, ""] if doc else []), "- " + "; ".join(facts), ""]
    return "\n".join(lines).rstrip() + "\n"



def costs_markdown(records: list[dict[str, Any]], timings: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Training cost beside accuracy, per dataset: every full-ranking configuration with a cost
    (:func:`tables.cost_frame`), cheapest first; ``timings``: dataset -> label -> ``sessrec timing`` entry."""
    lines = ["# Training cost and accuracy", "",
             "Generated by `python -m sessrec docs` from the run records and `results/timings.json`. A cost "
             "**timed** comes from `python -m sessrec timing` (CPU seconds of one training run on all of train, "
             "one torch thread, alone in its process, the epochs the run kept; a neural model's early-stopping "
             "selection on the validation split comes on top: see [Performance](../performance.md)); the others are the "
             "training seconds of the run records (the sum of their epochs, epoch selection included; wall time "
             "for models fitted once; mean over seeds), measured beside other jobs on 2 cores. Accuracy is the "
             "mean over seeds on test (full ranking, median ties). The Benchmarks page draws the same figures "
             "against a log axis, as does the figure below (GRU4Rec's configurations in colour).", "",
             "![MRR@20 against training cost, one panel per dataset](../figures/costs.svg)", ""]
    for dataset, frame in cost_frames(records, timings).items():
        n_timed = int((frame["Cost from"] == tables.TIMED).sum())
        lines += [f"## {dataset}", "", f"{n_timed} of {len(frame)} configurations timed.", "",
                  "| configuration | training cost (s) | cost from | Recall@20 | MRR@20 |", "|---|---:|---|---:|---:|"]
        for row in frame.itertuples(index=False):
            source = "timed" if row[2] == tables.TIMED else "run records"
            lines.append(f"| {row[0]} | {row[1]:,.1f} | {source} | {row[3]:.4f} | {row[4]:.4f} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def costs_svg(records: list[dict[str, Any]], timings: dict[str, dict[str, dict[str, Any]]], width: int = 760) -> str:
    """MRR@20 against training cost (log axis), one panel per dataset, every configuration of
    :func:`tables.cost_frame` a dot; GRU4Rec's in its colour, the most accurate one named."""
    full = [r for r in records if not r.get("evaluation", {}).get("sampled")]
    panels = list(cost_frames(records, timings).items())
    panel_h, left, right, top = 150, 130, 70, 40
    height = top + (panel_h + 30) * max(len(panels), 1) + 30
    subject_colour = next((colour_of(s.label) for s in SPECS.values() if s.subject), None) or "#be0032"
    gru_names = {tables.pretty_label(str(r["label"])) for r in full if is_subject(str(r.get("model")))}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="20" font-size="14" font-weight="bold">MRR@{METRIC_K} against training cost '
             f'(seconds, log scale; docs/reference/costs.md)</text>']
    lo_exp = math.floor(math.log10(min(float(f["Train s"].min()) for _, f in panels))) if panels else 0
    hi_exp = math.ceil(math.log10(max(float(f["Train s"].max()) for _, f in panels))) if panels else 1
    hi_exp = max(hi_exp, lo_exp + 1)
    x = lambda s: left + (width - left - right) * (math.log10(s) - lo_exp) / (hi_exp - lo_exp)  # noqa: E731
    for i, (dataset, frame) in enumerate(panels):
        y0 = top + (panel_h + 30) * i
        # the axis starts at half the best score: the baselines far below sit on its floor, hollow
        high = float(frame["_mrr@20"].max())
        low = max(float(frame["_mrr@20"].min()), high / 2)
        span = (high - low) or 1.0
        y = lambda v: y0 + panel_h - 10 - (panel_h - 20) * (max(v, low) - low) / span  # noqa: E731,B023
        parts.append(f'<text x="{left - 10}" y="{y0 + panel_h / 2:.1f}" text-anchor="end">{html.escape(dataset)}</text>')
        parts.append(f'<rect x="{left}" y="{y0}" width="{width - left - right}" height="{panel_h}" fill="none" '
                     f'stroke="#dee2e6"/>')
        for exp in range(lo_exp, hi_exp + 1):
            parts.append(f'<line x1="{x(10 ** exp):.1f}" y1="{y0}" x2="{x(10 ** exp):.1f}" y2="{y0 + panel_h}" '
                         f'stroke="#e9ecef"/><text x="{x(10 ** exp):.1f}" y="{y0 + panel_h + 14}" '
                         f'text-anchor="middle" fill="#495057">{10.0 ** exp:g}</text>')
        for tick in (low, high):
            parts.append(f'<text x="{width - right + 6}" y="{y(tick) + 4:.1f}" fill="#495057">{tick:.4f}</text>')
        rows = sorted(frame.itertuples(index=False), key=lambda r: r[0] in gru_names)
        for row in rows:  # GRU4Rec drawn last, on top
            mine = row[0] in gru_names
            colour, floor = (subject_colour if mine else "#adb5bd"), row[4] < low
            parts.append(f'<circle cx="{x(row[1]):.1f}" cy="{y(row[4]):.1f}" r="{6 if mine else 4}" '
                         + (f'fill="white" stroke="{colour}"' if floor else f'fill="{colour}" fill-opacity="0.85"')
                         + '><title>'
                         f'{html.escape(str(row[0]))}: {row[1]:,.1f} s, MRR@{METRIC_K} {row[4]:.4f}</title></circle>')
        best = max(frame.itertuples(index=False), key=lambda r: r[4])
        anchor = "end" if x(best[1]) > width - right - 200 else "start"
        shift = -8 if anchor == "end" else 8
        parts.append(f'<text x="{x(best[1]) + shift:.1f}" y="{y(best[4]) + 4:.1f}" text-anchor="{anchor}" '
                     f'fill="#212529">{html.escape(str(best[0]))}</text>')
    legend_y = height - 8
    parts.append(f'<circle cx="{left + 6}" cy="{legend_y - 4}" r="6" fill="{subject_colour}"/>'
                 f'<text x="{left + 16}" y="{legend_y}">GRU4Rec</text>'
                 f'<circle cx="{left + 96}" cy="{legend_y - 4}" r="4" fill="#adb5bd"/>'
                 f'<text x="{left + 106}" y="{legend_y}">every other one (most accurate named; hollow: under half '
                 f'the best, on the floor)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
