"""Cached loaders: datasets, catalogues and models load once per process and are shared
by every browser session (``st.cache_resource``), keyed by path and modification time so
a file changed on disk is picked up. Nothing per-user is kept here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from sessrec.data.dataset import Dataset, find_datasets, load_dataset
from sessrec.errors import SessrecError, clip
from sessrec.ui import models as ui_models
from sessrec.ui.catalogue import Catalogue
from sessrec.ui.paths import checkpoint_root, data_root


def mtime(path: str | Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


@dataclass(frozen=True)
class DatasetEntry:
    path: str
    name: str
    error: str | None = None


@st.cache_data(ttl=10, show_spinner=False)
def list_datasets(root: str | None = None) -> list[DatasetEntry]:
    """Every prepared dataset under the data folder (re-scanned at most every 10 s)."""
    found = []
    for path, dataset, error in find_datasets(root or data_root()):
        found.append(DatasetEntry(str(path), dataset.name if dataset else path.name, error))
    return found


@st.cache_resource(max_entries=8, show_spinner="Reading the dataset ...")
def _dataset(path: str, stamp: float) -> Dataset:
    return load_dataset(path)


def get_dataset(path: str | Path) -> Dataset:
    return _dataset(str(path), mtime(Path(path) / "dataset.json"))


def _folder_stamp(path: str | Path) -> tuple:
    """Name, size and modification time of every file in a dataset folder."""
    try:
        files = sorted(Path(path).iterdir())
    except OSError:
        return ()
    out = []
    for f in files:
        try:
            st_ = f.stat()
        except OSError:
            continue
        out.append((f.name, st_.st_size, st_.st_mtime))
    return tuple(out)


@st.cache_data(max_entries=64, show_spinner="Checking the dataset ...")
def _dataset_problem(path: str, stamp: tuple) -> str | None:
    try:
        json_stamp = mtime(Path(path) / "dataset.json")
        _catalogue(path, json_stamp)  # dataset.json, the train split and items.csv
        _ = _dataset(path, json_stamp).test
    except SessrecError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad folder must not take the app down
        return clip(f"{path}: cannot be read ({type(exc).__name__}: {exc})", 500)
    return None


def dataset_problem(path: str | Path) -> str | None:
    """Why the dataset at ``path`` cannot be used (its train or test split, ``items.csv``), or None.

    Checked once per version of the folder's files; the app then lists the dataset with
    this message instead of failing on every page."""
    return _dataset_problem(str(path), _folder_stamp(path))


@st.cache_resource(max_entries=8, show_spinner="Indexing the catalogue ...")
def _catalogue(path: str, stamp: float) -> Catalogue:
    return Catalogue.from_dataset(_dataset(path, stamp))


def get_catalogue(path: str | Path) -> Catalogue:
    return _catalogue(str(path), mtime(Path(path) / "dataset.json"))


@st.cache_resource(max_entries=256, show_spinner=False)
def _checkpoint_entry(path: str, stamp: float) -> ui_models.CheckpointEntry:
    return ui_models.describe_checkpoint(path)


def list_checkpoints(root: str | Path | None = None) -> list[ui_models.CheckpointEntry]:
    files = ui_models.find_checkpoint_files(root or checkpoint_root())
    return [_checkpoint_entry(str(p), mtime(p)) for p in files]


@st.cache_data(max_entries=1024, show_spinner=False)
def _fit_warning(path: str, stamp: float, dataset_path: str, dataset_stamp: float) -> str | None:
    entry = _checkpoint_entry(path, stamp)
    catalogue = _catalogue(dataset_path, dataset_stamp)
    dataset = _dataset(dataset_path, dataset_stamp)
    return ui_models.catalogue_fit(entry, dataset.name, catalogue.items["ItemId"].to_numpy(np.int64),
                                   dataset.fingerprint)


def fit_warning(entry: ui_models.CheckpointEntry, dataset_path: str | Path) -> str | None:
    if not entry.ok:
        return None
    return _fit_warning(entry.path, entry.mtime, str(dataset_path), mtime(Path(dataset_path) / "dataset.json"))


@st.cache_resource(max_entries=32, show_spinner="Loading the model ...")
def _model(path: str, stamp: float) -> tuple[Any, str | None]:
    from sessrec.errors import CheckpointError

    try:
        return ui_models.load_checkpoint(path), None
    except CheckpointError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad file must not take the app down
        return None, f"{path}: cannot be loaded ({type(exc).__name__}: {exc})"


def get_model(path: str | Path) -> tuple[Any, str | None]:
    """``(model, None)`` or ``(None, error message)``."""
    return _model(str(path), mtime(path))


@st.cache_resource(max_entries=8, show_spinner="Counting item popularity ...")
def _popularity_fallback(path: str, stamp: float):
    from sessrec.models.popular import MostPopular

    return MostPopular().fit(_dataset(path, stamp).train)


def popularity_fallback(dataset_path: str | Path):
    """MostPopular fitted on the dataset's training split: stands in for a missing model."""
    return _popularity_fallback(str(dataset_path), mtime(Path(dataset_path) / "dataset.json"))


# -- tables (st.cache_data: small, copied per caller) -----------------------------------


def _tree_stamp(root: Path, pattern: str) -> tuple:
    if not root.is_dir():
        return ()
    return tuple((str(p), mtime(p)) for p in sorted(root.glob(pattern)))


