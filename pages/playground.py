"""Session playground: build a session by clicking items; every model re-ranks live."""

import streamlit as st

from sessrec.ui import charts, live, playground, sidebar, widgets

selection = sidebar.current()
st.title("Session playground")
if not selection.ok:
    st.info("No dataset to play with yet. Run `python -m sessrec demo`, then reload this page.")
    st.stop()

catalogue = selection.catalogue()
ds = selection.dataset_path
live.load_from_url(ds, selection.dataset_name, catalogue)
session = live.get(ds)
live.sync_url(selection.dataset_name, session)
st.caption(f"Dataset **{selection.dataset_name}** · {len(catalogue):,} items. Click items to build a session; "
           "GRU4Rec and the baselines re-rank the whole catalogue after every click. "
           "The address bar always holds a link to this session.")
if live.notice():
    st.warning(live.notice(), icon=":material/link_off:")

with st.container(border=True):
    head = st.columns([6, 3], vertical_alignment="center")
    head[0].markdown(f"**Your session** · {len(session)} click{'s' if len(session) != 1 else ''}")
    with head[1]:
        widgets.session_controls(session, ds)
    widgets.session_timeline(session, catalogue, ds)

browse, results = st.columns([5, 6], gap="large")
with browse:
    st.subheader("Catalogue")
    widgets.catalogue_browser(catalogue, ds)

with results:
    controls = st.columns([3, 2], vertical_alignment="bottom")
    k = controls[0].slider("How many recommendations (k)", 5, 30, 10, key="pg_k")
    exclude = controls[1].toggle("Hide clicked items", value=True, key="pg_exclude")
    slots = selection.slots()
    lists = playground.recommend_all(slots, session, k, exclude, catalogue)
    main, others = lists[0], lists[1:]
    st.subheader(f"{main.slot.label} — top {k}")
    widgets.slot_caption(main)
    widgets.primary_panel(main, ds)
st.subheader("Baselines, same session")
for column, rec in zip(st.columns(len(others), gap="large"), others):
    with column:
        st.markdown(f"**{rec.slot.label}**")
        widgets.slot_caption(rec)
        widgets.rec_buttons(rec, ds, highlight=set(main.items["ItemId"].tolist()))
st.caption(f"★ also in {main.slot.label}'s top {k}. Click any recommendation to add it to the session.")

st.divider()
trajectory_tab, distribution_tab = st.tabs(["Rank trajectory", "Score distribution"])
labels = [rec.slot.label for rec in lists]
with trajectory_tab:
    chosen = st.segmented_control("Model", labels, default=labels[0], key="pg_traj_model") or labels[0]
    rec = lists[labels.index(chosen)]
    if len(session) < 1:
        st.info("Click a few items: this chart shows how the ranks of the current top items moved with each click.")
    else:
        top = rec.items["ItemId"].tolist()[:8]
        traj = playground.rank_trajectory(rec.slot.model, session, top, exclude)
        names = {i: catalogue.name(i) for i in set(traj["ItemId"]) | set(session)}
        st.altair_chart(charts.rank_trajectory(traj, names, int(traj["Rank"].max()) if len(traj) else 10),
                        width="stretch")
        st.caption(f"Ranks of {chosen}'s current top {len(top)} after each click of this session "
                   "(1 = top of the list; log scale).")
with distribution_tab:
    chosen = st.segmented_control("Model", labels, default=labels[0], key="pg_dist_model") or labels[0]
    rec = lists[labels.index(chosen)]
    hist = playground.score_histogram(rec.all_scores)
    threshold = float(rec.items["Score"].iloc[-1]) if len(rec.items) else None
    st.altair_chart(charts.score_histogram(hist, threshold), width="stretch")
    st.caption(f"{chosen}'s scores over all {len(rec.all_scores):,} items of its catalogue; "
               f"the dashed line is the score of its k-th recommendation.")
