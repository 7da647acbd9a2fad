"""The numerical pieces of GRU4Rec with hand-written backward passes.

Training runs without autograd: every minibatch is a handful of small matrix
products, and on a CPU the bookkeeping of an autograd graph would cost more than the
arithmetic. So each piece here comes as a forward function plus the gradient it
needs, written out by hand. ``tests/test_gru4rec.py`` checks every gradient against
autograd.

Conventions: ``B`` rows (sessions in the minibatch), ``h`` hidden units. Every tensor
a function creates is on the device of its inputs, so the same code runs on CPU and GPU. Score
matrices are ``(B, C)``: column ``i < B`` holds the target of row ``i`` (so the
positive score of row ``i`` sits on the diagonal, and the other rows' targets serve as
negatives), the remaining columns are the shared sampled negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

# --------------------------------------------------------------------------------------
# Activations: value and derivative (the derivative is computed from input and output,
# whichever is cheaper)


@dataclass(frozen=True)
class Activation:
    """An elementwise function with its derivative ``deriv(x, y) = f'(x)`` where ``y = f(x)``."""

    name: str
    fn: Callable[[Tensor], Tensor]
    deriv: Callable[[Tensor, Tensor], Tensor]


def _activation_param(spec: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value == value and abs(value) != float("inf")):
        raise ValueError(f"activation '{spec}': '{text}' is not a finite number")
    return value


def activation(spec: str) -> Activation:
    """Parse GRU4Rec's activation names: ``linear``, ``tanh``, ``relu``, ``elu-<a>``, ``leaky-<a>``."""
    if spec == "linear":
        return Activation(spec, lambda x: x, lambda x, y: torch.ones_like(x))
    if spec == "tanh":
        return Activation(spec, torch.tanh, lambda x, y: 1.0 - y * y)
    if spec == "relu":
        return Activation(spec, torch.relu, lambda x, y: (x > 0).to(x.dtype))
    if spec.startswith("elu-"):
        a = _activation_param(spec, spec[4:])
        # for x <= 0, d/dx a(e^x - 1) = a e^x = y + a
        return Activation(spec, lambda x: F.elu(x, a), lambda x, y: torch.where(x > 0, torch.ones_like(y), y + a))
    if spec.startswith("leaky-"):
        a = _activation_param(spec, spec[6:])
        return Activation(spec, lambda x: F.leaky_relu(x, a), lambda x, y: torch.where(x >= 0, 1.0, a).to(x.dtype))
    raise ValueError(f"unknown activation '{spec}' (linear, tanh, relu, elu-<a>, leaky-<a>)")


# --------------------------------------------------------------------------------------
# GRU cell, the "reset after" form of torch.nn.GRUCell (the official PyTorch GRU4Rec
# uses nn.GRUCell for its layers):
#   r = sigmoid(gi_r + gh_r)      z = sigmoid(gi_z + gh_z)
#   n = act(gi_n + r * gh_n)      h' = (1 - z) * n + z * h
# with gi = x W_ih + b_ih and gh = h W_hh + b_hh, gates in the order r, z, n.
# Weights are stored input-major, (n_in, 3h) and (h, 3h), so no transposes are needed.


@dataclass
class GRUCache:
    """What the backward pass of one GRU step needs from its forward pass."""

    h0: Tensor  # previous hidden state (B, h)
    rz: Tensor  # reset and update gates, side by side (B, 2h)
    gh_n: Tensor  # h W_hh + b_hh, candidate part (B, h)
    a: Tensor  # pre-activation of the candidate (B, h)
    n: Tensor  # candidate state (B, h)


def gru_forward(gi: Tensor, h0: Tensor, W_hh: Tensor, b_hh: Tensor, act: Activation) -> tuple[Tensor, GRUCache]:
    """One GRU step given the input projection ``gi = x W_ih + b_ih`` (``(B, 3h)``)."""
    h = h0.shape[1]
    gh = torch.addmm(b_hh, h0, W_hh)
    rz = torch.sigmoid(gi[:, : 2 * h] + gh[:, : 2 * h])
    gh_n = gh[:, 2 * h :]
    a = torch.addcmul(gi[:, 2 * h :], rz[:, :h], gh_n)
    n = act.fn(a)
    h1 = torch.lerp(n, h0, rz[:, h:])  # n + z * (h0 - n)
    return h1, GRUCache(h0, rz, gh_n, a, n)


