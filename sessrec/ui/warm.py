"""Server start-up: what the first visitor would otherwise wait for, done before anyone asks.

A cold Streamlit server runs nothing until a browser connects; the first page run then pays
for every import (torch, pandas, the page modules) and for reading the datasets, catalogues
and checkpoints into the process-wide caches of :mod:`sessrec.ui.resources`. :func:`warm_up`
does exactly that work through the same cached functions, so the first session finds them
filled. ``serve.py`` runs it in a thread when the server starts, for the demo or the datasets
named in ``SESSREC_WARM_DATASETS`` (a real catalogue's models take memory: warm what you serve).
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from pathlib import Path

#: which prepared datasets serve.py warms (comma-separated names; default: the demo, the page the app opens on)
WARM_ENV = "SESSREC_WARM_DATASETS"


def warm_datasets() -> tuple[str, ...]:
    """The dataset names in ``SESSREC_WARM_DATASETS`` (e.g. ``demo,diginetica``), ``("demo",)`` when unset."""
    names = tuple(n.strip() for n in os.environ.get(WARM_ENV, "demo").split(",") if n.strip())
    return names or ("demo",)


#: the modules the default page (the playground) and the sidebar import; and Streamlit's emoji
#: table, which app.py's ``set_page_config(page_icon=...)`` imports on the first page run: its
#: module compiles one regular expression of every emoji, about a second on this machine (py-spy
#: of a first page run, 2026-12-08)
PAGE_MODULES = ("sessrec.ui.live", "sessrec.ui.widgets", "sessrec.ui.sidebar", "sessrec.ui.shell",
                "sessrec.ui.rec_lists", "sessrec.ui.playground", "streamlit.emojis")


def warm_up(datasets: tuple[str, ...] | None = None) -> dict[str, float]:
    """Import the page modules and load ``datasets`` (default :func:`warm_datasets`: their
    catalogue and every checkpoint that fits them) into the shared caches. Returns seconds per stage. Never raises: a dataset or
    checkpoint that cannot be read is left for the page to report."""
    # the cached functions run outside any page here, which Streamlit warns about once per call
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return _warm_up(warm_datasets() if datasets is None else datasets)
    finally:
        quiet.setLevel(level)


def _warm_up(datasets: tuple[str, ...]) -> dict[str, float]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    for name in PAGE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a Streamlit release without that module: nothing to warm there
            continue
    timings["imports"] = time.perf_counter() - started
    from sessrec.ui import resources
    from sessrec.ui.paths import checkpoint_root, data_root

    started = time.perf_counter()
    wanted = [d for d in resources.list_datasets(str(data_root())) if d.error is None and d.name in datasets]
    entries = resources.list_checkpoints(str(checkpoint_root()))
    for entry in wanted:
        try:
            resources.get_dataset(entry.path)
            resources.get_catalogue(entry.path)
            for checkpoint in entries:
                if checkpoint.ok and not resources.fit_warning(checkpoint, entry.path):
                    resources.get_model(Path(checkpoint.path))
        except Exception:  # noqa: BLE001 - the page shows the error to whoever opens it
            continue
    timings["data and models"] = time.perf_counter() - started
    # app.py freezes the heap after its first page run (sessrec.runtime.freeze_heap_once): a full
    # collection of everything loaded, 0.35 s of the first visitor's page run (py-spy, 2026-12-08),
    # done here instead, once the imports and models above are in the heap
    from sessrec import runtime

    started = time.perf_counter()
    runtime.freeze_heap_once()
    timings["heap frozen"] = time.perf_counter() - started
    return timings
