"""sessrec app: ``streamlit run serve.py`` (warmed up at start-up) or ``streamlit run app.py``.
Pages live in pages/, logic in sessrec/ui/."""

import streamlit as st

from sessrec import runtime
from sessrec.errors import SessrecError, clip
from sessrec.ui import sidebar

st.set_page_config(page_title="sessrec · session-based recommendation", page_icon="🛒", layout="wide")

navigation = st.navigation(
    {
        "Live demo": [
            st.Page("pages/playground.py", title="Session playground", icon=":material/touch_app:", default=True),
            st.Page("pages/replay.py", title="Session replay", icon=":material/replay:"),
            st.Page("pages/known_users.py", title="Known users", icon=":material/person_search:"),
        ],
        "Models": [
            st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        ],
        "Results": [
            st.Page("pages/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:"),
            st.Page("pages/training.py", title="Training curves", icon=":material/show_chart:"),
        ],
        "Data and method": [
            st.Page("pages/explorer.py", title="Dataset explorer", icon=":material/dataset:"),
            st.Page("pages/how_it_works.py", title="How it works", icon=":material/account_tree:"),
        ],
    }
)
# checkpoint pickers only where models are used
sidebar.render(show_models=getattr(navigation, "title", None) in ("Session playground", "Session replay", None))
try:
    navigation.run()
except SessrecError as exc:  # anticipated bad input reaching a page: one clear line, never a traceback
    st.error(clip(str(exc), 500), icon=":material/error:")
runtime.freeze_heap_once()
