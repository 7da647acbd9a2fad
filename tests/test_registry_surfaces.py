"""A model registered at run time reaches every surface with no other file touched: the CLI,
the benchmark runner, the playground, Replay, the Train page, the Benchmarks page and the docs;
one that trains in epochs resumes through train --resume and reaches the benchmark and the
record loader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sessrec.cli import EXIT_OK, main
from sessrec.models.registry import SPECS, ModelSpec, register, unregister
from tests.app_support import DEMO, REPO
from tests.helpers import registered

TOY = ModelSpec("toy_model", "tests.helpers:ToyModel", "ToyModel", "baseline", "LastItem under another name",
                scores="transition counts", colour="#5f3dc4", demo=None)


@pytest.fixture
def toy():
    yield from registered(TOY)


def test_a_registered_model_reaches_the_cli_and_the_runner(toy, tmp_path, capsys):
    assert main(["models"]) == EXIT_OK
    assert "toy_model" in capsys.readouterr().out
    out = tmp_path / "toy.pt"
    assert main(["train", "--dataset", str(DEMO), "--model", "toy_model", "--out", str(out)]) == EXIT_OK
    assert main(["evaluate", "--dataset", str(DEMO), "--checkpoint", str(out), "--model", "last_item",
                 "--quiet"]) == EXIT_OK
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith(("toy", "last_item"))}
    assert rows and len({tuple(v) for v in rows.values()}) == 1, "the toy is LastItem: the same numbers"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"models": [{"label": "toy_model", "model": "toy_model"}]}))
    assert main(["benchmark", "--dataset", str(DEMO), "--config", str(config), "--out", str(tmp_path / "res"),
                 "--quiet"]) == EXIT_OK
    record = json.loads((tmp_path / "res" / "demo" / "toy_model.json").read_text())
    assert record["model"] == "toy_model" and record["evaluation"]["n_events"] > 0


def test_a_registered_model_reaches_every_page(toy, tmp_path, app_env, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from sessrec.data.dataset import load_dataset
    from sessrec.models import io
    from tests.app_support import write_fake_results
    from tests.helpers import ToyModel

    checkpoints = tmp_path / "checkpoints"
    io.save_model(ToyModel().fit(load_dataset(DEMO).train), checkpoints / "demo" / "toy_model.pt", {"dataset": "demo"})
    results = tmp_path / "results"
    results.mkdir()
    write_fake_results(results, questions=False)
    record = json.loads((results / "demo" / "last_item.json").read_text())
    ranks = results / "demo" / "last_item.ranks.npz"
    from sessrec.experiments.records import write_run
    with np.load(ranks) as data:
        write_run(results, {**record, "run_id": "toy_model", "label": "toy_model", "model": "toy_model"},
                  {k: data[k] for k in data.files})
    monkeypatch.setenv("SESSREC_CHECKPOINT_ROOT", str(checkpoints))
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90)
    at.query_params["models"] = "toy_model,last_item"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.sidebar.multiselect(key="shown_models::" + str(app_env.data / "demo"))
    assert "ToyModel" in shown.options and "toy_model" in shown.value
    from tests.app_support import rec_lists
    assert "toy_model" in rec_lists(at) and rec_lists(at)["toy_model"], "the toy's list is shown"
    at.switch_page("pages/replay.py").run()
    assert not at.exception and any(m.label == "ToyModel" for m in at.metric)
    at.switch_page("pages/train.py").run()
    assert not at.exception and "ToyModel" in at.selectbox(key="train_model").options
    at.switch_page("pages/benchmarks.py").run()
    assert not at.exception
    assert "ToyModel" in [str(label) for label in at.dataframe[0].value.index]


def test_a_registered_model_reaches_the_docs(toy):
    from sessrec.experiments.analysis.docs import models_markdown

    page = models_markdown()
    assert "### ToyModel (`toy_model`)" in page and "LastItem under another name." in page
    assert page.index("## Simple baselines") < page.index("ToyModel") < page.index("## Session-kNN")
    from sessrec.experiments.analysis.questions import rq1_question

    question = rq1_question()  # the Benchmarks page's RQ1 names it among the baselines, GRU4Rec as the subject
    assert "Simple baselines: MostPopular, LastItem, Item-KNN, ToyModel;" in question
    assert "GRU4Rec," not in question and question.startswith("How does GRU4Rec compare")



def test_a_modern_model_registered_after_import_is_in_rq5(tmp_path):
    """RQ5's model list is read from the registry when asked, not frozen when questions is imported."""
    from dataclasses import replace

    from sessrec.experiments.analysis import questions
    from tests.app_support import write_fake_results

    modern = replace(TOY, name="toy_modern", published_as="toy_paper_name")
    write_fake_results(tmp_path, questions=False)
    records = json.loads((tmp_path / "demo" / "most_popular.json").read_text())
    records = {**records, "run_id": "toy_modern", "label": "toy_modern", "model": "toy_modern"}
    assert "toy_modern" not in questions.modern_models()
    register(modern)
    try:
        assert questions.modern_models()["toy_modern"] == "toy_paper_name"
        assert [r["label"] for r in questions.modern_runs([records], "demo")] == ["toy_modern"]
    finally:
        unregister("toy_modern")
    assert questions.modern_runs([records], "demo") == []


