"""Bad parameters, damaged checkpoints, a crashed or shared benchmark runner, bad sweeps (issue 8).

Classes covered, one block each:
  A  hyperparameters and numeric command-line options out of range
  B  checkpoint tensors that do not fit (and non-finite weights / losses)
  C  benchmark runner: damaged records, atomic summary, two processes on one folder
  D  sweeps: every mistake in the space, metric or storage refused before a trial
  E  session-parallel batching when the batch narrows below two slots
  F  resumed training equals uninterrupted training, bit for bit
  +  one full GRU4Rec training step against torch autograd (every loss, every input mode)
Everything runs on small generated data.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sessrec.cli import EXIT_OK, EXIT_USAGE, main
from sessrec.data.dataset import load_dataset, write_dataset
from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError, DataFormatError, ParameterError, TrainingError
from sessrec.experiments.runs import benchmark as bench
from sessrec.experiments.runs.claims import claim_path, try_claim
from sessrec.experiments.records import load_run_records, run_problem, write_summary
from sessrec.experiments.runs.sweep import check_space, load_space
from sessrec.experiments.runs.tuning import run_sweep
from sessrec.models.factory import make_model, parse_assignments
from sessrec.models.gru4rec import GRU4Rec
from sessrec.models.gru4rec.batching import session_parallel_schedule
from sessrec.models.gru4rec.trainer import Trainer
from sessrec.models.gru4rec.optim import EPS
from sessrec.models.io import load_model, load_training_state, read_checkpoint, save_model
from sessrec.models.item_knn import ItemKNN
from sessrec.models.last_item import LastItem
from sessrec.models.popular import MostPopular
from sessrec.models.training_state import capture_rngs, flatten_state, restore_rngs, unflatten_state
from tests.benchmark_worker import bench_worker

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------
# data


def markov_frame(n_sessions: int, n_items: int = 40, seed: int = 0, first_session: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sessions):
        item = int(rng.integers(n_items))
        for pos in range(int(rng.integers(2, 8))):
            rows.append((first_session + s, item + 1, float((first_session + s) * 100 + pos)))
            item = (item * 7 + 3) % n_items if rng.random() < 0.8 else int(rng.integers(n_items))
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"])


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory) -> Path:
    """A small prepared dataset with a validation split whose test and valid parts differ."""
    folder = tmp_path_factory.mktemp("bad_params") / "toy"
    train = markov_frame(160, seed=0)
    test = markov_frame(30, seed=1, first_session=1000)
    test = test[test["ItemId"].isin(train["ItemId"])]
    train_tr = train[train["SessionId"] < 120]
    valid = train[(train["SessionId"] >= 120) & train["ItemId"].isin(train_tr["ItemId"])]
    write_dataset(folder, {"train": train, "test": test, "train_tr": train_tr, "valid": valid}, name="toy")
    return folder


@pytest.fixture(scope="module")
def toy(toy_folder):
    return load_dataset(toy_folder)


def small_gru(**kw) -> GRU4Rec:
    params = dict(layers=[12], batch_size=6, n_sample=10, n_epochs=1, learning_rate=0.1, sample_cache=300, seed=3,
                  n_threads=1)
    params.update(kw)
    return GRU4Rec(**params)


# ------------------------------------------------------------------------------------
# A. hyperparameters


BAD_PARAMS = [
    ("gru4rec", "batch_size", 0), ("gru4rec", "batch_size", -1), ("gru4rec", "batch_size", 2.5),
    ("gru4rec", "batch_size", True), ("gru4rec", "n_epochs", 0), ("gru4rec", "learning_rate", -0.1),
    ("gru4rec", "learning_rate", 0.0), ("gru4rec", "dropout_p_embed", 1.0), ("gru4rec", "dropout_p_embed", -0.1),
    ("gru4rec", "dropout_p_hidden", 1.5), ("gru4rec", "sample_alpha", float("nan")),
    ("gru4rec", "sample_alpha", float("inf")), ("gru4rec", "n_sample", -1), ("gru4rec", "embedding", -8),
    ("gru4rec", "n_threads", -1), ("gru4rec", "n_threads", 0), ("gru4rec", "momentum", 1.0),
    ("gru4rec", "momentum", "0.1"), ("gru4rec", "layers", []), ("gru4rec", "layers", [100, 0]),
    ("gru4rec", "layers", "abc"), ("gru4rec", "bpreg", -1.0), ("gru4rec", "logq", -1.0),
    ("gru4rec", "elu_param", float("nan")), ("gru4rec", "sample_cache", 0), ("gru4rec", "seed", -3),
    ("gru4rec", "loss", "hinge"), ("gru4rec", "hidden_act", "elu-nan"), ("gru4rec", "final_act", "sigmoid"),
    ("gru4rec", "constrained_embedding", "yes"), ("gru4rec", "device", "tpu"), ("gru4rec", "device", "cuda:x"),
    ("gru4rec", "device", "CPU"), ("gru4rec", "device", 0), ("gru4rec", "device", None),
    ("item_knn", "n_neighbors", -5), ("item_knn", "lambda_", "abc"), ("item_knn", "lambda_", -1.0),
    ("item_knn", "alpha", 1.5), ("item_knn", "alpha", float("nan")),
]


@pytest.mark.parametrize("model,name,value", BAD_PARAMS)
def test_bad_hyperparameters_name_the_parameter_value_and_range(model, name, value):
    with pytest.raises(ParameterError) as info:
        make_model(model, {name: value})
    message = str(info.value)
    assert name in message and "allowed" in message, message
    assert isinstance(info.value, ValueError)  # callers catching ValueError keep working


def test_boundary_values_are_accepted():
    m = GRU4Rec(batch_size=2, n_sample=0, dropout_p_embed=0.0, dropout_p_hidden=0.99, momentum=0.0,
                sample_alpha=0.0, embedding="layersize", constrained_embedding=False, n_epochs=1, layers=3, seed=0)
    assert (m.layers, m.embedding, m.batch_size) == ([3], 3, 2)
    assert GRU4Rec(batch_size=4.0).batch_size == 4  # an integral float is an integer
    assert ItemKNN(lambda_=0, alpha=1, n_neighbors=0).alpha == 1.0
    with pytest.raises(ParameterError, match="n_sample = 0"):
        GRU4Rec(batch_size=1, n_sample=0)  # no negatives at all


def test_models_without_parameters_refuse_any():
    for name in ("most_popular", "last_item"):
        with pytest.raises(ParameterError, match="no parameter"):
            make_model(name, {"k": 1})
    with pytest.raises(ParameterError, match="unknown model"):
        make_model("nope", {})


def test_parse_assignments_errors():
    with pytest.raises(ParameterError):
        parse_assignments(["novalue"])
    with pytest.raises(ParameterError):
        parse_assignments(["=3"])
    with pytest.raises(ParameterError, match="twice"):
        parse_assignments(["a=1", "a=2"])


@pytest.mark.parametrize(
    "argv_tail",
    [
        ["benchmark", "--seeds", "0"],
        ["benchmark", "--seeds", "x"],
        ["benchmark", "--first-seed", "-1"],
        ["sweep", "--space", "s.json", "--n-trials", "-1"],
        ["sweep", "--space", "s.json", "--n-trials", "0"],
        ["evaluate", "--model", "last_item", "--min-position", "0"],
        ["evaluate", "--model", "last_item", "--ks", "0"],
    ],
)
def test_numeric_options_out_of_range_are_usage_errors(argv_tail, toy_folder, capsys):
    argv = [argv_tail[0], "--dataset", str(toy_folder), *argv_tail[1:]]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_USAGE
    assert "allowed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["prepare", "raw", "--format", "yoochoose", "--input", "x", "--out", "o", "--min-item-support", "-5"],
        ["prepare", "raw", "--format", "yoochoose", "--input", "x", "--out", "o", "--test-days", "nan"],
        ["prepare", "raw", "--format", "yoochoose", "--input", "x", "--out", "o", "--min-position", "0"],
        ["prepare", "split", "--train", "a", "--test", "b", "--out", "o", "--min-position", "-2"],
    ],
)
def test_prepare_numeric_options(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_USAGE
    assert "allowed" in capsys.readouterr().err


def test_min_position_beyond_every_session_is_refused(toy_folder, capsys):
    out = toy_folder.parent / "never.json"
    code = main(["evaluate", "--dataset", str(toy_folder), "--model", "last_item", "--min-position", "500",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "--min-position 500" in err and "nan" not in err.lower()
    assert not out.exists()


def test_train_with_bad_parameters_fails_before_any_work(toy_folder, tmp_path, capsys):
    out = tmp_path / "k.pt"
    assert main(["train", "--dataset", str(toy_folder), "--model", "item_knn", "--set", "lambda_=abc",
                 "--out", str(out), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "lambda_ = 'abc'" in err and "Traceback" not in err
    # n_epochs=0 used to save an untrained model
    assert main(["train", "--dataset", str(tmp_path / "does-not-exist"), "--model", "gru4rec", "--set", "n_epochs=0",
                 "--out", str(out), "--quiet"]) == EXIT_USAGE  # refused before the (missing) dataset is read
    assert "n_epochs = 0" in capsys.readouterr().err
    assert main(["train", "--dataset", str(tmp_path / "does-not-exist"), "--model", "gru4rec", "--set", "device=gpu",
                 "--out", str(out), "--quiet"]) == EXIT_USAGE
    assert "device = 'gpu' is not allowed (allowed: one of cpu, cuda, cuda:N)" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where there is no CUDA")
def test_train_on_cuda_without_cuda_is_a_clear_usage_error(toy_folder, tmp_path, capsys):
    out = tmp_path / "g.pt"
    args = _train_args(toy_folder, out, 1)
    args.insert(args.index("--out"), "device=cuda")  # one more KEY=VALUE of --set
    assert main(args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "device='cuda': CUDA is not available on this machine (use device='cpu')" in err and "Traceback" not in err
    assert not out.exists()


# ------------------------------------------------------------------------------------
# B. checkpoints


_FITTED: dict[tuple[int, str], object] = {}


def fitted(name: str, toy) -> object:
    """One fitted model per name and dataset (the checkpoint tests only read them)."""
    key = (id(toy), name)
    if key not in _FITTED:
        if name == "gru4rec":
            _FITTED[key] = small_gru().fit(toy.train, progress=False)
        else:
            _FITTED[key] = {"most_popular": MostPopular, "last_item": LastItem, "item_knn": ItemKNN}[name]().fit(toy.train)
    return _FITTED[key]


def tampered(tmp_path: Path, model, change) -> Path:
    path = save_model(model, tmp_path / f"{model.name}.pt")
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


TABLE_DAMAGE = {
    "index out of range": lambda t: t["indices"].__setitem__(0, 10_000),
    "negative index": lambda t: t["indices"].__setitem__(0, -1),
    "indices too short": lambda t: t.__setitem__("indices", t["indices"][:-3]),
    "values too short": lambda t: t.__setitem__("values", t["values"][:-1]),
    "indptr too short": lambda t: t.__setitem__("indptr", t["indptr"][:-2]),
    "indptr decreasing": lambda t: t["indptr"].__setitem__(slice(1, 3), torch.tensor([5, 2])),
    "indptr past the end": lambda t: t["indptr"].__setitem__(-1, t["indptr"][-1] + 7),
    "float indices": lambda t: t.__setitem__("indices", t["indices"].double()),
    "NaN value": lambda t: t["values"].__setitem__(0, float("nan")),
    "fallback too short": lambda t: t.__setitem__("fallback", t["fallback"][:-1]),
    "fallback above table": lambda t: t["fallback"].__setitem__(0, 3.0),
    "missing tensor": lambda t: t.pop("values"),
    "2-D indices": lambda t: t.__setitem__("indices", t["indices"].unsqueeze(0)),
}


@pytest.mark.parametrize("name", ["last_item", "item_knn"])
@pytest.mark.parametrize("damage", sorted(TABLE_DAMAGE))
def test_damaged_item_tables_are_refused_on_load(name, damage, toy, tmp_path):
    model = fitted(name, toy)
    path = tampered(tmp_path, model, lambda p: TABLE_DAMAGE[damage](p["tensors"]))
    with pytest.raises(CheckpointError):
        load_model(path)


ITEM_ID_DAMAGE = {
    "shuffled": lambda ids: ids.flip(0),
    "duplicated": lambda ids: torch.cat([ids[:1], ids[:-1]]),
    "float": lambda ids: ids.double(),
    "2-D": lambda ids: ids.unsqueeze(0),
    "empty": lambda ids: ids[:0],
    "bool": lambda ids: ids > 3,
}


@pytest.mark.parametrize("name", ["most_popular", "last_item", "item_knn", "gru4rec"])
@pytest.mark.parametrize("damage", sorted(ITEM_ID_DAMAGE))
def test_bad_item_ids_are_refused(name, damage, toy, tmp_path):
    path = tampered(tmp_path, fitted(name, toy), lambda p: p.__setitem__("item_ids", ITEM_ID_DAMAGE[damage](p["item_ids"])))
    with pytest.raises(CheckpointError, match="item_ids"):
        load_model(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name,tensor", [("gru4rec", "Wy"), ("gru4rec", "gru0.W_hh"), ("most_popular", "popularity"),
                                         ("item_knn", "values"), ("last_item", "fallback")])
def test_non_finite_checkpoints_are_refused(name, tensor, value, toy, tmp_path):
    path = tampered(tmp_path, fitted(name, toy), lambda p: p["tensors"][tensor].view(-1).__setitem__(0, value))
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_model(path)


def test_gru4rec_integer_weights_and_negative_popularity_are_refused(toy, tmp_path):
    path = tampered(tmp_path, fitted("gru4rec", toy), lambda p: p["tensors"].__setitem__("By", p["tensors"]["By"].long()))
    with pytest.raises(CheckpointError):
        load_model(path)
    path = tampered(tmp_path, fitted("most_popular", toy), lambda p: p["tensors"]["popularity"].__setitem__(0, -4.0))
    with pytest.raises(CheckpointError, match="negative"):
        load_model(path)


def test_intact_checkpoints_still_load_and_score(toy, tmp_path):
    for name in ("most_popular", "last_item", "item_knn", "gru4rec"):
        model = fitted(name, toy)
        loaded = load_model(save_model(model, tmp_path / f"{name}.pt"))
        session = toy.test.session(0)[:2]
        np.testing.assert_array_equal(loaded.recommend(session, 5).item_ids, model.recommend(session, 5).item_ids)


def test_training_stops_with_a_clear_error_when_the_loss_is_not_finite(toy):
    model = small_gru(loss="bpr-max", learning_rate=1e30)
    with pytest.raises(TrainingError, match=r"loss became nan in epoch 1, minibatch \d+"):
        model.fit(toy.train, progress=False)
    assert not model.is_fitted  # nothing half-trained to save or serve


def test_training_state_with_non_finite_values_is_refused(toy, tmp_path):
    model = small_gru().fit(toy.train, progress=False)
    path = save_model(model, tmp_path / "g.pt", training_state=model.training_state())
    payload = torch.load(path, weights_only=True)
    payload["training_state"]["tensors"]["out.1"][0, 0] = float("nan")
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="out.1"):
        load_training_state(path)


# ------------------------------------------------------------------------------------
# C. benchmark runner


SPECS = [bench.RunSpec("most_popular", "most_popular"), bench.RunSpec("last_item", "last_item"),
         bench.RunSpec("knn-a", "item_knn", {"lambda_": 0.0}), bench.RunSpec("knn-b", "item_knn", {"lambda_": 5.0}),
         bench.RunSpec("knn-c", "item_knn", {"alpha": 0.9})]


def test_half_written_record_is_run_again_and_reaches_the_summary(toy, tmp_path):
    root = tmp_path / "res"
    bench.run_benchmark(toy, SPECS[:2], [1], root, progress=False, log=lambda *_: None)
    record = root / "toy" / "last_item.json"
    record.write_text(record.read_text()[:150])  # cut short, as by a full disk
    assert run_problem(root, "toy", "last_item") is not None
    logs: list[str] = []
    written = bench.run_benchmark(toy, SPECS[:2], [1], root, progress=False, log=logs.append)
    assert [p.name for p in written] == ["last_item.json"]
    assert any(line.startswith("warning: toy/last_item") for line in logs), logs
    summary = pd.read_csv(write_summary(root))
    assert set(summary["label"]) == {"most_popular", "last_item"}


@pytest.mark.parametrize("damage", ["missing ranks", "corrupt ranks", "no metrics", "wrong run_id", "not an object",
                                    "ranks of another length"])
def test_every_kind_of_damaged_record_counts_as_not_done(damage, toy, tmp_path):
    root = tmp_path / "res"
    bench.run_benchmark(toy, SPECS[:1], [1], root, progress=False, log=lambda *_: None)
    path = root / "toy" / "most_popular.json"
    record = json.loads(path.read_text())
    ranks = path.with_name(record["ranks_file"])
    if damage == "missing ranks":
        ranks.unlink()
    elif damage == "corrupt ranks":
        ranks.write_bytes(ranks.read_bytes()[:40])
    elif damage == "no metrics":
        del record["evaluation"]["metrics"]
        path.write_text(json.dumps(record))
    elif damage == "ranks of another length":
        record["evaluation"]["n_events"] += 1
        path.write_text(json.dumps(record))
    elif damage == "wrong run_id":
        record["run_id"] = "other"
        path.write_text(json.dumps(record))
    else:
        path.write_text("[1, 2]")
    assert run_problem(root, "toy", "most_popular") is not None
    assert len(bench.run_benchmark(toy, SPECS[:1], [1], root, progress=False, log=lambda *_: None)) == 1
    assert run_problem(root, "toy", "most_popular") is None


def test_summary_is_written_atomically(toy, tmp_path, monkeypatch):
    root = tmp_path / "res"
    bench.run_benchmark(toy, SPECS[:2], [1], root, progress=False, log=lambda *_: None)
    before = write_summary(root).read_text()

    def broken_to_csv(self, path, **kw):
        Path(path).write_text("dataset,la")  # half a file, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError):
        write_summary(root)
    assert (root / "summary.csv").read_text() == before
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []


def test_bad_config_fails_before_the_first_run(toy, tmp_path):
    specs = [SPECS[0], bench.RunSpec("bad", "gru4rec", {"batch_size": 0})]
    with pytest.raises(ParameterError, match="batch_size"):
        bench.run_benchmark(toy, specs, [1], tmp_path / "res", progress=False, log=lambda *_: None)
    assert not (tmp_path / "res" / "toy" / "most_popular.json").exists()


def test_two_processes_on_one_folder_compute_every_run_once(toy_folder, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(2)
    workers = [ctx.Process(target=bench_worker, args=(str(toy_folder), str(tmp_path / "res"), SPECS, queue, barrier))
               for _ in range(2)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=180) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    done = results[0] + results[1]
    assert sorted(done) == sorted(f"{s.label}.json" for s in SPECS), results  # every run, none twice
    assert all(results), "both processes did some of the work"
    assert not list((tmp_path / "res").rglob("*.claim"))
    assert len([r for r in load_run_records(tmp_path / "res") if "error" not in r]) == len(SPECS)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_claim_of_a_dead_process_is_taken_over_and_a_live_one_respected(toy, tmp_path):
    root = tmp_path / "res"
    host = socket.gethostname()
    stale = claim_path(root, "toy", "most_popular")
    stale.parent.mkdir(parents=True)
    stale.write_text(json.dumps({"pid": _dead_pid(), "host": host, "created": time.time() - 99}))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = claim_path(root, "toy", "last_item")
        live.write_text(json.dumps({"pid": sleeper.pid, "host": host, "created": time.time()}))
        logs: list[str] = []
        written = bench.run_benchmark(toy, SPECS[:2], [1], root, progress=False, log=logs.append)
        assert [p.name for p in written] == ["most_popular.json"]
        assert any("last_item: claimed by pid" in line for line in logs), logs
        assert live.exists() and not stale.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # once its owner is gone, the claim is stale and the next run takes it over
    assert [p.name for p in bench.run_benchmark(toy, SPECS[:2], [1], root, progress=False, log=lambda *_: None)] == [
        "last_item.json"
    ]


def test_claims_are_exclusive(tmp_path):
    first, holder = try_claim(tmp_path, "d", "r")
    assert first is not None and holder is None
    second, holder = try_claim(tmp_path, "d", "r")  # our own live pid: not stale
    assert second is None and f"pid {os.getpid()}" in holder
    first.release()
    third, _ = try_claim(tmp_path, "d", "r")
    assert third is not None
    third.release()


# ------------------------------------------------------------------------------------
# D. sweeps


GOOD_SPACE = {"lambda_": {"type": "float", "low": 0.0, "high": 50.0}, "alpha": {"type": "float", "low": 0.1, "high": 0.9}}


@pytest.mark.parametrize(
    "space,kwargs,match",
    [
        ({"lambda_": {"type": "float", "low": 50.0, "high": 0.0}}, {}, "inverted range"),
        ({"lambdaa": {"type": "float", "low": 0.0, "high": 1.0}}, {}, "no parameter"),
        ([{"lambda_": {"type": "float", "low": 0, "high": 1}}], {}, "JSON object"),
        ({}, {}, "JSON object"),
        ({"lambda_": {"type": "float", "low": 0.0}}, {}, "low and high"),
        ({"lambda_": {"type": "float", "low": "a", "high": 1.0}}, {}, "finite number"),
        ({"lambda_": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, {}, "log range"),
        ({"lambda_": {"type": "float", "low": 0.0, "high": 1.0, "step": -1}}, {}, "step"),
        ({"n_neighbors": {"type": "int", "low": 1.5, "high": 9}}, {}, "integer"),
        ({"alpha": {"type": "float", "low": 0.5, "high": 2.0}}, {}, "alpha"),  # a range end out of the model's range
        ({"alpha": {"type": "categorical", "choices": "abc"}}, {}, "choices"),
        ({"alpha": {"type": "float", "low": 0.1, "high": 0.9, "lo": 1}}, {}, "unknown key"),
        (GOOD_SPACE, {"metric": "accuracy@20"}, "unknown metric"),
        (GOOD_SPACE, {"metric": "mrr@7"}, "unknown metric"),
        (GOOD_SPACE, {"storage": "redis://localhost/0"}, "URL scheme"),
        (GOOD_SPACE, {"storage": "results/sweeps.db"}, "URL scheme"),
        (GOOD_SPACE, {"fixed": {"k": 3}}, "no parameter"),
        (GOOD_SPACE, {"fixed": {"alpha": 0.5}}, "both swept and fixed"),
        (GOOD_SPACE, {"n_trials": 0}, "n_trials"),
    ],
)
def test_bad_sweeps_fail_before_the_first_trial(space, kwargs, match, toy, tmp_path):
    db = tmp_path / "s.db"
    kwargs = {"storage": f"sqlite:///{db}", **kwargs}
    with pytest.raises(ParameterError, match=match):
        run_sweep(toy, "item_knn", space, **kwargs)
    assert not db.exists()  # no study was even created


def test_space_file_that_is_a_list_is_refused(tmp_path):
    path = tmp_path / "space.json"
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ParameterError, match="JSON object"):
        load_space(path)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(ParameterError):
        load_space(path)
    assert check_space(load_space(ROOT / "sweeps" / "item_knn.json"))


def test_sweep_with_bad_space_through_the_cli(toy_folder, tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"alpha": {"type": "float", "low": 0.9, "high": 0.1}}))
    code = main(["sweep", "--dataset", str(toy_folder), "--model", "item_knn", "--space", str(space),
                 "--storage", f"sqlite:///{tmp_path}/s.db", "--quiet"])
    assert code == EXIT_USAGE and "inverted range" in capsys.readouterr().err


# ------------------------------------------------------------------------------------
# E. batching


def test_schedule_when_the_last_session_lands_as_the_batch_narrows():
    # slots: [5-long session] and [4-long, then 2-long]; the 3-long one would start after the cut
    offsets = np.r_[0, np.cumsum([5, 4, 2, 3, 1, 1])]
    sched = session_parallel_schedule(offsets, np.arange(offsets[-1]), batch_size=2, min_width=2)
    assert np.all(np.diff(sched.bounds) == 2) and sched.n_batches == 4
    assert sched.carry.tolist() == [0, 0, 1, 1, 1, 1, 1, 0]  # the 2-long session starts at minibatch 4


def test_gru4rec_batch_size_2_without_samples_trains():
    rng = np.random.default_rng(5)
    for trial in range(30):
        lengths = rng.integers(1, 8, size=rng.integers(2, 9))
        if (lengths >= 2).sum() < 2:
            continue
        rows = [(s, int(rng.integers(1, 12)), p) for s, n in enumerate(lengths) for p in range(n)]
        train = Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"]))
        model = GRU4Rec(batch_size=2, n_sample=0, layers=[4], n_epochs=1, seed=trial).fit(train, progress=False)
        assert model.is_fitted


def test_nothing_to_train_on_is_a_clear_error():
    train = Sessions.from_frame(pd.DataFrame({"SessionId": [1, 1, 1, 2], "ItemId": [1, 2, 3, 4], "Pos": [0, 1, 2, 0]}))
    with pytest.raises(DataFormatError, match="nothing to train on"):
        GRU4Rec(batch_size=2, n_sample=0, layers=[4], n_epochs=1).fit(train, progress=False)


# ------------------------------------------------------------------------------------
# F. resuming


RESUME_CASES = [
    dict(loss="cross-entropy", logq=1.0, dropout_p_embed=0.2, momentum=0.2),
    dict(loss="bpr-max", dropout_p_hidden=0.3, momentum=0.1, constrained_embedding=False, embedding=8),
    dict(loss="top1-max", dropout_p_embed=0.1, constrained_embedding=False, embedding=0, layers=[10, 6]),
]


@pytest.mark.parametrize("params", RESUME_CASES, ids=lambda p: p["loss"])
def test_resumed_training_equals_uninterrupted_training(params, toy, tmp_path):
    full = small_gru(n_epochs=3, **params).fit(toy.train, progress=False)
    first = small_gru(n_epochs=1, **params).fit(toy.train, progress=False)
    path = save_model(first, tmp_path / "first.pt", training_state=first.training_state())
    state = load_training_state(path)
    assert state is not None and state.epoch == 1
    resumed = load_model(path)
    resumed.n_epochs = 3
    resumed.fit(toy.train, progress=False, resume=state)
    a, b = full._tensors(), resumed._tensors()
    assert sorted(a) == sorted(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert [r["loss"] for r in resumed.training_log] == [r["loss"] for r in full.training_log]
    # without the optimiser and generator states the run would differ: the test can fail
    fresh = load_model(path)
    fresh.n_epochs = 3
    state.tensors["rng.generator"] = torch.Generator().manual_seed(99).get_state()
    fresh.fit(toy.train, progress=False, resume=state)
    assert not torch.equal(fresh._tensors()["Wy"], a["Wy"])


def test_resume_refuses_other_data_and_finished_runs(toy, tmp_path):
    model = small_gru(n_epochs=1).fit(toy.train, progress=False)
    path = save_model(model, tmp_path / "m.pt", training_state=model.training_state())
    with pytest.raises(ParameterError, match="n_epochs"):
        load_model(path).fit(toy.train, progress=False, resume=load_training_state(path))
    other = load_model(path)
    other.n_epochs = 2
    with pytest.raises(CheckpointError, match="items differ"):
        other.fit(toy.sessions("train_tr").select(np.arange(toy.sessions("train_tr").n_sessions) < 20),
                  progress=False, resume=load_training_state(path))
    assert load_training_state(save_model(model, tmp_path / "w.pt")) is None


def _train_args(folder: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return ["train", "--dataset", str(folder), "--model", "gru4rec", "--set", f"n_epochs={epochs}", "layers=12",
            "batch_size=6", "n_sample=10", "sample_cache=300", "dropout_p_embed=0.2", "momentum=0.1", "n_threads=1",
            "--out", str(out), "--quiet", *extra]


def test_cli_resume_after_an_interruption(toy_folder, tmp_path, monkeypatch, capsys):
    full, part = tmp_path / "full.pt", tmp_path / "part.pt"
    assert main(_train_args(toy_folder, full, 3)) == EXIT_OK
    # an interruption during epoch 2 of a run that saves after every epoch
    real = Trainer.run_epoch

    def interrupted(self, schedule, epoch, progress, tuner=None):
        if epoch == 2:
            raise KeyboardInterrupt
        return real(self, schedule, epoch, progress, tuner)

    monkeypatch.setattr(Trainer, "run_epoch", interrupted)
    assert main(_train_args(toy_folder, part, 3, "--checkpoint-every-epoch")) == 130
    monkeypatch.setattr(Trainer, "run_epoch", real)
    assert load_training_state(part).epoch == 1
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(part), "--quiet"]) == EXIT_OK
    a, b = read_checkpoint(full), read_checkpoint(part)
    for name, tensor in a["tensors"].items():
        assert torch.equal(tensor, b["tensors"][name]), name
    assert [r["epoch"] for r in b["meta"]["training_log"]] == [1, 2, 3]
    assert b["meta"]["resumed_from"]["epoch"] == 1
    # changing the model on resume is refused; extending it is allowed
    capsys.readouterr()
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(part), "--set", "layers=20", "--quiet"]) == EXIT_USAGE
    assert "only n_epochs" in capsys.readouterr().err
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(part), "--quiet"]) == EXIT_USAGE  # all done
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(part), "--set", "n_epochs=4", "device=tpu",
                 "--quiet"]) == EXIT_USAGE
    assert "device = 'tpu'" in capsys.readouterr().err
    # the device may change (a training begun on a GPU continues on the CPU)
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(part), "--set", "n_epochs=4", "device=cpu",
                 "--quiet"]) == EXIT_OK
    assert load_training_state(part).epoch == 4
    assert read_checkpoint(part)["hyperparameters"]["device"] == "cpu"


@pytest.mark.parametrize("name", ["narm", "sasrec", "srgnn"])
def test_cli_resume_works_for_the_neural_models_too(name, toy_folder, tmp_path, monkeypatch):
    """One resume mechanism: an interrupted `train --checkpoint-every-epoch` of a neural model
    continues with `train --resume` to the weights of the uninterrupted run."""
    from sessrec.models.neural.base import NeuralSessionModel

    args = lambda out, *extra: ["train", "--dataset", str(toy_folder), "--model", name, "--set", "n_epochs=3",
                                "n_threads=1", "batch_size=16", "--out", str(out), "--quiet", *extra]
    full, part = tmp_path / "full.pt", tmp_path / "part.pt"
    assert main(args(full)) == EXIT_OK
    real = NeuralSessionModel._run_epoch

    def interrupted(self, cases, epoch, device, progress):
        if epoch == 3:
            raise KeyboardInterrupt
        return real(self, cases, epoch, device, progress)

    monkeypatch.setattr(NeuralSessionModel, "_run_epoch", interrupted)
    assert main(args(part, "--checkpoint-every-epoch")) == 130
    monkeypatch.setattr(NeuralSessionModel, "_run_epoch", real)
    assert load_training_state(part).epoch == 2
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(part), "--quiet"]) == EXIT_OK
    a, b = read_checkpoint(full), read_checkpoint(part)
    assert a["tensors"].keys() == b["tensors"].keys()
    for key, tensor in a["tensors"].items():
        assert torch.equal(tensor, b["tensors"][key]), key
    assert [r["epoch"] for r in b["meta"]["training_log"]] == [1, 2, 3]
    assert load_training_state(part).epoch == 3


def test_training_state_helpers_round_trip_an_optimizer():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.01, betas=(0.8, 0.9))
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensors, layout = flatten_state(opt.state_dict(), "optim")
    json.dumps(layout)  # plain JSON
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    restored = unflatten_state(tensors, layout)
    opt2 = torch.optim.Adam(net.parameters(), lr=0.5)
    opt2.load_state_dict(restored)
    assert opt2.param_groups[0]["betas"] == (0.8, 0.9) and opt2.param_groups[0]["lr"] == 0.01
    for key, value in opt.state_dict()["state"][0].items():
        assert torch.equal(opt2.state_dict()["state"][0][key], value)
    gen = torch.Generator().manual_seed(7)
    rng_tensors, rng_meta = capture_rngs({"g": gen})
    json.dumps(rng_meta)
    expected = (torch.rand(3, generator=gen), torch.rand(2), np.random.rand(2))
    restore_rngs(rng_tensors, rng_meta, {"g": gen})
    assert torch.equal(torch.rand(3, generator=gen), expected[0]) and torch.equal(torch.rand(2), expected[1])
    np.testing.assert_array_equal(np.random.rand(2), expected[2])


# ------------------------------------------------------------------------------------
# One full training step against autograd


def reference_loss(loss: str, scores: torch.Tensor, offset: torch.Tensor, model: GRU4Rec) -> torch.Tensor:
    """The official layout: column i holds row i's target (the diagonal), then the sampled negatives."""
    B = scores.shape[0]
    if loss == "cross-entropy":
        return -torch.log(torch.diagonal(torch.softmax(scores + offset, 1)) + 1e-24).sum()
    y = model._final.fn(scores)
    t = torch.diagonal(y).unsqueeze(1)
    own = torch.zeros_like(y, dtype=torch.bool)
    own[torch.arange(B), torch.arange(B)] = True
    if loss == "top1":
        n = y.shape[1]
        return (torch.mean(torch.sigmoid(y - t) + torch.sigmoid(y**2), 1) - torch.sigmoid(t.squeeze(1) ** 2) / n).sum()
    masked = torch.where(own, -torch.inf, y)
    s = torch.softmax(masked, 1)  # over the negatives only
    if loss == "bpr-max":
        return (-torch.log((torch.sigmoid(t - y) * s).sum(1) + 1e-24) + model.bpreg * (y**2 * s).sum(1)).sum()
    return (s * (torch.sigmoid(y - t) + torch.sigmoid(y**2))).sum()  # top1-max


