"""Adagrad with momentum that updates only the rows a minibatch touched.

GRU4Rec's item matrices (output weights and biases, input embeddings) have one row
per catalogue item, and a minibatch touches only a few thousand of them. The
official ``IndexedAdagradM`` updates just those rows (with the gradient of a row
summed over its duplicates first), per element::

    acc += g^2
    mom  = momentum * mom - lr * g / sqrt(acc + eps)      (rows not touched: unchanged)
    w   += mom                                            (w -= lr * g / sqrt(acc + eps) without momentum)

and the dense GRU weights the same way, every element, every step. This module does
the same: gather the rows in use, update the copies, write them back. The
accumulator starts at ``eps`` instead of 0, which saves adding ``eps`` at every step
(the same value up to float rounding).

Both tables keep weights and state on one device (``device``, the CPU by default), so
that a step never copies between host and accelerator.
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-6  # the official optimiser's epsilon


def adagrad_momentum_(w: Tensor, acc: Tensor, mom: Tensor | None, grad: Tensor, lr: float, momentum: float) -> None:
    """In-place Adagrad(+momentum) step on matching views of weights and state (``acc`` includes ``eps``)."""
    acc.addcmul_(grad, grad)
    scale = torch.rsqrt(acc)
    if mom is None:
        w.addcmul_(grad, scale, value=-lr)
    else:
        mom.mul_(momentum).addcmul_(grad, scale, value=-lr)
        w.add_(mom)


class RowTable:
    """An ``(n_rows, dim)`` weight matrix with its Adagrad(+momentum) state, trained row-wise.

    ``planes[0]`` holds the weights, ``planes[1]`` the squared-gradient accumulator,
    ``planes[2]`` (only with momentum) the velocity; each ``(n_rows, dim)``, on ``device``.
    A step gathers the rows it uses (:meth:`gather`), reads the weights from the copy,
    and hands the copy back with the gradient (:meth:`update`).
    """

    def __init__(self, weight: Tensor, momentum: float, device: torch.device | str = "cpu") -> None:
        self.momentum = momentum
        w = weight.to(device=device, dtype=torch.float32).contiguous().clone()
        self.planes = [w, torch.full(w.shape, EPS, device=w.device)]
        if momentum > 0:
            self.planes.append(torch.zeros(w.shape, device=w.device))

    @property
    def weight(self) -> Tensor:
        return self.planes[0]

    def gather(self, rows: Tensor) -> list[Tensor]:
        """Copies of ``rows`` (unique indices) of every plane, each ``(len(rows), dim)``."""
        return [p.index_select(0, rows) for p in self.planes]

    def update(
        self, rows: Tensor, gathered: list[Tensor], grad: Tensor, lr: float, restore: tuple[int, Tensor] | None = None
    ) -> None:
        """Apply the step for ``grad`` (``(len(rows), dim)``, duplicates already summed) and write back.

        ``restore = (column, touched)`` leaves ``column`` unchanged in the rows where
        ``touched`` is False: for a column that, in the official model, belongs to a
        separate table those rows are not part of.
        """
        saved = [g[:, restore[0]].clone() for g in gathered] if restore is not None else None
        mom = gathered[2] if self.momentum > 0 else None
        adagrad_momentum_(gathered[0], gathered[1], mom, grad, lr, self.momentum)
        if restore is not None:
            column, touched = restore
            assert saved is not None  # saved above whenever restore is given
            for g, old in zip(gathered, saved):
                g[:, column] = torch.where(touched, g[:, column], old)
        for plane, g in zip(self.planes, gathered):
            plane.index_copy_(0, rows, g)


class DenseParams:
    """Small dense tensors (the GRU weights) packed in one flat buffer, updated in one go.

    ``add(name, tensor)`` registers a tensor; afterwards ``param(name)`` and
    ``grad(name)`` are views into the flat weight and gradient buffers, so the backward
    pass writes gradients in place and the optimiser touches three flat vectors. The
    buffers live on ``device``; the tensors given are copied there.
    """

    def __init__(self, tensors: dict[str, Tensor], momentum: float, device: torch.device | str = "cpu") -> None:
        sizes = {name: t.numel() for name, t in tensors.items()}
        total = sum(sizes.values())
        self.momentum = momentum
        self.data = torch.zeros(3 if momentum > 0 else 2, total, dtype=torch.float32, device=device)
        self.data[1] = EPS
        self.grads = torch.zeros(total, dtype=torch.float32, device=device)
        self._params: dict[str, Tensor] = {}
        self._grads: dict[str, Tensor] = {}
        start = 0
        for name, t in tensors.items():
            end = start + sizes[name]
            self._params[name] = self.data[0, start:end].view(t.shape)
            self._params[name].copy_(t)
            self._grads[name] = self.grads[start:end].view(t.shape)
            start = end

    def param(self, name: str) -> Tensor:
        return self._params[name]

    def grad(self, name: str) -> Tensor:
        return self._grads[name]

    def names(self) -> list[str]:
        return list(self._params)

    def step(self, lr: float) -> None:
        mom = self.data[2] if self.momentum > 0 else None
        adagrad_momentum_(self.data[0], self.data[1], mom, self.grads, lr, self.momentum)
