"""The RecBole peer check's parts that need no RecBole: the atomic benchmark files and the table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sessrec.data.user_data import load_user_dataset, write_user_dataset
from sessrec.experiments.runs.user_context import last_test_positives
from sessrec.reference import recbole_peer as peer


def _tiny(folder: Path):
    """Three users: 1 has ten ratings whose last two (times 9, 10) are the test part, both positive;
    2 has a negative rating in its test part; 3 has a single positive and stays in train."""
    rows = []
    user1 = [(11, 5), (12, 2), (13, 4), (14, 1), (15, 5), (16, 3), (17, 4), (18, 2), (19, 5), (20, 4)]
    rows += [(1, item, 1000 + t, rating) for t, (item, rating) in enumerate(user1)]
    user2 = [(11, 4), (13, 5), (21, 2), (12, 4), (22, 1), (14, 5)]
    rows += [(2, item, 2000 + t, rating) for t, (item, rating) in enumerate(user2)]
    rows += [(3, 11, 3000, 5), (3, 23, 3001, 2)]
    frame = pd.DataFrame(rows, columns=["UserId", "ItemId", "Time", "Rating"])
    frame["Action"] = "rating"
    frame["Rating"] = frame["Rating"].astype(np.float64)
    frame["time_of_day"] = "evening"
    items = pd.DataFrame({"ItemId": sorted(frame["ItemId"].unique())})
    users = pd.DataFrame({"UserId": [1, 2, 3]})
    info = {"name": "ml-100k", "context": ["time_of_day"], "split": {"test_share": 0.2}}
    write_user_dataset(folder, frame, items, users, info)
    return load_user_dataset(folder)


def _pairs(frame: pd.DataFrame) -> Counter:
    return Counter(zip(frame["user_id"].astype(int), frame["item_id"].astype(int)))


def test_the_atomic_files_hold_sessrec_split_and_cases(tmp_path) -> None:
    data = _tiny(tmp_path / "tiny")
    paths = peer.write_benchmark(data, tmp_path / "work")
    # never the bare name: RecBole would read its own ml-100k instead
    assert peer.benchmark_token(data) == "sessrec-ml-100k"
    assert paths["test"] == tmp_path / "work" / "sessrec-ml-100k" / "sessrec-ml-100k.test.inter"
    parts = {}
    for part in peer.PARTS:
        header, frame = peer.read_atomic(paths[part])
        assert header == ["user_id:token", "item_id:token", "label:float", "timestamp:float"]
        assert frame["user_id"].map(type).eq(str).all() and frame["label"].dtype == np.float64
        parts[part] = frame
    train, test = data.split()
    positives = train.select(train.label >= 1.0)
    assert _pairs(parts["train"]) == Counter(zip(positives.user.tolist(), positives.item.tolist()))
    assert (parts["train"]["label"] == 1.0).all() and (parts["test"]["label"] == 1.0).all()
    cases, _ = last_test_positives(test)
    assert _pairs(parts["test"]) == Counter(zip(cases.user.tolist(), cases.item.tolist()))
    # by hand: user 1's test part is items 19 and 20 (both liked), the later one is the case;
    # user 3 has one positive, so no test case
    assert _pairs(parts["test"]) == Counter({(1, 20): 1, (2, 14): 1})
    assert (1, 19) in _pairs(parts["valid"]) and (1, 19) not in _pairs(parts["train"])
    # every interaction in exactly one file, the non-positives in valid
    everything = data.interactions
    together = _pairs(parts["train"]) + _pairs(parts["valid"]) + _pairs(parts["test"])
    assert together == Counter(zip(everything["UserId"].tolist(), everything["ItemId"].tolist()))
    assert set(parts["valid"]["label"]) == {0.0, 1.0} and (parts["valid"]["label"] == 0).sum() == \
        int((everything["Label"] == 0).sum())
    assert parts["test"]["timestamp"].tolist() == [1009, 2005]


def test_recbole_settings_mirror_sessrec_and_the_command_line(tmp_path, capsys) -> None:
    args = peer.argparse.Namespace(epochs=3, batch_size=128, learning_rate=0.002, negatives=4, embedding_dim=16,
                                   mlp_layers=[64, 32, 16])
    neumf = peer.recbole_settings("NeuMF", "sessrec-x", tmp_path, args, seed=5)
    assert (neumf["mf_embedding_size"], neumf["mlp_embedding_size"], neumf["mlp_hidden_size"]) == (16, 32, [32, 16])
    assert neumf["dropout_prob"] == 0.0 and neumf["train_neg_sample_args"]["sample_num"] == 4
    assert neumf["eval_args"]["mode"] == "uni99" and neumf["benchmark_filename"] == ["train", "valid", "test"]
    assert peer.recbole_settings("BPR", "sessrec-x", tmp_path, args, seed=5)["embedding_size"] == 16
    with pytest.raises(ValueError, match="NeuMF or BPR"):
        peer.recbole_settings("LightGCN", "sessrec-x", tmp_path, args, seed=5)
    data = _tiny(tmp_path / "tiny")
    assert peer.main(["--dataset", str(data.path), "--export-only", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "sessrec-ml-100k" / "sessrec-ml-100k.valid.inter").is_file()
    with pytest.raises(SystemExit):
        peer.main(["--dataset", str(data.path)])
    assert "--recbole-python is needed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        peer.main(["--dataset", str(data.path), "--recbole-python", "python", "--set", "gru4rec:n_epochs=2"])
    assert "expected neumf:KEY=VALUE or bmf:KEY=VALUE" in capsys.readouterr().err


def test_the_table_averages_rounds_in_run_order() -> None:
    def run(side, model, hit, seconds):
        return {"side": side, "model": model, "metrics": {"hit@10": hit, "ndcg@10": hit / 2},
                "epoch_seconds": seconds, "test_users": 2, "recbole": "1.2.1"}
    runs = [run("sessrec", "neumf", 0.5, [1.0, 3.0]), run("recbole", "BPR", 0.2, [4.0, 4.0]),
            run("sessrec", "neumf", 0.7, [2.0, 2.0])]
    rows = peer.summary(runs)
    assert [(r["model"], r["implementation"]) for r in rows] == [("NeuMF", "sessrec"), ("BPR", "RecBole 1.2.1")]
    assert rows[0]["HR@10"] == pytest.approx(0.6) and rows[0]["HR@10 sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert rows[0]["s/epoch"] == pytest.approx(2.0) and rows[1]["HR@10 sd"] is None
    text = peer.markdown(rows)
    assert "| NeuMF | sessrec | 0.6000 ± 0.1414 | 0.3000 ± 0.0707 | 2.00 ± 0.00 | 2 | 2 | 2 |" in text
