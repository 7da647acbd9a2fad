"""Benchmarks, test-set agreement: how often each pair of models is right on the same events.

The numbers come from :func:`sessrec.experiments.analysis.explain.run_agreement` over the per-event
ranks of the run records; this module only reshapes and draws them.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from sessrec.experiments.analysis import explain
from sessrec.experiments.analysis import questions
from sessrec.experiments.analysis import tables as bm

#: heatmap measures: column of the pair table -> how it reads
MEASURES = {
    "Jaccard": "Jaccard of the hit sets (both right / at least one right)",
    "both": "share of events both models get right",
    "only A": "share of events only the row model gets right",
}


@st.cache_data(max_entries=16, show_spinner="Reading the per-event ranks ...")
def _agreement(root: str, stamp: tuple, dataset: str, k: int):
    """``(RunAgreement, None)``, or ``(None, why not)``; ``stamp`` keys the cache to the results folder."""
    from sessrec.ui import resources

    records = resources.benchmark_data(root).records
    try:
        return explain.run_agreement(questions.records_for(records, "rq1", dataset), k), None
    except ValueError as exc:
        return None, str(exc)


def pair_matrix(found: explain.RunAgreement, measure: str) -> pd.DataFrame:
    """Long ``Row, Column, Value`` frame of ``measure`` for every ordered pair of runs.

    ``only A`` reads "only the row model right", so the matrix is not symmetric; the diagonal
    is 1 for the Jaccard, the model's own hit rate for ``both`` and 0 for ``only A``.
    """
    rows = []
    for pair in found.table.to_dict("records"):
        back = pair["only B"] if measure == "only A" else pair[measure]
        rows += [{"Row": pair["A"], "Column": pair["B"], "Value": pair[measure]},
                 {"Row": pair["B"], "Column": pair["A"], "Value": back}]
    for label, rate in found.hit_rates.items():
        rows.append({"Row": label, "Column": label, "Value": {"Jaccard": 1.0, "both": rate}.get(measure, 0.0)})
    frame = pd.DataFrame(rows, columns=["Row", "Column", "Value"])
    frame[["Row", "Column"]] = frame[["Row", "Column"]].map(bm.pretty_label)
    return frame


def heatmap(frame: pd.DataFrame, order: list[str], title: str) -> alt.Chart:
    """Pairs as coloured cells with their value written in."""
    base = alt.Chart(frame).encode(
        # every label shown: Vega hides overlapping ones by default, and with 21 runs it kept 6
        x=alt.X("Column:N", sort=order, title=None, axis=alt.Axis(labelAngle=-45, labelOverlap=False, labelLimit=220)),
        y=alt.Y("Row:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=220)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("Value:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title=None),
        tooltip=["Row", "Column", alt.Tooltip("Value:Q", format=".3f")],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("Value:Q", format=".2f"),
        color=alt.condition(alt.datum.Value > 0.6, alt.value("white"), alt.value("black")),
    )
    size = max(260, 34 * len(order))
    return (cells + text).properties(width=size, height=size, title=title)


def show(root: str | Path, stamp: tuple, dataset: str) -> None:
    """The whole view: k and measure, heatmap, pair table, and the runs left out (with why)."""
    st.markdown("**Agreement on the test set.** How often is each pair of models right on the *same* test events "
                "(the true next item within the top k)? Models that hit and miss together behave alike; a pair "
                "with many events that only one of them gets right could be combined.")
    cols = st.columns([1, 3])
    k = int(cols[0].selectbox("k", [1, 5, 10, 20], index=3, key="bm_agree_k"))
    measure = cols[1].selectbox("Heatmap", list(MEASURES), format_func=MEASURES.__getitem__, key="bm_agree_measure")
    found, problem = _agreement(str(root), stamp, dataset, k)
    if found is None:
        st.warning(f"No test-set agreement on **{dataset}**: {problem}.", icon=":material/block:")
        return
    order = [bm.pretty_label(label) for label in sorted(found.hit_rates, key=found.hit_rates.get, reverse=True)]
    st.altair_chart(heatmap(pair_matrix(found, measure), order, f"{dataset}: {MEASURES[measure]}, k = {k}"))
    table = found.table.copy()
    table["A"], table["B"] = table["A"].map(bm.pretty_label), table["B"].map(bm.pretty_label)
    table = table.sort_values("Jaccard", ascending=False)
    share = st.column_config.NumberColumn(format="%.3f")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"both": st.column_config.NumberColumn("both right", format="%.3f"),
                                "only A": st.column_config.NumberColumn("only A right", format="%.3f"),
                                "only B": st.column_config.NumberColumn("only B right", format="%.3f"),
                                "neither": st.column_config.NumberColumn("both wrong", format="%.3f"),
                                "Jaccard": share})
    st.caption(f"Shares of the {found.n_events:,} test events ({found.protocol}); models ordered by their own hit "
               f"rate at {k}. One run per model configuration: its first seed. "
               "Pairs are compared event by event, so only runs evaluated on the same events under the same "
               "protocol are in it.")
    if found.left_out:
        st.info("Left out, because their events do not line up with the runs above:\n\n"
                + "\n".join(f"- {line}" for line in found.left_out), icon=":material/info:")
