"""GRU4Rec: losses, hand-written gradients, optimiser, batching, streaming, checkpoints, training.

Everything runs on small generated data; nothing here needs ``shared/data``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import ParameterError
from sessrec.evaluation.evaluator import evaluate
from sessrec.models.gru4rec import GRU4Rec
from sessrec.models.gru4rec.batching import NegativeSampler, alias_table, session_parallel_schedule
from sessrec.models.gru4rec.trainer import Trainer
from sessrec.models.gru4rec.ops import (
    activation,
    bpr_max_loss,
    gru_backward,
    gru_forward,
    top1_loss,
    top1_max_loss,
    xe_loss,
)
from sessrec.models.gru4rec.optim import EPS, DenseParams, RowTable
from sessrec.models.io import load_model, save_model
from sessrec.models.popular import MostPopular
from sessrec.models.presets import PRESETS, preset

torch.set_default_dtype(torch.float32)


# ------------------------------------------------------------------------------------
# helpers


def markov_sessions(n_sessions: int, n_items: int = 60, seed: int = 0) -> Sessions:
    """Sessions where the next item is usually ``(item * 7 + 3) % n_items``: learnable, not popular."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sessions):
        item = int(rng.integers(n_items))
        for pos in range(int(rng.integers(2, 9))):
            rows.append((s, item, pos))
            item = (item * 7 + 3) % n_items if rng.random() < 0.8 else int(rng.integers(n_items))
    return Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"]))


def small_model(**kw) -> GRU4Rec:
    params = dict(layers=[16], batch_size=8, n_sample=16, n_epochs=1, learning_rate=0.1, sample_cache=1600, seed=1)
    params.update(kw)
    return GRU4Rec(**params)


@pytest.fixture(scope="module")
def train_sessions() -> Sessions:
    return markov_sessions(400, seed=0)


@pytest.fixture(scope="module")
def test_sessions() -> Sessions:
    return markov_sessions(120, seed=1)


# ------------------------------------------------------------------------------------
# reference losses written the straightforward way (duplicated columns, autograd)


def ref_softmax_neg(y: torch.Tensor) -> torch.Tensor:
    off = 1.0 - torch.eye(*y.shape)
    e = torch.exp(y * off - (y * off).max(1, keepdim=True).values) * off
    return e / e.sum(1, keepdim=True)


def ref_loss(name: str, scores: torch.Tensor, logq_offset: torch.Tensor | None = None, act=None) -> torch.Tensor:
    if name == "xe":
        x = scores + (logq_offset if logq_offset is not None else 0.0)
        return -torch.log(torch.diag(torch.softmax(x, 1)) + 1e-24).sum()
    y = act.fn(scores)
    t = torch.diag(y).unsqueeze(1)
    if name == "bpr-max":
        s = ref_softmax_neg(y)
        return (-torch.log((torch.sigmoid(t - y) * s).sum(1) + 1e-24) + 0.7 * (y**2 * s).sum(1)).sum()
    if name == "top1":
        n = y.shape[1]
        return (torch.mean(torch.sigmoid(y - t) + torch.sigmoid(y**2), 1) - torch.sigmoid(t.squeeze(1) ** 2) / n).sum()
    if name == "top1-max":
        s = ref_softmax_neg(y)
        return (s * (torch.sigmoid(y - t) + torch.sigmoid(y**2))).sum()
    raise ValueError(name)


# ------------------------------------------------------------------------------------
# losses


def test_xe_loss_hand_computed() -> None:
    scores = torch.tensor([[2.0, 0.0, 1.0], [1.0, 3.0, 0.0]])
    loss, grad = xe_loss(scores, torch.arange(2), torch.zeros(3), torch.zeros(2), scale=2.0)
    row0 = -(2.0 - math.log(math.exp(2) + math.exp(0) + math.exp(1)))
    row1 = -(3.0 - math.log(math.exp(1) + math.exp(3) + math.exp(0)))
    assert float(loss) == pytest.approx((row0 + row1) / 2.0, rel=1e-6)
    p0 = [math.exp(v) / (math.exp(2) + 1 + math.exp(1)) for v in (2.0, 0.0, 1.0)]
    assert grad[0].tolist() == pytest.approx([(p0[0] - 1) / 2, p0[1] / 2, p0[2] / 2], rel=1e-5)


