"""What NARM, SASRec and SR-GNN share: training cases, the mini-batch loop, checkpoints.

Training protocol (as in the NARM and SR-GNN papers): every prefix of every training
session is one case, ``items[0..t-1] -> items[t]`` for ``t >= 1``; cases are shuffled
and cut into mini-batches; the loss is cross-entropy over the **whole catalogue**
(full softmax, no sampling); the optimiser is Adam. SASRec reads a session once with
a causal mask, which yields the outputs of all its prefixes in one forward pass, so
its "cases" are whole sessions (chunks of at most ``max_len`` inputs) with a loss at
every position: the same set of prefix -> next-item cases, batched by session.

A subclass provides the torch module (``_build_module``), the loss of one batch
(``_batch_loss``) and the streaming interface. This module gives it ``fit`` with
early stopping on a validation callback, a per-epoch resumable checkpoint (weights,
Adam state, best weights, epoch, log) and the checkpoint hooks of
:mod:`sessrec.models.io`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from tqdm.auto import tqdm

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError, ParameterError, TrainingError
from sessrec.models.base import BaseSessionModel
from sessrec.models.validation import torch_device

#: a callable that scores the model as it is now on held-out data (higher is better)
ValidCallback = Callable[["NeuralSessionModel"], float]

DEVICES = ("cpu", "cuda")

#: Adam settings that choose how it computes, not what: a resumed run takes them from the code
OPTIMIZER_IMPLEMENTATION = ("fused", "foreach", "capturable", "differentiable")


# -- the loss ------------------------------------------------------------------------------

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


# -- parameter checks ----------------------------------------------------------------------

def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` or a ParameterError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high is not None and value > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ParameterError(f"{name}={value!r} is not allowed: expected {allowed}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float in the interval (bounds open or closed) or a ParameterError."""
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ParameterError(f"{name}={value!r} is not allowed: expected a number in {interval}")
    return float(value)


def check_device(value: Any) -> str:
    """``"cpu"`` or ``"cuda"`` (``"cuda:N"`` too); CUDA must be available when asked for."""
    text = str(value)
    if text != "cpu" and not (text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit())):
        raise ParameterError(f"device={value!r} is not allowed: expected one of {', '.join(DEVICES)} (or cuda:N)")
    return text


# -- training cases -----------------------------------------------------------------------

@dataclass(frozen=True)
class Cases:
    """Training cases as windows of the flat (dense-index) item array.

    Case ``c`` reads ``flat[start[c] : start[c] + length[c]]``; the item after every
    position is its next-item target (``flat[start[c] + length[c]]`` for the last one).
    """

    flat: np.ndarray  # (n_events,) dense item indices of all training sessions
    start: np.ndarray  # (n_cases,)
    length: np.ndarray  # (n_cases,)

    def __len__(self) -> int:
        return len(self.start)

    @property
    def n_targets(self) -> int:
        return int(self.length.sum())


def prefix_cases(train: Sessions, flat: np.ndarray, max_len: int | None = None) -> Cases:
    """Every prefix of every session -> its next item; prefixes keep their last ``max_len`` items."""
    lengths = train.lengths
    n_cases = np.maximum(lengths - 1, 0)
    session = np.repeat(np.arange(train.n_sessions), n_cases)
    # end = number of items in the prefix, 1..n-1 within each session
    first = np.cumsum(n_cases) - n_cases
    end = np.arange(len(session)) - np.repeat(first, n_cases) + 1
    length = end if max_len is None else np.minimum(end, max_len)
    start = train.offsets[session] + end - length
    return Cases(flat, start.astype(np.int64), length.astype(np.int64))


def sequence_cases(train: Sessions, flat: np.ndarray, max_len: int) -> Cases:
    """Each session's inputs (all items but the last) in chunks of at most ``max_len``, from the end.

    Every position of every chunk is one prefix case; sessions longer than ``max_len + 1``
    give several chunks, so every target is trained on exactly once.
    """
    starts, lens = [], []
    n_inputs = np.maximum(train.lengths - 1, 0)
    remaining = n_inputs.copy()
    while (remaining > 0).any():
        take = np.minimum(remaining, max_len)
        has = take > 0
        starts.append((train.offsets[:-1] + remaining - take)[has])
        lens.append(take[has])
        remaining = remaining - take
    if not starts:
        return Cases(flat, np.zeros(0, np.int64), np.zeros(0, np.int64))
    return Cases(flat, np.concatenate(starts).astype(np.int64), np.concatenate(lens).astype(np.int64))


