"""NARM, SASRec and SR-GNN: shapes, streaming = one-session forward, learning, checkpoints, resume."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch

from sessrec.data.sessions import Sessions
from sessrec.errors import CheckpointError, ParameterError
from sessrec.evaluation.evaluator import evaluate
from sessrec.evaluation.metrics import metrics_from_ranks
from sessrec.models.io import load_model, read_checkpoint, save_model
from sessrec.models.neural import NARM, SASRec, SRGNN
from sessrec.models.neural.srgnn import session_graphs
from sessrec.models.neural.cases import make_batch, prefix_cases, sequence_cases
from sessrec.models.neural.losses import catalogue_cross_entropy
from sessrec.models.registry import spec
from tests.helpers import sessions_of

MODELS = {
    "narm": lambda **kw: NARM(hidden_size=16, embedding_dim=12, batch_size=32, learning_rate=0.01, **kw),
    "sasrec": lambda **kw: SASRec(hidden_units=16, num_heads=2, dropout_rate=0.1, max_len=6, batch_size=16,
                                  learning_rate=0.01, **kw),
    "srgnn": lambda **kw: SRGNN(hidden_size=16, batch_size=32, learning_rate=0.01, lr_dc_step=100, **kw),
    # NARM with the reference code's hard-sigmoid GRU gates: its own step loop, so every test runs on it too
    "narm-hard-gates": lambda **kw: NARM(hidden_size=16, embedding_dim=12, batch_size=32, learning_rate=0.01,
                                         gates="hard_sigmoid", **kw),
}


def pattern_sessions(n: int, n_items: int = 30, seed: int = 0, start_id: int = 1) -> Sessions:
    """Sessions that follow a fixed successor function, so the next item is always predictable."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = int(rng.integers(1, n_items + 1))
        seq = [x]
        for _ in range(int(rng.integers(2, 9)) - 1):
            x = (x * 7 + 3) % n_items + 1
            seq.append(x)
        out.append(seq)
    return sessions_of(*out, start_id=start_id)


@pytest.fixture(scope="module")
def train() -> Sessions:
    return pattern_sessions(160)


@pytest.fixture(scope="module")
def fitted(train: Sessions) -> dict:
    torch.set_num_threads(1)
    return {name: make(n_epochs=4, n_threads=1).fit(train, progress=False) for name, make in MODELS.items()}


def test_registered_with_labels() -> None:
    assert [spec(n).label for n in ("narm", "sasrec", "srgnn")] == ["NARM", "SASRec", "SR-GNN"]
    assert {spec(n).family for n in ("narm", "sasrec", "srgnn")} == {"neural"}


@pytest.mark.parametrize("batch", [1, 37, 512])
def test_catalogue_cross_entropy_equals_torch(batch: int) -> None:
    """The training loss and its gradient are F.cross_entropy's (the gradient up to rounding)."""
    gen = torch.Generator().manual_seed(batch)
    logits = (torch.randn(batch, 3001, generator=gen, dtype=torch.float64) * 4).requires_grad_()
    targets = torch.randint(0, 3001, (batch,), generator=gen)
    expected = torch.nn.functional.cross_entropy(logits, targets)
    (expected_grad,) = torch.autograd.grad(expected * 3.0, logits)
    ours = catalogue_cross_entropy(logits, targets)
    (grad,) = torch.autograd.grad(ours * 3.0, logits)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-15)
    assert float(grad.sum().abs()) < 1e-9, "each row of softmax - one-hot sums to zero"
    with pytest.raises(ValueError, match="int64 indices"):
        catalogue_cross_entropy(logits, targets.int())


def test_narm_gates_hard_sigmoid_and_the_gru_cell() -> None:
    from sessrec.models.neural.narm import NARMModule, hard_sigmoid

    # Theano's hard sigmoid: slope 0.2 around 0.5, flat beyond +-2.5
    x = torch.tensor([-10.0, -2.5, -1.0, 0.0, 1.0, 2.5, 10.0])
    assert hard_sigmoid(x).tolist() == pytest.approx([0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0])
    # with the logistic gate, the cell is nn.GRU's step on the same weights (gate order r, z, n)
    torch.manual_seed(0)
    module = NARMModule(20, 6, 8, 0.0, 0.0)
    x, h = torch.randn(5, 6), torch.randn(5, 8)
    _, expected = module.gru(x[:, None, :], h[None])
    torch.testing.assert_close(module.gru_cell(x, h, torch.sigmoid), expected[0])
    # hard gates change the states, and the loop reads padded sessions like nn.GRU does
    hard = NARMModule(20, 6, 8, 0.0, 0.0, hard_gates=True)
    hard.load_state_dict(module.state_dict())
    items = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert not torch.allclose(hard.encode(items), module.encode(items))
    torch.testing.assert_close(hard.encode(items)[:, :2], hard.encode(items[:, :2]))
    with pytest.raises(ParameterError, match="gates = 'hard' is not allowed"):
        NARM(gates="hard")


def test_prefix_cases_cover_every_prefix_once() -> None:
    s = sessions_of([5, 6, 7], [8, 9])
    flat = np.array([0, 1, 2, 3, 4])
    cases = prefix_cases(s, flat)
    batch = make_batch(cases, np.arange(len(cases)))
    got = sorted((tuple(row[:n].tolist()), int(t)) for row, n, t in zip(batch.items, batch.lengths, batch.targets))
    assert got == [((0,), 1), ((0, 1), 2), ((3,), 4)]
    capped = make_batch(prefix_cases(s, flat, max_len=1), np.arange(3))
    assert capped.items[:, 0].tolist() == [0, 1, 3] and capped.lengths.tolist() == [1, 1, 1]


def test_sequence_cases_chunk_long_sessions_and_train_every_target_once() -> None:
    s = sessions_of(list(range(1, 9)), [20, 21])  # 7 targets + 1 target
    flat = np.arange(10)
    cases = sequence_cases(s, flat, max_len=3)
    batch = make_batch(cases, np.arange(len(cases)))
    targets = sorted(int(t) for row in batch.next_items for t in row if t >= 0)
    assert targets == [1, 2, 3, 4, 5, 6, 7, 9]
    assert int(batch.lengths.max()) == 3


