"""Benchmarks: our numbers over seeds, significance, published references, exports."""

import streamlit as st

from sessrec.ui import benchmarks as bm
from sessrec.ui import charts, resources, sidebar
from sessrec.ui.paths import display_path, results_root

selection = sidebar.current()
st.title("Benchmarks")
root = results_root()
data = resources.benchmark_data(root)
for bad in data.errors:
    st.warning(f"Skipped `{display_path(bad['_path'])}`: {bad['error']}")
if data.empty:
    st.info(f"No benchmark results under `{display_path(root)}/` yet. Run the benchmark runner "
            "(`python -m sessrec benchmark --help`); its run records appear here.", icon=":material/hourglass_empty:")
    st.stop()

datasets = sorted(data.summary["dataset"].unique())
top = st.columns([2, 2, 3])
dataset = top[0].selectbox("Dataset", datasets, key="bm_dataset",
                           index=datasets.index(selection.dataset_name) if selection.dataset_name in datasets else 0)
present = [m for m in bm.ACCURACY_METRICS if m in set(data.summary["metric"])]
metrics = tuple(top[1].multiselect("Metrics", present, default=[m for m in present if m != "ndcg"] or present, format_func=bm.metric_name, key="bm_metrics")
                or present)
ks_all = sorted(int(k) for k in data.summary.loc[data.summary["metric"].isin(present), "k"].dropna().unique())
ks = tuple(top[2].multiselect("Cut-offs k", ks_all, default=ks_all, key="bm_ks") or ks_all)
st.caption("**Protocol** — " + bm.protocol_lines(data.records).get(dataset, "") +
           ". Mean ± standard deviation over seeds (baselines are deterministic: one run).")

table_tab, chart_tab, sig_tab, ref_tab = st.tabs(["Table", "Charts", "Significance", "Published numbers"])
with table_tab:
    wide = bm.wide_table(data.summary, dataset, metrics, ks)
    st.dataframe(bm.highlight_best(wide), width="stretch")
    st.caption("Best value per column in bold.")
    cols = st.container(horizontal=True)
    cols.download_button("CSV", wide.to_csv().encode(), f"{dataset}_results.csv", "text/csv", icon=":material/download:")
    cols.download_button("LaTeX", bm.to_latex(wide, caption=f"Results on {dataset}", label=f"tab:{dataset}"),
                            f"{dataset}_results.tex", "text/x-tex", icon=":material/download:")
    with st.expander("All numbers (sortable; every dataset, metric and k)"):
        long = bm.long_summary(data.summary, None)
        st.dataframe(long, hide_index=True, width="stretch",
                     column_config={"Mean": st.column_config.NumberColumn(format="%.4f"),
                                    "Std": st.column_config.NumberColumn(format="%.4f")})
        st.download_button("CSV (all)", long.to_csv(index=False).encode(), "all_results.csv", "text/csv")

with chart_tab:
    k_bar = st.select_slider("k for the bar chart", ks_all, value=20 if 20 in ks_all else ks_all[-1], key="bm_k_bar")
    bars = charts.grouped_bars(bm.chart_frame(data.summary, dataset, metrics, k_bar)).properties(
        title=f"{dataset}: accuracy at k={k_bar}")
    st.altair_chart(bars, width="stretch")
    curves = charts.metric_curves(bm.curve_frame(data.summary, dataset, metrics)).properties(title=f"{dataset}: metric vs k")
    st.altair_chart(curves)
    for name, chart in (("bars", bars), ("curves", curves)):
        spec = charts.spec_json(chart)
        cols = st.container(horizontal=True)
        cols.download_button(f"{name} PNG", lambda s=spec: resources.chart_png(s), f"{dataset}_{name}.png", "image/png",
                                key=f"png_{name}", icon=":material/image:")
        cols.download_button(f"{name} SVG", lambda s=spec: resources.chart_svg(s), f"{dataset}_{name}.svg",
                                "image/svg+xml", key=f"svg_{name}", icon=":material/image:")

with sig_tab:
    c = st.columns(3)
    metric = c[0].selectbox("Metric", present, format_func=bm.metric_name, key="bm_sig_metric",
                            index=present.index("mrr") if "mrr" in present else 0)
    k = c[1].selectbox("k", ks_all, index=ks_all.index(20) if 20 in ks_all else 0, key="bm_sig_k")
    test = c[2].selectbox("Test", ["wilcoxon", "ttest"], key="bm_sig_test",
                          format_func={"wilcoxon": "Wilcoxon signed-rank", "ttest": "paired t-test"}.get)
    table, notes = resources.significance(str(root), resources.benchmark_stamp(root), dataset, metric, k, test)
    if table.empty:
        st.info("No GRU4Rec run with per-event ranks paired with a baseline on this dataset yet.")
    else:
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"p-value": st.column_config.NumberColumn(format="%.2e")})
        st.caption(f"Per-event {bm.metric_name(metric, k)} of each GRU4Rec run against each baseline on the same "
                   f"test events; two-sided. With {len(table)} comparisons, Bonferroni asks for p < {0.05 / len(table):.1e}.")
    for note in notes:
        st.warning(note)

with ref_tab:
    if data.reference_error:
        st.warning(f"Could not read the reference numbers: {data.reference_error}")
    beside = bm.references_beside(data.summary, data.references)
    if beside.empty:
        st.info(f"No published numbers to compare with (`{display_path(root)}/reference_numbers.csv`).")
    else:
        st.dataframe(beside, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in ("Published", "Ours (best run)", "Difference")})
        differing = beside[beside["Protocol note"].astype(str).str.len() > 0]
        notes = differing.drop_duplicates(["Dataset", "Source", "Protocol note"])
        if len(notes):
            st.warning("Protocols differ from ours for some published numbers; compare with care:\n\n" + "\n".join(
                f"- **{r['Dataset']}** ({r['Source']}): {r['Protocol note']}" for _, r in notes.iterrows()))
