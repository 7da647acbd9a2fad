"""Training curves: loss per epoch of every run record and checkpoint, overlaid."""

import streamlit as st

from sessrec.ui import charts, curves, resources, sidebar
from sessrec.ui.paths import display_path, results_root
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

st.title("Training curves")
selection = sidebar.current()
data = resources.benchmark_data(results_root())
runs = curves.collect_runs(data.records, selection.entries)
if runs.empty:
    st.info(f"No training logs yet: GRU4Rec run records under `{display_path(results_root())}/` and GRU4Rec "
            "checkpoints carry one (the baselines have no epochs).", icon=":material/hourglass_empty:")
    st.stop()

datasets = sorted(runs["Dataset"].dropna().unique())
# the sidebar's dataset first; every dataset when it has no training logs
start = [selection.dataset_name] if selection.dataset_name in datasets else datasets
c = st.columns([2, 5])
# keyed by the sidebar's dataset: changing it there starts this page from that dataset again
wanted = c[0].multiselect("Datasets", datasets, default=start, key=f"tc_datasets::{selection.dataset_name}") or datasets
in_scope = runs[runs["Dataset"].isin(wanted)]
aggregate = st.toggle("Aggregate seeds (mean line, ±1 std band)", value=True, key="tc_aggregate",
                      help="Off: one line per run (seed)")
unit = "Config" if aggregate else "Run"
pool = list(dict.fromkeys(in_scope[unit]))
# keyed by the datasets chosen: adding one shows its runs instead of keeping the old selection
chosen_units = c[1].multiselect("Configurations" if aggregate else "Runs", pool, default=pool,
                                key=f"tc_{unit}::{','.join(wanted)}") or pool
frame = in_scope[in_scope[unit].isin(chosen_units)].copy()
chosen = list(dict.fromkeys(frame["Run"]))
if len(chosen_units) > 12:
    st.caption(f"{len(chosen_units)} {'configurations' if aggregate else 'runs'} shown; narrow the selection "
               "above to compare fewer lines.")

c = st.columns([2, 3])
measure = c[0].radio("Show", ["loss", "seconds", "events_per_second"], horizontal=True, key="tc_measure",
                     format_func={"loss": "loss", "seconds": "seconds / epoch", "events_per_second": "events / s"}.get)
weight = c[1].slider("Smoothing (exponential moving average)", 0.0, 0.95, 0.0, 0.05, key="tc_smooth")
if measure not in frame or frame[measure].isna().all():
    st.info(f"The selected runs did not log '{measure}'.")
else:
    frame["value"] = curves.smooth(frame, measure, weight)
    title = {"loss": "training loss", "seconds": "seconds per epoch", "events_per_second": "training events per second"}[measure]
    plot = frame.drop(columns=[measure]).rename(columns={"value": measure})
    # losses of different loss functions live on different scales: one chart per loss function
    groups = list(plot.groupby("Loss function", sort=True)) if measure == "loss" and "Loss function" in plot \
        and plot["Loss function"].nunique() > 1 else [(None, plot)]
    for loss_name, part in groups:
        if loss_name is not None:
            st.markdown(f"Loss function: **{loss_name}**")
        if aggregate:
            st.altair_chart(charts.mean_curves(curves.aggregate_seeds(part, measure), title), width="stretch")
        else:
            st.altair_chart(charts.loss_curves(part, measure, title), width="stretch")
    st.caption("Hover a point for the run's epoch details." + (f" Smoothed with weight {weight:.2f}." if weight else "")
               + (" Different loss functions are on different scales, so each has its own chart." if len(groups) > 1 else ""))

st.subheader("Per run")
st.dataframe(curves.epoch_summary(frame), width="stretch",
             column_config={"final loss": st.column_config.NumberColumn(format="%.4f"),
                            "s / epoch": st.column_config.NumberColumn(format="%.2f"),
                            "events / s": st.column_config.NumberColumn(format="%,.0f")})
st.subheader("Hyperparameters")
tables = curves.hyperparameter_tables(data.records, selection.entries, chosen)
if not tables:
    st.caption("No hyperparameters recorded for these runs.")
for model, params in tables.items():  # one table per model: only the settings its runs have
    st.markdown(f"**{model}**")
    st.dataframe(params.astype(object).fillna("").astype(str), width="stretch", height=charts.table_height(len(params)))
