"""The instruments of the playground and Replay: what-if edits of the session, what changed in
each list, why an item is recommended (leave-one-out, attention, evidence), and how much the
shown models agree.

All numbers come from :mod:`sessrec.experiments.analysis.explain`; this module only draws. The
expensive parts run only inside an opened expander.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from sessrec.experiments.analysis import explain
from sessrec.ui import live
from sessrec.ui.catalogue import Catalogue
from sessrec.ui.playground import RecList

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


def edit_panel(session: list[int], catalogue: Catalogue, dataset_path: str) -> None:
    """What if: move a click, replace it, or remove it; every list below follows."""
    if not session:
        return
    # lazy like the other panels: its widgets cost nothing on a click while it is closed
    panel = st.expander("What if? Edit a click of the session", icon=":material/edit:", key="pg_edit",
                        on_change="rerun")
    if not panel.open:
        st.session_state.pop("pg_edit_error", None)  # closing the panel dismisses its error
        return
    with panel:
        cols = st.columns([3, 4, 3], vertical_alignment="bottom")
        position = cols[0].selectbox("Click", range(len(session)), key="pg_edit_pos",
                                     format_func=lambda p: f"{p + 1}. {catalogue.name(session[p])[:40]}")
        position = min(int(position or 0), len(session) - 1)
        row = cols[1].container(horizontal=True, gap="small")
        row.button("Earlier", icon=":material/arrow_back:", key="pg_move_left", disabled=position == 0,
                   on_click=live.move, args=(dataset_path, position, -1))
        row.button("Later", icon=":material/arrow_forward:", key="pg_move_right",
                   disabled=position == len(session) - 1, on_click=live.move, args=(dataset_path, position, 1))
        row.button("Remove", icon=":material/close:", key="pg_edit_remove", on_click=_forget_error_then,
                   args=(live.remove_at, dataset_path, position))
        # the error belongs to the id typed: typing again (or clearing the box) takes it away
        replacement = cols[2].text_input("Replace with item id", key="pg_replace_id", placeholder="item id",
                                         on_change=lambda: st.session_state.pop("pg_edit_error", None))

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
        st.caption("After an edit, each list marks what changed: *new* entered the top-k, ↑/↓ moved by that many places.")


def _forget_error_then(action, *args) -> None:
    """Run an edit (remove, move) and drop the last replacement error: it no longer applies."""
    st.session_state.pop("pg_edit_error", None)
    action(*args)


def why_panel(lists: list[RecList], session: list[int], catalogue: Catalogue, exclude: bool, key: str = "pg",
              focus: int | None = None, focus_label: str = "true next item") -> None:
    """Why a model ranks an item where it does, for any shown model: leave-one-out attribution
    of the item to each click, plus the model's attention over the clicks (attention models)
    or the evidence behind the score (counting models).

    ``key`` prefixes the widget keys (one panel per page); ``focus`` is an item offered first
    besides the recommendations (Replay: the item really clicked next).
    """
    panel = st.expander("Why this item? Leave each click out, attention, evidence", icon=":material/psychology_alt:",
                        key=f"{key}_why", on_change="rerun")
    if not panel.open:
        return
    with panel:
        if not session or not lists:
            st.info("Click a few items first: this explains a recommendation by the clicks that produced it.")
            return
        labels = [rec.slot.label for rec in lists]
        cols = st.columns(2)
        chosen = cols[0].selectbox("Model", labels, key=f"{key}_why_model") or labels[0]
        rec = lists[labels.index(chosen)]
        ranked = [int(i) for i in rec.items["ItemId"]]
        items = ranked if focus is None else [int(focus)] + [i for i in ranked if i != int(focus)]
        if not items:
            st.info(f"{chosen} has no recommendation to explain.")
            return

        def item_name(i: int) -> str:
            place = f"{ranked.index(i) + 1}. " if i in ranked else ""
            lead = f"{focus_label} · " if focus is not None and i == int(focus) else ""
            return f"{lead}{place}{catalogue.name(i)[:50]}"

        item = cols[1].selectbox("Item", items, key=f"{key}_why_item", format_func=item_name)
        item = item if item in items else items[0]
        try:
            frame = explain.leave_one_out(rec.slot.model, session, item, exclude_seen=exclude)
        except KeyError:
            st.info(f"{chosen} does not know **{catalogue.name(item)}** (not in its training data): it cannot rank it.")
            return
        if exclude and frame.attrs["rank"] != frame.attrs["rank"]:
            st.info(f"**{catalogue.name(item)}** is in the session and the lists hide clicked items: it has no rank.")
            return
        attention = explain.attention_weights(rec.slot.model, session)
        if attention is not None:
            left, right = st.columns(2, gap="medium")
            with left:
                _leave_one_out_view(frame, chosen, item, catalogue)
            with right:
                _attention_view(attention, chosen, catalogue)
        else:
            _leave_one_out_view(frame, chosen, item, catalogue)
        found = explain.evidence(rec.slot.model, session, item)
        if found is not None:
            _evidence_view(found, chosen, item, catalogue)


def _click_labels(frame: pd.DataFrame, catalogue: Catalogue) -> list[str]:
    return [f"{p}. {catalogue.name(i)}" for p, i in zip(frame["Position"], frame["Clicked"])]


def _leave_one_out_view(frame: pd.DataFrame, model: str, item: int, catalogue: Catalogue) -> None:
    """Per-click bars: how many places each click moves the item (leave-one-out)."""
    frame = frame.copy()
    frame["Click"] = _click_labels(frame, catalogue)
    frame["Effect"] = ["raises it" if d > 0 else "lowers it" if d < 0 else "none" for d in frame["DeltaRank"]]
    chart = (
        alt.Chart(frame, title="leave-one-out attribution")
        .mark_bar()
        .encode(
            y=alt.Y("Click:N", sort=list(frame["Click"]), title="click", axis=alt.Axis(labelLimit=300)),
            x=alt.X("DeltaRank:Q", title="places the click moves the item up"),
            color=alt.Color("Effect:N", scale=alt.Scale(domain=["raises it", "lowers it", "none"],
                                                        range=["#2f9e44", "#e03131", "#adb5bd"]), legend=None),
            tooltip=["Click", alt.Tooltip("DeltaRank:Q", format="+.1f", title="Δ rank"),
                     alt.Tooltip("DeltaScore:Q", format="+.4g", title="Δ score"),
                     alt.Tooltip("RankWithout:Q", format=".1f", title="rank without the click")],
        )
    )
    # the frame's height, not the chart's: Streamlit otherwise squeezes the rows into a default height
    st.altair_chart(chart, width="stretch", height=110 + 34 * len(frame))
    st.caption(f"{model}: **{catalogue.name(item)}** has score {frame.attrs['score']:.4g} and rank "
               f"{frame.attrs['rank']:.0f} after the whole session. Each bar re-scores the session without "
               "that one click (the others kept, in order) and shows rank without it − rank with it: green "
               "clicks pull the item up, red ones push it "
               "down. This is leave-one-out attribution, computed from the model's scores; it is not the "
               "model's attention.")


def _attention_view(frame: pd.DataFrame, model: str, catalogue: Catalogue) -> None:
    """The model's own attention weights over the clicks, labelled as such."""
    frame = frame.copy()
    frame["Click"] = _click_labels(frame, catalogue)
    read = frame.dropna(subset=["Attention"])
    chart = (
        alt.Chart(read, title="attention (not attribution)")
        .mark_bar(color="#7048e8")
        .encode(
            y=alt.Y("Click:N", sort=list(frame["Click"]), title="click", axis=alt.Axis(labelLimit=300)),
            x=alt.X("Attention:Q", title="attention weight of the click"),
            tooltip=["Click", alt.Tooltip("Attention:Q", format=".3f", title="attention")],
        )
    )
    # the frame's height, not the chart's: Streamlit otherwise squeezes the rows into a default height
    st.altair_chart(chart, width="stretch", height=110 + 34 * len(frame))
    unread = len(frame) - len(read)
    total = float(read["Attention"].sum())
    # SR-GNN's readout gates are not a softmax: say so when the weights are not a distribution
    scale = ("" if abs(total - 1.0) < 1e-3 and (read["Attention"] >= 0).all() else
             " These weights are not normalised (SR-GNN's readout gates, say): only their relative size and sign "
             "mean something, and they need not be positive or sum to 1.")
    st.caption(f"{model}'s **attention (not attribution)**: the weight its attention gives each click when it "
               f"builds the session's representation (sum {total:.3g} over the clicks it read"
               + (f"; {unread} click(s) it did not read: unknown items or before its window" if unread else "")
               + "). The weights are the same for every recommended item and say where the model looked, not how "
               "much a click changed this item's rank: that is the leave-one-out chart." + scale)