def test_session_graph_matches_the_reference_normalisation() -> None:
    # session 1 2 1 3: edges 1->2, 2->1, 1->3; item 1 has out-degree 2, in-degree 1
    items = torch.tensor([[1, 2, 1, 3, 0]])
    alias, adj = session_graphs(items, torch.tensor([4]))
    assert alias[0, :4].tolist() == [0, 1, 0, 3]
    a_in, a_out = adj[0, :, :5], adj[0, :, 5:]
    assert a_in[1, 0] == 1.0 and a_in[0, 1] == 1.0 and a_in[3, 0] == 1.0  # one predecessor each
    assert a_out[0, 1] == 0.5 and a_out[0, 3] == 0.5 and a_out[1, 0] == 1.0
    assert adj.sum() == pytest.approx(5.0)  # 3 nodes with predecessors, 2 with successors: rows sum to one


@pytest.mark.parametrize("name", list(MODELS))
def test_scores_shape_and_type(fitted: dict, name: str) -> None:
    model = fitted[name]
    state = model.step(model.init_state(3), torch.tensor([0, 1, 2]))
    scores = model.scores(state)
    assert scores.shape == (3, model.n_items) and scores.dtype == torch.float32
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_batched_streaming_equals_one_session_forward(fitted: dict, name: str) -> None:
    model = fitted[name]
    model.module.eval()
    sessions = [[3, 4, 5, 6, 7, 8, 9, 10], [11, 0], [1, 2, 3]]
    state = model.init_state(3)
    for pos in range(8):
        active = [pos < len(s) for s in sessions]
        items = torch.tensor([s[pos] if pos < len(s) else 0 for s in sessions])
        before = state
        state = model.step(state, items)
        scores = model.scores(state)
        for slot, s in enumerate(sessions):
            if not active[slot]:
                continue
            prefix = torch.tensor([s[: pos + 1]])
            if name == "sasrec":
                prefix = prefix[:, -model.max_len :]
            with torch.no_grad():
                if name == "sasrec":
                    alone = model.module.last_output(prefix, torch.tensor([prefix.shape[1]])) @ model.module.item_emb.weight.t()
                else:
                    alone = model.module(prefix, torch.tensor([prefix.shape[1]]))
            torch.testing.assert_close(scores[slot], alone[0], rtol=1e-4, atol=1e-4)
        assert before is not state
    # reset slot 0 and start it again: it must score like a fresh one-click session
    state = model.step(model.reset(state, torch.tensor([True, False, False])), torch.tensor([5, 1, 1]))
    fresh = model.scores(model.step(model.init_state(1), torch.tensor([5])))
    torch.testing.assert_close(model.scores(state)[0], fresh[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(MODELS))
def test_step_does_not_modify_its_input_state(fitted: dict, name: str) -> None:
    model = fitted[name]
    state = model.step(model.init_state(2), torch.tensor([1, 2]))
    copy = tuple(t.clone() for t in state)
    model.step(state, torch.tensor([3, 4]))
    model.reset(state, torch.tensor([True, False]))
    assert all(torch.equal(a, b) for a, b in zip(state, copy))


@pytest.mark.parametrize("name", list(MODELS))
def test_learns_a_deterministic_successor(fitted: dict, name: str) -> None:
    test = pattern_sessions(40, seed=1, start_id=1000)
    result = evaluate(fitted[name], test, ks=(1, 5))
    assert result.metrics["recall@5"] > 0.9, result.metrics
    assert fitted[name].training_log[-1]["loss"] < fitted[name].training_log[0]["loss"]


@pytest.mark.parametrize("name", list(MODELS))
def test_attention_weights_cover_the_session(fitted: dict, name: str) -> None:
    model = fitted[name]
    ids = model.item_index.to_ids(np.array([1, 2, 3, 4]))
    weights = model.attention(ids)
    assert weights.shape == (4,) and np.isfinite(weights).all()
    if name != "srgnn":  # SR-GNN's readout gates are not normalised
        assert weights.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_attention_per_click_in_the_explain_view(fitted: dict, name: str) -> None:
    """One weight per click the model reads, mapped to the session's positions: an unknown item
    and the clicks before SASRec's window (max_len 6) get none; the softmax models sum to 1."""
    from sessrec.experiments.analysis.explain import attention_weights

    model = fitted[name]
    known = [int(i) for i in model.item_index.to_ids(np.arange(1, 9))]
    session = known[:3] + [10**9] + known[3:]  # 9 clicks, the 4th unknown
    frame = attention_weights(model, session)
    assert list(frame["Position"]) == list(range(1, 10)) and list(frame["Clicked"]) == session
    read = frame["Attention"].notna().to_numpy()
    expected = np.array([True] * 9)
    expected[3] = False
    if name == "sasrec":
        expected[:2] = False  # only the last 6 of the 8 known clicks are read
    assert read.tolist() == expected.tolist()
    weights = frame["Attention"][read].to_numpy()
    if name == "srgnn":  # sigmoid gates through a linear layer: any real values, not a distribution
        assert np.isfinite(weights).all()
    else:
        assert (weights >= 0).all() and weights.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_checkpoint_round_trip(fitted: dict, name: str, tmp_path) -> None:
    model = fitted[name]
    path = save_model(model, tmp_path / f"{name}.pt", {"dataset": "pattern"}, training_state=model.training_state())
    payload = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors and data only
    assert any(k.startswith("opt.") for k in payload["training_state"]["tensors"]), "Adam state is saved"
    assert not any(k.startswith("opt.") for k in payload["tensors"]), "the weights are weights only"
    loaded = load_model(path)
    assert isinstance(loaded, type(model)) and loaded.hyperparameters() == model.hyperparameters()
    session = model.item_index.to_ids(np.array([4, 5, 6]))
    np.testing.assert_allclose(loaded.score_session(session)[0], model.score_session(session)[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(train: Sessions, name: str, tmp_path) -> None:
    torch.set_num_threads(1)
    valid = pattern_sessions(20, seed=2, start_id=5000)
    score = lambda m: evaluate(m, valid, ks=(20,), beyond_accuracy=False).metrics["mrr@20"]
    full = MODELS[name](n_epochs=3, n_threads=1, seed=7).fit(train, validate=score, progress=False)
    ckpt = tmp_path / "run.pt"
    MODELS[name](n_epochs=2, n_threads=1, seed=7).fit(train, validate=score, progress=False, checkpoint=ckpt)
    assert read_checkpoint(ckpt)["meta"]["training_state"]["epoch"] == 2
    resumed = MODELS[name](n_epochs=3, n_threads=1, seed=7).fit(train, validate=score, progress=False, checkpoint=ckpt)
    assert [r["epoch"] for r in resumed.training_log] == [1, 2, 3]
    for (k, a), (_, b) in zip(full.module.state_dict().items(), resumed.module.state_dict().items()):
        assert torch.equal(a, b), k
    assert [r["loss"] for r in resumed.training_log] == [r["loss"] for r in full.training_log]


@pytest.mark.parametrize("name", list(MODELS))
def test_a_loaded_checkpoint_resumes_with_its_training_state(train: Sessions, name: str, tmp_path) -> None:
    """The contract GRU4Rec has too: load_model + load_training_state, then fit(resume=state)."""
    from sessrec.models.io import load_training_state

    torch.set_num_threads(1)
    full = MODELS[name](n_epochs=3, n_threads=1, seed=7).fit(train, progress=False)
    first = MODELS[name](n_epochs=2, n_threads=1, seed=7).fit(train, progress=False)
    path = save_model(first, tmp_path / "two.pt", {}, training_state=first.training_state())
    state = load_training_state(path)
    assert state is not None and state.epoch == 2
    resumed = load_model(path)
    resumed.n_epochs = 3
    resumed.fit(train, progress=False, resume=state)
    assert [r["epoch"] for r in resumed.training_log] == [1, 2, 3]
    for (k, a), (_, b) in zip(full.module.state_dict().items(), resumed.module.state_dict().items()):
        assert torch.equal(a, b), k
    other = pattern_sessions(30, n_items=40, seed=9)  # a catalogue of 40 items, not 30
    with pytest.raises(CheckpointError, match="items differ"):
        load_model(path).fit(other, progress=False, resume=state)


@pytest.mark.parametrize("name", list(MODELS))
def test_adam_is_fused_with_the_papers_betas(fitted: dict, name: str) -> None:
    group = fitted[name].optimizer.param_groups[0]
    assert group["fused"] is True
    assert group["betas"] == ((0.9, 0.98) if name == "sasrec" else (0.9, 0.999))


def test_a_resumed_run_computes_adam_as_the_code_says(train: Sessions, tmp_path) -> None:
    """A checkpoint written before Adam was fused (flags stored as 0 / 1) resumes with the fused Adam
    and the saved settings."""
    from sessrec.models.io import save_model

    ckpt = tmp_path / "run.pt"
    first = MODELS["narm"](n_epochs=1, n_threads=1, seed=7).fit(train, progress=False, checkpoint=ckpt)
    meta = first.training_meta()
    for group in meta["optimizer_param_groups"]:
        group.update(fused=None, foreach=None, maximize=0, eps=1e-6)  # as the unfused Adam wrote them
    # the older layout: Adam's state among the weights, no training-state key
    legacy = {**first._tensors(), **first.training_state().tensors}
    first._tensors = lambda: legacy
    save_model(first, ckpt, {"resumable": True, **meta})
    resumed = MODELS["narm"](n_epochs=2, n_threads=1, seed=7)
    resumed.fit(train, progress=False, checkpoint=ckpt)
    assert [r["epoch"] for r in resumed.training_log] == [1, 2]
    group = resumed.optimizer.param_groups[0]
    assert group["fused"] is True and group["maximize"] is False and group["eps"] == 1e-6


def test_a_run_without_validation_refuses_a_selection_checkpoint(train: Sessions, tmp_path) -> None:
    from sessrec.errors import CheckpointError

    valid = pattern_sessions(20, seed=2, start_id=5000)
    score = lambda m: evaluate(m, valid, ks=(20,), beyond_accuracy=False).metrics["mrr@20"]
    ckpt = tmp_path / "run.pt"
    MODELS["narm"](n_epochs=1, n_threads=1, seed=7).fit(train, validate=score, progress=False, checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="another run's checkpoint"):
        MODELS["narm"](n_epochs=2, n_threads=1, seed=7).fit(train, progress=False, checkpoint=ckpt)


def test_early_stopping_keeps_the_best_epoch(train: Sessions) -> None:
    scores = iter([0.5, 0.9, 0.4, 0.3, 0.2, 0.1])
    snapshots = []

    def callback(model):
        snapshots.append({k: v.clone() for k, v in model.module.state_dict().items()})
        return next(scores)

    model = MODELS["srgnn"](n_epochs=6, patience=2, n_threads=1).fit(train, validate=callback, progress=False)
    assert len(model.training_log) == 4  # best at epoch 2, two bad epochs, stop
    for k, v in model.module.state_dict().items():
        assert torch.equal(v, snapshots[1][k])


@pytest.mark.parametrize("make", [NARM, SASRec, SRGNN])
def test_device_and_parameters_are_validated(make) -> None:
    with pytest.raises(ParameterError, match="device = 'tpu'"):
        make(device="tpu")
    with pytest.raises(ParameterError, match="batch_size = 0"):
        make(batch_size=0)
    with pytest.raises(ParameterError, match="learning_rate"):
        make(learning_rate=-1.0)
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="CUDA is not available"):
            make(device="cuda", n_epochs=1).fit(sessions_of([1, 2, 3]), progress=False)


def test_model_specific_parameters_are_validated() -> None:
    with pytest.raises(ParameterError, match="num_heads"):
        SASRec(hidden_units=50, num_heads=3)
    with pytest.raises(ParameterError, match="step = 0"):
        SRGNN(step=0)
    with pytest.raises(ParameterError, match="dropout_embed = 1.0"):
        NARM(dropout_embed=1.0)


def test_benchmark_runner_early_stops_resumes_and_cleans_up(tmp_path) -> None:
    from sessrec.data.dataset import load_dataset, write_dataset
    from sessrec.experiments.runs.benchmark import RunSpec, run_benchmark, run_one

    frames = {"train": pattern_sessions(80).to_frame(), "test": pattern_sessions(10, seed=3, start_id=900).to_frame()}
    folder = tmp_path / "toy"
    write_dataset(folder, frames, name="toy")
    dataset = load_dataset(folder)
    params = {"hidden_size": 8, "batch_size": 64, "learning_rate": 0.01, "n_threads": 1}
    one, two = (RunSpec("srgnn", "srgnn", {**params, "n_epochs": n}, validation=0.25) for n in (1, 2))
    ckpt = tmp_path / "partial.pt"
    straight, _ = run_one(dataset, two, 5, progress=False)
    run_one(dataset, one, 5, progress=False, checkpoint_path=ckpt)  # "interrupted" after epoch 1
    resumed, _ = run_one(dataset, two, 5, progress=False, checkpoint_path=ckpt)
    assert [r["loss"] for r in resumed["training_log"]] == [r["loss"] for r in straight["training_log"]]
    assert resumed["evaluation"]["metrics"] == straight["evaluation"]["metrics"]
    assert resumed["validation"] == 0.25 and "valid" in resumed["selection_log"][0]
    # epochs chosen on the held-out sessions, then a fresh model trained on all of train for that many
    assert resumed["refit"] and resumed["train_split"] == "train"
    assert len(resumed["training_log"]) == resumed["selected_epochs"] <= 2
    plain, _ = run_one(dataset, RunSpec("last_item", "last_item", {}), None, progress=False)
    assert resumed["evaluation"]["n_events"] == plain["evaluation"]["n_events"], "same test events as every other model"
    assert resumed["evaluation"]["n_items"] == plain["evaluation"]["n_items"]

    partial_dir = tmp_path / "partials"
    paths = run_benchmark(dataset, [two], [1], tmp_path / "results", progress=False, log=lambda *_: None,
                          partial_dir=partial_dir)
    assert len(paths) == 1 and paths[0].is_file()
    assert not list(partial_dir.rglob("*.pt")), "the training checkpoint is removed once the record is written"


def test_other_seeds_reuse_the_epoch_count_chosen_by_one_seed(tmp_path) -> None:
    from sessrec.data.dataset import load_dataset, write_dataset
    from sessrec.experiments.runs.benchmark import RunSpec, run_benchmark

    frames = {"train": pattern_sessions(80).to_frame(), "test": pattern_sessions(10, seed=3, start_id=900).to_frame()}
    write_dataset(tmp_path / "toy", frames, name="toy")
    dataset = load_dataset(tmp_path / "toy")
    params = {"hidden_size": 8, "batch_size": 64, "learning_rate": 0.01, "n_threads": 1, "n_epochs": 3, "patience": 1}
    spec = RunSpec("narm", "narm", params, validation=0.25, epochs_from_seed=1)
    results, partials, said = tmp_path / "results", tmp_path / "partials", []
    assert run_benchmark(dataset, [spec], [2], results, progress=False, log=said.append, partial_dir=partials) == []
    assert "waits for toy/narm-seed1" in said[-2], "seed 2 waits for the run that chooses its epochs"
    assert said[-1].startswith("warning: 1 run(s) not done")
    paths = run_benchmark(dataset, [spec], [2, 1], results, progress=False, log=said.append, partial_dir=partials)
    one, two = (json.loads(p.read_text()) for p in paths)  # the seed that chooses runs first
    assert one["seed"] == 1 and two["seed"] == 2 and not list(partials.rglob("*.pt"))
    assert one["selection_log"] and one["refit"] and "epochs_selected_by" not in one
    assert two["epochs_selected_by"] == "narm-seed1" and two["selection_log"] is None and two["validation"] is None
    assert len(two["training_log"]) == two["selected_epochs"] == one["selected_epochs"]
    assert two["hyperparameters"]["n_epochs"] == one["selected_epochs"]
    assert two["train_split"] == "train" and two["evaluation"]["n_events"] == one["evaluation"]["n_events"]
    assert two["training_log"][0]["loss"] != one["training_log"][0]["loss"], "another seed, another model"
    selection = sum(e["seconds"] for e in one["selection_log"])
    assert one["selection_seconds_epochs"] == two["selection_seconds_epochs"] == pytest.approx(selection)
    assert two["train_seconds_epochs"] == pytest.approx(selection + sum(e["seconds"] for e in two["training_log"]))

    # a config changed since seed 1 ran cannot reuse its choice: said, skipped, the other models still run
    changed = RunSpec("narm", "narm", {**params, "hidden_size": 9}, validation=0.25, epochs_from_seed=1)
    said.clear()
    paths = run_benchmark(dataset, [changed, RunSpec("last_item", "last_item")], [3], results, progress=False,
                          log=said.append, partial_dir=partials)
    assert [p.name for p in paths] == ["last_item.json"]
    assert any("cannot reuse the epochs of toy/narm-seed1" in line and "hidden_size: 8 -> 9" in line for line in said)
    assert said[-1].startswith("warning: 1 run(s) not done") and "narm-seed3" in said[-1]


def test_epochs_from_seed_needs_validation(tmp_path) -> None:
    from sessrec.experiments.runs.benchmark import load_specs

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"models": [{"label": "narm", "model": "narm", "epochs_from_seed": 1}]}))
    with pytest.raises(ValueError, match=r"must be a seed number \(>= 0\), on an entry with 'validation'"):
        load_specs(config)
    for bad, said in (("1", "got '1'"), (-1, "got -1"), (True, "got True")):
        config.write_text(json.dumps({"models": [{"label": "narm", "model": "narm", "validation": 0.1,
                                                  "epochs_from_seed": bad}]}))
        with pytest.raises(ValueError, match=said):
            load_specs(config)
    config.write_text(json.dumps({"models": [{"label": "narm", "model": "narm", "validation": 0.1,
                                              "epochs_from_seed": 1}]}))
    assert load_specs(config)[0].epochs_from_seed == 1


