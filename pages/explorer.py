"""Dataset explorer: split statistics, session lengths, item popularity, top items."""

import streamlit as st

from sessrec.ui import charts, explorer, sidebar
from sessrec.ui import resources
from sessrec.ui.paths import display_path
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

selection = sidebar.current()
st.title("Dataset explorer")
sidebar.require_dataset(selection)
dataset = selection.dataset()
st.caption(f"**{dataset.name}** — {dataset.info.get('description', '')} · `{display_path(selection.dataset_path)}`")

st.subheader("Splits")
st.dataframe(explorer.split_table(dataset.info), width="stretch",
             column_config={"Mean length": st.column_config.NumberColumn(format="%.2f"),
                            **{c: st.column_config.NumberColumn(format="localized") for c in ("Events", "Sessions", "Items")},
                            "Days": st.column_config.NumberColumn(format="%.1f")})
with st.expander("Provenance and protocol"):
    st.json({k: dataset.info.get(k) for k in ("provenance", "protocol")}, expanded=False)

splits = [s for s in ("train", "test", "train_tr", "valid") if dataset.has_split(s)]
split = st.segmented_control("Split", splits, default="train", key="ex_split",
                             format_func=explorer.SPLIT_TITLES.get) or "train"
stats = resources.statistics(selection.dataset_path, split)

left, right = st.columns(2, gap="large")
with left:
    st.markdown("**Session length**")
    st.altair_chart(charts.log_histogram(stats["lengths"], "Length", "Sessions", "items per session",
                                         "sessions (log scale)"), width="stretch")
with right:
    st.markdown("**Item popularity**")
    st.altair_chart(charts.log_log_points(stats["popularity"], "Clicks", "Items", "clicks per item (log)",
                                          "number of items (log)"), width="stretch")
    shares = " · ".join(f"{k}: {v:.0%} of clicks" for k, v in stats["concentration"].items())
    st.caption(f"Long tail: {shares}.")

left, right = st.columns([3, 2], gap="large")
fmt = {"Share": st.column_config.ProgressColumn(format="percent", min_value=0.0,
                                                max_value=float(max(stats["top_items"]["Share"].max(), 1e-9)))}
with left:
    st.markdown("**Top items**")
    st.dataframe(stats["top_items"], hide_index=True, width="stretch", column_config=fmt)
with right:
    st.markdown("**Top categories**")
    cats = stats["top_categories"]
    if len(cats) <= 1:
        st.caption("This dataset has no item categories.")
    else:
        st.dataframe(cats, hide_index=True, width="stretch", column_config={"Share": st.column_config.ProgressColumn(
            format="percent", min_value=0.0, max_value=float(cats["Share"].max()))})
