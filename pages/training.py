"""Training curves: loss per epoch of every run record and checkpoint, overlaid."""

import streamlit as st

from sessrec.ui import charts, curves, resources, sidebar
from sessrec.ui.paths import display_path, results_root

st.title("Training curves")
selection = sidebar.current()
data = resources.benchmark_data(results_root())
runs = curves.collect_runs(data.records, selection.entries)
if runs.empty:
    st.info(f"No training logs yet: GRU4Rec run records under `{display_path(results_root())}/` and GRU4Rec "
            "checkpoints carry one (the baselines have no epochs).", icon=":material/hourglass_empty:")
    st.stop()

names = list(dict.fromkeys(runs["Run"]))
datasets = sorted(runs["Dataset"].dropna().unique())
c = st.columns([2, 5])
wanted = c[0].multiselect("Datasets", datasets, default=datasets, key="tc_datasets") or datasets
pool = [n for n in names if runs.loc[runs["Run"] == n, "Dataset"].iloc[0] in wanted]
chosen = c[1].multiselect("Runs", pool, default=pool[:12], key="tc_runs") or pool[:12]
frame = runs[runs["Run"].isin(chosen)].copy()

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
            st.markdown(f"**{loss_name}** loss")
        st.altair_chart(charts.loss_curves(part, measure, title), width="stretch")
    st.caption("Hover a point for the run's epoch details." + (f" Smoothed with weight {weight:.2f}." if weight else "")
               + (" Different loss functions are on different scales, so each has its own chart." if len(groups) > 1 else ""))

st.subheader("Per run")
st.dataframe(curves.epoch_summary(frame), width="stretch",
             column_config={"final loss": st.column_config.NumberColumn(format="%.4f"),
                            "s / epoch": st.column_config.NumberColumn(format="%.2f"),
                            "events / s": st.column_config.NumberColumn(format="%,.0f")})
st.subheader("Hyperparameters")
params = curves.hyperparameter_table(data.records, selection.entries, chosen)
if params.empty:
    st.caption("No hyperparameters recorded for these runs.")
else:
    st.dataframe(params.astype(str), width="stretch")