def gru_backward(dh1: Tensor, c: GRUCache, act: Activation) -> tuple[Tensor, Tensor]:
    """Gradients w.r.t. the input projection ``gi`` and the recurrent projection ``gh``.

    The previous hidden state gets no gradient: like the official code, training
    back-propagates through one time step only (the state is detached between steps).
    Parameter gradients follow as ``dW_ih = x^T dgi``, ``db_ih = sum(dgi)``,
    ``dW_hh = h0^T dgh``, ``db_hh = sum(dgh)``, and the input's as ``dx = dgi W_ih^T``.
    """
    h = c.h0.shape[1]
    r, z = c.rz[:, :h], c.rz[:, h:]
    dgi = torch.empty(dh1.shape[0], 3 * h, dtype=dh1.dtype, device=dh1.device)
    da = dgi[:, 2 * h :]
    torch.mul(dh1 * (1.0 - z), act.deriv(c.a, c.n), out=da)
    drz = torch.cat([da * c.gh_n, dh1 * (c.h0 - c.n)], 1)  # dL/dr, dL/dz
    torch.mul(drz, c.rz * (1.0 - c.rz), out=dgi[:, : 2 * h])  # through the sigmoids
    dgh = dgi.clone()
    dgh[:, 2 * h :].mul_(r)  # the candidate sees gh_n only through r * gh_n
    return dgi, dgh


# --------------------------------------------------------------------------------------
# Losses. Each returns (loss, dL/dscores). The official code scores a (B, B + n_sample)
# matrix: column i holds row i's target, the other rows' targets are in-batch
# negatives, then come the sampled negatives (with repeats). Here every *distinct*
# item is scored once: ``scores`` is (B, U) over the distinct items of the minibatch,
# ``target`` (B,) says which column is row i's target, and per-column weights say how
# many copies of a column the official matrix has (its uses as some row's target plus
# its draws as a sampled negative). Every loss below is a weighted sum or softmax over
# columns, so the weighted form is the same loss and gradient at a fraction of the
# cost. Losses are summed over rows and divided by ``scale`` (the configured batch
# size, as the official code does, also for the narrower minibatches at the end of an
# epoch).

_EPS = 1e-24  # inside the logs, as in the official code


def _row_target(y: Tensor, target: Tensor) -> Tensor:
    return y.gather(1, target.unsqueeze(1))


def negative_weights(copies: Tensor, target: Tensor) -> Tensor:
    """(B, U) copies of each column that are negatives for each row: all but the row's own target."""
    w = copies.unsqueeze(0).repeat(target.shape[0], 1)
    w.scatter_add_(1, target.unsqueeze(1), torch.full((target.shape[0], 1), -1.0, dtype=w.dtype, device=w.device))
    return w


def _softmax_over_negatives(y: Tensor, neg_weight: Tensor) -> Tensor:
    """Row softmax over the negatives, each column counted ``neg_weight`` times."""
    present = neg_weight > 0
    top = torch.where(present, y, float("-inf")).amax(dim=1, keepdim=True)
    e = torch.exp(y - top) * neg_weight
    return e / e.sum(dim=1, keepdim=True)


def xe_loss(
    scores: Tensor, target: Tensor, log_weight: Tensor, target_offset: Tensor, scale: float
) -> tuple[Tensor, Tensor]:
    """Cross-entropy of the softmax over all copies of all columns.

    The logit of one copy is its score plus its logQ correction (``-logq * log Q``,
    with Q the popularity for targets, popularity^sample_alpha for sampled
    negatives). ``log_weight`` (U,) is the log of the summed ``exp(correction)`` of a
    column's copies (``-inf`` for a column with none); ``target_offset`` (B,) the
    correction of each row's own target copy.
    """
    p = torch.softmax(scores + log_weight, dim=1)
    # the row's own target copy holds this share of its column's probability
    share = torch.exp(target_offset - log_weight.index_select(0, target)).unsqueeze(1)
    p_target = _row_target(p, target) * share
    loss = -torch.log(p_target + _EPS).sum() / scale
    # d/dlogits of -log(p_t + eps) is (p_t / (p_t + eps)) * (p - onehot(target))
    p.scatter_add_(1, target.unsqueeze(1), torch.full_like(p_target, -1.0))
    return loss, p.mul_(p_target / ((p_target + _EPS) * scale))