def test_xe_logq_correction_hand_computed() -> None:
    # logQ: subtract logq * log(popularity) from each column's logit
    scores = torch.tensor([[1.0, 1.0]])
    log_weight = -torch.log(torch.tensor([4.0, 1.0]))
    loss, _ = xe_loss(scores, torch.tensor([0]), log_weight, log_weight[:1], scale=1.0)
    # logits 1 - log 4 and 1: p(target) = (1/4) / (1/4 + 1) = 0.2
    assert float(loss) == pytest.approx(-math.log(0.2), rel=1e-6)


def test_bpr_max_hand_computed() -> None:
    # one row, target score 1, negatives 0 and 2 (linear activation), bpreg 0.5
    scores = torch.tensor([[1.0, 0.0, 2.0]])
    loss, _ = bpr_max_loss(scores, torch.tensor([0]), torch.ones(3), bpreg=0.5, act=activation("linear"), scale=1.0)
    s1, s2 = 1 / (1 + math.exp(2)), math.exp(2) / (1 + math.exp(2))  # softmax over the negatives
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    expected = -math.log(s1 * sig(1.0) + s2 * sig(-1.0)) + 0.5 * (s1 * 0.0 + s2 * 4.0)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_top1_hand_computed() -> None:
    scores = torch.tensor([[1.0, 0.0, 2.0]])
    loss, _ = top1_loss(scores, torch.tensor([0]), torch.ones(3), act=activation("linear"), scale=1.0)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    expected = (sig(0) + sig(1) + sig(-1) + sig(0) + sig(1) + sig(4)) / 3 - sig(1) / 3
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_top1_max_hand_computed() -> None:
    scores = torch.tensor([[1.0, 0.0, 2.0]])
    loss, _ = top1_max_loss(scores, torch.tensor([0]), torch.ones(3), act=activation("linear"), scale=1.0)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    s1, s2 = 1 / (1 + math.exp(2)), math.exp(2) / (1 + math.exp(2))
    expected = s1 * (sig(-1) + sig(0)) + s2 * (sig(1) + sig(4))
    assert float(loss) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "name,act",
    [
        ("xe", None), ("bpr-max", "elu-0.5"), ("bpr-max", "linear"),
        ("top1", "tanh"), ("top1", "leaky-0.1"), ("top1-max", "linear"),
    ],
)
def test_losses_over_distinct_columns_match_the_official_layout(name: str, act: str | None) -> None:
    """Scoring each distinct item once, with copy weights, gives the official loss and gradient.

    The official matrix has one column per row target (diagonal = own target) and one
    per sampled draw, repeats included; here items repeat as targets, as draws and
    across both.
    """
    torch.manual_seed(0)
    B, scale = 4, 5.0
    targets = torch.tensor([1, 2, 1, 5])
    negatives = torch.tensor([3, 3, 7, 5, 9, 9, 9, 1])
    h = torch.randn(B, 6, dtype=torch.float64)
    table = torch.randn(10, 6, dtype=torch.float64)
    pop = torch.rand(10, dtype=torch.float64) + 0.5
    a = activation(act) if act else None

    # reference: the official layout, autograd for the gradient
    official_cols = torch.cat([targets, negatives])
    cols_full = table[official_cols].clone().requires_grad_(True)
    scores_full = h @ cols_full.t()
    offset_full = -torch.log(torch.cat([pop[targets], pop[negatives] ** 0.5]))  # logq = 1, alpha = 0.5
    ref = ref_loss(name, scores_full, offset_full if name == "xe" else None, a) / scale
    ref.backward()
    ref_grad_rows = torch.zeros_like(table).index_add_(0, official_cols, cols_full.grad)

    # ours: distinct items, copy weights, hand-written gradient
    rows, where = torch.unique(official_cols, return_inverse=True)
    target = where[:B]
    as_target = torch.bincount(target, minlength=len(rows)).double()
    as_negative = torch.bincount(where[B:], minlength=len(rows)).double()
    scores = h @ table[rows].t()
    if name == "xe":
        q = 1.0 / pop[rows]
        log_weight = torch.log(as_target * q + as_negative * q**0.5)
        loss, d_scores = xe_loss(scores, target, log_weight, -torch.log(pop[targets]), scale)
    elif name == "bpr-max":
        loss, d_scores = bpr_max_loss(scores, target, as_target + as_negative, 0.7, a, scale)
    elif name == "top1":
        loss, d_scores = top1_loss(scores, target, as_target + as_negative, a, scale)
    else:
        loss, d_scores = top1_max_loss(scores, target, as_target + as_negative, a, scale)
    grad_rows = torch.zeros_like(table).index_add_(0, rows, d_scores.t() @ h)
    assert float(loss) == pytest.approx(ref.item(), rel=1e-9)
    torch.testing.assert_close(grad_rows, ref_grad_rows, rtol=1e-8, atol=1e-10)
    # and the gradient w.r.t. the hidden state
    h_ref = h.clone().requires_grad_(True)
    ref_h = ref_loss(name, h_ref @ table[official_cols].t(), offset_full if name == "xe" else None, a) / scale
    ref_h.backward()
    torch.testing.assert_close(d_scores @ table[rows], h_ref.grad, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------------------------
# GRU cell


@pytest.mark.parametrize("act", ["tanh", "relu", "elu-1", "linear"])
def test_gru_cell_forward_and_backward_match_autograd(act: str) -> None:
    torch.manual_seed(1)
    B, n_in, h = 5, 4, 3
    x = torch.randn(B, n_in, dtype=torch.float64)
    h0 = torch.randn(B, h, dtype=torch.float64)
    W_ih = torch.randn(n_in, 3 * h, dtype=torch.float64, requires_grad=True)
    W_hh = torch.randn(h, 3 * h, dtype=torch.float64, requires_grad=True)
    b_ih = torch.randn(3 * h, dtype=torch.float64, requires_grad=True)
    b_hh = torch.randn(3 * h, dtype=torch.float64, requires_grad=True)
    a = activation(act)
    h1, cache = gru_forward(torch.addmm(b_ih, x, W_ih), h0, W_hh, b_hh, a)
    if act == "tanh":  # the same cell as torch.nn.GRUCell
        cell = torch.nn.GRUCell(n_in, h).double()
        with torch.no_grad():
            cell.weight_ih.copy_(W_ih.t())
            cell.weight_hh.copy_(W_hh.t())
            cell.bias_ih.copy_(b_ih)
            cell.bias_hh.copy_(b_hh)
        torch.testing.assert_close(h1, cell(x, h0))
    upstream = torch.randn(B, h, dtype=torch.float64)
    (h1 * upstream).sum().backward()
    with torch.no_grad():
        dgi, dgh = gru_backward(upstream, cache, a)
        torch.testing.assert_close(x.t() @ dgi, W_ih.grad)
        torch.testing.assert_close(h0.t() @ dgh, W_hh.grad)
        torch.testing.assert_close(dgi.sum(0), b_ih.grad)
        torch.testing.assert_close(dgh.sum(0), b_hh.grad)


# ------------------------------------------------------------------------------------
# optimiser


def test_row_table_updates_only_given_rows_with_adagrad_momentum() -> None:
    torch.manual_seed(2)
    weight = torch.randn(10, 4)
    table = RowTable(weight, momentum=0.5)
    assert torch.equal(table.planes[1], torch.full((10, 4), EPS))  # the accumulator starts at eps
    table.planes[1].fill_(0.3)  # some accumulated squared gradient (eps included)
    table.planes[2].fill_(0.1)  # some velocity
    before = torch.stack(table.planes, 1).clone()
    rows = torch.tensor([2, 5, 7])
    grad = torch.randn(3, 4)
    table.update(rows, table.gather(rows), grad, lr=0.2)
    acc = 0.3 + grad**2
    mom = 0.5 * 0.1 - 0.2 * grad / torch.sqrt(acc)
    torch.testing.assert_close(table.planes[1][rows], acc)
    torch.testing.assert_close(table.planes[2][rows], mom)
    torch.testing.assert_close(table.planes[0][rows], weight[rows] + mom)
    untouched = torch.tensor([i for i in range(10) if i not in (2, 5, 7)])
    assert torch.equal(torch.stack(table.planes, 1)[untouched], before[untouched])


def test_dense_params_adagrad_without_momentum() -> None:
    p = DenseParams({"a": torch.ones(2, 2), "b": torch.zeros(3)}, momentum=0.0)
    p.grad("a").fill_(2.0)
    p.grad("b").fill_(-1.0)
    p.step(lr=0.1)
    torch.testing.assert_close(p.param("a"), torch.full((2, 2), 1 - 0.1 * 2 / math.sqrt(4 + EPS)))
    torch.testing.assert_close(p.param("b"), torch.full((3,), 0.1 / math.sqrt(1 + EPS)))


@pytest.mark.parametrize("momentum", [0.0, 0.3])
def test_training_step_touches_only_used_item_rows(train_sessions: Sessions, momentum: float) -> None:
    model = small_model(momentum=momentum, dropout_p_embed=0.2)
    model.item_index = type(model.item_index).from_items(train_sessions.items)
    n = model.n_items
    gen = torch.Generator().manual_seed(0)
    trainer = Trainer(model, model._initial_weights(n, gen), np.ones(n), gen)
    if momentum:
        trainer.out.planes[2].fill_(0.05)  # stale velocity must stay stale
    before = torch.stack(trainer.out.planes, 1).clone()
    X, T = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 4])
    sampler_state = trainer.sampler.pointer
    trainer.step(X, T, [torch.zeros(4, 16)])
    negatives = torch.from_numpy(trainer.sampler.buffer[sampler_state])
    after = torch.stack(trainer.out.planes, 1)
    changed = (after != before).any(2).any(1)
    used = torch.zeros(n, dtype=torch.bool)
    used[torch.cat([X, T, negatives])] = True
    assert changed[used].all() and not changed[~used].any()
    # the bias column (last) of rows used only as inputs stays as it was
    input_only = torch.tensor(sorted(set(X.tolist()) - set(T.tolist()) - set(negatives.tolist())))
    if len(input_only):
        assert torch.equal(after[input_only, :, -1], before[input_only, :, -1])