def gru_reference(gi, h0, W_hh, b_hh, act):
    h = h0.shape[1]
    gh = h0 @ W_hh + b_hh
    r = torch.sigmoid(gi[:, :h] + gh[:, :h])
    z = torch.sigmoid(gi[:, h : 2 * h] + gh[:, h : 2 * h])
    n = act(gi[:, 2 * h :] + r * gh[:, 2 * h :])
    return (1 - z) * n + z * h0


@pytest.mark.parametrize("mode", ["constrained", "separate", "one-hot"])
@pytest.mark.parametrize("loss", ["cross-entropy", "bpr-max", "top1", "top1-max"])
def test_full_training_step_matches_autograd(loss, mode):
    n_items, B, layers = 12, 4, [6, 5]
    kw = dict(loss=loss, layers=layers, batch_size=5, n_sample=6, learning_rate=0.1, momentum=0.3,
              dropout_p_embed=0.25, dropout_p_hidden=0.3, sample_alpha=0.5, seed=0, sample_cache=60)
    kw.update({"cross-entropy": dict(logq=1.0), "bpr-max": dict(bpreg=0.7, elu_param=0.5),
               "top1": dict(final_act="tanh"), "top1-max": dict(final_act="leaky-0.1")}[loss])
    kw.update({"constrained": dict(constrained_embedding=True), "separate": dict(constrained_embedding=False, embedding=7),
               "one-hot": dict(constrained_embedding=False, embedding=0)}[mode])
    model = GRU4Rec(**kw)
    model.item_index = ItemIndex(np.arange(n_items, dtype=np.int64))
    gen = torch.Generator().manual_seed(0)
    weights = model._initial_weights(n_items, gen)
    torch.manual_seed(1)
    for name in list(weights):
        if name == "By" or name.endswith(("b_ih", "b_hh")):
            weights[name] = torch.randn(weights[name].shape) * 0.3  # non-zero biases: their gradients matter
    counts = np.random.default_rng(2).integers(1, 20, n_items).astype(np.float64)
    trainer = Trainer(model, {k: v.clone() for k, v in weights.items()}, counts, gen)

    # the step's random draws, fixed: negatives (repeats, overlaps with targets) and dropout masks
    X, T = torch.tensor([0, 1, 1, 5]), torch.tensor([2, 3, 2, 0])
    negatives = np.array([3, 3, 7, 2, 9, 11])
    trainer.sampler.next = lambda: negatives

    def mask(width: int, p: float) -> torch.Tensor:
        return (torch.rand(B, width) >= p).float() / (1 - p)

    n_in = {"constrained": layers[-1], "separate": 7, "one-hot": None}[mode]
    embed_mask = mask(n_in, 0.25) if n_in else None
    if embed_mask is not None:
        trainer.embed_masks.next = lambda rows: embed_mask
    hidden_masks = [mask(h, 0.25 if (mode == "one-hot" and l == 0) else 0.3) for l, h in enumerate(layers)]
    for l, m in enumerate(hidden_masks):
        trainer.hidden_masks[l].next = lambda rows, m=m: m
    hidden = [torch.randn(B, h) * 0.5 for h in layers]
    h_before = [h.clone() for h in hidden]

    step_loss = trainer.step(X, T, hidden)

    # reference: autograd through the same network in float64, official score layout
    W = {k: v.double().clone().requires_grad_(True) for k, v in weights.items()}
    act = model._hidden.fn
    if mode == "constrained":
        layer_in = W["Wy"][X] * embed_mask.double()
    elif mode == "separate":
        layer_in = W["E"][X] * embed_mask.double()
    ref_hidden = []
    for l in range(len(layers)):
        if mode == "one-hot" and l == 0:
            gi = W["Wx0"][X] + W["gru0.b_ih"]
        else:
            gi = layer_in @ W[f"gru{l}.W_ih"] + W[f"gru{l}.b_ih"]
        h1 = gru_reference(gi, h_before[l].double(), W[f"gru{l}.W_hh"], W[f"gru{l}.b_hh"], act)
        layer_in = h1 * hidden_masks[l].double()
        ref_hidden.append(layer_in)
    cols = torch.cat([T, torch.from_numpy(negatives)])
    scores = layer_in @ W["Wy"][cols].t() + W["By"][cols]
    log_pop = torch.log(torch.from_numpy(np.maximum(counts, 1.0)))
    offset = -model.logq * torch.cat([log_pop[T], model.sample_alpha * log_pop[torch.from_numpy(negatives)]])
    ref = reference_loss(loss, scores, offset, model) / model.batch_size
    ref.backward()

    assert step_loss == pytest.approx(ref.item(), rel=1e-5)
    for l in range(len(layers)):
        torch.testing.assert_close(hidden[l].double(), ref_hidden[l].detach(), rtol=1e-5, atol=1e-6)
    got = trainer.weights()
    for name, w in W.items():
        g = w.grad if w.grad is not None else torch.zeros_like(w)
        acc = EPS + g * g
        velocity = -model.learning_rate * g / torch.sqrt(acc)  # momentum starts at zero
        torch.testing.assert_close(got[name].double(), (w + velocity).detach(), rtol=1e-4, atol=2e-5, msg=name)
    # the momentum plane holds -lr * g / sqrt(acc): a direct check of every output-row gradient
    out_grad = torch.cat([W["Wy"].grad, W["By"].grad.unsqueeze(1)], 1)
    expected_velocity = -model.learning_rate * out_grad / torch.sqrt(EPS + out_grad**2)
    torch.testing.assert_close(trainer.out.planes[2].double(), expected_velocity, rtol=1e-4, atol=2e-5)


