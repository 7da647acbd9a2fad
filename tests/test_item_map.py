"""The item map (sessrec.experiments.analysis.item_map, sessrec.ui.item_map): projection, clusters, and the
playground panel that draws them and adds a clicked item to the session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sessrec.experiments.analysis.item_map import clusters, has_item_vectors, item_map, project
from sessrec.models.io import load_model

REPO = Path(__file__).resolve().parents[1]
DEMO_CHECKPOINTS = REPO / "checkpoints" / "demo"


def test_projection_keeps_the_two_main_directions_and_says_how_much_variance():
    rng = np.random.default_rng(0)
    # variance along three axes 100, 25, 1: two axes keep 125 / 126 of it
    vectors = rng.normal(size=(2000, 3)) * np.array([10.0, 5.0, 1.0])
    points, explained = project(vectors)
    assert points.shape == (2000, 2)
    assert explained == pytest.approx(125 / 126, abs=0.01)
    assert abs(np.corrcoef(points[:, 0], vectors[:, 0])[0, 1]) > 0.99, "the first axis is the widest direction"


def test_clusters_find_planted_groups():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0], [0.0, 20.0, 0.0]])
    vectors = np.vstack([c + rng.normal(size=(50, 3)) for c in centres])
    labels = clusters(vectors, 3, seed=0)
    assert [len(set(labels[i * 50:(i + 1) * 50])) for i in range(3)] == [1, 1, 1]
    assert len(set(labels)) == 3


@pytest.mark.parametrize("name", ["gru4rec", "narm", "sasrec", "srgnn", "embedding_knn"])
def test_models_with_item_vectors_offer_them_and_counting_models_do_not(name):
    model = load_model(DEMO_CHECKPOINTS / f"{name}.pt")
    assert has_item_vectors(model)
    vectors = model.item_embeddings()
    assert isinstance(vectors, torch.Tensor) and vectors.shape[0] == model.n_items
    mapped = item_map(model, n_clusters=5)
    assert len(mapped.frame) == model.n_items and set(mapped.frame["Cluster"]) <= set(range(5))
    assert 0 < mapped.explained <= 1
    assert not has_item_vectors(load_model(DEMO_CHECKPOINTS / "vstan.pt"))
    with pytest.raises(ValueError, match="no item vectors"):
        item_map(load_model(DEMO_CHECKPOINTS / "sr.pt"))


@pytest.fixture()
def committed_checkpoints(tmp_path, monkeypatch):
    """The demo dataset with the committed demo checkpoints (GRU4Rec among them)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo").symlink_to(REPO / "data" / "demo")
    monkeypatch.setenv("SESSREC_DATA_ROOT", str(data))
    monkeypatch.setenv("SESSREC_CHECKPOINT_ROOT", str(REPO / "checkpoints"))
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(tmp_path / "results"))


def test_the_playground_map_draws_the_session_and_a_click_adds_the_item(committed_checkpoints):
    pytest.importorskip("streamlit")
    from tests.app_support import open_app

    at = open_app(query={"dataset": "demo", "session": "1001,1002"})
    at.session_state["pg_map"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("vega_lite_chart"), "the map is drawn"
    assert any("principal axes" in c.value for c in at.caption)
    before = [b.key for b in at.button if b.key and b.key.startswith("rm_")]
    from sessrec.ui import item_map as panel

    item = int(panel.map_frame(panel._cached_map.__wrapped__(load_model(DEMO_CHECKPOINTS / "gru4rec.pt"), "x", 8),
                               _catalogue(), [], [])["ItemId"].iloc[0])
    at.session_state["pg_map_chart"] = {"selection": {"pick": [{"ItemId": item}]}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after = [b.key for b in at.button if b.key and b.key.startswith("rm_")]
    assert len(after) == len(before) + 1 and after[-1].endswith(f"_{item}")


def _catalogue():
    from sessrec.data.dataset import load_dataset
    from sessrec.ui.catalogue import Catalogue

    return Catalogue.from_dataset(load_dataset(REPO / "data" / "demo"))