# ------------------------------------------------------------------------------------
# session-parallel batching


def official_style_batches(
    offsets: np.ndarray, items: np.ndarray, batch_size: int
) -> list[tuple[list, list, list, list]]:
    """Direct simulation: every slot advances one event per minibatch, finished slots take the next session.

    Each minibatch is ``(inputs, targets, fresh, sessions)``: ``sessions`` says which
    session each row reads, ``fresh`` whether the row starts it.
    """
    lengths = np.diff(offsets)
    order = [s for s in range(len(lengths)) if lengths[s] >= 2]
    slots = [[order[i], 0] for i in range(min(batch_size, len(order)))]  # (session, position)
    nxt, out = len(slots), []
    fresh = [True] * len(slots)
    while slots:
        xs = [int(items[offsets[s] + p]) for s, p in slots]
        ts = [int(items[offsets[s] + p + 1]) for s, p in slots]
        out.append((xs, ts, list(fresh), [s for s, _ in slots]))
        fresh = [False] * len(slots)
        survivors, new_fresh = [], []
        for i, (s, p) in enumerate(slots):
            if p + 2 < lengths[s]:
                survivors.append([s, p + 1])
                new_fresh.append(False)
            elif nxt < len(order):
                survivors.append([order[nxt], 0])
                new_fresh.append(True)
                nxt += 1
        slots, fresh = survivors, new_fresh
    return out


