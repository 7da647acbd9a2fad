"""Streamlit pieces the pages share: item buttons, the session timeline, the catalogue
browser, recommendation lists. Every button adds or removes through an ``on_click``
callback of :mod:`sessrec.ui.live`."""

from __future__ import annotations

import streamlit as st

from sessrec.ui import charts, live
from sessrec.ui.catalogue import ALL_CATEGORIES, SORTS, Catalogue, n_pages
from sessrec.ui.playground import RecList

PER_PAGE = 24
GRID_COLUMNS = 2


def fmt_score(value: float) -> str:
    """Scores of any model readable at a glance: counts as integers, similarities with 3 digits."""
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if abs(value) >= 0.001 or value == 0 else f"{value:.1e}"


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
                label: str | None = None, type: str = "secondary") -> None:
    st.button(
        label or _short(name), key=key, help=f"{name} · {category} · id {item_id} · {popularity:,} training clicks",
        on_click=live.add_item, args=(dataset_path, int(item_id)), width="stretch", type=type,
    )


def catalogue_browser(catalogue: Catalogue, dataset_path: str) -> None:
    """Search / filter / sort / page the catalogue; only one page of items is rendered."""
    cols = st.columns([5, 4, 3], vertical_alignment="bottom")
    query = cols[0].text_input("Search", key=f"pg_query::{dataset_path}", placeholder="item id or part of a name")
    category = None
    if catalogue.has_categories:
        category = cols[1].selectbox("Category", [ALL_CATEGORIES, *catalogue.categories()],
                                     key=f"pg_category::{dataset_path}")
    sort = cols[2].selectbox("Sort by", SORTS, key="pg_sort", format_func=str.capitalize)

    shelf = catalogue.popular(6, category)
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


def slot_caption(rec: RecList) -> None:
    slot = rec.slot
    if slot.is_fallback:
        st.warning(f"{slot.label} is not available ({slot.note}); showing the popularity fallback.",
                   icon=":material/info:")
    elif slot.note:
        st.warning(f"{slot.label}: {slot.note}", icon="⚠️")
    text = f"`{slot.source}` · {rec.seconds * 1000:.1f} ms"
    if rec.unknown_items:
        text += f" · skipped {len(rec.unknown_items)} session item(s) it does not know"
    st.caption(text)


def rec_buttons(rec: RecList, dataset_path: str, highlight: set[int] | None = None) -> None:
    """The top-k as a clickable list: rank, name, score. Clicking adds the item."""
    box = st.container(gap=None, key=f"rec_list_{rec.slot.role}")
    for row in rec.items.itertuples():
        mark = " ★" if highlight and row.ItemId in highlight else ""
        box.button(
            f"**{row.Rank}.** {_short(row.Name, 30)}{mark} :gray[{fmt_score(row.Score)}]",
            key=f"rec_{rec.slot.role}_{row.ItemId}", type="tertiary",
            help=f"{row.Name} · {row.Category} · id {row.ItemId} · score {row.Score:.5g} — click to add",
            on_click=live.add_item, args=(dataset_path, int(row.ItemId)),
        )


def primary_panel(rec: RecList, dataset_path: str) -> None:
    """The main model: bar chart of the top-k scores, the clickable list, the table."""
    colour = charts.MODEL_COLOURS.get(rec.slot.label, "#d6336c")
    left, right = st.columns([3, 2])
    with left:
        chart = charts.recommendation_bars(rec.items, colour)
        st.altair_chart(chart, width="stretch", height=charts.bar_height(len(rec.items)))
    with right:
        rec_buttons(rec, dataset_path)
    with st.expander("Top-k as a table"):
        st.dataframe(
            rec.items, hide_index=True, width="stretch",
            column_config={"Score": st.column_config.NumberColumn(format="%.5f"),
                           "ItemId": st.column_config.NumberColumn("Item id", format="%d")},
        )
