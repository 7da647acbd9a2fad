"""Per-browser-session state of the playground (``st.session_state``) and its URL form.

The session lives under a key per dataset, so switching datasets never mixes catalogues.
All changes go through the callbacks below (buttons use ``on_click``), and the URL is
kept in sync (``?dataset=demo&session=1001,1002``) so a session can be shared as a link.
"""

from __future__ import annotations

import streamlit as st

from sessrec.ui import session as sess
from sessrec.ui.catalogue import Catalogue

NOTICE_KEY = "pg_notice"


def _key(dataset_path: str) -> str:
    return f"pg_session::{dataset_path}"


def get(dataset_path: str) -> list[int]:
    return list(st.session_state.get(_key(dataset_path), []))


def _set(dataset_path: str, items: list[int]) -> None:
    st.session_state[_key(dataset_path)] = list(items)
    st.session_state.pop(NOTICE_KEY, None)


def load(dataset_path: str, items: list[int]) -> None:
    """Replace the session with ``items`` (Replay opens a test session's prefix this way)."""
    _set(dataset_path, [int(i) for i in items])


def add_item(dataset_path: str, item_id: int) -> None:
    _set(dataset_path, sess.add(get(dataset_path), item_id))


def remove_at(dataset_path: str, position: int) -> None:
    _set(dataset_path, sess.remove_at(get(dataset_path), position))


def move(dataset_path: str, position: int, offset: int) -> None:
    _set(dataset_path, sess.move(get(dataset_path), position, offset))


def replace_at(dataset_path: str, position: int, item_id: int) -> None:
    _set(dataset_path, sess.replace_at(get(dataset_path), position, item_id))


def undo(dataset_path: str) -> None:
    _set(dataset_path, sess.undo(get(dataset_path)))


def reset(dataset_path: str) -> None:
    _set(dataset_path, [])


def load_from_url(dataset_path: str, dataset_name: str, catalogue: Catalogue) -> None:
    """Take ``?session=...`` from the link once per browser session (per dataset)."""
    done_key = f"pg_url_done::{dataset_path}"
    if st.session_state.get(done_key):
        return
    st.session_state[done_key] = True
    # ?session=a&session=b: every value, in order, as one session
    text = ",".join(st.query_params.get_all(sess.PARAM))
    wanted_dataset = st.query_params.get("dataset")
    if not text or (wanted_dataset and wanted_dataset != dataset_name):
        return  # a link for another (or an unknown) dataset: the sidebar says why it was ignored
    parsed = sess.parse_session(text, catalogue.__contains__)
    st.session_state[_key(dataset_path)] = parsed.items
    if parsed.problems():
        st.session_state[NOTICE_KEY] = "The shared link had problems: " + "; ".join(parsed.problems()) + "."


def sync_url(dataset_name: str, items: list[int], shown: tuple[str, ...] = (), every: tuple[str, ...] = ()) -> None:
    """Write the dataset, the session and the models shown into the address bar (only when they
    changed), so the link always reopens this view; ``models=all`` when ``shown`` is ``every`` model."""
    wanted = {"dataset": dataset_name}
    if items:
        wanted[sess.PARAM] = sess.format_session(items)
    if shown:
        wanted["models"] = "all" if every and set(shown) == set(every) else ",".join(shown)
    current = {k: st.query_params.get(k) for k in ("dataset", sess.PARAM, "models") if st.query_params.get(k)}
    if current != wanted:
        st.query_params.from_dict(wanted)


def notice() -> str | None:
    return st.session_state.get(NOTICE_KEY)
