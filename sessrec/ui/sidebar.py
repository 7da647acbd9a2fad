"""The shared sidebar: which dataset, which checkpoint per model. Rendered by ``app.py``
on every page; pages read the choice with :func:`current`."""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from sessrec.ui import resources
from sessrec.ui.catalogue import Catalogue
from sessrec.models.registry import featured as featured_models
from sessrec.models.registry import spec as model_spec
from sessrec.ui.models import CheckpointEntry, default_checkpoint, label_of
from sessrec.ui.models import roles as model_roles
from sessrec.ui.paths import checkpoint_root, data_root, display_path
from sessrec.ui.playground import ModelSlot

STATE_KEY = "sessrec_selection"
DATASET_KEY = "dataset"
URL_NOTICE_KEY = "_url_notice"
LINKED_MODELS_KEY = "_linked_models"
NONE_LABEL = "— none: popularity fallback —"
#: how many models the playground shows when the user has not chosen (each column costs a rerun)
DEFAULT_SHOWN = 4


@dataclass
class Selection:
    dataset_path: str | None = None
    dataset_name: str | None = None
    checkpoints: dict[str, str | None] = field(default_factory=dict)  # role -> path
    shown: tuple[str, ...] = ()  # models the live pages show, in registry order
    entries: list[CheckpointEntry] = field(default_factory=list)
    #: path -> why that checkpoint does not belong to this dataset (such checkpoints are not offered)
    warnings: dict[str, str | None] = field(default_factory=dict)
    dataset_error: str | None = None  # the chosen dataset cannot be read (dataset_path is then None)

    @property
    def ok(self) -> bool:
        return self.dataset_path is not None

    def dataset(self):
        return resources.get_dataset(self.dataset_path)

    def catalogue(self) -> Catalogue:
        assert self.dataset_path is not None  # pages ask for it only when the selection is ok
        return resources.get_catalogue(self.dataset_path)

    def slots(self, roles: tuple[str, ...] | None = None) -> list[ModelSlot]:
        """One slot per shown model; a missing or broken model becomes the popularity fallback."""
        out = []
        for role, label in model_roles():
            if role not in (roles or self.shown):
                continue
            path = self.checkpoints.get(role)
            model, error = resources.get_model(path) if path else (None, None)
            if model is not None:
                assert path is not None  # the model was loaded from it
                out.append(ModelSlot(role, label, model, display_path(path), note=self.warnings.get(path)))
                continue
            assert self.dataset_path is not None  # pages ask for slots only when the selection is ok
            fallback = resources.popularity_fallback(self.dataset_path)
            if model_spec(role).counted_from_data and not error:
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


def _clean(value: str, limit: int = 60) -> str:
    """A value from the address bar, safe to quote in a message (printable, short, no markdown)."""
    text = "".join(ch for ch in str(value) if ch.isprintable()).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _apply_url_dataset(entries) -> None:
    """``?dataset=<name>`` in a shared link selects that dataset, once per browser session.

    The link is read on the first run only, whether or not it names a dataset: later runs
    must not undo a choice made in the sidebar (the playground writes ``?dataset=`` back).
    """
    if st.session_state.get("_dataset_from_url_done"):
        return
    st.session_state["_dataset_from_url_done"] = True
    values = st.query_params.get_all("dataset")
    if not values:
        return
    wanted = values[0]
    problems = []
    if len(values) > 1:
        problems.append(f"the link names {len(values)} datasets; used the first, `{_clean(wanted)}`")
    match = [e.path for e in entries if e.name == wanted and e.error is None]
    if match:
        st.session_state[DATASET_KEY] = match[0]
    else:
        problems.append(f"the link asks for dataset `{_clean(wanted)}`, which is not among the prepared "
                        f"datasets ({', '.join(e.name for e in entries)}); its session was not loaded")
        st.session_state["_url_dataset_unknown"] = True
    if problems:
        st.session_state[URL_NOTICE_KEY] = "Link: " + "; ".join(problems) + "."


def url_notice() -> str | None:
    """What was ignored in the link this browser session was opened with, if anything."""
    return st.session_state.get(URL_NOTICE_KEY)