def _evidence_view(found, model: str, item: int, catalogue: Catalogue) -> None:
    """The table rows that add up to the item's score (counting models)."""
    table = found.table.copy()
    config = {"Contribution": st.column_config.NumberColumn(format="%.4g")}
    if "Clicked" in table:
        table.insert(0, "Click", _click_labels(table, catalogue))
        table = table.drop(columns=["Position", "Clicked"])
    if "Items" in table:
        table["Items"] = [", ".join(catalogue.name(i)[:24] for i in items[:12]) + (" …" if len(items) > 12 else "")
                          for items in table["Items"]]
        config["Similarity"] = st.column_config.NumberColumn(format="%.4g")
        config["Neighbour"] = st.column_config.NumberColumn("Neighbour (training session by recency)", format="%d")
    st.markdown(f"**Evidence** · the {found.kind} behind {model}'s score for **{catalogue.name(item)}**")
    if len(table):
        st.dataframe(table, hide_index=True, width="stretch", column_config=config,
                     height=min(38 + 35 * len(table), 400))
    holders = f" {int(found.table['Has item'].sum())} of {len(table)} neighbours hold the item." \
        if found.kind == "neighbours" else ""
    base = f" + {found.base:.4g} (not from the table)" if found.base else ""
    st.caption(f"{found.note}{holders} Contributions {found.table['Contribution'].sum():.6g}{base} = "
               f"{found.total:.6g}; the model's score: {found.score:.6g}.")