def test_schedule_matches_direct_simulation() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 7, size=50)
    offsets = np.r_[0, np.cumsum(lengths)]
    items = rng.integers(0, 30, size=offsets[-1])
    sched = session_parallel_schedule(offsets, items, batch_size=4)
    expected = official_style_batches(offsets, items, 4)
    assert sched.n_batches == len(expected)
    # follow the hidden states as training does: row i of the state tensor belongs to the
    # session row i read in the previous minibatch; `keep` drops the rows of finished slots
    state_sessions: list[int] = []
    n_kept = 0
    for k, (xs, ts, fresh, sessions) in enumerate(expected):
        lo, hi = sched.bounds[k], sched.bounds[k + 1]
        assert sched.inputs[lo:hi].tolist() == xs
        assert sched.targets[lo:hi].tolist() == ts
        assert (sched.carry[lo:hi] == 0).tolist() == fresh
        if k in sched.keep:
            state_sessions = [state_sessions[i] for i in sched.keep[k].tolist()]
            n_kept += 1
        if k > 0:
            assert len(state_sessions) == len(sessions)
            for row, (session, new) in enumerate(zip(sessions, fresh)):
                if not new:  # a carried-on row must find its own session's state
                    assert state_sessions[row] == session, (k, row)
        state_sessions = sessions
    assert n_kept > 0  # the batch did narrow, so `keep` was exercised
    assert sched.n_events == int((lengths[lengths >= 2] - 1).sum())


def test_schedule_stops_below_min_width() -> None:
    offsets = np.array([0, 10, 12, 14])
    sched = session_parallel_schedule(offsets, np.arange(14), batch_size=3, min_width=2)
    assert all(np.diff(sched.bounds) >= 2)