EPOCH_TOY = ModelSpec("toy_epoch_model", "tests.helpers:ToyEpochModel", "ToyEpoch", "neural",
                      "GRU4Rec under another name", trains="epochs", device=True,
                      demo={"layers": [16], "batch_size": 16, "n_sample": 32, "n_epochs": 1})


def test_a_registered_model_that_trains_in_epochs_resumes_through_the_cli_and_the_records(tmp_path, capsys):
    from sessrec.experiments.records import RunRecord, load_run_records
    from sessrec.models.io import load_model

    for _ in registered(EPOCH_TOY):
        small = ["--set", "layers=16", "batch_size=16", "n_sample=32", "seed=3"]
        out, whole = tmp_path / "toy.pt", tmp_path / "whole.pt"
        assert main(["train", "--dataset", str(DEMO), "--model", "toy_epoch_model", *small, "n_epochs=1",
                     "--out", str(out), "--quiet", "--checkpoint-every-epoch"]) == EXIT_OK
        first = load_model(out)
        assert type(first).__name__ == "ToyEpochModel"
        assert main(["train", "--dataset", str(DEMO), "--resume", str(out), "--set", "n_epochs=2",
                     "--quiet"]) == EXIT_OK
        assert main(["train", "--dataset", str(DEMO), "--model", "toy_epoch_model", *small, "n_epochs=2",
                     "--out", str(whole), "--quiet"]) == EXIT_OK
        resumed, straight = load_model(out), load_model(whole)
        logs = [m.checkpoint_meta["training_log"] for m in (resumed, straight)]
        assert [r["epoch"] for r in logs[0]] == [r["epoch"] for r in logs[1]] == [1, 2]
        assert logs[0][0] == first.checkpoint_meta["training_log"][0]  # epoch 1 kept, not trained again
        assert np.allclose([r["loss"] for r in logs[0]], [r["loss"] for r in logs[1]], rtol=1e-5)
        # one epoch, then one more after a restart, lands on the same weights as two epochs in one go
        weights = resumed._tensors()
        for name, tensor in straight._tensors().items():
            assert np.allclose(weights[name].numpy(), tensor.numpy(), atol=1e-5), name
        capsys.readouterr()
        assert main(["evaluate", "--dataset", str(DEMO), "--checkpoint", str(out), "--quiet"]) == EXIT_OK
        assert "toy" in capsys.readouterr().out
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"models": [{"label": "toy-epochs", "model": "toy_epoch_model",
                                                  "params": {"layers": [16], "batch_size": 16, "n_sample": 32,
                                                             "n_epochs": 2}}]}))
        assert main(["benchmark", "--dataset", str(DEMO), "--config", str(config), "--seeds", "1",
                     "--out", str(tmp_path / "res"), "--quiet"]) == EXIT_OK
        records = [r for r in load_run_records(tmp_path / "res") if "error" not in r]
        assert [r["model"] for r in records] == ["toy_epoch_model"]
        record = RunRecord.from_dict({k: v for k, v in records[0].items() if k != "_path"})
        assert len(record.training_log) == 2 and record.evaluation["n_events"] > 0
