"""Where the app looks for datasets, checkpoints and results.

Environment variables override the defaults (tests point them at temporary folders):
``SESSREC_DATA_ROOT``, ``SESSREC_CHECKPOINT_ROOT``, ``SESSREC_RESULTS_ROOT``. Without
them the folders are taken relative to the working directory, or to the repository
when the working directory has none (``streamlit run /path/to/app.py`` from elsewhere).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _root(env: str, name: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    here = Path.cwd() / name
    if here.exists() or not (REPO_ROOT / name).exists():
        return here
    return REPO_ROOT / name


def data_root() -> Path:
    return _root("SESSREC_DATA_ROOT", "data")


def checkpoint_root() -> Path:
    return _root("SESSREC_CHECKPOINT_ROOT", "checkpoints")


def results_root() -> Path:
    return _root("SESSREC_RESULTS_ROOT", "results")


def studies_storage() -> str:
    """The Optuna storage of the tuning studies (``SESSREC_STUDIES``, default the committed file)."""
    return os.environ.get("SESSREC_STUDIES") or f"sqlite:///{_root('', 'sweeps/studies/studies.db')}"


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory or repository where possible."""
    return _display_path(str(path), os.getcwd())


@functools.lru_cache(maxsize=4096)
def _display_path(path: str, cwd: str) -> str:
    # cached: the sidebar and every playground column show paths on each re-run
    resolved = Path(path).resolve()
    for base in (Path(cwd), REPO_ROOT):
        try:
            return str(resolved.relative_to(base.resolve()))
        except ValueError:
            continue
    return path