def test_progress_reports_runs_in_training_and_stale_claims(train: Sessions, tmp_path, capsys) -> None:
    import os
    import socket
    import subprocess
    import sys

    from sessrec.cli import main

    valid = pattern_sessions(20, seed=2, start_id=5000)
    score = lambda m: evaluate(m, valid, ks=(20,), beyond_accuracy=False).metrics["mrr@20"]
    partials, results = tmp_path / "partials" / "toy", tmp_path / "results" / "toy"
    partials.mkdir(parents=True)
    results.mkdir(parents=True)
    MODELS["narm"](n_epochs=2, n_threads=1, seed=1).fit(train, validate=score, progress=False,
                                                         checkpoint=partials / "narm-seed1.pt")
    MODELS["narm"](n_epochs=3, n_threads=1, seed=2).fit(train, progress=False,
                                                         checkpoint=partials / "narm-seed2.epochs-3.pt")
    (partials / "srgnn-seed1.pt").write_bytes(b"not a checkpoint")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    (results / "narm-seed1.claim").write_text(json.dumps({"pid": os.getpid(), "host": host, "created": 0}))
    (results / "sasrec-seed1.claim").write_text(json.dumps({"pid": int(gone.stdout), "host": host, "created": 0}))
    assert main(["progress", "--out", str(tmp_path / "results"), "--partials", str(tmp_path / "partials")]) == 0
    lines = capsys.readouterr().out.splitlines()
    selection = next(line for line in lines if line.startswith("toy/narm-seed1:"))
    assert "choosing the number of epochs" in selection and "epoch 2 of 2" in selection
    assert "best valid Recall@20" in selection and f"claimed by pid {os.getpid()} (running)" in selection
    # the refit of the chosen epochs: one line for the run, the refit's, with the claim and the choice
    chosen = read_checkpoint(partials / "narm-seed1.pt")["meta"]["training_state"]["best_epoch"]
    MODELS["narm"](n_epochs=chosen, n_threads=1, seed=1).fit(
        train, progress=False, checkpoint=partials / f"narm-seed1.refit-{chosen}.pt")
    assert main(["progress", "--out", str(tmp_path / "results"), "--partials", str(tmp_path / "partials")]) == 0
    runs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("toy/narm-seed1:")]
    assert len(runs) == 1 and runs[0].startswith(f"toy/narm-seed1: refit on all of train (the selection chose "
                                                 f"{chosen} epochs, best valid Recall@20 ")
    assert f"epoch {chosen} of {chosen}" in runs[0] and f"claimed by pid {os.getpid()} (running)" in runs[0]
    (partials / f"narm-seed1.refit-{chosen}.pt").unlink()
    reuse = next(line for line in lines if line.startswith("toy/narm-seed2:"))
    assert "training seed 1's number of epochs: epoch 3 of 3" in reuse and "not claimed" in reuse
    assert any(line.startswith("toy/sasrec-seed1: no checkpoint yet") and "gone: the claim is stale" in line
               for line in lines)
    assert any(line.startswith("unreadable checkpoint") and "srgnn-seed1.pt" in line for line in lines)
    assert main(["progress", "--out", str(tmp_path / "none"), "--partials", str(tmp_path / "none")]) == 0
    assert "nothing in progress" in capsys.readouterr().out


