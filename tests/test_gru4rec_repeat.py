"""The repeat-aware GRU4Rec (sessrec.models.gru4rec.repeat): recency by hand, a zero gate is
GRU4Rec, the hand-written gate gradient against finite differences, streaming = the live path,
checkpoints and resume, and learning a session that repeats itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sessrec.errors import ParameterError
from sessrec.evaluation import evaluate
from sessrec.models.gru4rec import GRU4Rec
from sessrec.models.gru4rec.repeat import RepeatGRU4Rec
from sessrec.models.gru4rec.trainer import Trainer, clicked_at
from sessrec.models.io import load_model, load_training_state, save_model
from tests.helpers import sessions_of

SMALL = {"layers": [12], "batch_size": 8, "n_sample": 16, "learning_rate": 0.05, "loss": "cross-entropy", "seed": 3}


def alternating(n: int, seed: int, start_id: int = 1):
    """Sessions a b a b ...: after the first two clicks every target is a re-click."""
    rng = np.random.default_rng(seed)
    pairs = rng.integers(1, 120, (n, 2))
    return sessions_of(*[[int(a) if i % 2 == 0 else int(b) for i in range(int(rng.integers(3, 9)))]
                         for a, b in pairs], start_id=start_id)


TRAIN = alternating(300, 0)


def test_each_recent_click_adds_its_ages_gate_to_its_item():
    """Training (clicked_at on the minibatch's columns) and scoring (a scatter over the catalogue)
    give the same bonus, by hand: item 4 clicked at ages 2 and 0, item 7 at age 1."""
    clicks = torch.tensor([[-1, 4, 7, 4], [2, 2, 2, 2]])  # oldest first; -1: no click yet
    gates = torch.tensor([[10.0, 1.0, 0.5, 0.25], [1.0, 2.0, 3.0, 4.0]])
    bonus = torch.einsum("bw,bwn->bn", gates, clicked_at(clicks, torch.tensor([4, 7, 2, 9])))
    assert torch.equal(bonus, torch.tensor([[1.25, 0.5, 0.0, 0.0], [0.0, 0.0, 10.0, 0.0]]))
    scattered = torch.zeros(2, 10).scatter_add_(1, clicks.clamp(min=0), gates * (clicks >= 0))
    assert torch.equal(scattered[:, [4, 7, 2, 9]], bonus) and scattered[0, 0] == 0, "no click adds nothing"


def test_a_zero_gate_scores_like_gru4rec():
    plain = GRU4Rec(**SMALL, n_epochs=1).fit(TRAIN, progress=False)
    gated = RepeatGRU4Rec(**SMALL, n_epochs=1)
    zero = {"gate.w": torch.zeros(12, gated.repeat_window), "gate.b": torch.zeros(gated.repeat_window)}
    loaded = RepeatGRU4Rec._from_tensors(gated.hyperparameters(), {**plain._tensors(), **zero}, plain.item_index)
    session = list(TRAIN.session(0))
    assert np.allclose(loaded.score_session(session)[0], plain.score_session(session)[0], atol=1e-6)


def test_the_hand_written_gate_gradient_matches_finite_differences():
    """One minibatch through the trainer (no dropout, fixed negatives): the gradient it writes for
    the gate equals the change of the loss when the gate's parameters move."""
    torch.manual_seed(0)
    model = RepeatGRU4Rec(**{**SMALL, "n_sample": 0, "batch_size": 6}, n_epochs=1, repeat_window=4)
    model.fit(TRAIN, progress=False)
    weights = {k: v.clone().double().float() for k, v in model._tensors().items()}
    weights["gate.w"] = torch.randn(12, 4) * 0.3
    weights["gate.b"] = torch.tensor([0.4, -0.2, 0.1, 0.3])
    counts = np.ones(model.n_items)
    X, T = torch.tensor([3, 5, 3, 8, 9, 5]), torch.tensor([5, 3, 8, 9, 5, 3])
    clicks = torch.tensor([[-1, -1, -1, 5], [-1, 3, 5, 3], [8, 5, 8, 5], [9, 9, 8, 9], [-1] * 4, [3, 5, 3, 5]])
    hidden = [torch.randn(6, 12) * 0.1]

    def loss_and_grads(w: dict) -> tuple[float, torch.Tensor, torch.Tensor]:
        trainer = Trainer(model, {k: v.clone() for k, v in w.items()}, counts, torch.Generator().manual_seed(1))
        loss = float(trainer.update(X, T, [h.clone() for h in hidden], clicks.clone()))
        return loss, trainer.dense.grad("gate.w").clone(), trainer.dense.grad("gate.b").clone()

    _, grad_w, grad_b = loss_and_grads(weights)
    eps = 1e-2
    def numeric(name: str, index: tuple) -> float:
        up, down = dict(weights), dict(weights)
        up[name], down[name] = weights[name].clone(), weights[name].clone()
        up[name][index] += eps
        down[name][index] -= eps
        return (loss_and_grads(up)[0] - loss_and_grads(down)[0]) / (2 * eps)

    for age in range(4):
        assert numeric("gate.b", (age,)) == pytest.approx(float(grad_b[age]), rel=0.05, abs=1e-4), age
    for index in ((0, 3), (5, 1), (11, 2)):
        assert numeric("gate.w", index) == pytest.approx(float(grad_w[index]), rel=0.05, abs=1e-4), index
    assert float(grad_b.abs().max()) > 1e-3, "the gate's gradient is not trivially zero here"


@pytest.fixture(scope="module")
def fitted() -> RepeatGRU4Rec:
    torch.set_num_threads(1)
    return RepeatGRU4Rec(**SMALL, n_epochs=4).fit(TRAIN, progress=False)


def test_learns_to_repeat_where_gru4rec_does_not_yet(fitted):
    """On sessions that alternate two items the gate learns to push the session's items up: after
    the same 4 epochs it ranks the re-clicked target first far more often than GRU4Rec."""
    test = alternating(80, 1, start_id=5000)
    plain = GRU4Rec(**SMALL, n_epochs=4).fit(TRAIN, progress=False)
    ours, theirs = (evaluate(m, test, ks=(1,)).metrics["recall@1"] for m in (fitted, plain))
    assert ours > theirs + 0.1, (ours, theirs)
    gates = fitted.repeat_gate(list(test.session(0))[:3])  # newest click first
    assert gates[1] > gates[0], "the item of two clicks back (the next one here) gets the larger push"


def test_streaming_evaluation_equals_the_live_path(fitted):
    test = alternating(12, 2, start_id=7000)
    result = evaluate(fitted, test, ks=(5,), batch_size=3)  # slots reused: resets are exercised
    expected = []
    for s in range(test.n_sessions):
        items = list(test.session(s))
        for t in range(1, len(items)):
            scores, _ = fitted.score_session(items[:t])
            target = scores[fitted.item_index.to_index(np.array([items[t]]))[0]]
            expected.append(1 + (scores > target).sum() + ((scores == target).sum() - 1) / 2)
    assert np.allclose(result.ranks, expected)


def test_checkpoint_round_trip_and_resume(fitted, tmp_path):
    path = save_model(fitted, tmp_path / "r.pt", {"dataset": "toy"}, training_state=fitted.training_state())
    loaded = load_model(path)
    assert loaded.hyperparameters() == fitted.hyperparameters()
    session = list(TRAIN.session(3))
    assert np.array_equal(loaded.score_session(session)[0], fitted.score_session(session)[0])
    whole = RepeatGRU4Rec(**SMALL, n_epochs=3).fit(TRAIN, progress=False)
    part = RepeatGRU4Rec(**SMALL, n_epochs=3)
    part.fit(TRAIN, progress=False, callback=lambda record: record["epoch"] == 2)
    save_model(part, tmp_path / "part.pt", {"dataset": "toy"}, training_state=part.training_state())
    resumed = load_model(tmp_path / "part.pt").fit(TRAIN, progress=False,
                                                   resume=load_training_state(tmp_path / "part.pt"))
    for name, value in whole._tensors().items():
        assert torch.equal(value, resumed._tensors()[name]), name


@pytest.mark.parametrize("params,message", [({"repeat_window": 0}, "repeat_window"),
                                            ({"repeat_window": 2.5}, "repeat_window")])
def test_bad_settings_are_refused_in_one_line(params, message):
    with pytest.raises(ParameterError, match=message) as err:
        RepeatGRU4Rec(**params)
    assert "\n" not in str(err.value)
