"""Known users: the online path of the user-context task (cache, four models in parallel, fallback)."""

from sessrec.ui import online
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

online.render()
