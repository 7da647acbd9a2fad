import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sessrec.data.dataset import find_datasets, load_dataset, write_dataset
from sessrec.data.demo import DemoConfig, generate_events
from sessrec.errors import DataFormatError

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def small_splits():
    train = pd.DataFrame({"SessionId": [1, 1, 2, 2], "ItemId": [5, 6, 6, 7], "Time": [0.0, 1.0, 2.0, 3.0]})
    test = pd.DataFrame({"SessionId": [3, 3], "ItemId": [5, 7], "Time": [10.0, 11.0]})
    return {"train": train, "test": test}


def test_write_and_load_round_trip(tmp_path):
    catalogue = pd.DataFrame({"ItemId": [5, 6], "Name": ["five", "six"], "Category": ["a", "b"]})
    info = write_dataset(tmp_path / "tiny", small_splits(), name="tiny", min_position=2, catalogue=catalogue)
    assert info["splits"]["train"]["events"] == 4
    dataset = load_dataset(tmp_path / "tiny")
    assert dataset.name == "tiny" and dataset.min_position == 2
    assert dataset.train.items.tolist() == [5, 6, 6, 7]
    cat = dataset.catalogue.set_index("ItemId")
    assert cat.loc[5, "Name"] == "five" and cat.loc[7, "Name"] == "item 7"  # missing -> generated


def test_empty_split_and_bad_folders(tmp_path):
    splits = small_splits()
    splits["test"] = splits["test"].iloc[:0]
    with pytest.raises(DataFormatError, match="test split is empty"):
        write_dataset(tmp_path / "x", splits, name="x")
    with pytest.raises(DataFormatError, match="not a prepared dataset"):
        load_dataset(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dataset.json").write_text("{not json")
    write_dataset(tmp_path / "good", small_splits(), name="good")
    found = {path.name: (ds, err) for path, ds, err in find_datasets(tmp_path)}
    assert found["good"][0] is not None and found["good"][1] is None
    assert found["broken"][0] is None and "invalid JSON" in found["broken"][1]


def test_demo_generation_is_deterministic_and_structured():
    config = DemoConfig(seed=3, n_sessions=400, items_per_category=20)
    events_a, items_a = generate_events(config)
    events_b, _ = generate_events(config)
    pd.testing.assert_frame_equal(events_a, events_b)
    other, _ = generate_events(DemoConfig(seed=4, n_sessions=400, items_per_category=20))
    assert not events_a["ItemId"].equals(other["ItemId"])
    assert items_a["Name"].is_unique and items_a["Category"].nunique() == 24
    # series structure: item -> next item of its series is the most common transition
    nxt = events_a.groupby("SessionId")["ItemId"].shift(-1)
    follows_series = (nxt == events_a["ItemId"] + 1).mean()
    assert follows_series > 0.2


def test_committed_demo_matches_its_description():
    info = json.loads((DEMO / "dataset.json").read_text())
    dataset = load_dataset(DEMO)
    assert dataset.train.n_events == info["splits"]["train"]["events"]
    assert dataset.test.n_sessions == info["splits"]["test"]["sessions"]
    assert np.isin(dataset.test.items, dataset.train.items).all()