def agreement_panel(lists: list[RecList], k: int, key: str = "pg") -> None:
    """Overlap of the shown models' top-k lists for this session (Jaccard@k and RBO)."""
    if len(lists) < 2:
        return
    panel = st.expander("How much do the models agree on this session?", icon=":material/compare_arrows:",
                        key=f"{key}_agree", on_change="rerun")
    if not panel.open:
        return
    with panel:
        table = explain.agreement_table({rec.slot.label: [int(i) for i in rec.items["ItemId"]] for rec in lists}, k)
        names = [rec.slot.label for rec in lists]
        square = pd.DataFrame(1.0, index=names, columns=names)
        for row in table.itertuples():
            square.loc[row.A, row.B] = square.loc[row.B, row.A] = row.RBO
        st.markdown(f"**Rank-biased overlap (p = 0.9) of every pair of top-{k} lists** (1 = the same list)")
        st.dataframe(square, width="stretch",
                     column_config={name: st.column_config.ProgressColumn(name, format="%.2f", min_value=0.0,
                                                                          max_value=1.0) for name in names})
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"Jaccard": st.column_config.NumberColumn(f"Jaccard@{k}", format="%.2f"),
                                    "RBO": st.column_config.NumberColumn("RBO (p = 0.9)", format="%.2f")})
        st.caption(f"Jaccard@{k}: shared items over all items of the two top-{k} lists, order ignored. "
                   "Rank-biased overlap weighs agreement at the top of the lists more (1 = same lists).")


def open_in_playground(dataset_path: str, items: list[int], key: str) -> None:
    """A button that loads ``items`` as the playground's session and goes there (for what-if edits)."""
    def load() -> None:
        live.load(dataset_path, items)
        st.session_state[f"{key}::go"] = True

    st.button("Edit this session in the playground (what if?)", icon=":material/edit:", key=key, on_click=load,
              help="Opens these clicks in the Session playground, where you can move, replace or remove any of "
                   "them and see every model's list change.")
    if st.session_state.pop(f"{key}::go", False):
        st.switch_page("pages/playground.py")