def test_resume_and_epoch_checkpoints_need_an_epoch_trained_model(toy_folder, toy, tmp_path, capsys):
    knn = save_model(fitted("item_knn", toy), tmp_path / "knn.pt")
    assert main(["train", "--dataset", str(toy_folder), "--model", "item_knn", "--checkpoint-every-epoch",
                 "--out", str(tmp_path / "x.pt"), "--quiet"]) == EXIT_USAGE
    assert main(["train", "--dataset", str(toy_folder), "--resume", str(knn), "--quiet"]) == EXIT_USAGE
    weights_only = save_model(fitted("gru4rec", toy), tmp_path / "w.pt")
    code = main(["train", "--dataset", str(toy_folder), "--resume", str(weights_only), "--quiet"])
    assert code not in (EXIT_OK, EXIT_USAGE)  # a checkpoint problem (exit 3), not a usage error
    assert "no training state" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_the_finiteness_check_of_checkpoints_is_exact_when_a_sum_overflows():
    """Checkpoint tensors are checked with one sum (NaN or infinity make it non-finite); huge
    finite values whose sum overflows are still accepted, by the exact element-wise test."""
    import torch

    from sessrec.models.validation import all_finite as _all_finite

    assert _all_finite(torch.tensor([3e38, 3e38], dtype=torch.float32)), "finite values, an overflowing sum"
    for bad in (float("nan"), float("inf"), -float("inf")):
        assert not _all_finite(torch.tensor([1.0, bad, 2.0]))
