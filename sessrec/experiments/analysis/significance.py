"""Paired significance tests of GRU4Rec against the other models, from the per-event ranks
kept with the run records, folded over seeds and drawn as a GRU4Rec × model matrix."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from sessrec.experiments.analysis.questions import records_for
from sessrec.experiments.analysis.tables import is_gru4rec, metric_name, pretty_label


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
                "GRU4Rec run": a.get("run_id"), "Seed": a.get("seed"), "Baseline": pretty_label(cast(str, b.get("label", b.get("model")))),
                f"{metric_name(metric, k)} GRU4Rec": res.mean_a, f"{metric_name(metric, k)} baseline": res.mean_b,
                "Difference": res.difference, "p-value": res.p_value, "Events": res.n_events,
                "Significant (p<0.05)": bool(res.p_value < 0.05),
            })
    return pd.DataFrame(rows), notes


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
