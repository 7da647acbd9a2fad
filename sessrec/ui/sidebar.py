"""The shared sidebar: which dataset, which checkpoint per model. Rendered by ``app.py``
on every page; pages read the choice with :func:`current`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from sessrec.ui import resources
from sessrec.ui.catalogue import Catalogue
from sessrec.ui.models import ROLES, CheckpointEntry, default_checkpoint, label_of
from sessrec.ui.paths import checkpoint_root, data_root, display_path
from sessrec.ui.playground import ModelSlot

STATE_KEY = "sessrec_selection"
DATASET_KEY = "dataset"
NONE_LABEL = "— none: popularity fallback —"


@dataclass
class Selection:
    dataset_path: str | None = None
    dataset_name: str | None = None
    checkpoints: dict[str, str | None] = field(default_factory=dict)  # role -> path
    entries: list[CheckpointEntry] = field(default_factory=list)
    warnings: dict[str, str | None] = field(default_factory=dict)  # path -> catalogue warning
    dataset_error: str | None = None  # the chosen dataset cannot be read (dataset_path is then None)

    @property
    def ok(self) -> bool:
        return self.dataset_path is not None

    def dataset(self):
        return resources.get_dataset(self.dataset_path)

    def catalogue(self) -> Catalogue:
        return resources.get_catalogue(self.dataset_path)

    def slots(self, roles: tuple[str, ...] | None = None) -> list[ModelSlot]:
        """One slot per model role; a missing or broken model becomes the popularity fallback."""
        out = []
        for role, label in ROLES:
            if roles and role not in roles:
                continue
            path = self.checkpoints.get(role)
            model, error = resources.get_model(path) if path else (None, None)
            if model is not None:
                out.append(ModelSlot(role, label, model, display_path(path), note=self.warnings.get(path)))
                continue
            fallback = resources.popularity_fallback(self.dataset_path)
            if role == "most_popular" and not error:
                out.append(ModelSlot(role, label, fallback, "counted from the dataset's train split"))
                continue
            why = error or f"no {label} checkpoint for this dataset"
            out.append(ModelSlot(role, label, fallback, "popularity fallback", is_fallback=True, note=why))
        return out


def current() -> Selection:
    """The selection made in the sidebar in this run; every page calls it first."""
    ensure_app_navigation()
    if STATE_KEY not in st.session_state:
        render()
    return st.session_state[STATE_KEY]


def require_dataset(selection: Selection, message: str = "No prepared dataset yet: run `python -m sessrec demo`.") -> None:
    """Stop the page with a friendly note when no dataset could be selected (or it is broken)."""
    if selection.dataset_error:
        st.error(f"Dataset **{selection.dataset_name}** cannot be used: {selection.dataset_error}\n\n"
                 "Pick another dataset in the sidebar, or fix or re-prepare this folder.")
        st.stop()
    if not selection.ok:
        st.info(message)
        st.stop()


def ensure_app_navigation() -> None:
    """Make a page opened by its own URL run inside ``app.py``'s navigation.

    Streamlit still has a legacy mode for apps with a ``pages/`` folder: until some session
    has run ``st.navigation``, a URL such as ``/benchmarks`` runs ``pages/benchmarks.py`` on
    its own, without our sidebar or page list. That happens when a shared link is the
    first request after the server starts. Switch the legacy mode off and rerun: the
    rerun goes through ``app.py`` and lands on the same page.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - internal module moved
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def _apply_url_dataset(entries) -> None:
    """``?dataset=<name>`` in a shared link selects that dataset once per browser session."""
    wanted = st.query_params.get("dataset")
    if not wanted or st.session_state.get("_dataset_from_url_done"):
        return
    st.session_state["_dataset_from_url_done"] = True
    match = [e.path for e in entries if e.name == wanted and e.error is None]
    if match:
        st.session_state[DATASET_KEY] = match[0]
    else:
        st.session_state["_url_notice"] = f"The link asks for dataset '{wanted}', which is not here; showing another one."


