"""Benchmarks: one view per research question, backed by the run records under results/.

The tabs are lazy: only the open one is computed (paired tests and per-event breakdowns
read the ranks files). All logic is in :mod:`sessrec.experiments` (``tables``, ``questions``,
``significance``).
"""

import streamlit as st

from sessrec.experiments.analysis import questions
from sessrec.experiments.analysis import significance as sig
from sessrec.experiments.analysis import tables as bm
from sessrec.ui import agreement_view, charts, resources, sampled_view, sidebar, tuning_view
from sessrec.ui.paths import checkpoint_root, display_path, results_root
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

TABS = (  # short enough that every tab fits a 980 px main column
    "RQ1 · vs other models", "RQ2 · Losses", "RQ3 · Factors", "RQ4 · Wins and losses",
    "RQ5 · Modern models", "Published", "All runs", "Agreement", "Sampled vs full")
NUM = st.column_config.NumberColumn

selection = sidebar.current()
st.title("Benchmarks")
root = results_root()
stamp = resources.benchmark_stamp(root)
data = resources.benchmark_data(root)
if data.errors:  # never silently: every file no table uses is named with the reason
    st.warning(f"**{len(data.errors)} run record(s) skipped**: they cannot be used, so no table or chart shows "
               "them (`python -m sessrec results --check` lists them too).\n\n"
               + "\n".join(f"- `{display_path(bad['_path'])}`: {bad['error']}" for bad in data.errors),
               icon=":material/warning:")
if data.empty:
    st.info(f"No benchmark results under `{display_path(root)}/` yet. Run the benchmark runner "
            "(`python -m sessrec benchmark --help`); its run records appear here.", icon=":material/hourglass_empty:")
    st.stop()

datasets = sorted({r["dataset"] for r in data.records})
if selection.dataset_name in datasets:  # the sidebar decides, as on every page
    dataset = selection.dataset_name
    st.caption(f"Results on **{bm.dataset_caption(data.records, dataset)}** — change the dataset in the sidebar.")
else:
    st.info(f"No benchmark results for the sidebar's dataset **{selection.dataset_name}**; "
            "pick one of the datasets that have results:", icon=":material/info:")
    # the pick outlives the widget (Streamlit forgets a widget's value once its page is left)
    kept = st.session_state.get("bm_dataset_kept")
    start = kept if kept in datasets else bm.default_dataset(data.records, selection.dataset_name)
    dataset = st.columns([2, 3])[0].selectbox(
        "Dataset with results", datasets, key="bm_dataset", index=datasets.index(start),
        format_func=lambda d: bm.dataset_caption(data.records, d),
        on_change=lambda: st.session_state.update(bm_dataset_kept=st.session_state["bm_dataset"]))
with st.container(border=True):
    st.markdown(bm.protocol_markdown(data.records, dataset))

tabs = st.tabs(list(TABS), key="bm_tab", on_change="rerun")
rq1, rq2, rq3, rq4, rq5, refs, everything, agreement, sampled_tab = tabs

