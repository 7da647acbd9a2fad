"""The Known users page: the online path of the user-context task, drawn.

Everything it shows comes from :class:`sessrec.serving.online.OnlineRecommender`; this
module only picks the inputs (dataset, user, context) and lays out the answer: where it
came from (cache, models, fallback), the four models side by side with their times and
judgement, the chosen list marked, and the database's latest model runs.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from sessrec.data.user_data import find_user_datasets, load_user_dataset
from sessrec.errors import SessrecError, clip
from sessrec.serving.online import FALLBACK, Answer, ModelAnswer, OnlineRecommender
from sessrec.serving.store import default_url
from sessrec.ui.paths import checkpoint_root, data_root, display_path

NOW = "now (from the clock)"
USUAL = "the user's usual"
NEW_USER = "a new user"
#: the mark of the list the request chose (a Material icon: an emoji needs a font the browser may lack)
CHOSEN = ":material/star: chosen"


def _stamp(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_mtime) for p in folder.glob("*.pt"))) if folder.is_dir() else ()


@st.cache_resource(show_spinner="Loading the models and the database…", max_entries=4)
def _service(dataset_path: str, models_path: str, db_url: str, stamp: tuple) -> OnlineRecommender:
    del stamp  # part of the cache key only: a retrained model is picked up
    return OnlineRecommender.open(dataset_path, models_path, db_url=db_url)


def _db_url() -> str:
    return os.environ.get("SESSREC_DB") or default_url()


def render() -> None:
    """The whole page."""
    st.title("Known users")
    st.caption("The second system of the workbench: recommendations for a **known user** in a **context** (such as time of "
               "day, season, device), from four models trained offline (BMF, NeuMF, ENCM, LNCM; "
               "`python -m sessrec users train`). A request checks the cache, runs the four models in parallel, "
               "judges each top-10 against the user's held-out purchases (P@10, MAP@10), picks the best, and falls "
               "back to a popularity heuristic when models are missing or cannot be judged.")
    folders = find_user_datasets(data_root())
    if not folders:
        st.warning(f"No user-context dataset under {display_path(data_root())}. Create the demo users with "
                   "`python -m sessrec users prepare demo`.", icon=":material/info:")
        return
    names = [f.name for f in folders]
    top = st.columns([1.2, 1.2, 2.6])
    chosen_folder = folders[names.index(top[0].selectbox("Dataset", names, key="ou_dataset",
                                                           index=names.index("shop_users") if "shop_users" in names
                                                           else 0))]
    try:
        dataset = load_user_dataset(chosen_folder)
    except SessrecError as exc:
        st.error(clip(str(exc), 400), icon=":material/error:")
        return
    models_folder = checkpoint_root() / dataset.models_folder
    service = _service(str(chosen_folder), str(models_folder), _db_url(), _stamp(models_folder))
    users = service.known_users()
    pick = top[1].selectbox("User", [NEW_USER, *users.tolist()], index=1 if len(users) else 0, key="ou_user",
                            help="A known user has a training history and held-out positives the models are judged by.")
    user_id = int(users.max() + 1 if pick == NEW_USER else pick)
    top[2].caption(f"{dataset.name}: {dataset.info['stats']['users']:,} users, {dataset.info['stats']['items']:,} "
                   f"items · models {display_path(models_folder)} · database "
                   f"{service.store.url_for_display if service.store else 'none'}")
    context_columns = st.columns(len(dataset.context_features) + 1)
    context: dict[str, str] = {}
    for column, (feature, values) in zip(context_columns, service.context_values().items()):
        default = NOW if feature in ("time_of_day", "season") else USUAL
        value = column.selectbox(feature.replace("_", " ").capitalize(), [default, *values], key=f"ou_ctx_{feature}")
        if value not in (NOW, USUAL):
            context[feature] = value
    skip_cache = context_columns[-1].toggle("Skip the cache", key="ou_skip_cache",
                                           help="Recompute even when the database holds an answer for this request.")
    answer = service.recommend(user_id, context, k=10, use_cache=not skip_cache)
    _draw_answer(answer)
    _draw_runs(service, user_id)


def _draw_answer(answer: Answer) -> None:
    where = {"cache": ("From the cache", ":material/cached:", "the same user, context and model versions were "
                       "answered before; nothing was recomputed"),
             "models": ("Computed by the models", ":material/bolt:",
                        f"best by MAP@10, then P@10: **{_label_of(answer, answer.chosen)}**"),
             FALLBACK: ("Fallback", ":material/support:", "the heuristic's list (rating 45 %, rating count 15 %, "
                        "views 15 %, discount 15 %, purchase intent 10 %)")}[answer.source]
    context = ", ".join(f"{k.replace('_', ' ')} **{v}**" for k, v in answer.context.items())
    st.markdown(f"#### {where[0]} · user {answer.user_id} · {context}")
    st.caption(f"{where[2]} · {answer.seconds * 1000:.0f} ms · held-out positives of this user: {len(answer.held_out)}")
    for message in answer.messages:
        st.info(message, icon=":material/info:")
    columns = st.columns(len(answer.lists) + 1)
    for column, model in zip(columns, answer.lists):
        with column:
            _draw_model(model, chosen=model.model == answer.chosen, k=answer.k)
    with columns[-1]:
        marker = f" {CHOSEN}" if answer.chosen == FALLBACK else ""
        st.markdown(f"**Fallback heuristic**{marker}")
        st.caption("popularity, ratings, discount and purchase intent, first in the user's categories and brands")
        _draw_items(answer.fallback)


def _draw_model(model: ModelAnswer, chosen: bool, k: int) -> None:
    badge = f" {CHOSEN}" if chosen else ""
    st.markdown(f"**{model.label}**{badge}")
    if model.status == "ok":
        judged = ("" if model.average_precision is None else
                  f" · P@{k} {model.precision:.2f} · AP@{k} {model.average_precision:.2f}")
        st.caption(f"{model.seconds * 1000:.1f} ms{judged}")
    else:
        st.caption(f":orange[{model.status}]: {clip(model.message, 200)}")
    _draw_items(model.items)


def _label_of(answer: Answer, model: str | None) -> str:
    return next((m.label for m in answer.lists if m.model == model), str(model))


def _item_cell(item: dict) -> str:
    """An item's name over its category and, where the catalogue has one, its price (MovieLens has none), as HTML."""
    details = [str(item.get("category") or "")]
    price = item.get("price")
    if price is not None and not pd.isna(price):
        details.append(f"{float(price):.2f}")
    extra = html.escape(" · ".join(d for d in details if d))
    name = html.escape(str(item.get("name") or item.get("item_id")))
    return f"{name}<br><span style='opacity:.6'>{extra}</span>" if extra else name


