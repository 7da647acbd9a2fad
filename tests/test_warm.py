"""Server start-up warm-up (sessrec.ui.warm, run by serve.py): the first visitor finds the
demo's dataset, catalogue and models already in the shared caches."""

from __future__ import annotations

import sys

import pytest
import streamlit as st

from sessrec import runtime

from sessrec.ui import models as ui_models
from sessrec.ui import resources, warm
from sessrec.ui.paths import checkpoint_root, data_root


def test_warm_up_loads_every_fitting_checkpoint_once_into_the_shared_cache(app_env, monkeypatch):
    st.cache_resource.clear()
    st.cache_data.clear()
    loaded = []
    original = ui_models.load_checkpoint
    monkeypatch.setattr(ui_models, "load_checkpoint", lambda path: loaded.append(str(path)) or original(path))
    frozen = []  # the real freeze would exclude the test session's objects from collection: recorded instead
    monkeypatch.setattr(runtime, "freeze_heap_once", lambda: frozen.append(True))
    timings = warm.warm_up()
    assert set(timings) == {"imports", "data and models", "heap frozen"} and all(t >= 0 for t in timings.values())
    # the first page run's own costs, done here: the emoji table set_page_config reads, the heap freeze
    assert "streamlit.emojis" in sys.modules and frozen == [True]
    demo = next(d.path for d in resources.list_datasets(str(data_root())) if d.name == "demo")
    fitting = [e for e in resources.list_checkpoints(str(checkpoint_root()))
               if e.ok and not resources.fit_warning(e, demo)]
    assert fitting and sorted(loaded) == sorted(e.path for e in fitting), "each fitting checkpoint, nothing else"
    # what a page asks for now comes from the cache: nothing is read from disk again
    monkeypatch.setattr(ui_models, "load_checkpoint", lambda path: pytest.fail(f"{path} loaded again"))
    for entry in fitting:
        model, error = resources.get_model(entry.path)
        assert error is None and model is not None


def test_warm_up_of_a_missing_dataset_does_nothing_and_never_raises(app_env, monkeypatch):
    st.cache_resource.clear()
    monkeypatch.setattr(runtime, "freeze_heap_once", lambda: None)
    assert warm.warm_up(datasets=("no-such-dataset",))["data and models"] >= 0


def test_the_datasets_to_warm_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(warm.WARM_ENV, raising=False)
    assert warm.warm_datasets() == ("demo",)
    monkeypatch.setenv(warm.WARM_ENV, " demo, diginetica ,")
    assert warm.warm_datasets() == ("demo", "diginetica")
    monkeypatch.setenv(warm.WARM_ENV, " , ")
    assert warm.warm_datasets() == ("demo",)