@dataclass
class Batch:
    """A padded mini-batch: ``items`` (B, L) right-padded with 0, ``lengths`` (B,),
    ``next_items`` (B, L) the target after each position (-100 at padding), ``targets`` (B,)."""

    items: Tensor
    lengths: Tensor
    next_items: Tensor
    targets: Tensor

    @property
    def mask(self) -> Tensor:
        return torch.arange(self.items.shape[1], device=self.items.device)[None, :] < self.lengths[:, None]


def make_batch(cases: Cases, index: np.ndarray, device: str = "cpu") -> Batch:
    """Gather cases ``index`` into a padded :class:`Batch` (vectorised, no Python loop)."""
    start, length = cases.start[index], cases.length[index]
    width = int(length.max())
    pos = np.arange(width)[None, :]
    valid = pos < length[:, None]
    where = np.where(valid, start[:, None] + pos, 0)
    items = np.where(valid, cases.flat[where], 0)
    nxt = np.where(valid, cases.flat[np.where(valid, where + 1, 0)], -100)
    targets = cases.flat[start + length]
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)
    return Batch(as_t(items), as_t(length), as_t(nxt), as_t(targets))


# -- padded sequence state (SASRec, SR-GNN) ---------------------------------------------------

def append_items(state: tuple[Tensor, Tensor], items: Tensor) -> tuple[Tensor, Tensor]:
    """Sequence state ``(items (B, L), lengths (B,))`` with ``items`` appended; input unchanged."""
    seq, lengths = state
    need = int(lengths.max()) + 1 if len(lengths) else 1
    width = max(need, seq.shape[1])
    new = torch.zeros(seq.shape[0], width, dtype=torch.long, device=seq.device)
    new[:, : seq.shape[1]] = seq
    new[torch.arange(seq.shape[0], device=seq.device), lengths] = items.to(seq.device, torch.long)
    return new, lengths + 1


def last_window(seq: Tensor, lengths: Tensor, max_len: int | None) -> tuple[Tensor, Tensor]:
    """Each row's last ``max_len`` items, right-padded with 0, and their counts."""
    kept = lengths if max_len is None else lengths.clamp(max=max_len)
    width = max(int(kept.max()) if len(kept) else 1, 1)
    pos = torch.arange(width, device=seq.device)[None, :]
    valid = pos < kept[:, None]
    where = (lengths - kept)[:, None] + pos
    out = torch.where(valid, seq.gather(1, where.clamp(max=seq.shape[1] - 1)), torch.zeros_like(where))
    return out, kept


# -- the shared model base ------------------------------------------------------------------

class SequenceState:
    """Streaming state of models that read the whole session at scoring time (SASRec,
    SR-GNN): the padded item sequence and each slot's length; a click appends an item."""

    def init_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        self._check_fitted()
        dev = self._dev()
        return (torch.zeros(batch_size, 1, dtype=torch.long, device=dev),
                torch.zeros(batch_size, dtype=torch.long, device=dev))

    def reset(self, state: tuple[Tensor, Tensor], mask: Tensor) -> tuple[Tensor, Tensor]:
        seq, lengths = state
        return seq, torch.where(mask.to(lengths.device, torch.bool), torch.zeros_like(lengths), lengths)

    def step(self, state: tuple[Tensor, Tensor], items: Tensor) -> tuple[Tensor, Tensor]:
        return append_items(state, items)


