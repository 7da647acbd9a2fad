"""The playground's instruments: what-if edits of the session, what changed in each list,
why an item is recommended (leave-one-out), and how much the shown models agree.

All numbers come from :mod:`sessrec.experiments.explain`; this module only draws. The
expensive parts run only inside an opened expander.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from sessrec.experiments import explain
from sessrec.ui import live
from sessrec.ui.catalogue import Catalogue
from sessrec.ui.playground import RecList

CHANGE_MARKS = {"new": "🆕"}


def remember_changes(dataset_path: str, session: list[int], lists: list[RecList]) -> dict[str, dict[int, str]]:
    """Per model, how its list changed with the last edit of the session ("new", "up 2", ...).

    The lists of the previous session are kept in ``st.session_state``; reruns that do not
    change the session (moving the k slider, opening a chart) keep showing the last change.
    """
    out = {}
    for rec in lists:
        key = f"pg_prev::{dataset_path}::{rec.slot.role}"
        items = [int(i) for i in rec.items["ItemId"]]
        previous = st.session_state.get(key)
        if previous is None:
            changes: dict[int, str] = {}
        elif previous["session"] == session:
            changes = previous["changes"]
        else:
            changes = explain.list_changes(previous["items"], items) if previous["session"] else {}
        st.session_state[key] = {"session": list(session), "items": items, "changes": changes}
        out[rec.slot.role] = changes
    return out


def change_mark(change: str) -> str:
    """A short badge for a list change: 🆕, ↑2, ↓1 or nothing."""
    if not change or change == "left":
        return ""
    if change in CHANGE_MARKS:
        return f" {CHANGE_MARKS[change]}"
    direction, steps = change.split()
    return f" {'↑' if direction == 'up' else '↓'}{steps}"


def edit_panel(session: list[int], catalogue: Catalogue, dataset_path: str) -> None:
    """What if: move a click, replace it, or remove it; every list below follows."""
    if not session:
        return
    with st.expander("What if? Edit a click of the session", icon=":material/edit:"):
        cols = st.columns([3, 4, 3], vertical_alignment="bottom")
        position = cols[0].selectbox("Click", range(len(session)), key="pg_edit_pos",
                                     format_func=lambda p: f"{p + 1}. {catalogue.name(session[p])[:40]}")
        position = min(int(position or 0), len(session) - 1)
        row = cols[1].container(horizontal=True, gap="small")
        row.button("Earlier", icon=":material/arrow_back:", key="pg_move_left", disabled=position == 0,
                   on_click=live.move, args=(dataset_path, position, -1))
        row.button("Later", icon=":material/arrow_forward:", key="pg_move_right",
                   disabled=position == len(session) - 1, on_click=live.move, args=(dataset_path, position, 1))
        row.button("Remove", icon=":material/close:", key="pg_edit_remove", on_click=live.remove_at,
                   args=(dataset_path, position))
        replacement = cols[2].text_input("Replace with item id", key="pg_replace_id", placeholder="item id")

        def replace() -> None:
            text = (st.session_state.get("pg_replace_id") or "").strip()
            if not text.isdigit() or int(text) not in catalogue:
                st.session_state["pg_edit_error"] = f"'{text[:30]}' is not an item id of this catalogue."
                return
            st.session_state.pop("pg_edit_error", None)
            live.replace_at(dataset_path, position, int(text))

        cols[2].button("Replace", key="pg_replace", on_click=replace, disabled=not replacement)
        if st.session_state.get("pg_edit_error"):
            st.error(st.session_state["pg_edit_error"])
        st.caption("After an edit, each list marks what changed: 🆕 entered the top-k, ↑/↓ moved by that many places.")


def why_panel(lists: list[RecList], session: list[int], catalogue: Catalogue, exclude: bool) -> None:
    """Leave-one-out attribution of one recommended item to each click, for any shown model."""
    panel = st.expander("Why this item? Leave each click out", icon=":material/psychology_alt:",
                        key="pg_why", on_change="rerun")
    if not panel.open:
        return
    with panel:
        if not session:
            st.info("Click a few items first: this explains a recommendation by the clicks that produced it.")
            return
        labels = [rec.slot.label for rec in lists]
        cols = st.columns(2)
        chosen = cols[0].selectbox("Model", labels, key="pg_why_model") or labels[0]
        rec = lists[labels.index(chosen)]
        items = [int(i) for i in rec.items["ItemId"]]
        if not items:
            st.info(f"{chosen} has no recommendation to explain.")
            return
        item = cols[1].selectbox("Recommended item", items, key="pg_why_item",
                                 format_func=lambda i: f"{items.index(i) + 1}. {catalogue.name(i)[:50]}")
        item = item if item in items else items[0]
        frame = explain.leave_one_out(rec.slot.model, session, item, exclude_seen=exclude)
        frame["Click"] = [f"{p}. {catalogue.name(i)[:28]}" for p, i in zip(frame["Position"], frame["Clicked"])]
        frame["Effect"] = ["raises it" if d > 0 else "lowers it" if d < 0 else "none" for d in frame["DeltaRank"]]
        chart = (
            alt.Chart(frame)
            .mark_bar()
            .encode(
                y=alt.Y("Click:N", sort=list(frame["Click"]), title="click"),
                x=alt.X("DeltaRank:Q", title="places the click moves the item up (rank without it − rank with it)"),
                color=alt.Color("Effect:N", scale=alt.Scale(domain=["raises it", "lowers it", "none"],
                                                            range=["#2f9e44", "#e03131", "#adb5bd"]), legend=None),
                tooltip=["Click", alt.Tooltip("DeltaRank:Q", format="+.1f", title="Δ rank"),
                         alt.Tooltip("DeltaScore:Q", format="+.4g", title="Δ score"),
                         alt.Tooltip("RankWithout:Q", format=".1f", title="rank without the click")],
            )
            .properties(height=max(120, 26 * len(frame)))
        )
        st.altair_chart(chart, width="stretch")
        st.caption(f"{chosen}: **{catalogue.name(item)}** has score {frame.attrs['score']:.4g} and rank "
                   f"{frame.attrs['rank']:.0f} after the whole session. Each bar re-scores the session without "
                   "that one click (the others kept, in order): green clicks pull the item up, red ones push it "
                   "down. This is leave-one-out attribution, computed from the model's scores; it is not the "
                   "model's attention.")


def agreement_panel(lists: list[RecList], k: int) -> None:
    """Overlap of the shown models' top-k lists for this session (Jaccard@k and RBO)."""
    if len(lists) < 2:
        return
    panel = st.expander("How much do the models agree on this session?", icon=":material/compare_arrows:",
                        key="pg_agree", on_change="rerun")
    if not panel.open:
        return
    with panel:
        table = explain.agreement_table({rec.slot.label: [int(i) for i in rec.items["ItemId"]] for rec in lists}, k)
        names = [rec.slot.label for rec in lists]
        square = pd.DataFrame(1.0, index=names, columns=names)
        for row in table.itertuples():
            square.loc[row.A, row.B] = square.loc[row.B, row.A] = row.RBO
        st.dataframe(square, width="stretch",
                     column_config={name: st.column_config.ProgressColumn(name, format="%.2f", min_value=0.0,
                                                                          max_value=1.0) for name in names})
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"Jaccard": st.column_config.NumberColumn(f"Jaccard@{k}", format="%.2f"),
                                    "RBO": st.column_config.NumberColumn("RBO (p = 0.9)", format="%.2f")})
        st.caption(f"Jaccard@{k}: shared items over all items of the two top-{k} lists, order ignored. "
                   "Rank-biased overlap weighs agreement at the top of the lists more (1 = same lists).")