def test_hidden_state_is_reset_at_session_boundaries(train_sessions: Sessions) -> None:
    """A slot that starts a new session computes exactly what a fresh state would."""
    model = small_model().fit(train_sessions, progress=False)
    a = torch.tensor([3, 4])
    state = model.step(model.init_state(2), a)
    state = model.step(state, torch.tensor([5, 6]))
    state = model.reset(state, torch.tensor([True, False]))
    assert torch.equal(state[0][0], torch.zeros(16)) and not torch.equal(state[0][1], torch.zeros(16))
    after = model.step(state, torch.tensor([9, 9]))
    fresh = model.step(model.init_state(1), torch.tensor([9]))
    torch.testing.assert_close(after[0][0], fresh[0][0])


def test_training_resets_state_for_new_sessions(train_sessions: Sessions) -> None:
    """With training dropout off and lr 0, the training forward equals the streaming forward."""
    model = small_model(learning_rate=1e-30, n_sample=0)
    model.item_index = type(model.item_index).from_items(train_sessions.items)
    gen = torch.Generator().manual_seed(0)
    weights = model._initial_weights(model.n_items, gen)
    trainer = Trainer(model, weights, np.ones(model.n_items), gen)
    model._set_weights(weights)
    items = model.item_index.to_index(train_sessions.items)
    sched = session_parallel_schedule(train_sessions.offsets, items, 8, min_width=2)
    hidden = [torch.zeros(sched.n_slots, 16)]
    state = model.init_state(sched.n_slots)
    for k in range(40):
        lo, hi = sched.bounds[k], sched.bounds[k + 1]
        carry = sched.carry[lo:hi]
        hidden[0].mul_(carry.unsqueeze(1))
        state = model.reset(state, carry == 0)
        trainer.step(sched.inputs[lo:hi], sched.targets[lo:hi], hidden)
        state = model.step(state, sched.inputs[lo:hi])
        torch.testing.assert_close(hidden[0], state[0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------
# sampling


def test_alias_sampler_follows_the_distribution() -> None:
    weights = np.array([1.0, 2.0, 3.0, 0.5, 10.0])
    sampler = NegativeSampler(weights, n_sample=1000, cache_size=200_000, generator=torch.Generator().manual_seed(0))
    draws = np.concatenate([sampler.next() for _ in range(200)])
    freq = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.01)
    accept, alias = alias_table(weights)
    assert ((accept >= 0) & (accept <= 1)).all() and alias.max() < 5


# ------------------------------------------------------------------------------------
# streaming interface, checkpoints, recommend


@pytest.mark.parametrize(
    "mode", [dict(), dict(constrained_embedding=False, embedding=12), dict(constrained_embedding=False, embedding=0)]
)
def test_save_load_gives_identical_scores(train_sessions: Sessions, tmp_path, mode: dict) -> None:
    model = small_model(layers=[16, 8], loss="bpr-max", momentum=0.2, **mode).fit(train_sessions, progress=False)
    assert model.training_log and "events_per_s" in model.training_log[0]
    path = save_model(model, tmp_path / "g.pt", meta={"training_log": model.training_log})
    loaded = load_model(path)
    assert loaded.hyperparameters() == model.hyperparameters()
    state_a, state_b = model.init_state(3), loaded.init_state(3)
    for items in ([1, 2, 3], [4, 0, 9]):
        state_a = model.step(state_a, torch.tensor(items))
        state_b = loaded.step(state_b, torch.tensor(items))
    assert torch.equal(model.scores(state_a), loaded.scores(state_b))


def test_step_and_reset_do_not_modify_their_input(train_sessions: Sessions) -> None:
    model = small_model().fit(train_sessions, progress=False)
    state = model.step(model.init_state(2), torch.tensor([1, 2]))
    copy = tuple(h.clone() for h in state)
    model.step(state, torch.tensor([3, 4]))
    model.reset(state, torch.tensor([True, True]))
    assert all(torch.equal(a, b) for a, b in zip(state, copy))


def test_recommend_equals_evaluation_scores(train_sessions: Sessions) -> None:
    model = small_model(layers=[16, 8]).fit(train_sessions, progress=False)
    session = train_sessions.session(5)[:4]
    rec = model.recommend(session, k=10, return_all_scores=True)
    idx = torch.from_numpy(model.item_index.to_index(session))
    state = model.init_state(4)  # evaluator-style: the session in slot 2 of 4
    for item in idx:
        state = model.step(state, torch.tensor([0, 1, int(item), 2]))
    np.testing.assert_allclose(rec.all_scores, model.scores(state)[2].numpy(), rtol=1e-6, atol=1e-6)
    assert list(rec.item_ids) == list(model.item_index.to_ids(np.argsort(-rec.all_scores, kind="stable")[:10]))


# ------------------------------------------------------------------------------------
# end to end


@pytest.mark.parametrize(
    "params",
    [
        dict(loss="cross-entropy", logq=1.0, dropout_p_embed=0.1),
        dict(loss="bpr-max", elu_param=0.5, bpreg=1.0, momentum=0.3),
        dict(loss="top1", final_act="tanh"),
        dict(loss="top1-max"),
        dict(loss="cross-entropy", constrained_embedding=False, embedding=0, n_sample=0),
    ],
)
def test_training_beats_most_popular(train_sessions: Sessions, test_sessions: Sessions, params: dict) -> None:
    model = small_model(**{**dict(layers=[32], batch_size=16, n_sample=32, n_epochs=4), **params})
    model.fit(train_sessions, progress=False)
    losses = [r["loss"] for r in model.training_log]
    assert losses[-1] < losses[0]
    ours = evaluate(model, test_sessions, ks=(5,), beyond_accuracy=False).metrics
    pop = evaluate(MostPopular().fit(train_sessions), test_sessions, ks=(5,), beyond_accuracy=False).metrics
    assert ours["recall@5"] > pop["recall@5"] + 0.2, (ours, pop)


def test_fit_is_reproducible_with_a_seed(train_sessions: Sessions) -> None:
    a = small_model(dropout_p_embed=0.2).fit(train_sessions, progress=False)
    b = small_model(dropout_p_embed=0.2).fit(train_sessions, progress=False)
    assert torch.equal(a.Wy, b.Wy)


def test_validate_and_callback(train_sessions: Sessions, test_sessions: Sessions) -> None:
    seen, validated = [], []

    def validate(model: GRU4Rec) -> float:
        # the model holds the epoch's weights: its recall equals a fresh evaluation's
        validated.append(evaluate(model, test_sessions, ks=(20,), beyond_accuracy=False).metrics["recall@20"])
        return validated[-1]

    stop_at_once = lambda record: seen.append(record) or True  # noqa: E731
    model = small_model(n_epochs=3).fit(train_sessions, validate=validate, progress=True, callback=stop_at_once)
    assert len(seen) == 1 and len(model.training_log) == 1
    assert seen[0]["valid"] == validated[0] > 0
    assert validated[0] == evaluate(model, test_sessions, ks=(20,), beyond_accuracy=False).metrics["recall@20"]
    with pytest.raises(ParameterError, match="validate must be a function"):  # sessions, as the old `valid` took
        small_model(n_epochs=1).fit(train_sessions, validate=test_sessions, progress=False)


def test_presets_build_models() -> None:
    for name in PRESETS:
        GRU4Rec(**preset(name, n_epochs=1))
    with pytest.raises(KeyError):
        preset("nope")


def test_bad_hyperparameters_are_refused() -> None:
    with pytest.raises(ValueError):
        GRU4Rec(loss="hinge")
    with pytest.raises(ValueError):
        GRU4Rec(loss="cross-entropy", final_act="tanh")


def test_score_buffers_are_reused_only_when_released() -> None:
    from sessrec.models.gru4rec.buffers import ScoreBuffers

    pool = ScoreBuffers()
    rows, cols = 64, ScoreBuffers.MIN_BYTES // (4 * 64)
    a = pool.empty(rows, cols)
    ptr_a = a.data_ptr()
    a.fill_(1.0)
    view = a[3]
    del a
    b = pool.empty(rows, cols)  # the first buffer is still used through `view`
    b.fill_(2.0)
    assert float(view[0]) == 1.0
    ptr_b = b.data_ptr()
    assert ptr_b != ptr_a
    del view, b
    c = pool.empty(rows, cols)  # both buffers are free again: the first one is lent first
    assert c.data_ptr() == ptr_a and len(pool._arrays) == 2
    d = pool.empty(rows, cols)  # the first is taken by c, so the second
    assert d.data_ptr() == ptr_b and len(pool._arrays) == 2
    small = pool.empty(2, 3)
    assert small.shape == (2, 3)


# ------------------------------------------------------------------------------------
# device: CPU by default, CUDA when asked (and present), checkpoints load on the CPU.
# This machine (and CI) has no GPU: the "meta" device (shapes, no data) stands in for
# one to prove that every tensor of a training step is created on the model's device.


class OneDevice(TorchDispatchMode):
    """Fails any torch op that mixes tensors of two devices (0-d scalars aside); copies may cross."""

    CROSSING = (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        devices = {t.device for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor) and t.dim() > 0}
        if len(devices) > 1 and func not in self.CROSSING:
            raise AssertionError(f"{func} mixes tensors on {sorted(map(str, devices))}")
        return func(*args, **kwargs)


def test_device_defaults_to_cpu_and_goes_into_the_checkpoint(train_sessions: Sessions, tmp_path) -> None:
    model = small_model(n_threads=1).fit(train_sessions, progress=False)
    assert model.device == "cpu" and model.hyperparameters()["device"] == "cpu"
    assert GRU4Rec(device=torch.device("cpu")).device == "cpu"  # a torch.device is taken by its name
    path = save_model(model, tmp_path / "g.pt", training_state=model.training_state())
    from sessrec.models.io import read_checkpoint

    assert read_checkpoint(path)["hyperparameters"]["device"] == "cpu"
    assert load_model(path).device == "cpu"


def test_checkpoint_of_a_gpu_training_loads_on_the_cpu(train_sessions: Sessions, test_sessions: Sessions, tmp_path) -> None:
    """A checkpoint that says ``device='cuda'`` (as one trained on a GPU does) loads and scores here."""
    model = small_model(n_threads=1).fit(train_sessions, progress=False)
    path = save_model(model, tmp_path / "g.pt")
    payload = torch.load(path, weights_only=True)
    payload["hyperparameters"]["device"] = "cuda"
    torch.save(payload, path)
    loaded = load_model(path)  # map_location="cpu": tensors of any device come back on the CPU
    assert loaded.device == "cuda" and loaded.WyBy.device.type == "cpu"
    a = evaluate(model, test_sessions, ks=(20,), beyond_accuracy=False).metrics
    b = evaluate(loaded, test_sessions, ks=(20,), beyond_accuracy=False).metrics
    assert a == b


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where there is no CUDA")
def test_cuda_without_cuda_fails_clearly_before_any_work(train_sessions: Sessions) -> None:
    from sessrec.errors import ParameterError
    from sessrec.models.neural import SRGNN

    model = small_model(device="cuda")  # a valid setting: a GPU checkpoint must load anywhere
    with pytest.raises(ParameterError) as ours:
        model.fit(train_sessions, progress=False)
    assert "CUDA is not available" in str(ours.value) and not model.is_fitted
    with pytest.raises(ParameterError) as neural:
        SRGNN(device="cuda", n_epochs=1).fit(train_sessions, progress=False)
    assert str(ours.value) == str(neural.value)  # one message for every torch model


@pytest.mark.parametrize("mode", [{}, {"constrained_embedding": False, "embedding": 7},
                                  {"constrained_embedding": False, "embedding": 0}])
@pytest.mark.parametrize("loss", ["cross-entropy", "bpr-max", "top1-max"])  # top1 reads a count on the host
def test_training_step_creates_every_tensor_on_the_model_device(loss: str, mode: dict) -> None:
    model = GRU4Rec(loss=loss, layers=[6, 5], batch_size=4, n_sample=6, momentum=0.3, dropout_p_embed=0.25,
                    dropout_p_hidden=0.3, logq=1.0 if loss == "cross-entropy" else 0.0, sample_cache=60, **mode)
    model.item_index = ItemIndex(np.arange(12, dtype=np.int64))
    gen = torch.Generator().manual_seed(0)
    trainer = Trainer(model, model._initial_weights(12, gen), np.ones(12), gen, device="meta")
    hidden = [torch.zeros(4, h, device="meta") for h in model.layers]
    with OneDevice():
        for _ in range(2):
            loss_value = trainer.update(torch.tensor([0, 1, 1, 5]), torch.tensor([2, 3, 2, 0]), hidden)
    assert loss_value.device.type == "meta" and all(h.device.type == "meta" for h in hidden)
    state = [*trainer.out.planes, trainer.dense.data, trainer.dense.grads, trainer.log_pop, trainer.inv_pop]
    state += trainer.inp.planes if trainer.inp is not None else []
    assert all(t.device.type == "meta" for t in state)


def test_epoch_and_streaming_run_on_the_model_device(train_sessions: Sessions, monkeypatch) -> None:
    model = small_model(dropout_p_hidden=0.2)
    model.item_index = ItemIndex.from_items(train_sessions.items)
    gen = torch.Generator().manual_seed(0)
    trainer = Trainer(model, model._initial_weights(model.n_items, gen), np.ones(model.n_items), gen, device="meta")
    items = model.item_index.to_index(train_sessions.items)
    schedule = session_parallel_schedule(train_sessions.offsets, items, model.batch_size)
    assert schedule.keep, "the epoch must end with narrowing minibatches"

    def step_without_reading_the_loss(X: torch.Tensor, T: torch.Tensor, hidden: list[torch.Tensor],
                                      aligned: int = 0) -> float:
        trainer.update(X, T, hidden)
        return 0.0  # a meta tensor has no value to read

    # the epoch's own loop (hidden state, carry, keep) around the real update
    monkeypatch.setattr(trainer, "step", step_without_reading_the_loss)
    with OneDevice():
        trainer.run_epoch(schedule, 1, progress=False)
        model._set_weights(trainer.weights())
        state = model.init_state(5)
        state = model.step(state, torch.tensor([0, 1, 2, 3, 4]))
        state = model.reset(state, torch.tensor([True, False, True, False, False]))
        state = model.select(state, torch.tensor([1, 3]))
    assert model.WyBy.device.type == "meta" and all(h.device.type == "meta" for h in state)


def test_adaptive_threads_train_exactly_as_one_thread(monkeypatch) -> None:
    """The thread count may change from one minibatch to the next without changing a bit.

    A catalogue of thousands of items, so score matrices are large enough for torch to
    split them between threads, and epoch ends whose minibatches narrow through 5-11 rows
    (where MKL rounds differently by thread count).
    """
    from sessrec import runtime

    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    sessions = markov_sessions(1000, n_items=3000, seed=3)
    params = dict(layers=[24], batch_size=32, n_sample=2048, n_epochs=2, dropout_p_embed=0.1, momentum=0.1,
                  learning_rate=0.1, seed=4)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        adapts_here = GRU4Rec(**params)._thread_tuner(torch.device("cpu")) is not None
        single = GRU4Rec(**params, n_threads=1).fit(sessions, progress=False)
        assert all(r["thread_windows"] == {} for r in single.training_log), "a fixed count does not adapt"
        real_init = runtime.ThreadTuner.__init__

        def switching(self, threads, **kwargs):  # a window per minibatch, a probe every third
            real_init(self, threads, window=0.0, probe_every=3)

        monkeypatch.setattr(runtime.ThreadTuner, "__init__", switching)
        adaptive = GRU4Rec(**params).fit(sessions, progress=False)
        assert torch.get_num_threads() == 2, "training gives the thread count back"
    finally:
        torch.set_num_threads(before)
    windows = adaptive.training_log[0]["thread_windows"]
    if not adapts_here:  # this machine computes different bits on 1 and 2 threads: the count stays fixed
        assert windows == {}
        return
    assert windows["1"] >= 15 and windows["2"] >= 15, windows  # it did switch, many times
    for name in ("Wy", "By"):
        assert torch.equal(getattr(single, name), getattr(adaptive, name)), name
    for mine, theirs in zip(single.gru, adaptive.gru):
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_thread_count_stays_fixed_where_the_result_could_depend_on_it(monkeypatch) -> None:
    from sessrec import runtime

    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    cpu = torch.device("cpu")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert small_model(batch_size=48)._thread_tuner(cpu) is None, "48 rows split between 2 threads off the vector step"
        assert small_model(batch_size=32, n_threads=2)._thread_tuner(cpu) is None, "a fixed count is kept"
        monkeypatch.setenv(runtime.THREADS_ENV, "2")
        assert small_model(batch_size=32)._thread_tuner(cpu) is None, "so is SESSREC_THREADS"
        monkeypatch.delenv(runtime.THREADS_ENV)
        torch.set_num_threads(4)
        assert runtime.aligned_rows(4) == 64
        assert small_model(batch_size=32)._thread_tuner(cpu) is None, "32 rows are not aligned for 4 threads"
        torch.set_num_threads(1)
        assert small_model(batch_size=32)._thread_tuner(cpu) is None, "one thread has nothing to choose"
    finally:
        torch.set_num_threads(before)
