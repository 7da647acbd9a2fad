"""The playground's item map: a model's item vectors in two dimensions, the session and every
shown model's top-k drawn on it; clicking a point adds that item to the session."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from sessrec.experiments.analysis.item_map import ItemMap, has_item_vectors, item_map
from sessrec.ui import live
from sessrec.ui.catalogue import Catalogue
from sessrec.ui.charts import model_colour
from sessrec.ui.playground import RecList

COLOUR_BY = {"Popularity": "popularity (training clicks, log scale)", "Cluster": "k-means cluster of the vectors"}
#: items drawn as points at most (the most popular first); the session and top-k items always are
MAX_POINTS = 6000


@st.cache_data(show_spinner="Projecting the item vectors…", max_entries=8)
def _cached_map(_model, key: str, n_clusters: int) -> ItemMap:
    del key  # the cache key: the model's source (checkpoint path), since models are not hashable
    return item_map(_model, n_clusters=n_clusters)


def map_frame(mapped: ItemMap, catalogue: Catalogue, session: list[int], lists: list[RecList]) -> pd.DataFrame:
    """Points to draw: the map's items with name, category and popularity; the most popular
    :data:`MAX_POINTS` plus every session and top-k item."""
    frame = mapped.frame.copy()
    rows = catalogue.rows(frame["ItemId"].tolist())
    frame["Name"], frame["Category"] = rows["Name"].to_numpy(), rows["Category"].to_numpy()
    frame["Popularity"] = rows["Popularity"].to_numpy()
    frame["Cluster"] = frame["Cluster"].map(lambda c: f"cluster {c + 1}")
    wanted = set(session) | {int(i) for rec in lists for i in rec.items["ItemId"]}
    if len(frame) > MAX_POINTS:
        keep = frame["Popularity"].rank(ascending=False, method="first") <= MAX_POINTS
        frame = frame[keep | frame["ItemId"].isin(wanted)]
    return frame.reset_index(drop=True)


def map_chart(frame: pd.DataFrame, session: list[int], lists: list[RecList], colour_by: str) -> alt.LayerChart:
    """Items as small points (coloured by popularity or cluster, clickable), the session as a
    numbered path, and each model's top-k as rings in the model's colour."""
    pick = alt.selection_point(fields=["ItemId"], on="click", name="pick")
    colour = (alt.Color("Popularity:Q", scale=alt.Scale(type="log", scheme="greys"), title="training clicks")
              if colour_by == "Popularity" else alt.Color("Cluster:N", scale=alt.Scale(scheme="tableau10")))
    tooltip = ["Name", "Category", "ItemId", alt.Tooltip("Popularity:Q", format=",")]
    items = alt.Chart(frame).mark_circle(size=22, opacity=0.55).encode(
        x=alt.X("x:Q", title="first principal axis", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("y:Q", title="second principal axis", axis=alt.Axis(labels=False, ticks=False)),
        color=colour, tooltip=tooltip).add_params(pick)
    layers: list[alt.Chart] = [items]
    where = frame.set_index("ItemId")
    tops = []
    for rec in lists:
        for rank, item in zip(rec.items["Rank"].tolist(), rec.items["ItemId"].tolist()):
            if item in where.index:
                tops.append({"Model": rec.slot.label, "Rank": rank, "ItemId": item, "x": where.at[item, "x"],
                             "y": where.at[item, "y"], "Name": where.at[item, "Name"]})
    if tops:
        top_frame = pd.DataFrame(tops)
        layers.append(alt.Chart(top_frame).mark_point(size=140, strokeWidth=2, filled=False).encode(
            x="x:Q", y="y:Q", color=model_colour(top_frame, title="top-k of"),
            tooltip=["Model", "Rank", "Name", "ItemId"]))
    clicks = [{"Click": i + 1, "ItemId": item, "x": where.at[item, "x"], "y": where.at[item, "y"],
               "Name": where.at[item, "Name"]} for i, item in enumerate(session) if item in where.index]
    if clicks:
        path = pd.DataFrame(clicks)
        base = alt.Chart(path).encode(x="x:Q", y="y:Q", order="Click:Q", tooltip=["Click", "Name", "ItemId"])
        layers += [base.mark_line(color="#212529", strokeWidth=1.5),
                   base.mark_circle(color="#212529", size=90),
                   base.mark_text(dy=-11, fontWeight="bold", color="#212529").encode(text="Click:Q")]
    chart = alt.layer(*layers).properties(height=520)
    assert isinstance(chart, alt.LayerChart)  # properties() keeps the layer (typed as any top-level chart)
    return chart


def item_map_panel(lists: list[RecList], session: list[int], catalogue: Catalogue, dataset_path: str) -> None:
    """A collapsed expander: nothing is computed until it is opened."""
    panel = st.expander("Item map: the catalogue as a model sees it", icon=":material/scatter_plot:",
                        key="pg_map", on_change="rerun")
    if not panel.open:
        return
    with panel:
        usable = [rec for rec in lists if not rec.slot.is_fallback and has_item_vectors(rec.slot.model)]
        if not usable:
            st.info("None of the models shown has item vectors (GRU4Rec, NARM, SASRec, SR-GNN and Embedding-KNN "
                    "do): add one under **Models shown**.", icon=":material/info:")
            return
        c = st.columns([3, 2, 2])
        labels = [rec.slot.label for rec in usable]
        chosen = c[0].segmented_control("Vectors of", labels, default=labels[0], key="pg_map_model") or labels[0]
        colour_by = c[1].radio("Colour by", list(COLOUR_BY), horizontal=True, key="pg_map_colour")
        n_clusters = int(c[2].number_input("Clusters", 2, 20, 8, key="pg_map_k"))
        rec = usable[labels.index(chosen)]
        mapped = _cached_map(rec.slot.model, f"{rec.slot.source}::{dataset_path}", n_clusters)
        frame = map_frame(mapped, catalogue, session, lists)
        event = st.altair_chart(map_chart(frame, session, lists, colour_by), width="stretch",
                                on_select="rerun", selection_mode="pick", key="pg_map_chart")
        picked = _picked_item(event)
        if picked is not None and st.session_state.get("pg_map_last") != picked:
            st.session_state["pg_map_last"] = picked  # a selection persists across reruns: add it once
            live.add_item(dataset_path, picked)
            st.rerun()
        st.caption(f"{chosen}'s item vectors on their first two principal axes ({mapped.explained:.0%} of their "
                   f"variance; items close together are items the model treats alike), coloured by "
                   f"{COLOUR_BY[colour_by]}. Numbered dots: your clicks; rings: each shown model's top "
                   f"{len(lists[0].items)}. Click a point to add that item to the session."
                   + (f" The {MAX_POINTS:,} most popular items are drawn." if len(mapped.frame) > MAX_POINTS else ""))


def _picked_item(event) -> int | None:
    """The item id a click on the map selected, if any."""
    try:
        points = event["selection"]["pick"]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    value = points[0].get("ItemId") if isinstance(points[0], dict) else None
    return int(value) if isinstance(value, (int, float, np.integer)) else None