if rq1.open:
    with rq1:
        st.markdown(f"**RQ1.** {questions.rq1_question()}")
        default_view = questions.default_settings_view(data.records, dataset)
        view_name = st.segmented_control(
            "Settings", list(questions.SETTINGS_VIEWS), default=default_view, key=f"bm_settings::{dataset}",
            format_func=questions.SETTINGS_VIEWS.get,
            help="Tuned, equal budget: every model at the best setting of its own study on the validation split, "
                 "the same number of trials and core-hours for each (`sessrec tune`, sweeps/budget.json). "
                 "Published settings: each model as its authors or session-rec set it.") or default_view
        view = questions.settings_view(data.records, dataset, view_name)
        note = questions.settings_note(view)
        if note:
            st.info(note, icon=":material/hourglass_empty:")
        if view_name == "tuned" and view.untuned:
            st.caption(f"Shown at their only setting (nothing to tune): {', '.join(map(bm.pretty_label, view.untuned))}.")
        if view.kept_published:
            st.caption("At their published settings, not tuned here (sweeps/budget.json): " + "; ".join(
                f"{bm.pretty_label(label)}: {why}" for label, why in view.kept_published.items()) + ".")
        if view.explored:
            st.caption("Not counted as any model's result (chosen after looking at test results): " + "; ".join(
                f"{bm.pretty_label(label)}: {why}" for label, why in view.explored.items()) + ".")
        runs = view.records
        summary = bm.summary_of(runs)
        present = [m for m in bm.ACCURACY_METRICS if m in set(summary["metric"])]
        ks_all = sorted(int(k) for k in summary.loc[summary["metric"].isin(present), "k"].dropna().unique())
        c = st.columns([2, 2])
        metrics = tuple(c[0].multiselect("Metrics", present, default=[m for m in present if m != "ndcg"] or present,
                                         format_func=bm.metric_name, key="bm_metrics") or present)
        ks = tuple(c[1].multiselect("Cut-offs k", ks_all, default=ks_all, key="bm_ks") or ks_all)
        wide = bm.wide_table(summary, dataset, metrics, ks, tied=True)
        for metric in metrics:  # one table per metric: fits the page without scrolling sideways
            columns = [c for c in wide.columns if c.split("@")[0] == bm.metric_name(metric)]
            if columns:  # best first by the largest cut-off, every row shown (no inner scroll)
                part = bm.ranked_by(wide[columns + [c for c in (bm.TIED_COLUMN,) if c in wide.columns]], columns[-1])
                st.dataframe(bm.best_style(part, columns), width="stretch", height=charts.table_height(len(part)))
        st.caption("Rows best first by the largest cut-off; the best value of each column highlighted, whichever "
                   "model it is. Mean ± standard deviation over "
                   "seeds for GRU4Rec; the baselines are deterministic. " + bm.TIES_SENTENCE)
        budget = questions.tuning_table(runs)
        if not budget.empty:
            with st.expander(f"Tuning budget and chosen parameters ({len(budget)} tuned models)", expanded=False):
                st.dataframe(budget, hide_index=True, width="stretch")
                st.caption("Every study ran on train_tr → valid (never on test) under one budget per dataset "
                           "(sweeps/budget.json). A model stopped by its core-hour cap got fewer trials than the rest.")
        if not any(bm.is_gru4rec(r) for r in runs):
            st.info("No GRU4Rec run on this dataset yet: only the baselines are shown.", icon=":material/hourglass_empty:")
        verdicts = questions.rq1_verdicts(summary, dataset, metrics, ks)
        if len(verdicts):
            losses, ties = questions.loss_summary(verdicts), questions.tie_summary(verdicts)
            if losses or ties:
                st.warning(f"**Where GRU4Rec {'loses' if losses else 'does not win'} on this dataset** (every "
                           "other model against the best GRU4Rec run):\n\n" + "\n".join(f"- {line}" for line in losses + ties),
                           icon=":material/trending_down:")
            else:
                st.success(f"The best GRU4Rec run beats every other model on all {verdicts['Metric'].nunique()} "
                           "metric/k columns.", icon=":material/trending_up:")
        cols = st.container(horizontal=True)
        cols.download_button("CSV", wide.to_csv().encode(), f"{dataset}_rq1.csv", "text/csv", icon=":material/download:")
        cols.download_button("LaTeX", bm.to_latex(wide, caption=f"Results on {dataset}", label=f"tab:{dataset}"),
                             f"{dataset}_rq1.tex", "text/x-tex", icon=":material/download:")

        moves = questions.rank_moves(data.records, dataset)
        if not moves.empty:
            st.subheader("How the ranks move with tuning")
            st.altair_chart(charts.rank_moves(moves, "MRR@20"), width="stretch")
            st.caption("Each model's rank by MRR@20 under its published settings and after equal-budget tuning "
                       "(models with a run in both views).")

        st.subheader("Significance")
        c = st.columns(3)
        sig_metric = c[0].selectbox("Metric", present, format_func=bm.metric_name, key="bm_sig_metric",
                                    index=present.index("mrr") if "mrr" in present else 0)
        test = c[1].selectbox("Test", ["wilcoxon", "ttest"], key="bm_sig_test",
                              format_func={"wilcoxon": "Wilcoxon signed-rank", "ttest": "paired t-test"}.get)
        table, notes = resources.significance_by_k(str(root), stamp, dataset, sig_metric, tuple(ks_all), test)
        if table.empty:
            st.info("No GRU4Rec run with per-event ranks paired with a baseline on this dataset yet.")
        else:
            st.dataframe(sig.significance_style(sig.significance_matrix(table)), width="stretch")
            n_tests = int(table["Seeds"].sum())
            st.caption(f"Difference in {bm.metric_name(sig_metric)}@k (GRU4Rec − baseline, mean over seeds). "
                       "▲ significantly better in every seed, ▼ significantly worse in every seed, ○ otherwise "
                       f"(p < 0.05, two-sided, paired over the same test events, one test per seed). With {n_tests} "
                       f"tests, Bonferroni asks for p < {0.05 / n_tests:.1e}: see the p-values below.")
            with st.expander("Every test: means, p-values, seeds"):
                st.dataframe(table, hide_index=True, width="stretch",
                             column_config={"mean GRU4Rec": NUM(format="%.4f"), "mean baseline": NUM(format="%.4f"),
                                            "Difference": NUM(format="%+.4f"), "Largest p": NUM(format="%.1e")})
        for note in notes:
            st.warning(note)

        st.subheader("Charts")
        k_bar = st.select_slider("k for the bar chart", ks_all, value=20 if 20 in ks_all else ks_all[-1], key="bm_k_bar")
        bars = charts.grouped_bars(bm.chart_frame(summary, dataset, metrics, k_bar)).properties(
            title=f"{dataset}: accuracy at k={k_bar}")
        st.altair_chart(bars, width="stretch")
        curves = charts.metric_curves(bm.curve_frame(summary, dataset, metrics)).properties(title=f"{dataset}: metric vs k")
        st.altair_chart(curves)
        cost = bm.cost_frame(runs, resources.training_timings(root, dataset))
        if len(cost) > 1:
            for metric, name in (("_mrr@20", "MRR@20"), ("_recall@20", "Recall@20")):  # full width: whole legends
                st.altair_chart(charts.cost_accuracy(cost, metric, name, log_x=True).properties(
                    title=f"{dataset}: {name} against training cost"), width="stretch")
            timed = int((cost["Cost from"] == bm.TIMED).sum())
            st.caption(f"Training cost of {timed} of {len(cost)} configurations timed on their own "
                       "(`python -m sessrec timing`: CPU seconds of one run on all of train, one thread, alone in its "
                       "process, without a neural model's epoch selection; see docs/performance.md); the others, as their run records give them (the sum of "
                       "their epochs, the epoch selection included; wall time for models trained once; mean over "
                       "seeds), measured on 2 cores beside other jobs: an order of magnitude, not a speed benchmark.")
        for name, chart in (("bars", bars), ("curves", curves)):
            spec = charts.spec_json(chart)
            cols = st.container(horizontal=True)
            cols.download_button(f"{name} PNG", lambda s=spec: resources.chart_png(s), f"{dataset}_{name}.png",
                                 "image/png", key=f"png_{name}", icon=":material/image:")
            cols.download_button(f"{name} SVG", lambda s=spec: resources.chart_svg(s), f"{dataset}_{name}.svg",
                                 "image/svg+xml", key=f"svg_{name}", icon=":material/image:")

