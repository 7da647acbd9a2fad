"""Every page runs inside app.py's shell, even when a fresh server's first request is a deep link.

Streamlit decides once per server process whether the app is a "pages/ folder" app (its v1
multipage mode) or an ``st.navigation`` app: it assumes v1 while a ``pages/`` folder exists,
until ``st.navigation`` is first called. So when the first request a fresh server answers is a
deep link (``/known_users``, a link a committee member was sent), Streamlit runs that page
script on its own: no app.py, so no navigation sections, no wide layout, no sidebar and no
one-line error handling; and every later session of that server gets the same. Each page calls
:func:`ensure_app_shell` first: in that state it switches Streamlit to app.py's navigation
and reruns the same URL, which app.py then routes as usual.
"""

from __future__ import annotations

import streamlit as st


def ensure_app_shell() -> None:
    """Rerun through app.py when Streamlit ran this page as a bare v1 page (see the module docstring)."""
    try:  # Streamlit's own flag; without it (another version), pages run as before
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - depends on the installed Streamlit
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
