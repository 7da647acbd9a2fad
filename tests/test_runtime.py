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


def test_torch_imported_before_sessrec_is_said_once_and_a_user_choice_is_not():
    """Too late for passive waiting: OpenMP read its settings when torch loaded (measured: an
    evaluation on 2 threads beside a niced job took 15-18 s spinning against 2.9-3.0 s passive)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}

    def stderr_of(code: str, **extra: str) -> str:
        return subprocess.run([sys.executable, "-W", "default", "-c", code], env={**env, **extra},
                              capture_output=True, text=True, check=True).stderr

    late = stderr_of("import torch, sessrec")
    assert late.count("torch was imported before sessrec") == 1, late
    assert "torch was imported before sessrec" not in stderr_of("import sessrec, torch")
    assert "torch was imported before sessrec" not in stderr_of("import torch, sessrec", OMP_WAIT_POLICY="ACTIVE")


def test_every_script_that_uses_torch_imports_sessrec_first():
    import ast
    from pathlib import Path

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name.split(".")[0] for alias in node.names]
        if isinstance(node, ast.ImportFrom) and node.module:
            return [node.module.split(".")[0]]
        return []

    for path in sorted((Path(__file__).resolve().parents[1] / "scripts").glob("*.py")):
        tree = ast.parse(path.read_text())
        if "torch" not in [name for node in ast.walk(tree) for name in names(node)]:
            continue
        # module-level imports run first, in order; a torch import inside a function runs later
        top = [name for node in tree.body for name in names(node)]
        first_torch = top.index("torch") if "torch" in top else len(top)
        assert "sessrec" in top[:first_torch], f"{path.name} may load torch before sessrec"


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


class FakeMachine:
    """A clock that advances by the time a unit of work takes on the current thread count."""

    def __init__(self, seconds_per_event: dict[int, float], noise: float = 0.0):
        import random

        self.seconds_per_event = dict(seconds_per_event)
        self.noise, self.random = noise, random.Random(0)
        self.now = 0.0
        self.threads = None
        self.switches = []

    def set_threads(self, n: int) -> None:
        self.threads = n
        self.switches.append(n)

    def work(self, tuner: runtime.ThreadTuner, events: int = 100) -> None:
        jitter = 1 + self.noise * (2 * self.random.random() - 1)
        self.now += events * self.seconds_per_event[self.threads] * jitter
        tuner.record(events)


def run_windows(machine: FakeMachine, tuner: runtime.ThreadTuner, n_windows: int, events: int = 100) -> dict[int, int]:
    before = dict(tuner.windows_per_count)
    while sum(tuner.windows_per_count.values()) - sum(before.values()) < n_windows:
        machine.work(tuner, events)
    return {k: v - before[k] for k, v in tuner.windows_per_count.items()}


def test_thread_tuner_keeps_the_faster_count_and_probes_now_and_then():
    quiet = FakeMachine({2: 1 / 20000, 1: 1 / 15000})  # two threads faster
    tuner = runtime.ThreadTuner(2, window=0.5, probe_every=10, clock=lambda: quiet.now, set_threads=quiet.set_threads)
    assert quiet.threads == 2
    windows = run_windows(quiet, tuner, 55)
    assert windows[1] == 5 and windows[2] == 50, "one probe window on one thread every 10 windows"
    assert tuner.current == 2

    # another process takes a core: two threads collapse, one keeps its speed
    quiet.seconds_per_event[2] = 1 / 5000
    run_windows(quiet, tuner, 3)
    assert tuner.current == 1, "a lasting drop is noticed within three windows"
    windows = run_windows(quiet, tuner, 44)
    assert windows[1] >= 40 and windows[2] == 4, "stays on one thread, still probing two"

    # one slow window alone (a pause in the work itself) changes nothing
    quiet.seconds_per_event[2] = 1 / 20000
    run_windows(quiet, tuner, 11)
    assert tuner.current == 2
    quiet.seconds_per_event[2] = 1 / 5000
    run_windows(quiet, tuner, 1)
    quiet.seconds_per_event[2] = 1 / 20000
    windows = run_windows(quiet, tuner, 5)
    assert windows == {2: 5, 1: 0}


def test_thread_tuner_is_not_fooled_by_noisy_windows():
    # two threads 20 % faster; units of work vary +-30 %, so whole windows by several %
    machine = FakeMachine({2: 1 / 18000, 1: 1 / 15000}, noise=0.3)
    tuner = runtime.ThreadTuner(2, window=0.5, probe_every=20, clock=lambda: machine.now,
                                set_threads=machine.set_threads)
    windows = run_windows(machine, tuner, 400, events=2000)
    assert windows[2] >= 0.9 * 400, windows


def test_thread_tuner_with_one_thread_never_switches():
    machine = FakeMachine({1: 1 / 1000})
    tuner = runtime.ThreadTuner(1, window=0.1, probe_every=2, clock=lambda: machine.now, set_threads=machine.set_threads)
    run_windows(machine, tuner, 20)
    assert machine.switches == [1] and tuner.windows_per_count == {1: 20}


def test_one_thread_restores_the_count():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with runtime.one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with runtime.one_thread(active=False):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_thread_invariance_check_compares_real_results(monkeypatch):
    import torch

    assert runtime.thread_invariant(1, ((32, 8, 8),), ((32, 8),)), "one thread is trivially invariant"
    runtime.thread_invariant.cache_clear()
    # a machine whose products change with the thread count is caught
    real_mm = torch.mm
    monkeypatch.setattr(torch, "mm", lambda a, b: real_mm(a, b) + (torch.get_num_threads() - 1) * 1e-7)
    assert not runtime.thread_invariant(2, ((32, 8, 16),), ((32, 8),))
    runtime.thread_invariant.cache_clear()


def test_the_playground_does_not_import_scipy_stats_or_numba():
    """scipy.stats takes about 0.5 s to import, numba and the evaluator's compiled loops 0.6-0.8 s;
    only significance tests and evaluations need them, so the playground's first load (a
    committee's first sight of the app) does not pay for them."""
    code = ("import sys, sessrec.ui.playground, sessrec.ui.sidebar, sessrec.evaluation; "
            "print('scipy.stats' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
