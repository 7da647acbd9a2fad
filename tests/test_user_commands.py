"""The user-context task through the session commands: a user-context model registered at run
time trains, resumes, evaluates and benchmarks with `train`, `evaluate` and `benchmark` on a
prepared user-context folder, its checkpoints read by the one loader (`models.io.load_model`)
and its records by the task's record loader, with no other file touched."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from sessrec.cli import EXIT_OK, EXIT_USAGE, main
from sessrec.experiments.runs.user_context import load_records
from sessrec.models.io import load_model
from sessrec.models.registry import USER_CONTEXT, ModelSpec
from tests.app_support import REPO
from tests.helpers import registered, small_shop_users

USERS = REPO / "data" / "shop_users"
TOY = ModelSpec("toy_user_model", "tests.helpers:ToyUserModel", "ToyUser", "user_context",
                "BMF under another name", trains="epochs", task=USER_CONTEXT,
                demo={"embedding_dim": 4, "n_epochs": 2, "seed": 1})


@pytest.fixture
def toy():
    yield from registered(TOY)


def test_a_registered_user_context_model_through_train_resume_evaluate_and_benchmark(toy, tmp_path, capsys):
    users = small_shop_users(tmp_path / "shop_users").path
    out = tmp_path / "toy.pt"
    assert main(["train", "--dataset", str(users), "--model", "toy_user_model", "--out", str(out), "--quiet",
                 "--checkpoint-every-epoch"]) == EXIT_OK
    first = load_model(out)  # the one loader reads both tasks' checkpoints
    assert type(first).__name__ == "ToyUserModel" and first.epochs_done == 2
    # resume to 4 epochs: the same weights as 4 epochs in one go
    assert main(["train", "--dataset", str(users), "--resume", str(out), "--set", "n_epochs=4", "--quiet"]) == EXIT_OK
    resumed = load_model(out)
    whole = tmp_path / "whole.pt"
    assert main(["train", "--dataset", str(users), "--model", "toy_user_model", "--set", "n_epochs=4",
                 "--out", str(whole), "--quiet"]) == EXIT_OK
    straight = load_model(whole)
    assert resumed.epochs_done == 4 and np.allclose(resumed.loss_history, straight.loss_history, rtol=1e-5)
    for name, tensor in straight.network.state_dict().items():
        assert torch.allclose(resumed.network.state_dict()[name], tensor, atol=1e-5), name
    capsys.readouterr()
    # evaluate the checkpoint beside the same model fitted on the spot
    results = tmp_path / "eval.json"
    assert main(["evaluate", "--dataset", str(users), "--checkpoint", str(whole), "--model", "toy_user_model",
                 "--out", str(results), "--quiet"]) == EXIT_OK
    rows = {r["model"]: r for r in json.loads(results.read_text())}
    assert set(rows) == {"whole", "toy_user_model"} and 0.0 <= rows["whole"]["HR@10"] <= 1.0
    assert "NDCG@10" in capsys.readouterr().out
    # benchmark: seeds, records, the table
    assert main(["benchmark", "--dataset", str(users), "--only", "toy_user_model", "--seeds", "2",
                 "--out", str(tmp_path / "results"), "--quiet"]) == EXIT_OK
    records = load_records(tmp_path / "results" / "users", "shop_users")
    assert [(r["model"], r["seed"]) for r in records] == [("toy_user_model", 1), ("toy_user_model", 2)]
    assert "ToyUser" in capsys.readouterr().out


def test_session_only_options_on_a_user_context_folder_are_one_line(tmp_path, capsys):
    cases = [["train", "--dataset", str(USERS), "--model", "gru4rec"],
             ["train", "--dataset", str(USERS), "--model", "bmf", "--preset", "x"],
             ["evaluate", "--dataset", str(USERS), "--model", "bmf", "--ranks", str(tmp_path / "r.npz")],
             ["benchmark", "--dataset", str(USERS), "--config", "benchmarks/rsc15_100k.json"],
             ["evaluate", "--dataset", str(USERS)]]
    for argv in cases:
        assert main(argv) == EXIT_USAGE, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "Traceback" not in err, err


def test_every_committed_user_record_is_typed_and_writes_back_the_same_json():
    from sessrec.experiments.records import UserRunRecord

    paths = sorted((REPO / "results" / "users").glob("*/*_seed*.json"))
    assert len(paths) >= 20  # shop_users and ml-100k
    for path in paths:
        record = json.loads(path.read_text())
        assert UserRunRecord.from_dict(record).to_dict() == record, path
        assert list(UserRunRecord.from_dict(record).to_dict()) == list(record), path  # key order kept


def test_new_user_records_name_their_data_and_code_and_damaged_ones_are_named_and_redone(toy, tmp_path, capsys):
    from sessrec.experiments.records import UserRunRecord

    dataset = small_shop_users(tmp_path / "shop_users")
    results = tmp_path / "results"
    assert main(["benchmark", "--dataset", str(dataset.path), "--only", "toy_user_model", "--seeds", "1",
                 "--out", str(results), "--quiet"]) == EXIT_OK
    path = results / "users" / "shop_users" / "toy_user_model_seed1.json"
    record = json.loads(path.read_text())
    train, test = dataset.split()
    assert record["data"] == {"path": str(dataset.path), "train_fingerprint": train.fingerprint(),
                              "test_fingerprint": test.fingerprint()}
    assert train.fingerprint() != test.fingerprint() and "code_version" in record
    # every way a record can be wrong is refused with its reason
    damaged = {
        "unknown key": ({**record, "extra": 1}, "unknown key"),
        "a rank beyond the negatives": ({**record, "ranks": [record["negatives"] + 2] + record["ranks"][1:]},
                                        "outside 1.."),
        "ranks cut short": ({**record, "ranks": record["ranks"][:-1]}, "ranks for"),
        "a metric above 1": ({**record, "metrics": {**record["metrics"], "ndcg@10": 1.5}}, "not in [0, 1]"),
        "a missing metric": ({**record, "metrics": {k: v for k, v in record["metrics"].items() if k != "auc"}},
                             "'auc' is missing"),
        "another format": ({**record, "format": "x"}, "'format'"),
        "a fingerprint lost": ({**record, "data": {"path": "x"}}, "fingerprints"),
    }
    for what, (bad, reason) in damaged.items():
        with pytest.raises(ValueError, match=re.escape(reason)):
            UserRunRecord.from_dict(bad)
    # a damaged file is left out of the tables and named; benchmark runs it again
    path.write_text(json.dumps(damaged["ranks cut short"][0]))
    skipped = []
    assert load_records(results / "users", "shop_users", skipped=lambda p, why: skipped.append((p, why))) == []
    assert skipped and skipped[0][0] == path and "ranks for" in skipped[0][1]
    capsys.readouterr()
    assert main(["benchmark", "--dataset", str(dataset.path), "--only", "toy_user_model", "--seeds", "1",
                 "--out", str(results)]) == EXIT_OK
    assert "not a valid record" in capsys.readouterr().out
    assert json.loads(path.read_text())["ranks"] == record["ranks"]  # the same run, done again
