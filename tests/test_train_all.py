"""`train --all`: every registered model on one dataset, at the dataset's benchmark settings,
into the folder the app reads, each checkpoint carrying the identity of its training data."""

from __future__ import annotations

import json

from sessrec.cli import EXIT_OK, EXIT_USAGE, main
from sessrec.data.dataset import load_dataset
from sessrec.models.io import read_checkpoint
from sessrec.models.registry import REGISTRY
from tests.helpers import write_split_files


def test_train_all_writes_every_model_with_benchmark_settings(tmp_path, capsys):
    write_split_files(tmp_path)
    data = tmp_path / "toy"
    assert main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"),
                 "--out", str(data)]) == EXIT_OK
    configs = tmp_path / "benchmarks"
    configs.mkdir()
    (configs / "toy.json").write_text(json.dumps({"models": [
        {"label": "knn-l3", "model": "item_knn", "params": {"lambda_": 3}},
        {"label": "gru-small", "model": "gru4rec", "params": {"layers": [8], "n_epochs": 1, "batch_size": 4,
                                                              "n_sample": 0}},
    ]}))
    checkpoints = tmp_path / "checkpoints"
    code = main(["train", "--dataset", str(data), "--all", "--checkpoints", str(checkpoints),
                 "--config-dir", str(configs), "--quiet"])
    assert code == EXIT_OK
    out = capsys.readouterr().out
    identity = load_dataset(data).identity()
    for spec in REGISTRY:
        payload = read_checkpoint(checkpoints / "toy" / f"{spec.name}.pt")
        assert payload["meta"]["dataset_identity"] == identity
        assert f"{spec.name}.pt" in out
    knn = read_checkpoint(checkpoints / "toy" / "item_knn.pt")
    assert knn["hyperparameters"]["lambda_"] == 3
    gru = read_checkpoint(checkpoints / "toy" / "gru4rec.pt")
    assert gru["hyperparameters"]["layers"] == [8] and gru["hyperparameters"]["seed"] == 1
    assert "'gru-small'" in out and "model defaults" in out  # where each setting came from


def test_train_needs_model_or_all_and_all_refuses_out(tmp_path, capsys):
    write_split_files(tmp_path)
    data = tmp_path / "toy"
    main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"),
          "--out", str(data)])
    assert main(["train", "--dataset", str(data), "--all", "--out", str(tmp_path / "x.pt")]) == EXIT_USAGE
    assert "--out" in capsys.readouterr().err


def test_every_command_line_option_says_what_it_does():
    import argparse

    from sessrec.cli import build_parser

    missing = []

    def visit(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    visit(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    visit(build_parser(), "sessrec")
    assert not missing, missing


def test_models_with_a_seed_run_once_per_seed_the_others_once():
    from sessrec.experiments.runs.benchmark import RunSpec

    assert RunSpec("g", "gru4rec").seeded and RunSpec("n", "narm").seeded
    assert not any(RunSpec(m, m).seeded for m in ("most_popular", "last_item", "item_knn", "spop", "sr", "vstan"))
