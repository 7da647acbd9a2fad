"""SLIST (Choi et al., WWW 2021): the closed form against independent NumPy solutions on tiny cases,
the weights, streaming, checkpoints, bad parameters and the memory refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sessrec.data.sessions import Sessions
from sessrec.errors import ParameterError
from sessrec.models.factory import make_model
from sessrec.models.io import load_model, save_model
from sessrec.models.linear import SLIST
from sessrec.models.linear import slist as slist_module
from sessrec.models.registry import FAMILIES, REGISTRY, SPECS
from tests.helpers import sessions_of

# three sessions over items 10, 20, 30, 40 (dense 0..3); the second repeats 20
TINY = sessions_of([10, 20, 30], [20, 40, 20], [30, 10])


def ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, reg: float) -> np.ndarray:
    """argmin_B ||W^½ (Y - X B)||² + reg ||B||², in float64."""
    g = x.T @ np.diag(w) @ x
    return np.linalg.solve(g + reg * np.eye(len(g)), x.T @ np.diag(w) @ y)


def test_pure_slis_is_the_zero_diagonal_closed_form():
    # alpha = 1, binary rows, epsilon = 0: B = I - P diag(1/diag(P)), P = (XᵀX + λI)⁻¹ (EASE)
    x = np.array([[1, 1, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], float)
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(4))
    expected = np.eye(4) - p / np.diag(p)
    model = SLIST(alpha=1.0, reg=2.0, normalize="none", epsilon=0.0).fit(TINY)
    b = model.weights.numpy()
    np.testing.assert_allclose(b, expected, atol=1e-5)
    assert np.abs(np.diag(b)).max() < 1e-5
    assert b[0, 2] > b[0, 1] > 0  # 10 and 30 share two sessions, 10 and 20 one


def test_pure_slis_with_a_loose_cap_is_plain_ridge_and_the_cap_binds():
    x = np.array([[1, 1, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], float)
    free = SLIST(alpha=1.0, reg=2.0, normalize="none", epsilon=10.0).fit(TINY).weights.numpy()
    np.testing.assert_allclose(free, ridge(x, x, np.ones(3), 2.0), atol=1e-5)
    capped = SLIST(alpha=1.0, reg=2.0, normalize="none", epsilon=0.2).fit(TINY).weights.numpy()
    assert np.diag(free).max() > 0.2
    np.testing.assert_allclose(np.diag(capped), np.minimum(np.diag(free), 0.2), atol=1e-5)


def test_pure_slis_l1_normalises_the_input_rows_only():
    x = np.array([[1, 1, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], float)
    xn = x / x.sum(1, keepdims=True)
    b = SLIST(alpha=1.0, reg=0.5, normalize="l1", epsilon=100.0).fit(TINY).weights.numpy()
    np.testing.assert_allclose(b, ridge(xn, x, np.ones(3), 0.5), atol=1e-4)


@pytest.mark.parametrize("direction", ["part", "all", "sr"])
def test_pure_slit_is_the_ridge_regression_of_partial_sessions(direction):
    tw = 1.5
    rows_in, rows_out = [], []
    for items in ([0, 1, 2], [1, 3, 1], [2, 0]):  # dense indices of TINY
        n = len(items)
        for t in range(n - 1):
            s, y = np.zeros(4), np.zeros(4)
            for i, item in enumerate(items):
                if direction == "all" or (direction == "part" and i <= t) or (direction == "sr" and i == t):
                    s[item] += np.exp(-abs(t - i) / tw)
                if direction == "all" or i > t:
                    y[item] += np.exp(-abs(t + 1 - i) / tw)
            rows_in.append(s)
            rows_out.append(y)
    s, y = np.array(rows_in), np.array(rows_out)
    s = s / np.abs(s).sum(1, keepdims=True)  # l1, the authors' default
    expected = ridge(s, y, np.ones(len(s)), 1.0)
    b = SLIST(alpha=0.0, reg=1.0, train_weight=tw, direction=direction).fit(TINY).weights.numpy()
    np.testing.assert_allclose(b, expected, atol=1e-5)


def test_slist_combines_both_parts_in_one_regression():
    tiny = sessions_of([10, 20, 30], [20, 40, 20], [30, 10])
    x = np.array([[1, 1, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], float)
    s = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], float)  # direction sr
    t = np.array([[0, 1, 1, 0], [0, 0, 1, 0], [0, 1, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]], float)  # no decay
    a = 0.3
    inputs = np.vstack([np.sqrt(a) * x, np.sqrt(1 - a) * s])
    targets = np.vstack([np.sqrt(a) * x, np.sqrt(1 - a) * t])
    expected = ridge(inputs, targets, np.ones(len(inputs)), 3.0)
    b = SLIST(alpha=a, reg=3.0, direction="sr", normalize="none").fit(tiny).weights.numpy()
    np.testing.assert_allclose(b, expected, atol=1e-5)


def timed(sessions: list[list[int]], days_ago: list[float]) -> Sessions:
    rows = [(s, item, 1e6 - days_ago[s] * 86400 + pos) for s, items in enumerate(sessions)
            for pos, item in enumerate(items)]
    return Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"]))


def test_recent_sessions_weigh_more():
    # after item 1, an old session says 2 and a recent one says 3
    train = timed([[1, 2], [1, 3]], days_ago=[30.0, 0.0])
    model = SLIST(alpha=0.0, direction="sr", session_weight=5.0, normalize="none").fit(train)
    w = model.session_weights(train)
    assert w[1] == pytest.approx(1.0) and w[0] == pytest.approx(np.exp(-30 / 5), rel=1e-3)
    scores, _ = model.score_session([1])
    assert scores[2] > scores[1]  # dense 2 = item 3 (recent), dense 1 = item 2 (old)
    flat = SLIST(alpha=0.0, direction="sr", session_weight=-1, normalize="none").fit(train)
    scores, _ = flat.score_session([1])
    assert scores[2] == pytest.approx(scores[1])
    untimed = sessions_of([1, 2], [1, 3])  # no times: every session weighs 1
    assert (SLIST(session_weight=5.0).session_weights(untimed) == 1).all()


def test_recent_clicks_weigh_more_in_the_session_and_in_training():
    train = sessions_of([1, 2, 3], [4, 5, 6], [1, 2, 3], [4, 5, 6])
    model = SLIST(alpha=0.0, direction="part", train_weight=0.5, predict_weight=0.5, normalize="none").fit(train)
    scores, _ = model.score_session([4, 1])  # the last click (1) outweighs the first (4)
    idx = model.item_index.to_index(np.array([2, 5]))
    assert scores[idx[0]] > scores[idx[1]]
    even = SLIST(alpha=0.0, direction="part", predict_weight=-1, normalize="none").fit(train)
    scores, _ = even.score_session([4, 1])
    assert scores[idx[0]] == pytest.approx(scores[idx[1]], rel=1e-5)
    # training: with a strong decay, 1 -> 2 (adjacent) outweighs 1 -> 3 (two steps) more
    near, far = model.item_index.to_index(np.array([2, 3]))
    decayed = model.weights[model.item_index.to_index(np.array([1]))[0]]
    assert decayed[near] > decayed[far] > 0


def test_streaming_over_a_batch_equals_recommend():
    rng = np.random.default_rng(0)
    train = sessions_of(*[list(rng.integers(1, 25, rng.integers(2, 8))) for _ in range(80)])
    model = SLIST(alpha=0.6, direction="part", train_weight=1.0, predict_weight=2.0).fit(train)
    sessions = [[3, 7, 3, 11], [5], [2, 9, 14]]
    state = model.init_state(len(sessions))
    for pos in range(max(map(len, sessions))):
        items = [int(model.item_index.to_index(np.array([s[pos]]))[0]) if pos < len(s) else -1 for s in sessions]
        state = model.step(state, torch.tensor(items))
    batch = model.scores(state).numpy()
    for row, session in enumerate(sessions):
        rec = model.recommend(session, k=model.n_items, return_all_scores=True)
        np.testing.assert_allclose(batch[row], rec.all_scores, rtol=1e-5, atol=1e-6)
        manual = sum(np.exp(-(len(session) - 1 - i) / 2.0) * model.weights[model.item_index.to_index(np.array([it]))[0]]
                     for i, it in enumerate(session))
        np.testing.assert_allclose(rec.all_scores, manual.numpy(), rtol=1e-5, atol=1e-6)
    assert not model.scores(model.reset(state, torch.tensor([True, True, True]))).any()  # empty sessions: 0


def test_save_load_round_trip(tmp_path):
    model = SLIST(alpha=0.4, direction="sr", train_weight=1, predict_weight=1, session_weight=4).fit(TINY)
    path = save_model(model, tmp_path / "slist.pt", {"dataset": "tiny"})
    loaded = load_model(path)
    assert loaded.hyperparameters() == model.hyperparameters()
    assert loaded.weights.dtype == torch.float32 and torch.equal(loaded.weights, model.weights)
    assert list(loaded.recommend([10, 20], 4).item_ids) == list(model.recommend([10, 20], 4).item_ids)


def test_a_checkpoint_with_the_wrong_weights_is_refused():
    from sessrec.errors import CheckpointError

    model = SLIST().fit(TINY)
    with pytest.raises(CheckpointError, match=r"\(4, 4\) float32"):
        SLIST._from_tensors(model.hyperparameters(), {"weights": torch.zeros(3, 4)}, model.item_index)


@pytest.mark.parametrize("params, match", [
    ({"alpha": 1.5}, "alpha = 1.5"), ({"alpha": -0.1}, "alpha"), ({"reg": 0}, "reg = 0"), ({"reg": -1.0}, "reg"),
    ({"normalize": "l3"}, "normalize = 'l3'"), ({"direction": "both"}, "direction"), ({"alpha": "x"}, "alpha"),
    ({"train_weight": float("nan")}, "train_weight"),
])
def test_bad_parameters_are_one_line_errors(params, match):
    with pytest.raises(ParameterError, match=match) as info:
        make_model("slist", params)
    assert "\n" not in str(info.value)


def test_the_fit_refuses_what_does_not_fit_in_memory(monkeypatch):
    monkeypatch.setattr(slist_module, "available_memory", lambda: 10)
    with pytest.raises(ValueError, match=r"4 items need about .* but only 0\.00 GB is available") as info:
        SLIST().fit(TINY)
    assert "\n" not in str(info.value)
    need = slist_module.fit_memory_needed(43_097)
    assert 14.8e9 < need < 14.9e9  # Diginetica: two 7.43 GB matrices
    monkeypatch.setattr(slist_module, "available_memory", lambda: None)  # unknown: no refusal
    assert SLIST().fit(TINY).is_fitted


def test_the_registry_entry():
    spec = SPECS["slist"]
    assert spec.family == "linear" and "linear" in FAMILIES and spec.demo is None
    assert [s.colour for s in REGISTRY].count(spec.colour) == 1
    assert make_model("slist", {"alpha": 0.2}).alpha == 0.2
