"""CPU settings: passive OpenMP waiting and a thread count from the usable CPUs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sessrec import runtime
from sessrec.errors import ParameterError


def test_importing_sessrec_asks_for_passive_waiting_unless_the_user_chose():
    code = "import os, sessrec; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ACTIVE"


def test_thread_count_follows_affinity_and_the_override(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
        assert runtime.default_threads() == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "3")
    assert runtime.default_threads() == 3
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv(runtime.THREADS_ENV, bad)
        with pytest.raises(ParameterError, match=runtime.THREADS_ENV):
            runtime.default_threads()


def test_peak_rss_of_a_child_is_its_own_not_the_parents():
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    from sessrec.runtime import peak_rss_mb

    ballast = np.ones(200 * 2**20 // 8)  # 200 MB, touched
    parent = peak_rss_mb()
    assert parent > 200
    command = [sys.executable, "-c", "from sessrec.runtime import peak_rss_mb; print(peak_rss_mb())"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    child = float(done.stdout)
    assert 0 < child < parent - 150, (child, parent)
    del ballast


def test_the_heap_is_frozen_once_so_later_collections_skip_it(monkeypatch):
    import gc

    from sessrec import runtime

    monkeypatch.setattr(runtime, "_HEAP_FROZEN", False)
    gc.unfreeze()
    try:
        runtime.freeze_heap_once()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # pytest, numpy, sessrec ... are all alive now
        leftover = [object() for _ in range(10)]
        runtime.freeze_heap_once()  # a second call must not freeze what came later
        assert gc.get_freeze_count() == frozen and leftover
    finally:
        gc.unfreeze()


def test_the_app_config_turns_streamlits_per_run_full_collection_off():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