if rq2.open:
    with rq2:
        st.markdown("**RQ2.** How do the loss functions compare — cross-entropy, BPR-max, TOP1, TOP1-max — at the "
                    "same budget (100 units, batch 32, 2048 negative samples, 5 epochs)?")
        options = questions.datasets_with(data.records, "rq2")
        if not options:
            st.info("No loss-function runs yet (labels `rq2-*`, from `benchmarks/rsc15_100k_questions.json`).",
                    icon=":material/hourglass_empty:")
        else:
            ds2 = st.selectbox("Dataset", options, key="bm_rq2_dataset") if len(options) > 1 else options[0]
            table = questions.loss_table(data.records, ds2)
            st.dataframe(bm.best_style(table[bm.visible_columns(table)], ["Recall@20", "MRR@20"]), hide_index=True,
                         width="stretch", column_config={"Train s": NUM(format="%.1f"), "Events/s": NUM(format="%,.0f")})
            st.info("These settings were compared **on the test split**, so none of them counts as GRU4Rec's result: "
                    "RQ1's verdicts use only settings chosen without test (the published setting, the tuned run "
                    "chosen on the validation split).", icon=":material/info:")
            st.caption(f"On **{ds2}**; sorted by MRR@20; best value highlighted. The learning rate and sampling settings "
                       "follow each loss's published defaults (column Settings); everything else is the same.")
            frame = table.melt(id_vars=["Loss"], value_vars=["_recall@20", "_mrr@20"], var_name="Metric", value_name="mean")
            frame["Metric"] = frame["Metric"].map({"_recall@20": "Recall@20", "_mrr@20": "MRR@20"})
            st.altair_chart(charts.grouped_bars(frame.rename(columns={"Loss": "Model"}).assign(std=0.0), error=None),
                            width="stretch")