def render() -> Selection:
    selection = Selection()
    st.session_state[STATE_KEY] = selection
    side = st.sidebar
    datasets = resources.list_datasets(str(data_root()))
    usable = [d for d in datasets if d.error is None]
    broken = [d for d in datasets if d.error is not None]
    if not usable:
        side.warning(f"No usable prepared dataset under `{display_path(data_root())}/`. "
                     "Run `python -m sessrec demo` to create the demo dataset.")
        _broken_listing(side, broken)
        return selection
    _apply_url_dataset(usable)
    paths = [d.path for d in usable]
    names = {d.path: d.name for d in usable}
    if st.session_state.get(DATASET_KEY) not in paths:
        demo = [d.path for d in usable if d.name == "demo"]
        st.session_state[DATASET_KEY] = demo[0] if demo else paths[0]
    dataset_path = side.selectbox("Dataset", paths, format_func=lambda p: names[p], key=DATASET_KEY,
                                  help="Every prepared dataset under data/")
    _broken_listing(side, broken)
    selection.dataset_name = names[dataset_path]
    entries = resources.list_checkpoints(str(checkpoint_root()))
    selection.entries = entries
    problem = resources.dataset_problem(dataset_path)
    if problem:  # listed with its error; the other datasets and the pages without data still work
        selection.dataset_error = problem
        side.error(f"Dataset **{selection.dataset_name}** cannot be used: {problem}")
        _checkpoint_listing(side, entries, selection)
        return selection
    selection.dataset_path = dataset_path
    selection.warnings = {e.path: resources.fit_warning(e, dataset_path) for e in entries if e.ok}

    side.markdown("**Models**")
    for role, label in ROLES:
        candidates = [e for e in entries if e.ok and e.model == role]
        # checkpoints that fit this dataset first
        candidates.sort(key=lambda e: (bool(selection.warnings.get(e.path)), e.path))
        options: list[str | None] = [None] + [e.path for e in candidates]
        default = default_checkpoint(entries, role, selection.dataset_name, selection.warnings)
        key = f"checkpoint::{role}::{dataset_path}"
        if key in st.session_state and st.session_state[key] not in options:
            del st.session_state[key]  # the file went away
        choice = side.selectbox(
            label, options, index=options.index(default), key=key,
            format_func=lambda p: NONE_LABEL if p is None else _checkpoint_label(p, selection),
        )
        selection.checkpoints[role] = choice
        if choice and selection.warnings.get(choice):
            side.warning(f"{label}: {selection.warnings[choice]}", icon="⚠️")
    _checkpoint_listing(side, entries, selection)
    return selection


def _broken_listing(side, broken) -> None:
    """Dataset folders whose ``dataset.json`` cannot be read, each with its error."""
    if broken:
        with side.expander(f"{len(broken)} dataset folder(s) could not be read"):
            for d in broken:
                st.caption(f"**{d.name}**: {d.error}")


def _checkpoint_label(path: str, selection: Selection) -> str:
    rel = display_path(path)
    return f"⚠️ {rel}" if selection.warnings.get(path) else rel


def _checkpoint_listing(side, entries: list[CheckpointEntry], selection: Selection) -> None:
    bad = [e for e in entries if not e.ok]
    title = f"All checkpoints ({len(entries)})" + (f" · {len(bad)} unreadable" if bad else "")
    with side.expander(title, expanded=bool(bad) and not any(selection.checkpoints.values())):
        if not entries:
            st.caption(f"No `*.pt` files under `{display_path(checkpoint_root())}/`. "
                       "`python -m sessrec demo` writes the demo ones.")
        for e in entries:
            if not e.ok:
                st.caption(f"❌ `{e.name}` — {e.error}")
            else:
                fits = selection.warnings.get(e.path)
                mark = "⚠️" if fits else "✅"
                extra = f" — {fits}" if fits else ""
                st.caption(f"{mark} `{e.name}` · {label_of(e.model)} · {e.n_items:,} items"
                           f" · dataset {e.dataset or '?'}{extra}")
