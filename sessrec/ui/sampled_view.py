"""Benchmarks view "Sampled vs full": the same runs ranked by full-ranking and by sampled metrics.

The numbers and orders come from :mod:`sessrec.experiments.analysis.protocols`; this module draws
them (controls, tables with the changes of order highlighted, a slope chart).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from sessrec.experiments.analysis import protocols
from sessrec.experiments.analysis.tables import METRIC_NAMES, pretty_label

FULL_NAME, SAMPLED_NAME = "Full ranking", "Sampled"
METRIC_CHOICES = {"recall": "HitRate / Recall", "mrr": "MRR", "ndcg": "NDCG", "precision": "Precision", "map": "MAP"}
DEFINITIONS = (
    "**Sampled protocol**: at every test event the true item is ranked among itself and *N* distinct random other "
    "items (never the target), drawn uniformly or in proportion to training clicks from a seeded generator; every "
    "model sees the same negatives at the same event. Its rank (1 to N + 1, ties `median`) gives HitRate@k "
    "(= Recall@k), MRR@k, NDCG@k, Precision@k (= HitRate@k / k) and MAP@k (= MRR@k: one relevant item). "
    "**Full ranking** (the default everywhere else) ranks the whole catalogue; both come from the same run, the same "
    "events and the same scores. Sampled numbers are **not comparable** with full-ranking ones, and Krichene & "
    "Rendle (KDD 2020) showed they can order models differently."
)


def variant_name(variant: str, settings: dict[str, Any]) -> str:
    """``sampled-uniform-99`` -> ``99 uniform negatives (seed 0, sampler 2)``."""
    if not settings:
        return variant
    seeds = ", ".join(str(s) for s in settings.get("seeds", []))
    return f"{settings.get('negatives')} {settings.get('sampling')} negatives (seed {seeds}, sampler {settings.get('sampler', 1)})"


def change_text(change: int) -> str:
    return "=" if change == 0 else (f"↑ {change}" if change > 0 else f"↓ {-change}")


def order_table(table: pd.DataFrame, metric_full: str, metric_sampled: str) -> pd.DataFrame:
    """The comparison table for people: model, both values, both ranks, the move."""
    return pd.DataFrame({
        "Model": table["label"].map(pretty_label),
        f"{FULL_NAME} {metric_full}": table["full"],
        f"Rank ({FULL_NAME.lower()})": table["full_rank"],
        f"{SAMPLED_NAME} {metric_sampled}": table["sampled"],
        f"Rank ({SAMPLED_NAME.lower()})": table["sampled_rank"],
        "Move under sampling": table["change"].map(change_text),
    })


def _move_style(table: pd.DataFrame):
    def colour(cell: str) -> str:
        if cell.startswith("↑"):
            return "background-color: rgba(33, 160, 80, 0.25); font-weight: bold"
        if cell.startswith("↓"):
            return "background-color: rgba(220, 60, 60, 0.25); font-weight: bold"
        return ""

    number = {c: "{:.4f}" for c in table.columns if c.startswith((FULL_NAME, SAMPLED_NAME))}
    return table.style.map(colour, subset=["Move under sampling"]).format(number)


def slope_chart(frame: pd.DataFrame, title: str) -> alt.Chart:
    """Rank of every model under each protocol (1 at the top), lines of models that move in colour."""
    frame = frame.assign(Model=frame["label"].map(pretty_label),
                         Moves=frame["moved"].map({True: "changes rank", False: "same rank"}))
    frame["Label"] = frame["rank"].astype(int).astype(str) + ". " + frame["Model"]
    n = int(frame["rank"].max()) if len(frame) else 1
    base = alt.Chart(frame).encode(
        # point-scale padding leaves room for the model names left and right of the lines
        x=alt.X("protocol:N", sort=[FULL_NAME, SAMPLED_NAME], title=None, scale=alt.Scale(padding=1.0),
                axis=alt.Axis(labelAngle=0, orient="top", labelFontWeight="bold")),
        y=alt.Y("rank:Q", scale=alt.Scale(domain=[n + 0.5, 0.5]), axis=None),
        detail="Model:N",
        color=alt.Color("Moves:N", scale=alt.Scale(domain=["changes rank", "same rank"],
                                                   range=["#d6604d", "#9e9e9e"]), title=None),
        tooltip=["Model", "protocol", "rank", alt.Tooltip("value:Q", format=".4f")],
    )
    lines = base.mark_line(point=True, strokeWidth=2.5)
    left = base.transform_filter(alt.datum.protocol == FULL_NAME).mark_text(align="right", dx=-8).encode(text="Label:N")
    right = base.transform_filter(alt.datum.protocol == SAMPLED_NAME).mark_text(align="left", dx=8).encode(text="Label:N")
    return (lines + left + right).properties(title=title, height=max(220, 30 * n), width=560)


def render(records: list[dict[str, Any]], dataset: str) -> None:
    """The whole view for ``dataset`` (``records``: the sampled run records of every dataset)."""
    st.markdown("**Sampled vs full.** Many papers rank the true item among 99 random items instead of the whole "
                "catalogue. Do the same runs order the models the same way under both protocols?")
    variants = protocols.variants(records, dataset)
    if not variants:
        others = protocols.datasets_with_sampled(records)
        st.info(f"No sampled-protocol runs on **{dataset}** yet. Produce them with `python -m sessrec benchmark "
                f"--dataset data/{dataset} --config benchmarks/{dataset}.json --protocol sampled` (full ranking stays "
                "the default)." + (f" Datasets with sampled runs: {', '.join(others)}." if others else ""),
                icon=":material/hourglass_empty:")
        return
    settings = {v: protocols.variant_settings(records, v) for v in variants}
    c = st.columns([3, 2, 1, 1])
    uniform = [i for i, v in enumerate(variants) if settings[v].get("sampling") == "uniform"]  # the usual one first
    variant = c[0].selectbox("Sampled protocol", variants, format_func=lambda v: variant_name(v, settings[v]),
                             index=uniform[0] if uniform else 0, key="bm_sampled_variant")
    metric = c[1].selectbox("Metric", list(METRIC_CHOICES), format_func=METRIC_CHOICES.__getitem__,
                            key="bm_sampled_metric")
    k = c[2].selectbox("k (sampled)", [1, 5, 10, 20], index=2, key="bm_sampled_k")
    full_k = c[3].selectbox("k (full)", [1, 5, 10, 20], index=2, key="bm_sampled_full_k")

    table = protocols.comparison_table(records, dataset, variant, metric, int(k), int(full_k))
    name = METRIC_NAMES.get(metric, metric)
    sampled_name = "HitRate" if metric == "recall" else name
    pairs = protocols.swapped_pairs(table)
    n_pairs = len(table) * (len(table) - 1) // 2
    tau = protocols.kendall_tau(table)
    if pairs:
        st.warning(f"**The order changes**: {len(pairs)} of {n_pairs} pairs of models swap between full-ranking "
                   f"{name}@{full_k} and sampled {sampled_name}@{k} (Kendall's τ = {tau:.2f}):\n\n"
                   + "\n".join(f"- full ranking: **{pretty_label(a)}** > {pretty_label(b)}; sampled: "
                               f"**{pretty_label(b)}** > {pretty_label(a)}" for a, b in pairs[:12])
                   + (f"\n- … and {len(pairs) - 12} more" if len(pairs) > 12 else ""),
                   icon=":material/swap_vert:")
    else:
        st.success(f"Same order under both protocols for {name}@{full_k} / sampled {sampled_name}@{k} "
                   f"({len(table)} models, Kendall's τ = {tau:.2f}).", icon=":material/check:")
    st.dataframe(_move_style(order_table(table, f"{name}@{full_k}", f"{sampled_name}@{k}")), hide_index=True,
                 width="stretch")
    frame = protocols.slope_frame(table, FULL_NAME, SAMPLED_NAME)
    st.altair_chart(slope_chart(frame, f"{dataset}: rank by {name}@{full_k} (full) and {sampled_name}@{k} "
                                       f"({variant_name(variant, settings[variant])})"))
    st.caption(DEFINITIONS + " Values are means over the runs (seeds) of each model; equal values share a rank.")
    n_items, chosen = protocols.catalogue_size(records, dataset), settings[variant]
    if n_items and chosen.get("sampling") == "uniform" and chosen.get("negatives"):
        cut = protocols.full_rank_equivalent(n_items, int(chosen["negatives"]), int(k))
        st.info(f"**Why the order moves.** With {chosen['negatives']} uniform negatives out of {n_items:,} items, a "
                f"target at full rank r has on average (r − 1) · {chosen['negatives']} / {n_items - 1:,} negatives "
                f"above it, so it is a sampled hit at k = {k} up to a full rank of about **{cut:,.0f}**: sampled "
                f"HitRate@{k} measures roughly full-ranking Recall@{cut:,.0f}, i.e. how well a model orders the "
                "*whole* catalogue, not its top items. Models that score only a neighbourhood (zeros elsewhere) "
                "lose the targets outside it, which tie with most random items.", icon=":material/lightbulb:")

    with st.expander(f"All metrics at k = {k}, both protocols, same runs"):
        both = protocols.side_by_side(records, dataset, variant, int(k))
        both.index = both.index.map(pretty_label)
        st.dataframe(both, width="stretch", column_config={c: st.column_config.NumberColumn(format="%.4f")
                                                           for c in both.columns})
    with st.expander("Every dataset: how much the order changes"):
        summary = protocols.order_summary(records, metric, int(k), int(full_k))
        st.dataframe(summary.rename(columns={
            "dataset": "Dataset", "variant": "Protocol", "models": "Models", "pairs": "Pairs", "swapped": "Swapped",
            "kendall_tau": "Kendall's τ", "best_full": "Best (full)", "best_sampled": "Best (sampled)",
            "swapped_pairs": "Swapped pairs"}), hide_index=True, width="stretch",
            column_config={"Kendall's τ": st.column_config.NumberColumn(format="%.2f")})
