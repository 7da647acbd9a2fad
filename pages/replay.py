"""Session replay: step through a test session; the rank of the true next item per model, and
the playground's instruments on the replayed prefix (why this item, agreement, what if)."""

import streamlit as st

from sessrec.ui import charts, instruments, replay, sidebar
from sessrec.ui.playground import recommend
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

selection = sidebar.current()
st.title("Session replay")
sidebar.require_dataset(selection)
dataset, catalogue = selection.dataset(), selection.catalogue()
test = dataset.test
st.caption(f"Dataset **{dataset.name}** · {test.n_sessions:,} test sessions. At each step every model has read the "
           "clicks so far and ranks its whole catalogue; where does the item really clicked next land?")


def _random_session() -> None:
    import random

    st.session_state["rp_index"] = random.randint(1, test.n_sessions)


c = st.columns([2, 1, 3], vertical_alignment="bottom")
# no default value: the Random button sets the key, and a default beside it makes Streamlit warn
index = c[0].number_input("Test session #", 1, max(test.n_sessions, 1), key="rp_index")
c[1].button("Random", icon=":material/casino:", on_click=_random_session, key="rp_random")
items = [int(i) for i in test.session(int(index) - 1)]
c[2].caption(f"session id {test.session_ids[int(index) - 1]} · {len(items)} clicks")
if len(items) < 2:
    st.info("This session has a single click: nothing to predict. Pick another one.")
    st.stop()

slots = selection.slots()
if not slots:
    st.info("No model is shown: choose at least one under **Models shown** in the sidebar.")
    st.stop()
for slot in slots:
    if slot.is_fallback:
        st.warning(f"{slot.label}: {slot.note}; the popularity fallback stands in.", icon=":material/info:")
ranks = replay.replay_ranks(slots, items, catalogue)
ranked = ranks.dropna(subset=["Rank"])
chart_area = st.container()  # drawn once the step below is known, to mark it
summary = replay.step_summary(ranks)
st.dataframe(summary, hide_index=True, width="stretch", height=charts.table_height(len(summary)),
             column_config={"MRR@20": st.column_config.NumberColumn(format="%.3f")})
st.caption(f"Hits@k: of this session's {len(items) - 1} predicted clicks, how many the model ranked in its top k "
           "(Recall@k counted, not averaged); MRR@20: the mean of 1/rank over the same clicks, 0 beyond rank 20.")

# a two-click session has one step only, and a slider from 1 to 1 is an error in Streamlit
step = (st.slider("Step: the models have read this many clicks", 1, len(items) - 1, 1, key=f"rp_step::{index}")
        if len(items) > 2 else 1)
with chart_area:
    if ranked.empty:
        st.info("None of this session's next items is in the training catalogue, so no model can rank them "
                "(the evaluator removes such events and counts them). Pick another session.", icon=":material/info:")
    else:
        st.altair_chart(charts.replay_ranks(ranked, int(ranked["Rank"].max()), step=step), width="stretch")
k = 10
seen = " → ".join(f"{i + 1}. {catalogue.name(x)}" for i, x in enumerate(items[:step]))
st.markdown(f"**Read so far:** {seen}")
st.markdown(f"**True next item:** :primary[{catalogue.name(items[step])}] (id {items[step]})")
recs = [recommend(slot, items[:step], k, False, catalogue) for slot in slots]
for column, slot in zip(st.columns(len(slots)), slots):
    here = ranks[(ranks["Model"] == slot.label) & (ranks["Step"] == step)]["Rank"]
    rank = here.iloc[0] if len(here) else float("nan")
    column.metric(slot.label, "unknown item" if rank != rank else f"rank {rank:,g}")
table = replay.top_k_side_by_side(recs)
st.dataframe(replay.highlight_item(table, catalogue.name(items[step])), width="stretch",
             height=charts.table_height(len(table)))
st.caption(f"Each model's top {k} after reading the clicks so far; the true next item is highlighted where it "
           "appears. Scores per model are on the Session playground.")
instruments.why_panel(recs, items[:step], catalogue, exclude=False, key="rp", focus=items[step])
instruments.agreement_panel(recs, k, key="rp")
instruments.open_in_playground(selection.dataset_path, items[:step], key="rp_what_if")
