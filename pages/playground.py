"""Session playground: build a session by clicking items; every model re-ranks live.

Everything a click changes (the session, the four lists, the catalogue) is one
``st.fragment``: a click re-runs only that part, not the sidebar or the page around it.
The charts sit in a collapsed expander with lazy tabs, so they cost nothing until opened.
"""

import streamlit as st

from sessrec.ui import live, sidebar, widgets
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

selection = sidebar.current()
st.title("Session playground")
sidebar.require_dataset(selection, "No dataset to play with yet. Run `python -m sessrec demo`, then reload this page.")

catalogue = selection.catalogue()
ds = selection.dataset_path
live.load_from_url(ds, selection.dataset_name, catalogue)
st.caption(f"Dataset **{selection.dataset_name}** · {len(catalogue):,} items. Click items to build a session; "
           "GRU4Rec and the baselines re-rank the whole catalogue after every click. "
           "The address bar always holds a link to this session.")
if sidebar.url_notice():
    st.warning(sidebar.url_notice(), icon=":material/link_off:")
if live.notice():
    st.warning(live.notice(), icon=":material/link_off:")
for slot in selection.slots():
    widgets.slot_notice(slot)


@st.fragment
def playground() -> None:
    widgets.playground_body(selection, catalogue, ds)


playground()
