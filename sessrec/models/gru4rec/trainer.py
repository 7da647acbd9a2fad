"""GRU4Rec's trainer: one minibatch forward and backward by hand (no autograd, see ``ops.py``),
the epoch loop over a session-parallel schedule, its optimiser state and dropout masks."""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from sessrec.errors import CheckpointError, TrainingError
from sessrec.models.gru4rec.batching import NegativeSampler, Schedule
from sessrec.models.gru4rec.ops import (Activation, GRUCache, bpr_max_loss, gru_backward, gru_forward, top1_loss, top1_max_loss,
                                        xe_loss)
from sessrec.models.gru4rec.optim import DenseParams, RowTable
from sessrec.models.training_state import TrainingState
from sessrec.runtime import ThreadTuner, aligned_rows, one_thread



class GRU4RecSettings(Protocol):
    """What the trainer reads of its GRU4Rec (the model imports the trainer, never the reverse)."""

    loss: str
    layers: list[int]
    batch_size: int
    embedding: int
    input_mode: str
    dropout_p_embed: float
    dropout_p_hidden: float
    learning_rate: float
    momentum: float
    sample_alpha: float
    n_sample: int
    sample_cache: int
    logq: float
    bpreg: float
    _final: Activation | None
    _hidden: Activation

#: the weights of one GRU layer, named as torch.nn.GRU names them
GRU_PARAMS = ("W_ih", "W_hh", "b_ih", "b_hh")