if rq3.open:
    with rq3:
        st.markdown("**RQ3.** Which factors matter? One factor at a time from the cross-entropy reference run: hidden "
                    "size, batch size, number of negative samples, epochs. Accuracy next to training cost.")
        options = questions.datasets_with(data.records, "rq3")
        if not options:
            st.info("No factor runs yet (labels `rq3-*`, from `benchmarks/rsc15_100k_questions.json`).",
                    icon=":material/hourglass_empty:")
        else:
            ds3 = st.selectbox("Dataset", options, key="bm_rq3_dataset") if len(options) > 1 else options[0]
            table = questions.factor_table(data.records, ds3)
            shown = bm.visible_columns(table)
            st.dataframe(bm.best_style(table[shown], ["Recall@20", "MRR@20"]), hide_index=True, width="stretch",
                         column_config={"Train s": NUM(format="%.1f"), "Events/s": NUM(format="%,.0f"),
                                        "Δ Recall@20": NUM(format="%+.4f"), "Δ MRR@20": NUM(format="%+.4f"),
                                        "Time × ref": NUM(format="%.2f")})
            st.info("These settings were compared **on the test split**, so none of them counts as GRU4Rec's result: "
                    "RQ1's verdicts use only settings chosen without test (the published setting, the tuned run "
                    "chosen on the validation split).", icon=":material/info:")
            st.caption(f"On **{ds3}**. The factor and its values are read from each run's hyperparameters against the "
                       "reference (`gru4rec-xe`); Δ is the difference of the means over seeds; events/s is the mean "
                       "training throughput over epochs; “Time × ref” is the training time relative to the reference.")
            left, right = st.columns(2)
            left.altair_chart(charts.cost_accuracy(table, "_recall@20", "Recall@20", "_point"), width="stretch")
            right.altair_chart(charts.cost_accuracy(table, "_mrr@20", "MRR@20", "_point"), width="stretch")

        st.subheader("What the tuning studies say matters")
        tuning_view.importance_panel(dataset)