def render(show_models: bool = True) -> Selection:
    """Draw the sidebar. ``show_models``: the page uses models (checkpoint pickers shown)."""
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
    _apply_url_models([role for role, _ in model_roles()])
    if url_notice():
        side.warning(url_notice(), icon=":material/link_off:")
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
    fitting = {role: [e for e in entries if e.ok and e.model == role and not selection.warnings.get(e.path)]
               for role, _ in model_roles()}
    selection.shown = _shown_models(side, fitting, dataset_path, show_models)
    # past four models the checkpoint pickers fold into one expander instead of filling the sidebar
    pickers = side.expander(f"Checkpoints ({len(selection.shown)} models)") if len(selection.shown) > 4 else side
    for role, label in model_roles():
        candidates = sorted(fitting[role], key=lambda e: e.path)
        options: list[str | None] = [None] + [e.path for e in candidates]
        default = default_checkpoint(entries, role, selection.dataset_name, selection.warnings)
        key = f"checkpoint::{role}::{dataset_path}"
        if key in st.session_state and st.session_state[key] not in options:
            del st.session_state[key]  # the file went away
        if not show_models or role not in selection.shown:
            selection.checkpoints[role] = st.session_state.get(key, default)
            continue
        choice = pickers.selectbox(
            label, options, index=options.index(default), key=key,
            format_func=lambda p: NONE_LABEL if p is None else display_path(p),
        )
        selection.checkpoints[role] = choice
    if show_models:
        _checkpoint_listing(side, entries, selection)
    return selection


def _broken_listing(side, broken) -> None:
    """Dataset folders whose ``dataset.json`` cannot be read, each with its error."""
    if broken:
        with side.expander(f"{len(broken)} dataset folder(s) could not be read"):
            for d in broken:
                st.caption(f"**{d.name}**: {d.error}")


#: Streamlit caps a multiselect's tag box at about five rows and scrolls the rest out of sight;
#: the models-shown box grows instead, so every chosen model stays visible.
_SHOW_EVERY_TAG = ("<style>[class*='st-key-shown_models'] [data-testid=stMultiSelect] div "
                   "{max-height: none !important; overflow-y: visible !important;}</style>")


def _shown_models(side, fitting: dict[str, list[CheckpointEntry]], dataset_path: str,
                  show_models: bool) -> tuple[str, ...]:
    """The models the live pages show: the user's choice, else GRU4Rec and the featured
    models, then the registry's models that have a checkpoint for this dataset, at most
    ``DEFAULT_SHOWN``."""
    key = f"shown_models::{dataset_path}"
    order = [role for role, _ in model_roles()]
    if key not in st.session_state and st.session_state.get(LINKED_MODELS_KEY):
        st.session_state[key] = st.session_state.pop(LINKED_MODELS_KEY)  # the link's dataset gets the link's models
    if key not in st.session_state:
        available = [role for role in order if fitting[role] or model_spec(role).counted_from_data]
        first = featured_models()[0]  # the model the product is about, shown even without a checkpoint
        featured = [r for r in featured_models() if r in order and (r == first or r in available)]
        preferred = featured + [r for r in available if r not in featured]
        st.session_state[key] = preferred[:DEFAULT_SHOWN]
    if show_models:
        with side:
            st.html(_SHOW_EVERY_TAG)
        side.multiselect("Models shown", order, key=key, format_func=label_of,
                         help="Every model shown re-ranks the whole catalogue after each click; "
                              "fewer columns keep the playground quick. A model without a checkpoint "
                              "for this dataset shows the popularity fallback.")
    chosen = set(st.session_state.get(key) or [])
    return tuple(role for role in order if role in chosen)


def _apply_url_models(order: list[str]) -> None:
    """``?models=gru4rec,narm`` (or ``all``) in a shared link: the models shown, read once
    per browser session; unknown names are reported in the link notice."""
    if st.session_state.get("_models_from_url_done"):
        return
    st.session_state["_models_from_url_done"] = True
    wanted = [m.strip() for value in st.query_params.get_all("models") for m in value.split(",") if m.strip()]
    if wanted == ["all"]:
        wanted = list(order)
    unknown = [m for m in wanted if m not in order]
    if unknown:
        note = (f"the link asks for unknown model(s) {', '.join(f'`{_clean(m)}`' for m in unknown)} "
                f"(known: {', '.join(order)}, or `all`); they are not shown")
        previous = st.session_state.get(URL_NOTICE_KEY)
        st.session_state[URL_NOTICE_KEY] = (previous[:-1] + "; " + note + ".") if previous else f"Link: {note}."
    st.session_state[LINKED_MODELS_KEY] = [m for m in order if m in wanted]


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
                assert e.model is not None  # a readable checkpoint names its model
                fits = selection.warnings.get(e.path)
                mark = "➖" if fits else "✅"
                extra = f" — not offered: {fits}" if fits else ""
                st.caption(f"{mark} `{e.name}` · {label_of(e.model)} · {e.n_items:,} items"
                           f" · dataset {e.dataset or '?'}{extra}")