@st.cache_data(max_entries=16, show_spinner="Reading the benchmark records ...")
def _benchmarks(root: str, stamp: tuple):
    from sessrec.experiments.analysis import tables

    return tables.load(root)


def benchmark_data(root: str | Path):
    root = Path(root)
    stamp = _tree_stamp(root, "*/*.json") + _tree_stamp(root, "*.csv")
    return _benchmarks(str(root), stamp)


@st.cache_data(max_entries=8, show_spinner=False)
def _timings(root: str, stamp: float) -> dict:
    from sessrec.experiments.runs.timing import load_timings

    return load_timings(root)


def training_timings(root: str | Path, dataset: str) -> dict:
    """label -> the dataset's entry of ``<root>/timings.json`` (``sessrec timing``), re-read when it changes."""
    from sessrec.experiments.runs.timing import timings_path

    return _timings(str(root), mtime(timings_path(root))).get(dataset, {})


def benchmark_stamp(root: str | Path) -> tuple:
    root = Path(root)
    return _tree_stamp(root, "*/*.json") + _tree_stamp(root, "*.csv")


@st.cache_data(max_entries=8, ttl=30, show_spinner=False)  # ttl: a claim's process can die without a file changing
def _progress(root: str, partial_dir: str, stamp: tuple) -> list[str]:
    from sessrec.experiments.runs.progress import progress_lines

    return progress_lines(root, partial_dir)


def runs_in_progress(root: str | Path, partial_dir: str | Path, dataset: str) -> list[str]:
    """``python -m sessrec progress``'s lines for ``dataset``'s runs, without the dataset prefix."""
    root, partial_dir = Path(root), Path(partial_dir)
    stamp = _tree_stamp(partial_dir, "*/*.pt") + _tree_stamp(root, "*/*.claim")
    if not stamp:
        return []
    prefix = f"{dataset}/"
    return [line[len(prefix):] for line in _progress(str(root), str(partial_dir), stamp) if line.startswith(prefix)]


@st.cache_data(max_entries=8, show_spinner=False)
def chart_png(spec: str) -> bytes:
    import vl_convert as vlc

    return vlc.vegalite_to_png(spec, scale=2)


@st.cache_data(max_entries=8, show_spinner=False)
def chart_svg(spec: str) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec)


@st.cache_data(max_entries=16, show_spinner="Computing dataset statistics ...")
def dataset_statistics(path: str, stamp: float, split: str, n_top: int = 20) -> dict:
    from sessrec.ui import explorer

    dataset = _dataset(path, stamp)
    sessions = dataset.train if split == "train" else dataset.test if split == "test" else dataset.sessions(split)
    catalogue = _catalogue(path, stamp)
    return {
        "lengths": explorer.session_lengths(sessions),
        "popularity": explorer.item_popularity(sessions),
        "rank_frequency": explorer.rank_frequency(sessions),
        "concentration": explorer.concentration(sessions),
        "top_items": explorer.top_items(sessions, catalogue, n_top),
        "top_categories": explorer.top_categories(sessions, catalogue, n_top),
    }


def statistics(path: str | Path, split: str) -> dict:
    """Statistics of one split; a split that cannot be read stops the page with its error."""
    try:
        return dataset_statistics(str(path), mtime(Path(path) / "dataset.json"), split)
    except SessrecError as exc:
        st.error(f"The {split} split cannot be read: {exc}")
        st.stop()


@st.cache_data(max_entries=32, show_spinner="Running the paired tests ...")
def significance_by_k(root: str, stamp: tuple, dataset: str, metric: str, ks: tuple, test: str):
    from sessrec.experiments.analysis import significance as sig

    data = _benchmarks(root, stamp)
    return sig.significance_by_k(data.records, dataset, metric, ks, test)


def prepared_path(dataset: str) -> str | None:
    """The folder of the prepared dataset named ``dataset`` under the data folder, or None."""
    for entry in list_datasets():
        if entry.name == dataset and entry.error is None:
            return entry.path
    return None


@st.cache_resource(max_entries=8, show_spinner="Finding the re-clicks of the test split ...")
def _benchmark_events(path: str, stamp: float):
    from sessrec.experiments.analysis.breakdowns import benchmark_events

    return benchmark_events(_dataset(path, stamp))


@st.cache_data(max_entries=32, show_spinner="Reading the per-event ranks ...")
def _breakdown(root: str, stamp: tuple, dataset: str, by: str, metric: str, k: int, data_path: str | None,
               data_stamp: float):
    from sessrec.experiments.analysis import questions

    data = _benchmarks(root, stamp)
    events = _benchmark_events(data_path, data_stamp) if by == "reclick" and data_path is not None else None
    return questions.breakdown_frame(data.records, dataset, by, metric, k, events)


def breakdown(root: str, stamp: tuple, dataset: str, by: str, metric: str, k: int, data_path: str | None = None):
    """RQ4's breakdown frame; ``by="reclick"`` reads the test split from ``data_path`` (again
    when the dataset is prepared anew)."""
    data_stamp = mtime(Path(data_path) / "dataset.json") if data_path is not None else 0.0
    return _breakdown(root, stamp, dataset, by, metric, k, data_path, data_stamp)