if rq4.open:
    with rq4:
        st.markdown("**RQ4.** Where does GRU4Rec win and where does it lose? Accuracy by the position of the predicted "
                    "click in the session, by the training popularity of the true item, and by whether the true item "
                    "was already clicked earlier in the session (a re-click) or is new to it.")
        c = st.columns(3)
        by = c[0].radio("Break down by", ["position", "popularity", "reclick"], horizontal=True, key="bm_rq4_by",
                        format_func={"position": "position in session", "popularity": "target popularity",
                                     "reclick": "re-click or new"}.get)
        metric4 = c[1].selectbox("Metric", ["recall", "mrr", "ndcg"], format_func=bm.metric_name, key="bm_rq4_metric")
        k4 = c[2].selectbox("k", [1, 5, 10, 20], index=3, key="bm_rq4_k")
        data_path = resources.prepared_path(dataset) if by == "reclick" else None
        frame = None
        if by == "reclick" and data_path is None:
            st.info(f"Telling re-clicks from new items needs the test sessions: prepare **{dataset}** under `data/` "
                    "(`python -m sessrec prepare shared --source <shared data> --out data`).")
        else:
            frame = resources.breakdown(str(root), stamp, dataset, by, metric4, int(k4), data_path)
        if frame is not None and frame.empty:
            st.info("No run with per-event ranks on this dataset yet." if by != "reclick" else
                    f"No run was evaluated on the test events of `{data_path}` (was it prepared differently?).")
        elif frame is not None:
            x_title = {"position": "position of the predicted click (1 = second click)",
                       "popularity": "training clicks of the true item (quintiles of test events)",
                       "reclick": "the true item, against the session's earlier clicks"}[by]
            st.altair_chart(charts.breakdown_lines(frame, bm.metric_name(metric4, int(k4)), x_title), width="stretch")
            wide4 = questions.breakdown_wide(frame)
            st.dataframe(bm.best_style(wide4), width="stretch",
                         column_config={c: NUM(format="%.4f") for c in wide4.columns})
            st.caption(f"Best model per bucket highlighted. Test events per bucket: {questions.bucket_counts(frame)}. "
                       "Values of seeded models are means over seeds."
                       + (" A re-click's true item was clicked earlier in the same session." if by == "reclick" else ""))

if rq5.open:
    with rq5:
        st.markdown("**RQ5.** Is GRU4Rec still competitive with modern neural models: NARM (GRU4Rec with attention "
                    "over the session, the improvement a thesis would propose), SASRec (self-attention) and SR-GNN "
                    "(graph neural network)? Accuracy next to training time; significance tests are under RQ1, "
                    "where each model wins and loses (by target popularity, by position) under RQ4.")
        table = questions.modern_table(data.records, dataset, data.references)
        if not any(r.get("dataset") == dataset and r.get("model") in questions.modern_models() for r in data.records):
            st.info(f"No NARM, SASRec or SR-GNN run on **{dataset}** yet (labels `narm`, `sasrec`, `srgnn` in "
                    f"`benchmarks/{dataset}.json`; long runs resume where they stopped).", icon=":material/hourglass_empty:")
        if not table.empty:
            verdicts = questions.modern_verdict_lines(data.records, dataset)
            if verdicts:
                text = "\n".join(f"- {line}" for line, _ in verdicts)
                if all(wins for _, wins in verdicts):
                    st.success(f"**GRU4Rec beats every modern model run here** on Recall@20 and MRR@20:\n\n{text}",
                               icon=":material/trending_up:")
                else:
                    st.warning(f"**GRU4Rec does not beat every modern model here** (higher is better):\n\n{text}",
                               icon=":material/trending_down:")
            shown = bm.visible_columns(table)
            shown_table = table[shown].copy()
            for column in ("Published Recall@20", "Published MRR@20"):
                shown_table[column] = bm.published_cells(shown_table[column])
            for column in ("Recall@20 vs paper %", "MRR@20 vs paper %"):
                shown_table[column] = bm.relative_cells(shown_table[column])  # cells carry the "%"
            shown_table = shown_table.rename(columns=lambda c: c.removesuffix(" %"))
            st.dataframe(bm.best_style(shown_table, ["Recall@20", "MRR@20"]), hide_index=True, width="stretch",
                         column_config={"Train s": NUM(format="%.1f"), "Events/s": NUM(format="%,.0f")})
            st.caption("Sorted by MRR@20; best value highlighted, whoever it is. Published: the SR-GNN paper's table "
                       "(same split on yoochoose1_64 and diginetica; see Published numbers for the protocol notes); "
                       "vs paper: our mean relative to it (the reproduction bars: SR-GNN within 2 %, NARM within "
                       "3 %, on the mean of 3 seeds; see below the table). "
                       "Training time: the mean over seeds of the seconds summed over every training epoch, the "
                       "choice of epochs on held-out sessions included (seeds that reuse seed 1's choice count its "
                       "cost too); wall time for models trained without epochs. Measured on this machine (2 cores, no "
                       "GPU) in background runs, one thread each beside another benchmark: the README's seconds per "
                       "epoch, measured on a quiet machine, are the speed comparison.")
            reproduced = questions.reproduction_lines(table)
            if reproduced:
                st.markdown("**Are the published numbers reproduced?**\n" + "\n".join(f"- {line}" for line in reproduced))
        running = resources.runs_in_progress(root, checkpoint_root() / "partial", dataset)
        if running:
            st.markdown(f"**Still running on {dataset}** (`python -m sessrec progress`; their records appear here "
                        "when complete):\n" + "\n".join(f"- {line}" for line in running))