class NeuralSessionModel(BaseSessionModel):
    """Base of the torch comparators: ``fit`` with resumable checkpoints and early stopping.

    Subclasses set ``name``, call ``_init_training`` from ``__init__`` and implement
    ``_build_module``, ``_cases``, ``_batch_loss`` and the streaming interface
    (``init_state``, ``step``, ``reset``, ``scores``); ``adam_betas`` if not Adam's default.
    """

    adam_betas: tuple[float, float] = (0.9, 0.999)

    def __init__(self) -> None:
        super().__init__()
        self.module: nn.Module | None = None
        self.training_log: list[dict[str, Any]] = []
        self.optimizer: torch.optim.Optimizer | None = None
        self._best_state: dict[str, Tensor] | None = None
        self._train_state: dict[str, Any] = {}

    def _init_training(
        self, *, n_epochs: int, batch_size: int, learning_rate: float, l2: float, patience: int,
        seed: int, device: str, n_threads: int | None, bucket_batches: int = 64,
    ) -> None:
        self.n_epochs = check_int("n_epochs", n_epochs, 1, 10_000)
        self.batch_size = check_int("batch_size", batch_size, 1, 1_000_000)
        self.learning_rate = check_float("learning_rate", learning_rate, 0.0, 10.0, low_open=True)
        self.l2 = check_float("l2", l2, 0.0, 1.0)
        self.patience = check_int("patience", patience, 1, 10_000)
        self.seed = check_int("seed", seed, 0)
        self.device = check_device(device)
        self.n_threads = None if n_threads is None else check_int("n_threads", n_threads, 1, 1024)
        self.bucket_batches = check_int("bucket_batches", bucket_batches, 1, 1_000_000)

    # -- to provide -----------------------------------------------------------------------
    def _build_module(self, n_items: int) -> nn.Module:
        raise NotImplementedError

    def _cases(self, train: Sessions, flat: np.ndarray) -> Cases:
        raise NotImplementedError

    def _batch_loss(self, batch: Batch) -> Tensor:
        raise NotImplementedError

    def _make_optimizer(self) -> torch.optim.Optimizer:
        # fused: one pass over each parameter instead of about fifteen, 6x faster on the
        # 43k x 100 item embeddings of Diginetica (4 ms against 27 ms a step on one core);
        # the updates equal the default Adam's up to rounding
        return torch.optim.Adam(self.module.parameters(), lr=self.learning_rate, betas=self.adam_betas,
                                weight_decay=self.l2, fused=True)

    def _epoch_lr(self, epoch: int) -> float:
        """Learning rate of (1-based) ``epoch``; constant unless a subclass decays it."""
        return self.learning_rate

    def _training_hyperparameters(self) -> dict[str, Any]:
        return {
            "n_epochs": self.n_epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
            "l2": self.l2, "patience": self.patience, "seed": self.seed, "device": self.device,
            "n_threads": self.n_threads, "bucket_batches": self.bucket_batches,
        }

    # -- training -------------------------------------------------------------------------
    def _torch_device(self) -> torch.device:
        return torch_device(self.device)

    def fit(
        self,
        train: Sessions,
        valid_callback: ValidCallback | None = None,
        *,
        progress: bool = True,
        checkpoint_path: str | Path | None = None,
        resume: bool = False,
        callback: Callable[[dict[str, Any]], bool | None] | None = None,
    ) -> "NeuralSessionModel":
        """Train on every prefix of ``train``'s sessions for up to ``n_epochs`` epochs.

        ``valid_callback(model)`` is called after each epoch with the model in eval mode
        and returns a score (higher is better, e.g. Recall@20 on a validation split);
        the best epoch's weights are kept and training stops after ``patience`` epochs
        without improvement. With ``checkpoint_path`` the full training state is written
        there after every epoch; ``resume=True`` continues from it when it exists.
        ``callback(record)`` sees each epoch's log record; returning True stops training.
        """
        device = self._torch_device()
        threads_before = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            self.item_index = ItemIndex.from_items(train.items)
            flat = self.item_index.to_index(train.items)
            cases = self._cases(train, flat)
            if len(cases) == 0:
                raise ValueError(f"{self.name}: no training cases (every session has a single item)")
            torch.manual_seed(self.seed)
            self.module = self._build_module(self.n_items).to(device)
            self.optimizer = self._make_optimizer()
            self.training_log, self._best_state = [], None
            state = {"epoch": 0, "best_score": None, "best_epoch": 0, "bad_epochs": 0, "finished": False}
            if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
                state = self._restore_training(checkpoint_path)
                selected = any("valid" in r for r in self.training_log)
                if selected != (valid_callback is not None):
                    raise CheckpointError(
                        f"{checkpoint_path}: written by a run {'with' if selected else 'without'} early stopping on "
                        f"validation data, and this run has {'none' if valid_callback is None else 'it'}: "
                        "another run's checkpoint; delete it or give this run its own checkpoint path")
                if progress:
                    tqdm.write(f"{self.name}: resuming after epoch {state['epoch']} from {checkpoint_path}")
            self.clear_live_cache()
            epoch = state["epoch"]
            while not state["finished"] and epoch < self.n_epochs:
                epoch += 1
                record = self._run_epoch(cases, epoch, device, progress)
                if valid_callback is not None:
                    self.module.eval()
                    self.clear_live_cache()
                    with torch.no_grad():
                        score = float(valid_callback(self))
                    record["valid"] = score
                    if state["best_score"] is None or score >= state["best_score"]:
                        state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
                        self._best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
                    else:
                        state["bad_epochs"] += 1
                    if state["bad_epochs"] >= self.patience:
                        state["finished"] = True
                self.training_log.append(record)
                if progress:
                    tqdm.write(
                        f"{self.name} epoch {epoch}: loss {record['loss']:.4f}  lr {record['lr']:.2g}  "
                        f"{record['seconds']:.1f}s  {record['events_per_s']:.0f} events/s"
                        + (f"  valid {record['valid']:.4f}" if "valid" in record else "")
                    )
                if not math.isfinite(record["loss"]):
                    raise TrainingError(f"{self.name}: the training loss became {record['loss']} in epoch {epoch}; "
                                        "lower learning_rate or check the data")
                if callback is not None and callback(record):
                    state["finished"] = True
                state["epoch"] = epoch
                if epoch >= self.n_epochs:
                    state["finished"] = True
                self._train_state = state
                if checkpoint_path is not None:
                    self.save_training_checkpoint(checkpoint_path)
            self._train_state = state
            if self._best_state is not None:  # early stopping keeps the best epoch
                self.module.load_state_dict(self._best_state)
            self.module.eval()
            self.clear_live_cache()
        finally:
            torch.set_num_threads(threads_before)
        return self

    def _run_epoch(self, cases: Cases, epoch: int, device: torch.device, progress: bool) -> dict[str, Any]:
        # seeded per epoch: shuffling and dropout of epoch e do not depend on earlier epochs, so
        # a run resumed from a checkpoint continues exactly like an uninterrupted one
        torch.manual_seed(self.seed * 100_003 + epoch)
        batches = self._batches(cases)
        lr = self._epoch_lr(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.module.train()
        n_batches = len(batches)
        total, n_targets = 0.0, 0
        started = time.perf_counter()
        bar = tqdm(total=cases.n_targets if self._counts_positions else len(cases), desc=f"{self.name} epoch {epoch}",
                   unit="ev", unit_scale=True, disable=not progress, mininterval=1.0)
        for index in batches:
            batch = make_batch(cases, index, str(device))
            loss = self._batch_loss(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            weight = int(batch.lengths.sum()) if self._counts_positions else len(index)
            total += float(loss.detach()) * weight
            n_targets += weight
            bar.update(weight)
        bar.close()
        seconds = time.perf_counter() - started
        return {
            "epoch": epoch, "loss": total / max(n_targets, 1), "lr": lr, "seconds": seconds,
            "events": n_targets, "events_per_s": n_targets / max(seconds, 1e-9), "batches": n_batches,
        }

    def _batches(self, cases: Cases) -> list[np.ndarray]:
        """This epoch's mini-batches (case indices) from the torch RNG.

        Cases are shuffled, then sorted by length inside windows of ``bucket_batches``
        batches, cut into batches, and the batches shuffled: every batch is still a random
        draw, but of similar lengths, so padding (which dominates the cost of random
        batches of prefixes: the longest prefix sets the width) nearly vanishes.
        ``bucket_batches=1`` gives plain random batches, as the reference codes use.
        """
        order = torch.randperm(len(cases)).numpy()
        window = self.bucket_batches * self.batch_size
        batches = []
        for w in range(0, len(order), window):
            chunk = order[w : w + window]
            chunk = chunk[np.argsort(cases.length[chunk], kind="stable")]
            batches.extend(chunk[b : b + self.batch_size] for b in range(0, len(chunk), self.batch_size))
        return [batches[i] for i in torch.randperm(len(batches)).tolist()]

    #: True when a case holds one target per position (SASRec) rather than one per case
    _counts_positions = False

    @property
    def best_epoch_weights(self) -> dict[str, Tensor] | None:
        """The weights of the best validation epoch, of this training or of the loaded
        checkpoint (a run's selection checkpoint keeps them); ``None`` without validation."""
        return self._best_state

    # -- checkpoints (sessrec.models.io) ------------------------------------------------------
    def _tensors(self) -> dict[str, Tensor]:
        """Module weights, plus (after training) Adam's state and the best weights."""
        out = {f"w.{k}": v for k, v in self.module.state_dict().items()}
        if self.optimizer is not None and self.optimizer.state:
            opt = self.optimizer.state_dict()
            for pid, slots in opt["state"].items():
                for slot, value in slots.items():
                    out[f"opt.{pid}.{slot}"] = torch.as_tensor(value)
        if self._best_state is not None:
            out.update({f"best.{k}": v for k, v in self._best_state.items()})
        return out

    def training_meta(self) -> dict[str, Any]:
        """Plain description of where training stands (stored with every checkpoint)."""
        meta: dict[str, Any] = {"training_state": dict(self._train_state), "training_log": list(self.training_log)}
        if self.optimizer is not None:
            meta["optimizer_param_groups"] = [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items() if k != "params"}
                for g in self.optimizer.state_dict()["param_groups"]
            ]
        return meta

    def save_training_checkpoint(self, path: str | Path) -> Path:
        """Write the model with its full training state (used after every epoch by ``fit``)."""
        from sessrec.models.io import save_model

        return save_model(self, path, {"resumable": True, **self.training_meta()})

    @classmethod
    def _from_tensors(cls, params: dict[str, Any], tensors: dict[str, Tensor], item_index: ItemIndex) -> "NeuralSessionModel":
        model = cls(**params)
        model.item_index = item_index
        model.module = model._build_module(item_index.n_items)
        weights = {k[2:]: v for k, v in tensors.items() if k.startswith("w.")}
        model.module.load_state_dict(weights, strict=True)
        model.module.eval()
        # the best epoch's weights, where the checkpoint kept them (Adam's state is not kept in memory)
        model._best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
        return model

    def _restore_training(self, path: str | Path) -> dict[str, Any]:
        """Load weights, Adam state, best weights and the log from a training checkpoint."""
        from sessrec.models.io import read_checkpoint

        payload = read_checkpoint(path)
        if payload["model"] != self.name:
            raise CheckpointError(f"{path}: holds a '{payload['model']}' model, not {self.name}")
        mine = {k: v for k, v in self.hyperparameters().items() if k not in ("n_threads", "device", "n_epochs", "patience")}
        theirs = {k: payload["hyperparameters"].get(k) for k in mine}
        if mine != theirs:
            diff = {k: (theirs[k], mine[k]) for k in mine if mine[k] != theirs[k]}
            raise CheckpointError(f"{path}: written with other hyperparameters (checkpoint, now): {diff}")
        if not torch.equal(payload["item_ids"], torch.from_numpy(self.item_index.item_ids)):
            raise CheckpointError(f"{path}: written for another catalogue; cannot resume on this training data")
        meta = payload["meta"]
        if "training_state" not in meta:
            raise CheckpointError(f"{path}: not a resumable training checkpoint")
        tensors = payload["tensors"]
        device = next(self.module.parameters()).device
        self.module.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("w.")})
        opt_state: dict[int, dict[str, Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, pid, slot = key.split(".", 2)
                opt_state.setdefault(int(pid), {})[slot] = value
        if opt_state:
            groups = copy.deepcopy(self.optimizer.state_dict()["param_groups"])
            for group, saved in zip(groups, meta.get("optimizer_param_groups", [])):
                for key, value in saved.items():
                    if key not in OPTIMIZER_IMPLEMENTATION:
                        # older checkpoints stored Adam's flags as 0 / 1 (io._plain took bools for ints)
                        if key == "betas":
                            value = tuple(value)
                        elif isinstance(group.get(key), bool):
                            value = bool(value)
                        group[key] = value
            self.optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
        best = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")}
        self._best_state = best or None
        self.training_log = list(meta.get("training_log", []))
        state = dict(meta["training_state"])
        # a larger n_epochs than the checkpoint was written with continues the run
        if state.get("finished") and state["epoch"] < self.n_epochs and state.get("bad_epochs", 0) < self.patience:
            state["finished"] = False
        return state

    # -- shared streaming helpers -------------------------------------------------------------
    def _dev(self) -> torch.device:
        return next(self.module.parameters()).device

    def _check_items(self, session_items: list[int] | np.ndarray) -> Tensor:
        """Dense indices of a session's known items (original ids in), as a (1, n) tensor."""
        idx = self.item_index.to_index(np.asarray(list(session_items), dtype=np.int64))
        idx = idx[idx >= 0]
        if len(idx) == 0:
            raise ValueError(f"{self.name}: the session has no item of the catalogue")
        return torch.from_numpy(idx).view(1, -1).to(self._dev())