def test_progress_estimates_the_epochs_and_time_left() -> None:
    from pathlib import Path

    from sessrec.experiments.runs.progress import PartialRun

    def run(phase: str, **changes) -> PartialRun:
        fields = dict(dataset="d", run_id="narm-seed1", phase=phase, epoch=22, max_epochs=30, best_epoch=14,
                      best_valid=0.5, epochs_without_gain=8, patience=10, last_epoch_seconds=700.0,
                      path=Path("x.pt"), recent_epoch_seconds=720.0)
        return PartialRun(**{**fields, **changes})

    # selection stops after epoch 24 (two more without gain), then refits the best 14 epochs
    assert run("selection").epochs_left() == (2, 14)
    assert "2 more selection epoch(s) and a 14-epoch refit" in run("selection").describe()
    assert "about 3.2 h at 720 s per epoch" in run("selection").describe()
    # the epoch budget ends the selection before the patience does
    assert run("selection", epoch=28, epochs_without_gain=1).epochs_left() == (2, 14)
    assert run("refit", epoch=5, max_epochs=14).epochs_left() == (9, 0)
    assert "9 epoch(s) left: about 1.8 h" in run("refit", epoch=5, max_epochs=14).describe()
    # nothing to base an estimate on: no estimate rather than a wrong one
    assert run("training", max_epochs=None).epochs_left() is None
    assert "about" not in run("refit", recent_epoch_seconds=None).describe()


