"""The four neural user-context models (BMF, NeuMF, ENCM, LNCM): training, context, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sessrec.errors import CheckpointError, DataFormatError, ParameterError
from sessrec.evaluation.user_context import evaluate_user_context, leave_one_out
from sessrec.models.factory import make_model, model_parameters
from sessrec.models.io import model_class
from sessrec.models.io import read_user_checkpoint
from tests.test_user_context import interactions, planted_shop

NEURAL = ("bmf", "neumf", "encm", "lncm")
FAST = {"embedding_dim": 8, "n_epochs": 3, "batch_size": 128, "seed": 0}
REPO_USERS = "checkpoints/demo/users"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", NEURAL)
def test_every_model_trains_with_a_falling_loss_and_scores_unknown_ids(name) -> None:
    train, test = leave_one_out(planted_shop())
    seen = []
    model = make_model(name, {**FAST, "n_epochs": 4}).fit(train, callback=seen.append)
    assert [r["epoch"] for r in seen] == [1, 2, 3, 4] and model.loss_history == [r["loss"] for r in seen]
    assert model.loss_history[-1] < model.loss_history[0]
    scores = model.score_pairs(np.array([1, 99999]), np.array([1, 99999]), {"device": np.array(["mobile", "tv"])})
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert set(model_parameters(name)) >= {"embedding_dim", "n_epochs", "learning_rate", "negatives", "device"}


def test_encm_learns_the_context_that_bmf_cannot_see() -> None:
    """Items 1-5 sell on mobile, 6-10 on desktop, equally often: only a model that reads the
    device can put a held-out planted item above the other device's five."""
    train, test = leave_one_out(planted_shop())
    planted = test.select(test.item <= 10)
    other = np.where(planted.item[:, None] <= 5, np.arange(6, 11)[None, :], np.arange(1, 6)[None, :])
    wins = {}
    for name in ("bmf", "encm"):
        model = make_model(name, {"embedding_dim": 8, "n_epochs": 15, "batch_size": 32, "seed": 0, "learning_rate": 0.005}).fit(train)
        context = {"device": np.repeat(planted.context["device"], 6)}
        items = np.concatenate([planted.item[:, None], other], axis=1).reshape(-1)
        scores = model.score_pairs(np.repeat(planted.user, 6), items, context).reshape(-1, 6)
        wins[name] = float((scores[:, 0] > scores[:, 1:].max(1)).mean())
    assert wins["encm"] > 0.6 and wins["encm"] > wins["bmf"] + 0.3, wins


def test_the_committed_demo_models_follow_the_planted_context_effects() -> None:
    """On the demo users, ENCM's top-20 holds more phones, cases and headphones on mobile in the
    evening than on a desktop in the morning, and more coffee and board games in winter than in
    summer; BMF's lists are the same in every context."""
    items = pd.read_csv("data/shop_users/items.csv")
    ids, categories = items["ItemId"].to_numpy(), items["Category"].to_numpy()

    def share(model, wanted, time_of_day, season, device) -> float:
        inside = np.isin(categories, wanted)
        shares = []
        for user in range(1, 61):
            scores = model.score_pairs(np.full(len(ids), user), ids, {
                "time_of_day": np.full(len(ids), time_of_day), "season": np.full(len(ids), season),
                "device": np.full(len(ids), device)})
            shares.append(inside[np.argsort(-scores, kind="stable")[:20]].mean())
        return float(np.mean(shares))

    phones = ("Smartphones", "Phone Cases", "Headphones")
    cold = ("Coffee Makers", "Coffee Beans", "Board Games")
    for name in ("encm", "bmf"):
        model = model_class(name).from_payload(read_user_checkpoint(f"{REPO_USERS}/{name}.pt"), name)
        evening = share(model, phones, "evening", "autumn", "mobile")
        morning = share(model, phones, "morning", "autumn", "desktop")
        winter = share(model, cold, "afternoon", "winter", "desktop")
        summer = share(model, cold, "afternoon", "summer", "desktop")
        if name == "encm":
            assert evening > morning + 0.05 and winter > summer + 0.1, (evening, morning, winter, summer)
        else:
            assert evening == morning and winter == summer


def test_lncm_mixes_its_two_parts_by_alpha() -> None:
    train, _ = leave_one_out(planted_shop())
    pure_mf = make_model("lncm", {**FAST, "alpha": 1.0}).fit(train)
    net = pure_mf.network
    user, item = torch.tensor([1, 2]), torch.tensor([3, 4])
    with torch.no_grad():
        expected = (net.user(user) * net.item(item)).sum(-1)
        got = net(user, item, torch.zeros((2, 0), dtype=torch.long))
    assert torch.allclose(got, expected, atol=1e-6)
    learned = make_model("lncm", {**FAST, "alpha": "learned"}).fit(train)
    assert 0.0 < learned.learned_alpha() < 1.0
    with pytest.raises(ValueError, match="alpha"):
        make_model("lncm", {"alpha": 1.5})


def test_bmf_is_a_biased_dot_product() -> None:
    train, _ = leave_one_out(planted_shop())
    model = make_model("bmf", FAST).fit(train)
    net = model.network
    u, i = torch.tensor([3]), torch.tensor([7])
    with torch.no_grad():
        by_hand = (net.user(u) * net.item(i)).sum(-1) + net.user_bias(u).squeeze(-1) + net.item_bias(i).squeeze(-1) \
            + net.global_bias
        assert torch.allclose(net(u, i, torch.zeros((1, 0), dtype=torch.long)), by_hand)


@pytest.mark.parametrize("name", NEURAL)
def test_checkpoints_round_trip_and_training_resumes(name, tmp_path) -> None:
    train, _ = leave_one_out(planted_shop())
    full = make_model(name, {**FAST, "n_epochs": 4}).fit(train)
    half = make_model(name, {**FAST, "n_epochs": 2}).fit(train)
    path = half.save(tmp_path / f"{name}.pt", meta={"dataset": "planted"})
    again = model_class(name).from_payload(read_user_checkpoint(path), str(path))
    users, items = train.user[:50], train.item[:50]
    ctx = {"device": train.context["device"][:50]}
    assert np.allclose(again.score_pairs(users, items, ctx), half.score_pairs(users, items, ctx))
    again.n_epochs = 4
    again.fit(train, resume=again.training_state())
    assert again.epochs_done == 4 and len(again.loss_history) == 4
    assert np.allclose(again.loss_history, full.loss_history, rtol=1e-4)  # resuming = never stopping
    assert np.allclose(again.score_pairs(users, items, ctx), full.score_pairs(users, items, ctx), atol=1e-4)


def test_bad_checkpoints_and_parameters_are_refused_in_one_line(tmp_path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a sessrec checkpoint"):
        read_user_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        read_user_checkpoint(tmp_path / "missing.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing format marker"):
        read_user_checkpoint(tmp_path / "other.pt")
    train, _ = leave_one_out(planted_shop())
    path = make_model("bmf", FAST).fit(train).save(tmp_path / "bmf.pt")
    payload = torch.load(path, weights_only=True)
    payload["weights"]["user.weight"][1, 0] = float("nan")
    torch.save(payload, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        read_user_checkpoint(tmp_path / "nan.pt")
    with pytest.raises(ParameterError, match="no parameter"):
        make_model("encm", {"layers": 3})
    with pytest.raises(ValueError, match="embedding_dim"):
        make_model("neumf", {"embedding_dim": 0})
    with pytest.raises(DataFormatError, match="no positive"):
        make_model("bmf", FAST).fit(interactions([(1, 2, 0.0, 0.0)]))
