"""The base class of NARM, SASRec and SR-GNN: the mini-batch loop, early stopping, checkpoints.

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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError, TrainingError
from sessrec.models.base import BaseSessionModel
from sessrec.models.contract import EpochCallback, Validate
from sessrec.models.neural.cases import Batch, Cases, make_batch
from sessrec.models.training_state import TrainingState
from sessrec.models.validation import check_device, check_float, check_int, torch_device

#: Adam settings that choose how it computes, not what: a resumed run takes them from the code
OPTIMIZER_IMPLEMENTATION = ("fused", "foreach", "capturable", "differentiable")


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
        self.n_epochs = check_int("n_epochs", n_epochs, min=1, max=10_000, owner=self.name)
        self.batch_size = check_int("batch_size", batch_size, min=1, max=1_000_000, owner=self.name)
        self.learning_rate = check_float("learning_rate", learning_rate, min=0.0, max=10.0, min_open=True, owner=self.name)
        self.l2 = check_float("l2", l2, min=0.0, max=1.0, owner=self.name)
        self.patience = check_int("patience", patience, min=1, max=10_000, owner=self.name)
        self.seed = check_int("seed", seed, min=0, owner=self.name)
        self.device = check_device("device", device, owner=self.name)
        self.n_threads = None if n_threads is None else check_int("n_threads", n_threads, min=1, max=1024, owner=self.name)
        self.bucket_batches = check_int("bucket_batches", bucket_batches, min=1, max=1_000_000, owner=self.name)

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
        assert self.module is not None  # built by fit before the optimiser
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

    def item_embeddings(self) -> Tensor | None:
        """The network's item table (the item map draws it; ``None`` before ``fit``): its first
        embedding with one row per catalogue item."""
        if self.module is None:
            return None
        for part in self.module.modules():
            if isinstance(part, nn.Embedding) and part.num_embeddings == self.n_items:
                return part.weight.detach()
        return None

    # -- training -------------------------------------------------------------------------
    def _torch_device(self) -> torch.device:
        return torch_device(self.device)

    def fit(
        self,
        train: Sessions,
        *,
        validate: Validate | None = None,
        progress: bool = True,
        checkpoint: str | Path | None = None,
        resume: TrainingState | None = None,
        callback: EpochCallback | None = None,
    ) -> "NeuralSessionModel":
        """Train on every prefix of ``train``'s sessions for up to ``n_epochs`` epochs.

        The contract of :mod:`sessrec.models.contract`: ``validate(model)`` is called after each
        epoch with the model in eval mode and returns a score (higher is better, e.g. Recall@20
        on a validation split); the best epoch's weights are kept and training stops after
        ``patience`` epochs without improvement. With ``checkpoint`` the full training state is
        written there after every epoch, and training continues from it when it exists.
        ``resume`` is a :class:`TrainingState` (the one GRU4Rec uses too): the
        state saved with this model's weights (a checkpoint loaded with
        :func:`sessrec.models.io.load_model` and :func:`~sessrec.models.io.load_training_state`),
        continued on the same training data. ``callback(record)`` sees each epoch's log
        record after the epoch is done (:meth:`training_state` is then that epoch's);
        returning True stops training.
        """
        device = self._torch_device()
        threads_before = torch.get_num_threads()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            loaded: dict[str, Tensor] | None = None
            if isinstance(resume, TrainingState):  # continue the weights this model holds
                if self.module is None or not np.array_equal(ItemIndex.from_items(train.items).item_ids,
                                                             self.item_index.item_ids):
                    raise CheckpointError(f"{self.name}: cannot resume: the training data's items differ from the "
                                          "checkpoint's; resume on the same dataset and split")
                loaded = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
                best_loaded = self._best_state
            self.item_index = ItemIndex.from_items(train.items)
            flat = self.item_index.to_index(train.items)
            cases = self._cases(train, flat)
            if len(cases) == 0:
                raise ValueError(f"{self.name}: no training cases (every session has a single item)")
            torch.manual_seed(self.seed)
            self.module = self._build_module(self.n_items).to(device)
            self.optimizer = self._make_optimizer()
            self.training_log, self._best_state = [], None
            state: dict[str, Any] = {"epoch": 0, "best_score": None, "best_epoch": 0, "bad_epochs": 0,
                                     "finished": False}
            source = None
            if loaded is not None:
                assert isinstance(resume, TrainingState)
                self.module.load_state_dict(loaded)
                self._best_state = best_loaded
                state, source = self._load_training_state(resume), "the loaded checkpoint"
            elif checkpoint is not None and Path(checkpoint).is_file():
                state, source = self._restore_training(checkpoint), str(checkpoint)
            if source is not None:
                selected = any("valid" in r for r in self.training_log)
                if selected != (validate is not None):
                    raise CheckpointError(
                        f"{source}: written by a run {'with' if selected else 'without'} early stopping on "
                        f"validation data, and this run has {'none' if validate is None else 'it'}: "
                        "another run's checkpoint; delete it or give this run its own checkpoint path")
                if progress:
                    tqdm.write(f"{self.name}: resuming after epoch {state['epoch']} from {source}")
            self.clear_live_cache()
            epoch = state["epoch"]
            while not state["finished"] and epoch < self.n_epochs:
                epoch += 1
                record = self._run_epoch(cases, epoch, device, progress)
                if validate is not None:
                    self.module.eval()
                    self.clear_live_cache()
                    with torch.no_grad():
                        score = float(validate(self))
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
                state["epoch"] = epoch
                if epoch >= self.n_epochs:
                    state["finished"] = True
                self._train_state = state
                if callback is not None and callback(record):
                    state["finished"] = True
                if checkpoint is not None:
                    self.save_training_checkpoint(checkpoint)
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
        assert self.module is not None and self.optimizer is not None  # fit builds both before the first epoch
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
        batches: list[np.ndarray] = []
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
        """Module weights, plus the best epoch's weights where validation chose one (Adam's
        state belongs to the :meth:`training_state`)."""
        assert self.module is not None  # saved models are fitted or loaded
        out = {f"w.{k}": v for k, v in self.module.state_dict().items()}
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

    def training_state(self) -> TrainingState:
        """Adam's state, epochs done, early-stopping state and training log of the last :meth:`fit`.

        Save it with the weights (``save_model(model, path, meta, training_state=...)``)
        so that ``fit(train, resume=...)`` can continue, as with GRU4Rec.
        """
        if self.optimizer is None:
            raise RuntimeError(f"{self.name}: no training state: this model was not trained in this process")
        tensors: dict[str, Tensor] = {}
        for pid, slots in self.optimizer.state_dict()["state"].items():
            for slot, value in slots.items():
                tensors[f"opt.{pid}.{slot}"] = torch.as_tensor(value)
        return TrainingState(int(self._train_state.get("epoch", 0)), tensors, self.training_meta())

    def save_training_checkpoint(self, path: str | Path) -> Path:
        """Write the model with its full training state (used after every epoch by ``fit``)."""
        from sessrec.models.io import save_model

        return save_model(self, path, {"resumable": True, **self.training_meta()}, training_state=self.training_state())

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
        """Load weights, best weights and the training state from a training checkpoint."""
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
        tensors, meta = payload["tensors"], payload["meta"]
        if "training_state" in payload:
            training = TrainingState.from_payload(payload["training_state"], str(path))
        elif "training_state" in meta:  # written before the training state had its own key: Adam's among the weights
            training = TrainingState(int(meta["training_state"].get("epoch", 0)),
                                     {k: v for k, v in tensors.items() if k.startswith("opt.")}, meta)
        else:
            raise CheckpointError(f"{path}: not a resumable training checkpoint")
        assert self.module is not None  # fit builds the module before it restores into it
        device = next(self.module.parameters()).device
        self.module.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("w.")})
        self._best_state = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")} or None
        return self._load_training_state(training)

    def _load_training_state(self, training: TrainingState) -> dict[str, Any]:
        """Adam's state and the training log from ``training``; returns the early-stopping state."""
        meta = training.meta
        if "training_state" not in meta:
            raise CheckpointError(f"{self.name}: not a resumable training state")
        opt_state: dict[int, dict[str, Tensor]] = {}
        for key, tensor in training.tensors.items():
            if key.startswith("opt."):
                _, pid, slot = key.split(".", 2)
                opt_state.setdefault(int(pid), {})[slot] = tensor
        if opt_state:
            assert self.optimizer is not None  # fit builds the optimiser before it loads a training state
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
        self.training_log = list(meta.get("training_log", []))
        state = dict(meta["training_state"])
        # a larger n_epochs than the checkpoint was written with continues the run
        if state.get("finished") and state["epoch"] < self.n_epochs and state.get("bad_epochs", 0) < self.patience:
            state["finished"] = False
        return state

    # -- shared streaming helpers -------------------------------------------------------------
    def _dev(self) -> torch.device:
        assert self.module is not None  # callers check that the model is fitted
        return next(self.module.parameters()).device

    def _check_items(self, session_items: list[int] | np.ndarray) -> Tensor:
        """Dense indices of a session's known items (original ids in), as a (1, n) tensor."""
        idx = self.item_index.to_index(np.asarray(list(session_items), dtype=np.int64))
        idx = idx[idx >= 0]
        if len(idx) == 0:
            raise ValueError(f"{self.name}: the session has no item of the catalogue")
        return torch.from_numpy(idx).view(1, -1).to(self._dev())