def test_batches_cover_every_case_once_and_bucket_by_length(train: Sessions) -> None:
    flat = np.arange(train.n_events)
    cases = prefix_cases(train, flat)
    torch.manual_seed(0)
    bucketed = SRGNN(batch_size=8, bucket_batches=1000)._batches(cases)
    plain = SRGNN(batch_size=8, bucket_batches=1)._batches(cases)
    for batches in (bucketed, plain):
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(cases)))
    spread = lambda batches: np.mean([np.ptp(cases.length[b]) for b in batches])
    assert spread(bucketed) < spread(plain)


def test_selection_check_trains_on_the_runners_selection_split_with_one_setting_changed(tmp_path, capsys) -> None:
    from pathlib import Path

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.training import validation_data

    check = importlib.import_module("sessrec.tools.selection_check")
    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"models": [{"label": "narm", "model": "narm", "validation": 0.2,
                                              "params": {"n_epochs": 30, "n_threads": 1, "hidden_size": 16}}]}))
    record = tmp_path / "narm-seed1.json"
    record.write_text(json.dumps({"selection_log": [{"epoch": 1, "loss": 9.5, "valid": 0.1234}]}))
    assert check.main([str(demo), str(config), "narm", "--epochs", "2", "--set", "embedding_dim=8",
                       "--record", str(record)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "changed: {'embedding_dim': 8}" in out[0]
    train, valid = validation_data(load_dataset(demo), "train", 0.2)  # the runner's held-out draw
    assert f"{train.n_sessions:,} training and {valid.n_sessions:,} held-out sessions" in out[0]
    epochs = [line for line in out if "held-out Recall@20" in line and line.startswith("epoch")]
    assert len(epochs) == 2, "--epochs is the budget, not the config's 30"
    assert "record: loss 9.500  Recall@20 0.1234" in epochs[0] and "record:" not in epochs[1]
    assert out[-1].startswith("best held-out Recall@20") and "the record's best 0.1234" in out[-1]
    with pytest.raises(SystemExit):
        check.main([str(demo), str(config), "sasrec"])
    assert "no entry labelled 'sasrec'" in capsys.readouterr().err


def test_no_refit_check_evaluates_the_best_selection_epoch_not_the_last(tmp_path, capsys) -> None:
    from sessrec.data.dataset import load_dataset, write_dataset
    from sessrec.experiments.runs.training import validation_data

    check = importlib.import_module("sessrec.tools.no_refit_check")
    frames = {"train": pattern_sessions(80).to_frame(), "test": pattern_sessions(10, seed=3, start_id=900).to_frame()}
    toy_path = tmp_path / "toy"
    write_dataset(toy_path, frames, name="toy")
    toy = load_dataset(toy_path)
    train, _ = validation_data(toy, "train", 0.25)
    scores, snapshots = iter([0.9, 0.1]), []

    def callback(model):
        snapshots.append({k: v.clone() for k, v in model.module.state_dict().items()})
        return next(scores)

    ckpt = tmp_path / "narm-seed1.pt"
    MODELS["narm"](n_epochs=2, patience=5, n_threads=1, seed=3).fit(
        train, validate=callback, progress=False, checkpoint=ckpt)
    tensors = read_checkpoint(ckpt)["tensors"]
    assert any(not torch.equal(tensors[f"w.{k}"], v) for k, v in snapshots[0].items()), "last epoch = best epoch"

    model, state = check.best_epoch_model(ckpt)
    assert state["best_epoch"] == 1
    for k, v in model.module.state_dict().items():
        assert torch.equal(v, snapshots[0][k])
    expected = evaluate(model, toy.test, beyond_accuracy=False).metrics

    record = tmp_path / "narm-seed1.json"
    record.write_text(json.dumps({"selected_epochs": 1, "evaluation": {
        "n_events": 123, "metrics": {"recall@20": 0.5, "mrr@20": 0.25}}}))
    assert check.main([str(toy_path), str(ckpt), "--record", str(record)]) == 0
    out = capsys.readouterr().out
    assert "best selection epoch 1 (held-out Recall@20 0.9000)" in out
    assert f"Recall@20 {expected['recall@20']:.4f}  MRR@20 {expected['mrr@20']:.4f}" in out
    assert "refit (1 epochs on all of train, the record): Recall@20 0.5000  MRR@20 0.2500  (123 events)" in out

    n_targets = int((toy.test.lengths - 1).sum())
    assert check.main([str(toy_path), str(ckpt), "--first-clicks", "2"]) == 0
    cut_line = capsys.readouterr().out.splitlines()[2]
    result = evaluate(model, toy.test, beyond_accuracy=False)
    cut = metrics_from_ranks(check.first_clicks_ranks(model, toy.test, result, 2), (20,))
    share = result.n_events / n_targets
    assert cut_line.startswith("  test, no refit, first 2 clicks:")
    assert (f"Recall@20 {cut['recall@20']:.4f}  MRR@20 {cut['mrr@20']:.4f}  ({result.n_events:,} events); over all "
            f"{n_targets:,} targets: {cut['recall@20'] * share:.4f} / {cut['mrr@20'] * share:.4f}") in cut_line
    assert f"[{int((result.positions > 2).sum()):,} prefixes longer than 2]" in cut_line
    with pytest.raises(SystemExit):
        check.main([str(toy_path), str(ckpt), "--first-clicks", "0"])
    assert "--first-clicks must be at least 1" in capsys.readouterr().err

    refit = tmp_path / "narm-seed1.refit-1.pt"  # trained without a validation callback: no best weights
    MODELS["narm"](n_epochs=1, n_threads=1).fit(
        train, progress=False, checkpoint=refit)
    with pytest.raises(SystemExit):
        check.main([str(toy_path), str(refit)])
    assert "no best-epoch weights" in capsys.readouterr().err

    # --last-weights: the checkpoint's last epoch, for a refit's checkpoint and a selection's alike
    for path, epoch, weights in ((refit, 1, None), (ckpt, 2, snapshots[1])):
        last = load_model(path)
        if weights is not None:
            for k, v in last.module.state_dict().items():
                assert torch.equal(v, weights[k])
        last.module.eval()
        m = evaluate(last, toy.test, beyond_accuracy=False).metrics
        assert check.main([str(toy_path), str(path), "--last-weights", "--first-clicks", "2"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].endswith(f"weights after epoch {epoch}, {len(last.item_index.item_ids):,} items")
        assert lines[1].startswith("  test, last weights:")
        assert f"Recall@20 {m['recall@20']:.4f}  MRR@20 {m['mrr@20']:.4f}" in lines[1]
        assert lines[2].startswith("  test, last weights, first 2 clicks:")
    assert m != expected  # the selection's last epoch is not its best one
    plain = tmp_path / "plain.pt"  # a model saved without a training state
    save_model(load_model(refit), plain)
    with pytest.raises(SystemExit):
        check.main([str(toy_path), str(plain), "--last-weights"])
    assert "no trained epoch recorded" in capsys.readouterr().err

    other = {name: frame.assign(ItemId=frame.ItemId + 1000) for name, frame in frames.items()}
    write_dataset(tmp_path / "other", other, name="other")
    with pytest.raises(SystemExit):
        check.main([str(tmp_path / "other"), str(ckpt)])
    assert "not in other's training split; was it trained on another dataset?" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(MODELS))
def test_first_clicks_ranks_rank_later_events_from_the_sessions_first_clicks(fitted, name) -> None:
    from sessrec.evaluation.evaluator import prepare_test

    check = importlib.import_module("sessrec.tools.no_refit_check")
    model = fitted[name]
    test = pattern_sessions(40, seed=5, start_id=500)  # 2-8 clicks: positions 1..7
    result = evaluate(model, test, beyond_accuracy=False)
    assert np.array_equal(check.first_clicks_ranks(model, test, result, 7), result.ranks)

    cut = check.first_clicks_ranks(model, test, result, 2, block=4)  # several blocks of sessions
    short = result.positions <= 2
    assert np.array_equal(cut[short], result.ranks[short])
    later = np.flatnonzero(~short)
    assert len(later) > 20
    # each later event on its own: a session of its session's first two clicks and its target
    prepared, ids = prepare_test(test, model.item_index), model.item_index.item_ids
    heads = [prepared.items[prepared.offsets[s]:prepared.offsets[s] + 2] for s in result.session_index[later]]
    alone = sessions_of(*[[*ids[h], ids[t]] for h, t in zip(heads, result.targets[later])], start_id=1)
    direct = evaluate(model, alone, min_position=2, beyond_accuracy=False)
    assert np.array_equal(cut[later], direct.ranks)
    assert not np.array_equal(cut[later], result.ranks[later])  # the model follows the last click


def test_long_runs_queue_gives_every_model_one_seed_before_a_second(tmp_path, capsys) -> None:
    from sessrec.data.dataset import write_dataset
    from sessrec.experiments.runs.benchmark import RunSpec

    long_runs = importlib.import_module("sessrec.tools.long_runs")
    assert long_runs.parse_plan(["a:2", "b:1"]) == {"a": 2, "b": 1}
    for bad in (["a"], ["a:0"], ["a:x"], ["a:1", "a:2"]):
        with pytest.raises(ValueError):
            long_runs.parse_plan(bad)
    modern = [RunSpec("narm", "narm", group="modern"), RunSpec("srgnn", "srgnn", group="modern"),
              RunSpec("last_item", "last_item", group="modern"), RunSpec("gru4rec", "gru4rec")]
    queue = long_runs.build_queue({"a": 2, "b": 1}, {"a": modern, "b": modern}, "modern")
    # seed 1 everywhere first; the unseeded entry and the other group are not queued
    assert [(r.dataset, r.run_id) for r in queue] == [
        ("a", "narm-seed1"), ("a", "srgnn-seed1"), ("b", "narm-seed1"), ("b", "srgnn-seed1"),
        ("a", "narm-seed2"), ("a", "srgnn-seed2")]
    reverse = long_runs.build_queue({"a": 2, "b": 1}, {"a": modern, "b": modern}, "modern", reverse=True)
    assert [r.run_id for r in reverse] == ["srgnn-seed1", "narm-seed1", "srgnn-seed1", "narm-seed1",
                                           "srgnn-seed2", "narm-seed2"]

    # end to end: seed 2 is queued after seed 1, reuses its choice of epochs, and a rerun has nothing to do
    frames = {"train": pattern_sessions(60).to_frame(), "test": pattern_sessions(8, seed=3, start_id=900).to_frame()}
    write_dataset(tmp_path / "data" / "toy", frames, name="toy")
    params = {"hidden_size": 8, "embedding_dim": 8, "batch_size": 64, "learning_rate": 0.01, "n_threads": 1,
              "n_epochs": 2, "patience": 1}
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "toy.json").write_text(json.dumps({"models": [
        {"label": "narm", "model": "narm", "group": "modern", "validation": 0.25, "epochs_from_seed": 1,
         "params": params}]}))
    paths = ["--plan", "toy:2", "--data", str(tmp_path / "data"), "--configs", str(tmp_path / "configs"),
             "--root", str(tmp_path / "results")]
    assert long_runs.main(paths + ["--list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "toy/narm-seed1: to run", "toy/narm-seed2: waits for toy/narm-seed1 (missing), whose choice of epochs it reuses",
        "not started: 2 run(s); about 0.0 h of one-thread training for the 0 with an estimate, no estimate for 2 "
        "(they choose their own epochs, or wait for the run that does)"]
    assert long_runs.main(paths) == 0
    one, two = (json.loads((tmp_path / "results" / "toy" / f"narm-seed{s}.json").read_text()) for s in (1, 2))
    assert two["epochs_selected_by"] == "narm-seed1" and len(two["training_log"]) == one["selected_epochs"]
    # a seed that reuses seed 1's epochs is estimated by seed 1's refit epochs; seed 1 itself has no estimate
    spec = long_runs.load_specs(tmp_path / "configs" / "toy.json")[0]
    root = tmp_path / "results"
    assert long_runs.estimate_seconds(long_runs.QueuedRun("toy", spec, 3), root) == pytest.approx(
        sum(e["seconds"] for e in one["training_log"]))
    assert long_runs.estimate_seconds(long_runs.QueuedRun("toy", spec, 1), root) is None
    capsys.readouterr()
    assert long_runs.main(paths) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "done: 2 of 2 runs complete"
    with pytest.raises(SystemExit):  # a dataset that was never prepared
        long_runs.main(["--plan", "nope:1", "--configs", str(tmp_path / "configs")])


def test_compare_srgnn_reference_trains_ours_on_every_prefix_and_checks_its_arguments(tmp_path, capsys,
                                                                                        monkeypatch) -> None:
    """The speed script's own half (the reference code is not in the repository, so its half is not run here)."""
    import argparse
    import sys

    from sessrec.data.dataset import write_dataset

    compare = importlib.import_module("sessrec.reference.srgnn")
    frames = {"train": pattern_sessions(60).to_frame(), "test": pattern_sessions(8, seed=3, start_id=900).to_frame()}
    write_dataset(tmp_path / "toy", frames, name="toy")
    args = argparse.Namespace(dataset=str(tmp_path / "toy"), epochs=2, threads=1, seed=1, max_batches=0,
                              bucket_batches=1)
    out = compare.run_ours(args)
    n_cases = out["n_cases"]
    train, test = pattern_sessions(60), pattern_sessions(8, seed=3, start_id=900)
    assert n_cases == train.n_events - train.n_sessions  # every prefix of every training session
    assert [e["cases"] for e in out["epochs"]] == [n_cases, n_cases]
    assert [e["batches"] for e in out["epochs"]] == [-(-n_cases // compare.BATCH)] * 2
    assert out["epochs"][1]["loss"] < out["epochs"][0]["loss"]
    assert out["test_events"] == test.n_events - test.n_sessions
    assert 0.0 <= out["mrr"] <= out["recall"] <= 1.0

    cut = compare.run_ours(argparse.Namespace(**{**vars(args), "epochs": 1, "max_batches": 1}))
    [epoch] = cut["epochs"]
    assert epoch["batches"] == 1 and epoch["cases"] in (compare.BATCH, n_cases % compare.BATCH)  # batch order is shuffled

    for argv, message in ((["--bucket-batches", "64", "64"], "distinct values >= 1"),
                          (["--bucket-batches", "0"], "distinct values >= 1"), (["--pairs", "0"], "--pairs must be >= 1")):
        monkeypatch.setattr(sys, "argv", ["compare", "--reference", str(tmp_path), *argv])
        with pytest.raises(SystemExit):
            compare.main()
        assert message in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["compare", "--reference", str(tmp_path), "--dataset", str(tmp_path / "toy")])
    with pytest.raises(SystemExit, match="no model.py or utils.py"):
        compare.main()


#: A stand-in with the reference code's interface (``utils.Data``, ``model.SessionGraph``,
#: ``forward``, ``trans_to_cuda``): a last-click embedding model, enough to exercise the
#: accuracy script's training loop, evaluation and resume. It is not the reference.
_REFERENCE_UTILS = '''
import numpy as np

class Data:
    def __init__(self, data, shuffle=False, graph=None):
        self.inputs = np.array([s[-1] for s in data[0]])
        self.targets = np.asarray(data[1])
        self.length, self.shuffle = len(self.inputs), shuffle

    def generate_batch(self, batch_size):
        if self.shuffle:
            order = np.arange(self.length)
            np.random.shuffle(order)
            self.inputs, self.targets = self.inputs[order], self.targets[order]
        return np.array_split(np.arange(self.length), -(-self.length // batch_size))
'''
_REFERENCE_MODEL = '''
import torch

class SessionGraph(torch.nn.Module):
    def __init__(self, opt, n_node):
        super().__init__()
        self.batch_size = opt.batchSize
        self.embedding = torch.nn.Embedding(n_node, 8)
        self.out = torch.nn.Linear(8, n_node - 1)
        self.loss_function = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.parameters(), lr=0.05)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=opt.lr_dc_step, gamma=opt.lr_dc)

def trans_to_cuda(variable):
    return variable

def forward(model, i, data):
    return data.targets[i], model.out(model.embedding(torch.as_tensor(data.inputs[i]).long()))
'''


def test_reference_accuracy_script_resumes_where_it_stopped(tmp_path, capsys, monkeypatch) -> None:
    """``srgnn_reference_accuracy``: a run stopped after 2 epochs and resumed gives the same
    epoch 3 as an uninterrupted run (same shuffles, optimiser and schedule), and a state
    saved for another dataset is refused."""
    import sys

    from sessrec.data.dataset import write_dataset

    script = importlib.import_module("sessrec.reference.srgnn_accuracy")
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "utils.py").write_text(_REFERENCE_UTILS)
    (reference / "model.py").write_text(_REFERENCE_MODEL)
    for name, seed in (("toy", 0), ("other", 5)):
        frames = {"train": pattern_sessions(60, seed=seed).to_frame(),
                  "test": pattern_sessions(8, seed=3, start_id=900).to_frame()}
        write_dataset(tmp_path / name, frames, name=name)

    def run(state: str, epochs: int, dataset: str = "toy") -> list[dict]:
        monkeypatch.setattr(sys, "argv", ["accuracy", "--reference", str(reference), "--dataset", str(tmp_path / dataset),
                                          "--epochs", str(epochs), "--state", str(tmp_path / state)])
        script.main()
        saved = torch.load(tmp_path / state, weights_only=True)
        return json.loads(saved["epochs"])

    straight = run("straight.pt", 3)
    assert [round(e["lr"], 6) for e in straight] == [0.05, 0.05, 0.005]  # the reference's scheduler step first
    assert straight[1]["loss"] < straight[0]["loss"]
    assert "best over 3 epoch(s)" in capsys.readouterr().out
    assert len(run("stopped.pt", 2)) == 2
    resumed = run("stopped.pt", 3)
    assert "2 epoch(s) done, 1 to go" in capsys.readouterr().out
    for key in ("loss", "recall", "mrr", "test_events"):
        assert resumed[2][key] == pytest.approx(straight[2][key], rel=1e-6), key
    with pytest.raises(SystemExit, match="saved for"):
        run("stopped.pt", 4, dataset="other")