def _draw_items(items: list[dict]) -> None:
    """A ranked list as a compact table that wraps in a narrow column, so every score stays in sight."""
    if not items:
        st.caption("no list")
        return
    cell = "padding:2px 4px;border-bottom:1px solid rgba(49,51,63,.1);vertical-align:top"
    rows = "".join(f"<tr><td style='{cell};text-align:right'>{rank}</td><td style='{cell}'>{_item_cell(item)}</td>"
                   f"<td style='{cell};text-align:right'>{float(item['score']):.3f}</td></tr>"
                   for rank, item in enumerate(items, 1))
    head = f"<tr><th style='{cell}'>#</th><th style='{cell};text-align:left'>Item</th><th style='{cell}'>Score</th></tr>"
    st.html(f"<table style='width:100%;border-collapse:collapse;font-size:0.8rem;line-height:1.25'>{head}{rows}</table>")


def _draw_runs(service: OnlineRecommender, user_id: int) -> None:
    if service.store is None:
        return
    with st.expander("Latest model runs of this user (database table model_runs)"):
        try:
            runs = service.store.runs(service.dataset.name, user_id)
        except SessrecError as exc:
            st.warning(clip(str(exc), 300))
            return
        if runs.empty:
            st.caption("none yet")
            return
        st.dataframe(runs[["id", "model", "status", "seconds", "chosen", "metrics", "context_key"]].tail(20),
                     hide_index=True, width="stretch")
