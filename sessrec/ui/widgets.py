"""Streamlit pieces the pages share: item buttons, the session timeline, the catalogue
browser, the playground's body. Every button adds or removes through an ``on_click``
callback of :mod:`sessrec.ui.live`; the recommendation lists are drawn by
:mod:`sessrec.ui.rec_lists`, whose clicks end in the same callbacks."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from sessrec.models.registry import colour_of
from sessrec.ui import charts, instruments, item_map, live, rec_lists
from sessrec.ui.catalogue import ALL_CATEGORIES, SORTS, Catalogue, n_pages
from sessrec.ui.models import roles as model_roles
from sessrec.ui.playground import RecList

PER_PAGE = 12
GRID_COLUMNS = 2


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def session_timeline(items: list[int], catalogue: Catalogue, dataset_path: str) -> None:
    """The clicks so far, in order; each chip removes its item."""
    if not items:
        st.info("The session is empty: click any item in the catalogue (or a recommendation) to start.",
                icon=":material/touch_app:")
        return
    row = st.container(horizontal=True, gap="small")
    for pos, item in enumerate(items):
        row.button(
            f"{pos + 1}. {_short(catalogue.name(item), 28)}", key=f"rm_{pos}_{item}", icon=":material/close:",
            icon_position="right", help=f"remove click {pos + 1} (id {item}, {catalogue.category(item)})",
            on_click=live.remove_at, args=(dataset_path, pos),
        )


def session_controls(items: list[int], dataset_path: str) -> None:
    row = st.container(horizontal=True, gap="small")
    row.button("Undo last click", icon=":material/undo:", key="pg_undo", disabled=not items,
               on_click=live.undo, args=(dataset_path,))
    row.button("Reset session", icon=":material/restart_alt:", key="pg_reset", disabled=not items,
               on_click=live.reset, args=(dataset_path,))


def item_button(item_id: int, name: str, category: str, popularity: int, key: str, dataset_path: str,
                label: str | None = None, type: Literal["primary", "secondary", "tertiary"] = "secondary") -> None:
    st.button(
        label or _short(name), key=key, help=f"{name} · {category} · id {item_id} · {popularity:,} training clicks",
        on_click=live.add_item, args=(dataset_path, int(item_id)), width="stretch", type=type,
    )


def catalogue_browser(catalogue: Catalogue, dataset_path: str) -> None:
    """Search / filter / sort / page the catalogue; only one page of items is rendered."""
    query = st.text_input("Search", key=f"pg_query::{dataset_path}", placeholder="item id or part of a name",
                          label_visibility="collapsed")
    cols = st.columns([3, 2], vertical_alignment="bottom")
    category = None
    if catalogue.has_categories:
        category = cols[0].selectbox("Category", [ALL_CATEGORIES, *catalogue.categories()],
                                     key=f"pg_category::{dataset_path}")
    sort = cols[1].selectbox("Sort by", SORTS, key="pg_sort", format_func=str.capitalize)

    # the most popular items stay one click away (the first page already is that list when sorted by popularity)
    shelf = catalogue.popular(6, category) if sort != "popularity" else catalogue.popular(0)
    if len(shelf) and not query:
        st.caption(":material/local_fire_department: Popular" + (f" in {category}" if category and category != ALL_CATEGORIES else ""))
        grid = st.columns(GRID_COLUMNS)
        for i, row in enumerate(shelf.itertuples()):
            with grid[i % GRID_COLUMNS]:
                item_button(row.ItemId, row.Name, row.Category, row.Popularity, f"pop_{row.ItemId}",
                            dataset_path)

    positions = catalogue.search(query, category, sort)
    total = len(positions)
    if total == 0:
        st.warning(f"No item matches “{query}”" + (f" in {category}" if category and category != ALL_CATEGORIES else "")
                   + ". Try part of a name or an item id.")
        return
    pages = n_pages(total, PER_PAGE)
    page = 1
    st.caption(f"{total:,} of {len(catalogue):,} items" + (f" · {PER_PAGE} per page" if pages > 1 else ""))
    frame_container = st.container()
    if pages > 1:
        page = st.pagination(pages, key=f"pg_page::{dataset_path}::{query}::{category}::{sort}", max_visible_pages=5)
    frame = catalogue.page(positions, page, PER_PAGE)
    with frame_container:
        grid = st.columns(GRID_COLUMNS)
        for i, row in enumerate(frame.itertuples()):
            with grid[i % GRID_COLUMNS]:
                item_button(row.ItemId, row.Name, row.Category, row.Popularity, f"cat_{row.ItemId}", dataset_path)


def _view(rec: RecList, heading: str | None = None, highlight: set[int] | None = None,
          changes: dict[str, dict[int, str]] | None = None) -> dict:
    meaning = "training clicks (popularity fallback)" if rec.slot.is_fallback else spec_of(rec.slot.role).scores
    return rec_lists.list_view(rec, heading=heading, highlight=highlight, changes=(changes or {}).get(rec.slot.role),
                               negative_is_fallback=spec_of(rec.slot.role).negative_is_fallback, meaning=meaning)


def _random_test_session(selection, catalogue: Catalogue, dataset_path: str) -> None:
    """Load a random test session, all but its last click, whose clicks the catalogue knows."""
    import random

    test = selection.dataset().test
    for _ in range(200):
        items = [int(i) for i in test.session(random.randrange(test.n_sessions))][:-1]
        if items and all(catalogue.known(items)):
            live.load(dataset_path, items)
            return


def slot_notice(slot) -> None:
    """Why a model column shows something other than its own checkpoint (once per page)."""
    if slot.is_fallback:
        st.warning(f"{slot.label} is not available ({slot.note}); its column shows the popularity fallback.",
                   icon=":material/info:")
    elif slot.note:
        st.warning(f"{slot.label}: {slot.note}", icon="⚠️")


def missing_models_notice(selection, lists: list[RecList]) -> None:
    """Models shown without a checkpoint for this dataset: say which, and offer to train them."""
    from sessrec.ui import train as ui_train

    missing = [rec.slot for rec in lists if rec.slot.is_fallback and not selection.checkpoints.get(rec.slot.role)]
    if not missing:
        return
    names = ", ".join(slot.label for slot in missing)
    key = f"pg_train_missing::{selection.dataset_name}"
    with st.container(border=True):
        st.markdown(f":material/model_training: **No trained {names} for {selection.dataset_name} yet**: "
                    f"{'its column shows' if len(missing) == 1 else 'their columns show'} the popularity fallback.")
        if st.session_state.get(key):
            st.caption(f"Training started ({len(st.session_state[key])} job(s)); follow the progress on the Train "
                       "page. Each checkpoint appears in the sidebar when its job is done.")
            st.page_link("pages/train.py", label="Open the Train page", icon=":material/model_training:")
            return
        st.caption("Train them at this dataset's benchmark settings, each in its own background process "
                   "(`python -m sessrec train --all` does the same from the command line). GRU4Rec and the kNN "
                   "models take minutes; NARM, SASRec and SR-GNN from minutes on rsc15_100k to hours on the "
                   "larger datasets.")
        def start() -> None:
            st.session_state[key] = ui_train.start_missing(
                str(selection.dataset_path), selection.dataset_name, [slot.role for slot in missing])

        st.button(f"Train {names} in the background", key=f"{key}::button", icon=":material/play_arrow:",
                  on_click=start)


def playground_body(selection, catalogue: Catalogue, dataset_path: str) -> None:
    """The part of the playground a click changes (run inside an ``st.fragment``)."""
    from sessrec.ui import playground

    session = live.get(dataset_path)
    live.sync_url(selection.dataset_name, session, selection.shown, tuple(role for role, _ in model_roles()))
    # every list is computed before anything is drawn, so the page changes in one step
    # instead of showing the new session beside the old lists while the models work
    k = int(st.session_state.get("pg_k", DEFAULT_K))
    exclude = bool(st.session_state.get("pg_exclude", True))
    lists = playground.recommend_all(selection.slots(), session, k, exclude, catalogue)
    changes = instruments.remember_changes(dataset_path, session, lists)
    with st.container(border=True):
        head = st.columns([6, 3], vertical_alignment="center")
        head[0].markdown(f"**Your session** · {len(session)} click{'s' if len(session) != 1 else ''}")
        with head[1]:
            session_controls(session, dataset_path)
        session_timeline(session, catalogue, dataset_path)
        if not session and selection.dataset().test.n_sessions:
            st.button("Start from a random test session", key="pg_random_session", icon=":material/casino:",
                      on_click=_random_test_session, args=(selection, catalogue, dataset_path),
                      help="Loads a real test session of this dataset, all but its last click")
    instruments.edit_panel(session, catalogue, dataset_path)

    browse, results = st.columns([5, 6], gap="large")
    with results:
        controls = st.columns([3, 2], vertical_alignment="bottom")
        controls[0].slider("How many recommendations (k)", 5, 30, DEFAULT_K, key="pg_k")
        controls[1].toggle("Hide clicked items", value=True, key="pg_exclude",
                           help="Leave the items already in the session out of the lists")
        if not lists:
            st.info("No model is shown: choose at least one under **Models shown** in the sidebar.")
            with browse:
                st.subheader("Catalogue")
                catalogue_browser(catalogue, dataset_path)
            return
        missing_models_notice(selection, lists)
        main, others = lists[0], lists[1:]
        if main.slot.is_fallback:
            heading = f"{main.slot.label} — not available"
            st.caption(f"{main.slot.label} shows the popularity ranking in its place ({main.slot.note}). Pick a "
                       f"{main.slot.label} checkpoint in the sidebar.")
        else:
            heading = f"{main.slot.label} — top {k}"
        main_view = _view(main, heading=heading, changes=changes)
        with st.container(border=True, key="primary_list"):
            rec_lists.show([main_view], dataset_path, key="pg_lists_main")
    highlight = set() if main.slot.is_fallback or main_view["note"] else set(main.items["ItemId"].tolist())
    if others:
        # drawn before the catalogue, so every list is final before the browser draws the catalogue
        st.markdown("#### Other models, same session")
        rec_lists.show([_view(rec, highlight=highlight, changes=changes) for rec in others], dataset_path,
                       key="pg_lists_others", columns=COLUMNS_PER_ROW)
    with browse:
        st.subheader("Catalogue")
        catalogue_browser(catalogue, dataset_path)

    fallback_note = (" \"by popularity\": the model has no evidence for that item after this session "
                     "(no transition, no similarity), so it ranks it by training popularity below every item it has "
                     "evidence for." if any(spec_of(r.slot.role).negative_is_fallback for r in lists) else "")
    st.caption((f"★ also in {main.slot.label}'s top {k}. " if highlight else "") +
               "Click any recommendation to add it to the session. Scores are each model's own, on its own "
               f"scale (under each list: what they are).{fallback_note} Choose the models shown in the sidebar.")
    instruments.why_panel(lists, session, catalogue, exclude)
    instruments.agreement_panel(lists, k)
    charts_panel(lists, session, catalogue, exclude)
    item_map.item_map_panel(lists, session, catalogue, dataset_path)


#: list length before the user moves the slider
DEFAULT_K = 10
#: model columns per row under the main list
COLUMNS_PER_ROW = 3


def spec_of(role: str):
    """The registry entry of a model (a neutral one for names the registry does not know)."""
    from sessrec.models.registry import SPECS, ModelSpec

    return SPECS.get(role) or ModelSpec(role, "", role, "", "")


CHART_VIEWS = ("Top-k scores", "Rank trajectory", "Score distribution")


def charts_panel(lists: list[RecList], session: list[int], catalogue: Catalogue, exclude: bool) -> None:
    """Charts in a collapsed expander with lazy tabs: nothing is computed until they are shown."""
    from sessrec.ui import playground

    panel = st.expander("Charts: top-k scores, rank trajectory, score distribution", icon=":material/bar_chart:",
                        key="pg_charts", on_change="rerun")
    if not panel.open:
        return
    with panel:
        labels = [rec.slot.label for rec in lists]
        chosen = st.segmented_control("Model", labels, default=labels[0], key="pg_chart_model") or labels[0]
        rec = lists[labels.index(chosen)]
        tabs = st.tabs(list(CHART_VIEWS), key="pg_chart_tab", on_change="rerun")
        if tabs[0].open:
            with tabs[0]:
                colour = colour_of(rec.slot.label) or "#be0032"
                st.altair_chart(charts.recommendation_bars(rec.items, colour), width="stretch",
                                height=charts.bar_height(len(rec.items)))
                st.caption(f"{chosen}'s top {len(rec.items)} and their scores.")
        if tabs[1].open:
            with tabs[1]:
                if len(session) < 1:
                    st.info("Click a few items: this chart shows how the ranks of the current top items moved "
                            "with each click.")
                else:
                    top = rec.items["ItemId"].tolist()[:8]
                    traj = playground.rank_trajectory(rec.slot.model, session, top, exclude)
                    names = {i: catalogue.name(i) for i in set(traj["ItemId"]) | set(session)}
                    st.altair_chart(charts.rank_trajectory(traj, names, int(traj["Rank"].max()) if len(traj) else 10),
                                    width="stretch")
                    st.caption(f"Ranks of {chosen}'s current top {len(top)} after each click of this session "
                               "(1 = top of the list; log scale).")
        if tabs[2].open:
            with tabs[2]:
                hist = playground.score_histogram(rec.all_scores)
                threshold = float(rec.items["Score"].iloc[-1]) if len(rec.items) else None
                st.altair_chart(charts.score_histogram(hist, threshold), width="stretch")
                st.caption(f"{chosen}'s scores over all {len(rec.all_scores):,} items of its catalogue; "
                           "the dashed line is the score of its k-th recommendation.")