class Trainer:
    """Training-time parameters (with optimiser state) and the hand-written minibatch step.

    Weights, optimiser state, hidden states and every tensor of the arithmetic live on
    ``device``. The index bookkeeping (which rows a minibatch uses, see :meth:`update`),
    the schedule's item arrays and the random generator stay on the CPU: the generator so
    that every device draws the same weights, negatives and dropout masks.
    """

    def __init__(
        self, model: GRU4RecSettings, weights: dict[str, Tensor], counts: np.ndarray, generator: torch.Generator,
        device: torch.device | str = "cpu",
    ) -> None:
        self.m = model
        self.generator = generator
        self.device = torch.device(device)
        self.h_last = model.layers[-1]
        # output weights and biases as one table: row i is [Wy_i, By_i]; a score is then
        # [h, 1] . row, and the bias gets its own Adagrad state like any other column
        self.out = RowTable(torch.cat([weights["Wy"], weights["By"].unsqueeze(1)], 1), model.momentum, self.device)
        self.inp: RowTable | None = None
        if model.input_mode == "separate":
            self.inp = RowTable(weights["E"], model.momentum, self.device)
        elif model.input_mode == "one-hot":
            self.inp = RowTable(weights["Wx0"], model.momentum, self.device)
        self.dense = DenseParams(
            {k: v for k, v in weights.items() if k.startswith(("gru", "gate"))}, model.momentum, self.device
        )
        # the repeat-aware variant's gate (gru4rec/repeat.py): a score bonus for the items of the
        # session's last clicks, one learned weight per age, g(h) = h Wg + bg; absent for GRU4Rec
        # itself, whose arithmetic is untouched
        self.gate = "gate.w" in weights
        self.repeat_window = int(getattr(model, "repeat_window", 0))
        self.layer_params = [
            {k: self.dense.param(f"gru{l}.{k}") for k in GRU_PARAMS if f"gru{l}.{k}" in weights}
            for l in range(len(model.layers))
        ]
        self.layer_grads = [
            {k: self.dense.grad(f"gru{l}.{k}") for k in GRU_PARAMS if f"gru{l}.{k}" in weights}
            for l in range(len(model.layers))
        ]
        # dropout after each layer; with one-hot input the first layer plays the embedding
        slots = model.batch_size
        p_hidden = [model.dropout_p_hidden] * len(model.layers)
        if model.input_mode == "one-hot":
            p_hidden[0] = model.dropout_p_embed
        self.hidden_masks = [
            DropoutMasks(slots, h, p, generator, self.device) if p > 0 else None
            for h, p in zip(model.layers, p_hidden)
        ]
        n_in = self.h_last if model.input_mode == "constrained" else model.embedding
        p_embed = model.dropout_p_embed if model.input_mode != "one-hot" else 0.0
        self.embed_masks = DropoutMasks(slots, n_in, p_embed, generator, self.device) if p_embed > 0 else None
        pop = np.maximum(counts, 1.0)
        self.log_pop = torch.from_numpy(np.log(pop).astype(np.float32)).to(self.device)
        self.inv_pop = torch.from_numpy((pop ** -model.logq).astype(np.float32)).to(self.device)  # Q^-logq
        # the negatives are item indices for the NumPy bookkeeping: drawn and kept on the CPU
        self.sampler = (
            NegativeSampler(counts**model.sample_alpha, model.n_sample, model.sample_cache, generator)
            if model.n_sample > 0
            else None
        )

    def weights(self) -> dict[str, Tensor]:
        """Current weights, by the names of :meth:`GRU4Rec._initial_weights`."""
        w = self.out.weight
        out = {"Wy": w[:, : self.h_last], "By": w[:, self.h_last]}
        if self.inp is not None:
            out["E" if self.m.input_mode == "separate" else "Wx0"] = self.inp.weight
        out.update({name: self.dense.param(name) for name in self.dense.names()})
        return out

    # -- training state (resume) ------------------------------------------------------
    # The random streams (negatives, dropout masks) are pools refilled from one
    # generator. A pool is not stored: its refill is re-drawn from the generator
    # state saved just before it, then the pointer is restored.

    def _pools(self) -> dict[str, Any]:
        pools: dict[str, Any] = {}
        if self.sampler is not None:
            pools["sampler"] = self.sampler
        if self.embed_masks is not None:
            pools["embed_masks"] = self.embed_masks
        for l, masks in enumerate(self.hidden_masks):
            if masks is not None:
                pools[f"hidden_masks{l}"] = masks
        return pools

    def state(self, epoch: int) -> TrainingState:
        """Everything but the weights that continuing after ``epoch`` needs."""
        tensors = {f"out.{i}": p.clone() for i, p in enumerate(self.out.planes[1:], 1)}
        if self.inp is not None:
            tensors.update({f"inp.{i}": p.clone() for i, p in enumerate(self.inp.planes[1:], 1)})
        tensors["dense"] = self.dense.data[1:].clone()
        tensors["rng.generator"] = self.generator.get_state()
        pools = {}
        for name, pool in self._pools().items():
            pools[name] = {"pointer": pool.pointer, "filled": pool.refill_state is not None}
            if pool.refill_state is not None:
                tensors[f"rng.{name}"] = pool.refill_state
        meta = {"optimizer": "adagrad-momentum", "momentum": self.m.momentum, "dense_names": self.dense.names(),
                "pools": pools}
        return TrainingState(epoch, tensors, meta)

    def load_state(self, state: TrainingState) -> None:
        """Install a state from :meth:`state` (weights are already in place)."""
        t, meta = state.tensors, state.meta
        try:
            if meta.get("dense_names") != self.dense.names() or sorted(meta.get("pools", {})) != sorted(self._pools()):
                raise ValueError("its layout does not match these hyperparameters")
            planes = [(self.out, "out")] + ([(self.inp, "inp")] if self.inp is not None else [])
            for table, prefix in planes:
                for i in range(1, len(table.planes)):
                    copy_exact(table.planes[i], t[f"{prefix}.{i}"], f"{prefix}.{i}")
            copy_exact(self.dense.data[1:], t["dense"], "dense")
            for name, pool in self._pools().items():
                info = meta["pools"][name]
                if info["filled"]:
                    pool.generator.set_state(t[f"rng.{name}"])
                    pool.refill()
                pool.pointer = int(info["pointer"])
            self.generator.set_state(t["rng.generator"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"gru4rec: the checkpoint's training state cannot be resumed ({exc})") from exc

    def run_epoch(self, schedule: Schedule, epoch: int, progress: bool,
                  tuner: ThreadTuner | None = None) -> dict[str, Any]:
        """One pass over the schedule; returns the epoch's log record.

        ``tuner`` (optional) picks the thread count as the epoch runs; the result is the
        same on any count (see :meth:`GRU4Rec._thread_tuner`).
        """
        dev = self.device
        hidden = [torch.zeros(schedule.n_slots, h, device=dev) for h in self.m.layers]
        # what the arithmetic touches goes to the device once; the item arrays stay on the CPU
        all_carry = schedule.carry.to(dev)
        keep = {k: rows.to(dev) for k, rows in schedule.keep.items()}
        total_loss = 0.0
        bounds = schedule.bounds.tolist()
        bar = tqdm(total=schedule.n_batches, desc=f"epoch {epoch}", unit="mb", disable=not progress, mininterval=1.0)
        started = time.perf_counter()
        windows_before = dict(tuner.windows_per_count) if tuner is not None else {}
        aligned = aligned_rows(tuner.counts[0]) if tuner is not None else 0
        if tuner is not None:
            tuner.restart_window()
        # the repeat gate's view of each slot's session: its last clicks, oldest first, -1 for none
        clicks = torch.full((schedule.n_slots, self.repeat_window), -1, dtype=torch.long, device=dev) \
            if self.gate else None
        for k in range(schedule.n_batches):
            lo, hi = bounds[k], bounds[k + 1]
            if k in keep:  # end of the epoch: sessions ran out, the batch narrows
                hidden = [h.index_select(0, keep[k]) for h in hidden]
                clicks = None if clicks is None else clicks.index_select(0, keep[k])
            carry = all_carry[lo:hi].unsqueeze(1)
            for h in hidden:
                h.mul_(carry)  # a new session in a slot starts from a zero state
            if clicks is not None:
                clicks.masked_fill_(carry == 0, -1)
            if clicks is None:  # GRU4Rec
                loss = self.step(schedule.inputs[lo:hi], schedule.targets[lo:hi], hidden, aligned=aligned)
            else:  # the repeat-aware variant
                loss = self.step(schedule.inputs[lo:hi], schedule.targets[lo:hi], hidden, aligned=aligned,
                                 clicks=clicks)
            if not math.isfinite(loss):
                bar.close()
                raise TrainingError(
                    f"gru4rec: training diverged: the loss became {loss} in epoch {epoch}, minibatch {k + 1} of "
                    f"{schedule.n_batches} (learning_rate = {self.m.learning_rate:g}, loss = {self.m.loss}); "
                    "try a smaller learning_rate. Nothing was saved."
                )
            total_loss += loss
            if tuner is not None:
                tuner.record(hi - lo)
            if progress and k % 256 == 255:
                bar.update(256)
        seconds = time.perf_counter() - started
        bar.close()
        n = max(schedule.n_batches, 1)
        return {
            "epoch": epoch,
            "loss": total_loss / n,
            "seconds": seconds,
            "minibatches_per_s": schedule.n_batches / seconds,
            "events_per_s": schedule.n_events / seconds,
            "n_events": schedule.n_events,
            "n_minibatches": schedule.n_batches,
            # timing windows per thread count when the count adapts ({} when it is fixed)
            "thread_windows": {str(count): n - windows_before.get(count, 0)
                               for count, n in (tuner.windows_per_count.items() if tuner is not None else ())},
        }

    def step(self, X: Tensor, T: Tensor, hidden: list[Tensor], aligned: int = 0, clicks: Tensor | None = None) -> float:
        """Forward, loss, backward and update for one minibatch; ``hidden`` is advanced in place.

        ``aligned`` (when the thread count adapts): a minibatch whose width is not a
        multiple of it (the end of an epoch) runs on one thread, so the step gives the
        same bits on any thread count.
        """
        if aligned and X.shape[0] % aligned:
            with one_thread():
                return float(self.update(X, T, hidden, clicks))
        return float(self.update(X, T, hidden, clicks))  # the hot path: no context manager per minibatch

    def update(self, X: Tensor, T: Tensor, hidden: list[Tensor], clicks: Tensor | None = None) -> Tensor:
        """:meth:`step` with the loss as a 0-d tensor on the device (no wait for it).

        ``X`` and ``T`` (input and target item indices) are CPU tensors; ``hidden``
        (one ``(B, h)`` tensor per layer) is on the device. ``clicks`` (the repeat-aware variant
        only): each slot's last clicks, ``(B, repeat_window)``, advanced in place by ``X``.
        """
        m = self.m
        dev = self.device
        B = X.shape[0]
        h_last = self.h_last
        constrained = m.input_mode == "constrained"

        # The output-table rows in use: targets, sampled negatives (and, with the
        # constrained embedding, the inputs). Every distinct row is one score column;
        # how many copies of it the official score matrix would hold (as some row's
        # target, as a sampled negative) becomes the column's weight (see ops.py).
        # (index bookkeeping in NumPy: its sort is several times faster than torch's here)
        drawn = self.sampler.next() if self.sampler is not None else np.empty(0, np.int64)
        used = np.concatenate([X.numpy(), T.numpy(), drawn] if constrained else [T.numpy(), drawn])
        rows_np, where_np = np.unique(used, return_inverse=True)
        n_rows = len(rows_np)
        first_target = B if constrained else 0
        target_np = where_np[first_target : first_target + B]
        as_target = torch.from_numpy(np.bincount(target_np, minlength=n_rows)).to(dev)
        as_negative = torch.from_numpy(np.bincount(where_np[first_target + B :], minlength=n_rows)).to(dev)
        rows, where = torch.from_numpy(rows_np).to(dev), torch.from_numpy(where_np).to(dev)
        target = where[first_target : first_target + B]  # the column of each row's target
        out_rows = self.out.gather(rows)  # weights|bias and optimiser state of those rows
        cols = out_rows[0]  # (n_rows, h_last + 1)

        # ---- forward
        if constrained:
            x = cols[:, :h_last].index_select(0, where[:B])
        else:
            in_ids, in_where = torch.unique(X, return_inverse=True)
            in_ids, in_where = in_ids.to(dev), in_where.to(dev)
            assert self.inp is not None  # every input mode but the constrained one has an input table
            in_rows = self.inp.gather(in_ids)
            x = in_rows[0].index_select(0, in_where)
        embed_mask = self.embed_masks.next(B) if self.embed_masks is not None else None
        if embed_mask is not None:
            x = x * embed_mask
        caches: list[tuple[Tensor, GRUCache, Tensor | None]] = []
        layer_in = x
        for l, p in enumerate(self.layer_params):
            gi = layer_in + p["b_ih"] if "W_ih" not in p else torch.addmm(p["b_ih"], layer_in, p["W_ih"])
            h1, cache = gru_forward(gi, hidden[l], p["W_hh"], p["b_hh"], m._hidden)
            layer_masks = self.hidden_masks[l]
            mask = layer_masks.next(B) if layer_masks is not None else None
            if mask is not None:
                h1 = h1 * mask
            hidden[l] = h1  # the carried state is the dropped-out one, as in the official code
            caches.append((layer_in, cache, mask))
            layer_in = h1
        out = torch.cat([layer_in, torch.ones(B, 1, device=dev)], 1)  # [h, 1] meets [Wy_i, By_i]
        scores = torch.mm(out, cols.t())  # (B, n_rows)
        clicked = None
        if self.gate and clicks is not None:  # score += the gate of every age at which the column was clicked
            clicks[:, :-1] = clicks[:, 1:].clone()
            clicks[:, -1] = X.to(dev)
            clicked = clicked_at(clicks, rows)  # (B, W, n_rows)
            gate = torch.addmm(self.dense.param("gate.b"), layer_in, self.dense.param("gate.w"))  # (B, W)
            scores = scores + torch.einsum("bw,bwn->bn", gate, clicked)

        # ---- loss
        if m.loss == "cross-entropy":
            if m.logq > 0:  # logQ correction: Q = popularity for targets, popularity^alpha for samples
                q = self.inv_pop.index_select(0, rows)
                weight = as_target * q + as_negative * q.pow(m.sample_alpha)
                target_offset = -m.logq * self.log_pop.index_select(0, T.to(dev))
            else:
                weight = (as_target + as_negative).float()
                target_offset = torch.zeros(B, device=dev)
            loss, d_scores = xe_loss(scores, target, torch.log(weight), target_offset, m.batch_size)
        else:
            copies = (as_target + as_negative).float()
            assert m._final is not None  # only cross-entropy goes with softmax (checked in GRU4Rec.__init__)
            if m.loss == "bpr-max":
                loss, d_scores = bpr_max_loss(scores, target, copies, m.bpreg, m._final, m.batch_size)
            elif m.loss == "top1":
                loss, d_scores = top1_loss(scores, target, copies, m._final, m.batch_size)
            else:
                loss, d_scores = top1_max_loss(scores, target, copies, m._final, m.batch_size)

        # ---- backward
        grad_rows = torch.mm(d_scores.t(), out)  # (n_rows, h_last + 1), for [Wy, By]
        dh = torch.mm(d_scores, cols[:, :h_last])
        if clicked is not None:
            d_gate = torch.einsum("bn,bwn->bw", d_scores, clicked)  # (B, W)
            torch.mm(layer_in.t(), d_gate, out=self.dense.grad("gate.w"))
            torch.sum(d_gate, 0, out=self.dense.grad("gate.b"))
            dh = dh + torch.mm(d_gate, self.dense.param("gate.w").t())
        for l in reversed(range(len(self.layer_params))):
            layer_in, cache, mask = caches[l]
            p, g = self.layer_params[l], self.layer_grads[l]
            if mask is not None:
                dh = dh * mask
            dgi, dgh = gru_backward(dh, cache, m._hidden)
            torch.mm(cache.h0.t(), dgh, out=g["W_hh"])
            torch.sum(dgh, 0, out=g["b_hh"])
            torch.sum(dgi, 0, out=g["b_ih"])
            if "W_ih" in p:
                torch.mm(layer_in.t(), dgi, out=g["W_ih"])
                dh = torch.mm(dgi, p["W_ih"].t())
            else:
                dh = dgi  # one-hot input: the gradient of the rows of W_x0
        if embed_mask is not None:
            dh = dh * embed_mask

        # ---- update: item rows (the gradient of a row summed over its uses), then the GRU weights
        restore = None
        if constrained:
            grad_rows[:, :h_last].index_add_(0, where[:B], dh)
            if m.momentum > 0:
                # rows used only as inputs have no bias gradient; the official code keeps
                # the biases in their own table and does not touch those rows' bias at all
                restore = (h_last, (as_target + as_negative) > 0)
        self.out.update(rows, out_rows, grad_rows, m.learning_rate, restore=restore)
        if self.inp is not None:
            grad_in = torch.zeros(in_ids.shape[0], dh.shape[1], device=dev).index_add_(0, in_where, dh)
            self.inp.update(in_ids, in_rows, grad_in, m.learning_rate)
        self.dense.step(m.learning_rate)
        return loss


def clicked_at(clicks: Tensor, items: Tensor) -> Tensor:
    """``(B, W, len(items))`` float: 1 where the slot's click at window position ``w`` (``clicks``
    ``(B, W)``, oldest first, -1 for none) is that item."""
    return (clicks.unsqueeze(2) == items.view(1, 1, -1)).to(torch.float32)


def copy_exact(dst: Tensor, src: Tensor, name: str) -> None:
    if not isinstance(src, Tensor) or tuple(src.shape) != tuple(dst.shape) or not src.dtype.is_floating_point:
        raise ValueError(f"'{name}' has the wrong shape or type")
    dst.copy_(src)


class DropoutMasks:
    """Inverted-dropout masks (0 or 1/(1-p)) for ``(rows, width)`` activations, drawn many steps at a time.

    Drawn from the (CPU) generator, then moved to ``device`` one pool at a time.
    """

    def __init__(
        self, rows: int, width: int, p: float, generator: torch.Generator, device: torch.device | str = "cpu"
    ) -> None:
        self.shape = (max(1, (1 << 20) // max(rows * width, 1)), rows, width)
        self.p = p
        self.generator = generator
        self.device = torch.device(device)
        self.pool = torch.empty(0)
        self.pointer = 0
        self.refill_state: Tensor | None = None  # generator state the current pool was drawn from

    def refill(self) -> None:
        self.refill_state = self.generator.get_state()
        keep = torch.rand(self.shape, generator=self.generator) >= self.p
        self.pool = keep.to(self.device, torch.float32).div_(1.0 - self.p)
        self.pointer = 0

    def next(self, rows: int) -> Tensor:
        if self.pointer >= self.pool.shape[0]:
            self.refill()
        mask = self.pool[self.pointer, :rows]
        self.pointer += 1
        return mask
