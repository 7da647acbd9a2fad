"""Known users: the online path of the user-context task (cache, four models in parallel, fallback)."""

from sessrec.ui import online

online.render()