if refs.open:
    with refs:
        if data.reference_error:
            st.warning(f"Could not read the reference numbers: {data.reference_error}")
        beside = bm.references_beside(bm.summary_of(questions.records_for(data.records, "rq1")), data.references)
        if beside.empty:
            st.info(f"No published numbers to compare with (`{display_path(root)}/reference_numbers.csv`).")
        else:
            only = st.toggle(f"Only {dataset}", value=True, key="bm_ref_only")
            if only:
                beside = beside[beside["Dataset"] == dataset]
            noted = beside[beside["Protocol note"].astype(str).str.len() > 0]
            notes = noted.drop_duplicates(["Dataset", "Full source", "Protocol note"])
            if len(notes):
                st.info("How each published number was obtained (split, test cases, tie handling), next to our "
                        "protocol; read the differences before comparing:\n\n" + "\n".join(
                            f"- **{r['Dataset']}** — {r['Full source']}: {r['Protocol note']}"
                            for _, r in notes.iterrows()), icon=":material/menu_book:")
            st.dataframe(beside.drop(columns=["Protocol note", "Full source"]), hide_index=True, width="stretch",
                         column_config={c: NUM(format="%.4f") for c in ("Published", "Ours (best run)")}
                         | {"Difference": NUM(format="%+.4f"), "Source": st.column_config.TextColumn(width="medium")})
            st.caption("“Ours (best run)” is the best mean over seeds of our RQ1 configurations of that model; "
                       "empty where we have no such run (yet). The protocol notes are in the box above. Published "
                       "GRU4Rec numbers use `standard` ties (a tied target gets the best rank); ours use the tie "
                       "mode in the box above, which for GRU4Rec gives the same numbers (its scores do not tie).")

if everything.open:
    with everything:
        every = st.toggle("All datasets", value=False, key="bm_all_datasets")
        long = bm.long_summary(data.summary, None)
        if not every:
            long = long[long["Dataset"] == dataset].reset_index(drop=True)
        kinds = questions.run_kinds(data.records)
        long.insert(2, "Run", [kinds.get((d, label), "RQ1") for d, label in zip(long["Dataset"], long["Run label"])])
        st.dataframe(long, hide_index=True, width="stretch",
                     column_config={"Mean": NUM(format="%.4f"), "Std": NUM(format="%.4f")})
        st.download_button("CSV (all)", long.to_csv(index=False).encode(), "all_results.csv", "text/csv",
                           icon=":material/download:")

if agreement.open:
    with agreement:
        agreement_view.show(root, stamp, dataset)

if sampled_tab.open:
    with sampled_tab:
        sampled_view.render(data.sampled, dataset)