def bpr_max_loss(
    scores: Tensor, target: Tensor, copies: Tensor, bpreg: float, act: Activation, scale: float
) -> tuple[Tensor, Tensor]:
    """BPR-max: ``-log sum_j s_j sigmoid(t - o_j) + bpreg * sum_j s_j o_j^2`` per row.

    ``o = act(scores)`` (ELU or linear in the official code), ``t`` the row's target
    score, ``s`` the softmax over the row's negatives (``copies`` (U,) per column,
    minus the row's own target copy).
    """
    y = act.fn(scores)
    s = _softmax_over_negatives(y, negative_weights(copies, target))
    t = _row_target(y, target)
    sig = torch.sigmoid(t - y)
    A = (sig * s).sum(1, keepdim=True)
    y2 = y * y
    R = (y2 * s).sum(1, keepdim=True)
    loss = (-torch.log(A + _EPS) + bpreg * R).sum() / scale
    inv_A = 1.0 / (A + _EPS)
    # the negatives: through sigmoid(t - o_j) and through the softmax weights
    gy = s * ((A - sig * sig) * inv_A + bpreg * (2.0 * y + y2 - R))
    # the target's own score, through t
    gy.scatter_add_(1, target.unsqueeze(1), -(s * sig * (1.0 - sig)).sum(1, keepdim=True) * inv_A)
    return loss, gy.mul_(act.deriv(scores, y)).div_(scale)


def top1_loss(scores: Tensor, target: Tensor, copies: Tensor, act: Activation, scale: float) -> tuple[Tensor, Tensor]:
    """TOP1: ``mean_j [sigmoid(o_j - t) + sigmoid(o_j^2)] - sigmoid(t^2) / N`` per row.

    The mean runs over all ``N`` copies, the row's own target included (as in the
    original Theano GRU4Rec); the last term removes the target's regulariser.
    """
    y = act.fn(scores)
    n_inv = 1.0 / float(copies.sum())
    w = copies * n_inv  # each copy counts 1/N
    t = _row_target(y, target)
    sig = torch.sigmoid(y - t)
    sq = torch.sigmoid(y * y)
    t_sq = torch.sigmoid(t * t)
    loss = (((sig + sq) * w).sum(1, keepdim=True) - t_sq * n_inv).sum() / scale
    d_sig = sig * (1.0 - sig) * w
    gy = d_sig + 2.0 * y * sq * (1.0 - sq) * w
    gy.scatter_add_(1, target.unsqueeze(1), -d_sig.sum(1, keepdim=True) - 2.0 * t * t_sq * (1.0 - t_sq) * n_inv)
    return loss, gy.mul_(act.deriv(scores, y)).div_(scale)


def top1_max_loss(
    scores: Tensor, target: Tensor, copies: Tensor, act: Activation, scale: float
) -> tuple[Tensor, Tensor]:
    """TOP1-max: ``sum_j s_j [sigmoid(o_j - t) + sigmoid(o_j^2)]`` per row, ``s`` as in BPR-max."""
    y = act.fn(scores)
    s = _softmax_over_negatives(y, negative_weights(copies, target))
    t = _row_target(y, target)
    sig = torch.sigmoid(y - t)
    sq = torch.sigmoid(y * y)
    f = sig + sq
    Fm = (s * f).sum(1, keepdim=True)
    loss = Fm.sum() / scale
    d_sig = sig * (1.0 - sig)
    gy = s * (f - Fm + d_sig + 2.0 * y * sq * (1.0 - sq))
    gy.scatter_add_(1, target.unsqueeze(1), -(s * d_sig).sum(1, keepdim=True))
    return loss, gy.mul_(act.deriv(scores, y)).div_(scale)
